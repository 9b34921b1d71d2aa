"""Google Gemini `streamGenerateContent` with `alt=sse`. Every chunk repeats the running
`usageMetadata`; the last one is the whole call. Thinking is billed as output but counted
apart (`thoughtsTokenCount`), and thought parts are not part of the answer."""

from __future__ import annotations

from collections.abc import Iterator

from tokenroute.dispatch.providers.base import (
    Endpoint,
    Finished,
    HttpCall,
    Request,
    TextDelta,
    cut_short,
    error_in_stream,
    load_json,
)
from tokenroute.errors import ProviderError
from tokenroute.ledger.usage_formats import UsageFormatError, from_gemini


def build(request: Request, endpoint: Endpoint) -> HttpCall:
    body: dict = {
        "contents": [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
        ]
    }
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    settings: dict = {}
    if request.max_tokens is not None:
        settings["maxOutputTokens"] = request.max_tokens
    mode = None
    if request.json_answer:
        mode = "response_schema" if request.answer_schema is not None else "json_mime_type"
        settings["responseMimeType"] = "application/json"
        if request.answer_schema is not None:
            settings["responseSchema"] = gemini_schema(request.answer_schema)
    if settings:
        body["generationConfig"] = settings
    headers = {"content-type": "application/json"}
    if endpoint.key:
        headers["x-goog-api-key"] = endpoint.key
    url = f"{endpoint.base_url.rstrip('/')}/v1beta/models/{request.model}:streamGenerateContent"
    return HttpCall(url + "?alt=sse", headers, body, mode)


# JSON Schema keywords Gemini's responseSchema (an OpenAPI subset) refuses with a 400
UNSUPPORTED_BY_GEMINI = {"additionalProperties", "$schema", "$id", "$ref", "$defs", "$comment"}


def gemini_schema(schema: object) -> object:
    """The schema as responseSchema takes it: the keywords it refuses left out (the answer is
    still validated against the whole schema once it arrives)."""
    if isinstance(schema, list):
        return [gemini_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in ("enum", "required") else gemini_schema(value)
        for key, value in schema.items()
        if key not in UNSUPPORTED_BY_GEMINI
    }


def parse(events: Iterator[tuple[str, str]], endpoint: Endpoint) -> Iterator[TextDelta | Finished]:
    metadata = model = stop = None
    for _, data in events:
        chunk = load_json(data, endpoint)
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            raise error_in_stream(endpoint, chunk["error"])
        blocked = (chunk.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise ProviderError(
                f"{endpoint.name}: the prompt was blocked ({blocked}): rephrase it or use "
                "another model (-m)",
                kind="blocked",
                retryable=False,
            )
        model = chunk.get("modelVersion") or model
        for candidate in chunk.get("candidates") or ():
            for part in (candidate.get("content") or {}).get("parts") or ():
                if part.get("text") and not part.get("thought"):
                    yield TextDelta(part["text"])
            stop = candidate.get("finishReason") or stop
        metadata = chunk.get("usageMetadata") or metadata
    if stop is None:
        raise cut_short(endpoint)
    usage = None
    if metadata:
        try:
            usage = from_gemini(metadata)
        except UsageFormatError:
            usage = None
    yield Finished(usage, model, stop)
