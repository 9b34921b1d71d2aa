"""The user's config file (YAML; `tokenroute config path`): endpoints and run defaults.

retries: 2            # tries after the first, on 429, 5xx, timeouts, dropped connections
timeout: 60           # seconds without a byte from the provider before giving up a try
deadline: 600         # seconds for a whole try, however the bytes trickle in
retry_base: 0.5       # first backoff in seconds; doubles each retry, with jitter
max_wait: 60          # never wait longer than this for one retry (Retry-After included)
store_text: true      # keep run's prompts and answers for `run -c` (false: hashes only)
endpoints: {...}      # see endpoints.py
user: alice           # who this machine's calls are recorded as (default: the login name)
ledger: postgresql://alice@db.internal/tokenroute   # a team's shared ledger (default: a file)
otlp_endpoint: http://127.0.0.1:4318   # run exports its attempts there as it goes
otlp_headers: {x-api-key: ...}         # sent with each export (never printed)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import BadInputError

KNOWN = {
    "retries", "timeout", "deadline", "retry_base", "max_wait", "store_text", "endpoints", "user",
    "otlp_endpoint", "otlp_headers", "ledger",
}  # fmt: skip


class RunDefaults(NamedTuple):
    retries: int = 2
    timeout: float = 60.0
    retry_base: float = 0.5
    max_wait: float = 60.0
    deadline: float = 600.0
    store_text: bool = True  # false: run keeps no prompt or answer, only their hashes


def load_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    from tokenroute.prices.yaml_files import UNREADABLE, parse_yaml

    problems: list[str] = []
    try:
        data = parse_yaml(path, path.read_bytes(), problems)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data is UNREADABLE:
        raise BadInputError(problems[0])
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: the config must be a mapping (retries: 2, ...)")
    unknown = set(data) - KNOWN
    if unknown:
        raise BadInputError(
            f"{path}: unknown setting '{sorted(map(str, unknown))[0]}' "
            f"(known: {', '.join(sorted(KNOWN))})"
        )
    return data


def configured_user(config: dict[str, Any]) -> str | None:
    value = config.get("user")
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise BadInputError(f"config: user must be a name (got {value!r})")
    return value.strip() if value else None


def configured_ledger(config: dict[str, Any]) -> str | None:
    """The config's `ledger:` (a file's path or a postgresql:// URL), as written."""
    value = config.get("ledger")
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise BadInputError(
            f"config: ledger must be a file's path or a postgresql:// URL (got {value!r})"
        )
    return value.strip() if value else None


def otlp_settings(config: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The collector `run` exports to, and its headers; None when the config names none."""
    endpoint = config.get("otlp_endpoint")
    if endpoint is None:
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise BadInputError("config: otlp_endpoint must be an http:// or https:// URL")
    headers = config.get("otlp_headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise BadInputError("config: otlp_headers must map header names to text values")
    return endpoint, headers


# setting -> (lowest, highest): the same bounds as the command-line options
BOUNDS = {
    "retries": (0, 10),
    "timeout": (0.1, 3600),
    "retry_base": (0, 60),
    "max_wait": (0, 3600),
    "deadline": (0.1, 86400),
}


def run_defaults(config: dict[str, Any]) -> RunDefaults:
    values = {}
    for name, default in RunDefaults._field_defaults.items():
        value = config.get(name, default)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise BadInputError(f"config: {name} must be true or false (got {value!r})")
            values[name] = value
            continue
        low, high = BOUNDS[name]
        whole = isinstance(default, int)
        if (
            isinstance(value, bool)
            or not isinstance(value, int if whole else int | float)
            or not low <= value <= high
        ):
            kind = "a whole number" if whole else "a number"
            raise BadInputError(
                f"config: {name} must be {kind} from {low} to {high} (got {value!r})"
            )
        values[name] = type(default)(value)
    return RunDefaults(**values)


DEFAULT_TEXT = """\
# tokenroute's config: run defaults and extra endpoints. See 'tokenroute config show'.
retries: 2        # tries after the first, on 429, 5xx, timeouts and dropped connections
timeout: 60       # seconds without a byte from the provider before a try is given up
deadline: 600     # seconds for a whole try, however slowly the bytes come
retry_base: 0.5   # the first backoff in seconds; it doubles each retry, with jitter
max_wait: 60      # never wait longer than this before a retry (Retry-After included)
store_text: true  # keep run's prompts and answers for 'run -c' (false: only their hashes)
endpoints: {}     # e.g. ollama: {base_url: "http://gpu-box:11434/v1"}
"""


def write_default_config(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_TEXT, encoding="utf-8")


def settings_in_force(config: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`config show`: the run defaults and every endpoint, addresses without secrets."""
    from tokenroute.dispatch.endpoints import effective_url, endpoint_specs
    from tokenroute.dispatch.providers.base import shown_url

    return {
        **run_defaults(config)._asdict(),
        "endpoints": {
            name: {
                "protocol": spec.protocol,
                "base_url": shown_url(effective_url(spec, environ)),
                "local": spec.local,
            }
            for name, spec in sorted(endpoint_specs(config).items())
        },
        **_team_settings(config),
    }


def _team_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The user and the collector, as set: the URL without its password, header names only."""
    from tokenroute.dispatch.providers.base import shown_url

    shown: dict[str, Any] = {}
    if configured_user(config):
        shown["user"] = configured_user(config)
    if configured_ledger(config):
        from tokenroute.storage.location import shown_database_url

        shown["ledger"] = shown_database_url(configured_ledger(config))
    otlp = otlp_settings(config)
    if otlp is not None:
        shown["otlp_endpoint"] = shown_url(otlp[0])
        shown["otlp_headers"] = {name: "<hidden>" for name in otlp[1]}
    return shown
