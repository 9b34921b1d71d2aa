"""What every provider adapter takes and yields. Plain data, no HTTP: dispatch imports it.

An adapter turns a `Request` into the provider's HTTP request, streams the answer back as
`TextDelta`s and ends with one `Finished` carrying the usage the provider reported (None
when it sent none). Failures are `ProviderError`s; retrying is dispatch's business.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from tokenroute.errors import ProviderError
from tokenroute.models import Usage


class Endpoint(NamedTuple):
    """Where and how to reach a provider. `key` is a secret: never printed (see redact)."""

    name: str  # "openai", "anthropic", "ollama", or a name from the config
    protocol: str  # "openai" (Chat Completions), "anthropic" (Messages), "gemini"
    base_url: str
    key: str | None = None
    local: bool = False  # a model on the user's own machine: tier local, cost $0
    # how an OpenAI-compatible server is asked for JSON: json_schema, json_object or
    # instruction (None: as its name says, see openai.structured_mode)
    structured: str | None = None

    def __repr__(self) -> str:  # keep the key out of tracebacks and debug output
        return f"Endpoint({self.name!r}, {self.protocol!r}, {shown_url(self.base_url)!r}, key=***)"

    @property
    def shown_url(self) -> str:
        return shown_url(self.base_url)


class Message(NamedTuple):
    role: str  # "user" or "assistant"
    content: str


class Request(NamedTuple):
    model: str  # the model's name as the provider's API knows it
    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int | None = None
    cache_system: bool = False  # ask Anthropic to cache the system prompt
    json_answer: bool = False  # --expect json or --schema: ask the provider for JSON
    answer_schema: dict[str, Any] | None = None  # --schema's, sent where the API takes one


class TextDelta(NamedTuple):
    text: str


class Finished(NamedTuple):
    usage: Usage | None  # None: the provider sent no usage block
    model: str | None = None  # the model that answered, when the provider says
    stop_reason: str | None = None


JSON_INSTRUCTION = "Answer with one JSON value only: no prose before or after it, no code fence."


def object_schema(schema: dict[str, Any] | None) -> bool:
    """A schema whose answer is an object: the only kind a tool's input or a JSON mode takes."""
    if schema is None:
        return False
    return schema.get("type", "object" if "properties" in schema else None) == "object"


def json_instruction(system: str | None, schema: dict[str, Any] | None) -> str:
    """The system prompt with the request for JSON (and the schema) after it: for APIs that
    take no schema, and for those whose JSON mode wants the word JSON in the prompt."""
    text = JSON_INSTRUCTION
    if schema is not None:
        text += " It must be valid against this JSON Schema: " + json.dumps(schema)
    return f"{system}\n\n{text}" if system else text


class HttpCall(NamedTuple):
    """The HTTP request an adapter would send: what --dry-run shows (key redacted)."""

    url: str
    headers: dict[str, str]
    body: dict
    structured: str | None = None  # how it asks for JSON, when it does (--dry-run says)


_KEY_SHAPES = re.compile(r"\b(?:sk-|xai-|AIza|gsk_|sk_)[A-Za-z0-9_\-*.]{4,}")
# user:password@ in an address, and the value of every query parameter (?key=...)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")  # to the last @ (a password may hold one)
_QUERY_VALUES = re.compile(r"(?<=[?&])([^=&#\s]+)=[^&#\s]*")


def shown_url(url: str) -> str:
    """An address as it may be printed or stored: no user or password (http://***@host),
    no query value (a key is often passed as ?key=...)."""
    return _QUERY_VALUES.sub(r"\1=***", _URL_CREDENTIALS.sub("***@", url))


def redact(text: str, *secrets: str | None) -> str:
    """`text` without any of `secrets`, nor anything shaped like an API key (providers echo
    part of a rejected key in their error messages)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _QUERY_VALUES.sub(r"\1=***", _URL_CREDENTIALS.sub("***@", text))
    return _KEY_SHAPES.sub("[redacted]", text)


def load_json(data: str, endpoint: Endpoint) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise ProviderError(
            f"{endpoint.name}: sent malformed JSON in its stream ({data[:60]!r})",
            kind="malformed",
            retryable=True,
        ) from None


_RETRYABLE_STATUS = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED"}


def error_in_stream(endpoint: Endpoint, error: Any) -> ProviderError:
    """An error event inside a 200 stream: Anthropic's `overloaded_error`, OpenAI's error
    object, Gemini's {code: 503, status: UNAVAILABLE}."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code")
    status = str(error.get("status") or "")
    kind = str(error.get("type") or status or code or "error")
    message = error.get("message", "")
    overloaded = "overloaded" in kind or code == 529
    retryable = (
        overloaded
        or any(word in kind for word in ("rate", "server", "api_error"))
        or status in _RETRYABLE_STATUS
        or (isinstance(code, int) and (code == 429 or code >= 500))
    )
    return ProviderError(
        redact(f"{endpoint.name}: {kind} in the stream: {message}", endpoint.key),
        kind="overloaded" if overloaded else "stream_error",
        retryable=retryable,
    )


def dry_run_view(call: HttpCall, endpoint: Endpoint) -> dict[str, Any]:
    """The request as --dry-run shows it: every header that could hold a key redacted."""
    secret_headers = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}
    headers = {
        k: ("[redacted]" if k.lower() in secret_headers else redact(v, endpoint.key))
        for k, v in call.headers.items()
    }
    view = {
        "method": "POST",
        "url": shown_url(redact(call.url, endpoint.key)),
        "headers": headers,
        "body": call.body,
    }
    if call.structured is not None:
        view["structured_output"] = call.structured
    return view


def cut_short(endpoint: Endpoint) -> ProviderError:
    """A stream that ended before the provider said it was complete."""
    return ProviderError(
        f"{endpoint.name}: the stream ended before the answer was complete",
        kind="connection",
        retryable=True,
    )
