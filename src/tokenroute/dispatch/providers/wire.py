"""The HTTP edge: send an adapter's request with httpx, read Server-Sent Events, and turn
every HTTP or network failure into a `ProviderError` that says whether a retry may help."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from time import monotonic, time
from typing import Any

import httpx

from tokenroute.dispatch.providers.base import Endpoint, Finished, HttpCall, TextDelta, redact
from tokenroute.errors import ProviderError

Event = TextDelta | Finished
Parser = Callable[[Iterator[tuple[str, str]], Endpoint], Iterator[Event]]

# status -> (error kind, retryable)
_STATUS_KINDS = {
    400: ("bad_request", False),
    401: ("auth", False),
    403: ("auth", False),
    404: ("not_found", False),
    408: ("timeout", True),
    409: ("conflict", True),
    413: ("too_large", False),
    422: ("bad_request", False),
    429: ("rate_limit", True),
    529: ("overloaded", True),
}


def stream(
    endpoint: Endpoint,
    call: HttpCall,
    parse: Parser,
    *,
    timeout: float,
    deadline: float | None = None,
) -> Iterator[Event]:
    """POST `call` and yield the parsed answer as it streams in.

    `timeout` bounds each wait for a byte; `deadline` (seconds) the whole attempt, so a
    server that trickles keep-alives or stalls between events cannot hold a run forever."""
    limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    ends = monotonic() + deadline if deadline else None
    try:
        with (
            httpx.Client(timeout=limits) as client,
            client.stream("POST", call.url, headers=call.headers, json=call.body) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise status_error(endpoint, response)
            lines = _lines(_until(response.iter_text(), ends, deadline, endpoint))
            seen = [0]

            def counted() -> Iterator[tuple[str, str]]:
                for item in sse_events(lines):
                    seen[0] += 1
                    yield item

            try:
                for event in parse(counted(), endpoint):
                    if isinstance(event, TextDelta) and not isinstance(event.text, str):
                        raise TypeError("text that is not a string")
                    yield event
            except ProviderError as exc:
                if exc.kind != "connection" or seen[0]:
                    raise
                kind = response.headers.get("content-type", "").split(";")[0] or "no type"
                raise ProviderError(
                    f"{endpoint.name}: answered with a body that is not an event stream ({kind})",
                    kind="malformed",
                    retryable=True,
                ) from None
            except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
                raise ProviderError(
                    f"{endpoint.name}: sent a stream chunk of an unexpected shape "
                    f"({type(exc).__name__})",
                    kind="malformed",
                    retryable=True,
                ) from None
    except httpx.TimeoutException:
        raise ProviderError(
            f"{endpoint.name}: no answer within {timeout:g} s (--timeout)",
            kind="timeout",
            retryable=True,
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise ProviderError(
            f"{endpoint.name}: the connection dropped ({_plain(exc, endpoint)})",
            kind="connection",
            retryable=True,
        ) from None
    except httpx.ConnectError as exc:
        refused = endpoint.local and "refused" in str(exc).lower()
        raise ProviderError(
            f"{endpoint.name}: cannot connect to {endpoint.shown_url} ({_plain(exc, endpoint)})"
            + (": is the server running?" if refused else ""),
            kind="connection",
            retryable=not refused,  # nothing listens on this machine: retrying cannot help
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
        raise ProviderError(
            f"{endpoint.name}: {_plain(exc, endpoint)}", kind="http", retryable=False
        ) from None


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    """Lines of text, without their ending (\\n, \\r\\n or \\r), from chunks cut anywhere."""
    pending = ""
    for chunk in chunks:
        pending += chunk
        held = "\r" if pending.endswith("\r") else ""  # it may be the first half of \r\n
        text = pending[:-1] if held else pending
        *complete, rest = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        pending = rest + held
        yield from complete
    if pending:
        yield pending.removesuffix("\r")


def _until(
    chunks: Iterator[str], ends: float | None, deadline: float | None, endpoint: Endpoint
) -> Iterator[str]:
    """The response's text until the attempt's deadline, checked at every chunk: a server
    that trickles bytes without ending a line is cut off too."""
    for line in chunks:
        if ends is not None and monotonic() > ends:
            raise ProviderError(
                f"{endpoint.name}: the answer took longer than {deadline:g} s (--deadline)",
                kind="timeout",
                retryable=True,
            )
        yield line


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) for each Server-Sent Event; the name is "" when none was given."""
    name, data = "", []
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "", []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
    if data:  # a stream that ended without the final blank line
        yield name, "\n".join(data)


def status_error(endpoint: Endpoint, response: httpx.Response) -> ProviderError:
    code = response.status_code
    kind, retryable = _STATUS_KINDS.get(code, ("server", True) if code >= 500 else ("http", False))
    detail = redact(_error_message(response), endpoint.key)
    hint = ""
    if kind == "auth":
        hint = ": check the key ('tokenroute keys list' says where it comes from)"
    return ProviderError(
        f"{endpoint.name}: HTTP {code} {detail}{hint}".rstrip(),
        kind=kind,
        retryable=retryable,
        retry_after=retry_after(response.headers),
        status=code,
    )


def retry_after(headers: httpx.Headers) -> float | None:
    """The wait a provider asks for: `retry-after-ms`, or `retry-after` in seconds or as a date."""
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time())
        except (TypeError, ValueError):
            return None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(body, list) and body:  # Gemini sometimes wraps the error in a list
        body = body[0]
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)[:300]
    return str(error)[:300]


def _plain(exc: Exception, endpoint: Endpoint) -> str:
    """httpx's message without secrets. An invalid header is described, not quoted: httpx
    quotes the header's value, which is the key."""
    text = str(exc) or type(exc).__name__
    if "header" in text.lower():
        return "a request header is invalid: check the key for stray characters"
    if endpoint.key:
        text = text.replace(repr(endpoint.key)[1:-1], "[redacted]")
    return redact(text, endpoint.key)


def probe(endpoint: Endpoint, *, timeout: float = 5.0) -> str | None:
    """None when the endpoint answers an authenticated model list; else what went wrong."""
    return _model_list(endpoint, timeout)[0]


def served_models(endpoint: Endpoint, *, timeout: float = 1.0) -> list[str] | None:
    """The models an OpenAI-compatible server lists (Ollama, llama.cpp, vLLM, LM Studio);
    None when it does not answer, which for a local server means it is not running."""
    problem, body = _model_list(endpoint, timeout)
    if problem or not isinstance(body, dict):
        return None
    listed = body.get("data")
    if not isinstance(listed, list):
        return []
    return [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _model_list(endpoint: Endpoint, timeout: float) -> tuple[str | None, Any]:
    base = endpoint.base_url.rstrip("/")
    headers: dict[str, str] = {}
    if endpoint.protocol == "anthropic":
        url = base + "/v1/models"
        headers["anthropic-version"] = "2023-06-01"
        if endpoint.key:
            headers["x-api-key"] = endpoint.key
    elif endpoint.protocol == "gemini":
        url = base + "/v1beta/models"
        if endpoint.key:
            headers["x-goog-api-key"] = endpoint.key
    else:
        url = base + "/models"
        if endpoint.key:
            headers["authorization"] = f"Bearer {endpoint.key}"
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except (httpx.HTTPError, UnicodeError) as exc:
        return f"cannot reach {endpoint.shown_url} ({_plain(exc, endpoint)})", None
    if response.status_code >= 400:
        return status_error(endpoint, response).message, None
    try:
        return None, response.json()
    except ValueError:
        return None, None
