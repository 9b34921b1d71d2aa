"""Anthropic Messages. The usage comes in two parts: `message_start` holds the input
buckets (uncached input, cache writes, cache reads: they do not overlap) and
`message_delta` the running output count, which replaces the start's."""

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
    json_instruction,
    load_json,
    object_schema,
)
from tokenroute.ledger.usage_formats import UsageFormatError, from_anthropic

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the Messages API requires max_tokens
ANSWER_TOOL = "answer"  # --schema: the tool the model must call, its input the answer


def build(request: Request, endpoint: Endpoint) -> HttpCall:
    body: dict = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
    }
    if request.system:
        if request.cache_system:
            body["system"] = [
                {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
            ]
        else:
            body["system"] = request.system
    mode = None
    schema = request.answer_schema
    if object_schema(schema):  # a forced tool whose input, the answer, is the schema
        mode = "tool"
        body["tools"] = [
            {
                "name": ANSWER_TOOL,
                "description": "Give the answer: its input is the whole answer.",
                "input_schema": request.answer_schema,
            }
        ]
        body["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
    elif request.json_answer:  # no JSON mode to ask for (a tool's input must be an object)
        mode = "instruction"
        instruction = json_instruction(None, schema)
        blocks = body.get("system")
        if isinstance(blocks, list):  # --cache: the cached system prompt stays as it was
            body["system"] = [*blocks, {"type": "text", "text": instruction}]
        else:
            body["system"] = f"{blocks}\n\n{instruction}" if blocks else instruction
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    if endpoint.key:
        headers["x-api-key"] = endpoint.key
    return HttpCall(endpoint.base_url.rstrip("/") + "/v1/messages", headers, body, mode)


def parse(events: Iterator[tuple[str, str]], endpoint: Endpoint) -> Iterator[TextDelta | Finished]:
    counts: dict = {}
    model = stop = None
    complete = False
    for name, data in events:
        message = load_json(data, endpoint)
        if not isinstance(message, dict):
            continue
        kind = message.get("type", name)
        if kind == "error":
            raise error_in_stream(endpoint, message.get("error", {}))
        if kind == "message_start":
            start = message.get("message") or {}
            model = start.get("model")
            counts.update(start.get("usage") or {})
        elif kind == "content_block_delta":
            delta = message.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield TextDelta(delta["text"])
            elif delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                yield TextDelta(delta["partial_json"])  # the forced tool's input: the answer
        elif kind == "message_delta":
            stop = (message.get("delta") or {}).get("stop_reason") or stop
            counts.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            complete = True
            break
    if not complete:
        raise cut_short(endpoint)
    usage = None
    if "input_tokens" in counts or "output_tokens" in counts:
        try:
            usage = from_anthropic(counts)
        except UsageFormatError:
            usage = None
    yield Finished(usage, model, stop)
