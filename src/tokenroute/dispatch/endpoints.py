"""Where each provider lives, how it speaks, and which key it takes.

Built in: the providers of the price table at their official addresses (OPENAI_BASE_URL and
ANTHROPIC_BASE_URL honoured, as the official SDKs honour them), OpenRouter, and local
servers at their default ports (Ollama, llama.cpp, vLLM, LM Studio). The config file's
`endpoints:` adds new names or changes built-in ones:

    endpoints:
      ollama: {base_url: "http://gpu-box:11434/v1"}
      work-vllm: {protocol: openai, base_url: "http://10.0.0.5:8000/v1", local: true,
                  key_env: WORK_VLLM_KEY}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from tokenroute.dispatch.providers.base import Endpoint
from tokenroute.errors import BadInputError, UsageError

PROTOCOLS = ("openai", "anthropic", "gemini")


class EndpointSpec(NamedTuple):
    protocol: str
    base_url: str
    key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    local: bool = False
    structured: str | None = None  # json_schema | json_object | instruction (see openai.py)


STRUCTURED = ("json_schema", "json_object", "instruction")
BUILT_IN: dict[str, EndpointSpec] = {
    "openai": EndpointSpec(
        "openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"
    ),
    "anthropic": EndpointSpec(
        "anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL"
    ),
    "google": EndpointSpec(
        "gemini", "https://generativelanguage.googleapis.com", ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    ),
    "xai": EndpointSpec("openai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
    "deepseek": EndpointSpec("openai", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
    "mistral": EndpointSpec("openai", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "openrouter": EndpointSpec("openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    "ollama": EndpointSpec("openai", "http://localhost:11434/v1", local=True),
    "llamacpp": EndpointSpec("openai", "http://localhost:8080/v1", local=True),
    "vllm": EndpointSpec("openai", "http://localhost:8000/v1", local=True),
    "lmstudio": EndpointSpec("openai", "http://localhost:1234/v1", local=True),
}


def endpoint_specs(config: Mapping[str, Any]) -> dict[str, EndpointSpec]:
    """The built-in endpoints with the config file's `endpoints:` laid over them."""
    specs = dict(BUILT_IN)
    given = config.get("endpoints") or {}
    if not isinstance(given, Mapping):
        raise BadInputError("config: endpoints must be a mapping of names to settings")
    for name, raw in given.items():
        where = f"config: endpoints: {name}"
        if not isinstance(raw, Mapping):
            raise BadInputError(f"{where}: must be a mapping (base_url, protocol, ...)")
        unknown = set(raw) - {"protocol", "base_url", "key_env", "local", "structured"}
        if unknown:
            raise BadInputError(f"{where}: unknown setting '{sorted(unknown)[0]}'")
        base = specs.get(name)
        protocol = raw.get("protocol", base.protocol if base else "openai")
        if protocol not in PROTOCOLS:
            raise BadInputError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}")
        base_url = raw.get("base_url", base.base_url if base else None)
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise BadInputError(f"{where}: base_url must be an http:// or https:// address")
        key_env = raw.get("key_env", base.key_env if base else ())
        key_env = (key_env,) if isinstance(key_env, str) else key_env
        if not isinstance(key_env, list | tuple) or not all(isinstance(k, str) for k in key_env):
            raise BadInputError(f"{where}: key_env must name an environment variable")
        local = raw.get("local", base.local if base else False)
        if not isinstance(local, bool):
            raise BadInputError(f"{where}: local must be true or false (got {local!r})")
        structured = raw.get("structured", base.structured if base else None)
        if structured is not None and structured not in STRUCTURED:
            raise BadInputError(f"{where}: structured must be one of {', '.join(STRUCTURED)}")
        # an address set in the config beats the environment variable; one it leaves alone
        # does not
        base_url_env = None if "base_url" in raw else (base.base_url_env if base else None)
        specs[name] = EndpointSpec(
            protocol, base_url, tuple(key_env), base_url_env, local, structured
        )
    return specs


def resolve_endpoint(
    name: str,
    specs: Mapping[str, EndpointSpec],
    environ: Mapping[str, str],
    stored_keys: Mapping[str, str],
    *,
    need_key: bool = True,
) -> Endpoint:
    """The endpoint called `name`, with its address and key; a clear error when it has none
    (unless `need_key` is off, as for --dry-run)."""
    spec = specs.get(name)
    if spec is None:
        raise UsageError(
            f"no endpoint named '{name}': known are {', '.join(sorted(specs))} "
            "(add one under endpoints: in 'tokenroute config path')"
        )
    key = find_key(name, spec, environ, stored_keys)
    if key is not None and not (key.isascii() and key.isprintable()):
        where = key_source(name, spec, environ, stored_keys)
        raise UsageError(
            f"the key for {name} (from {where}) has a character a key cannot have (a space, a "
            f"line break or a non-ASCII one): set it again, e.g. 'tokenroute keys set {name}'"
        )
    if key is None and not spec.local and need_key:
        variable = spec.key_env[0] if spec.key_env else None
        how = f"set {variable} or run" if variable else "run"
        raise UsageError(f"no API key for {name}: {how} 'tokenroute keys set {name}'")
    url = effective_url(spec, environ)
    problem = url_problem(url)
    if problem:
        from_env = spec.base_url_env and environ.get(spec.base_url_env)
        where = f"${spec.base_url_env}" if from_env else f"endpoints: {name}: base_url"
        raise BadInputError(f"{where} is not a usable address: {problem}")
    return Endpoint(name, spec.protocol, url, key, spec.local, spec.structured)


def url_problem(url: str) -> str | None:
    """Why httpx could not use this address, said without repeating it (it may hold a
    password), or None."""
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        return "it must start with http:// or https://"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        return "the port must be a number from 1 to 65535"
    if not parts.hostname:
        return "it names no host"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "it holds a space or a control character"
    return None


def effective_url(spec: EndpointSpec, environ: Mapping[str, str]) -> str:
    """The address in force: OPENAI_BASE_URL-style variables beat the built-in address."""
    return (spec.base_url_env and environ.get(spec.base_url_env)) or spec.base_url


def find_key(
    name: str, spec: EndpointSpec, environ: Mapping[str, str], stored_keys: Mapping[str, str]
) -> str | None:
    """The environment first, as the providers' SDKs read it; then `tokenroute keys`.
    Surrounding whitespace (a .env file saved with CRLF) is not part of a key."""
    found = next((environ[k] for k in spec.key_env if environ.get(k, "").strip()), None)
    found = found or stored_keys.get(name)
    return found.strip() if found else None


def key_source(
    name: str, spec: EndpointSpec, environ: Mapping[str, str], stored_keys: Mapping[str, str]
) -> str | None:
    """Where find_key's key comes from, to tell the user: '$VARIABLE', 'keys file' or None."""
    variable = next((k for k in spec.key_env if environ.get(k, "").strip()), None)
    if variable:
        return f"${variable}"
    return "keys file" if stored_keys.get(name) else None


def keyed_paid_endpoints(
    specs: Mapping[str, EndpointSpec], environ: Mapping[str, str], stored_keys: Mapping[str, str]
) -> set[str]:
    """Paid endpoints with a key. Local servers are not assumed running: -m or --local."""
    return {
        name
        for name, spec in specs.items()
        if not spec.local and find_key(name, spec, environ, stored_keys)
    }


def key_rows(
    specs: Mapping[str, EndpointSpec], environ: Mapping[str, str], stored_keys: Mapping[str, str]
) -> list[dict[str, str | None]]:
    """`keys list`: each endpoint, where its key comes from and its address (no key)."""
    from tokenroute.dispatch.providers.base import shown_url

    rows = []
    for name, spec in sorted(specs.items()):
        source = key_source(name, spec, environ, stored_keys)
        if spec.local and source is None:
            source = "not needed (local)"
        url = shown_url(effective_url(spec, environ))
        rows.append({"endpoint": name, "key_source": source, "base_url": url})
    return rows
