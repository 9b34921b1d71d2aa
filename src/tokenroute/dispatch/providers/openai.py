"""OpenAI Chat Completions, and every server that speaks it: xAI, OpenRouter, DeepSeek,
Mistral, Ollama, llama.cpp, vLLM, LM Studio.

Streaming sends the usage in a last chunk with no choices, only when asked with
`stream_options.include_usage`; its `prompt_tokens` include the cached ones.
"""

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
)
from tokenroute.ledger.usage_formats import UsageFormatError, from_openai_chat


def build(request: Request, endpoint: Endpoint) -> HttpCall:
    messages = [{"role": "system", "content": request.system}] if request.system else []
    messages += [{"role": m.role, "content": m.content} for m in request.messages]
    body: dict = {"model": request.model, "messages": messages, "stream": True}
    if endpoint.name != "mistral":  # Mistral rejects the field (422) and sends usage anyway
        body["stream_options"] = {"include_usage": True}
    if request.max_tokens is not None:
        # OpenAI's own API renamed the field for reasoning models; compatible servers did not
        body["max_completion_tokens" if endpoint.name == "openai" else "max_tokens"] = (
            request.max_tokens
        )
    mode = structured_mode(request, endpoint)
    if mode == "json_schema":
        schema = request.answer_schema or {}
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": strict_ready(schema)},
        }
    elif mode is not None:  # json_object wants the word JSON in the prompt; instruction is it
        if mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        instruction = json_instruction(request.system, request.answer_schema)
        messages = [m for m in messages if m["role"] != "system"]
        body["messages"] = [{"role": "system", "content": instruction}, *messages]
    headers = {"content-type": "application/json"}
    if endpoint.key:
        headers["authorization"] = f"Bearer {endpoint.key}"
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    return HttpCall(url, headers, body, mode)


# What each server takes, as far as its documentation says: a JSON Schema (OpenAI's
# structured outputs, and the servers that copied them), JSON mode only, or neither (a
# server named in the config: an instruction always works; its `structured` says better).
JSON_SCHEMA_SERVERS = {"openai", "xai", "openrouter", "mistral", "ollama", "llamacpp", "vllm"}
JSON_SCHEMA_SERVERS |= {"lmstudio"}
JSON_OBJECT_SERVERS = {"deepseek"}


def structured_mode(request: Request, endpoint: Endpoint) -> str | None:
    """json_schema, json_object or instruction: how this call asks for JSON (None: not)."""
    if not request.json_answer:
        return None
    mode = endpoint.structured or (
        "json_schema"
        if endpoint.name in JSON_SCHEMA_SERVERS
        else "json_object"
        if endpoint.name in JSON_OBJECT_SERVERS
        else "instruction"
    )
    schema = request.answer_schema
    if mode == "json_schema" and schema is None:
        return "json_object"  # --expect json: any JSON, which JSON mode is
    if (
        mode in ("json_schema", "json_object")
        and schema is not None
        and (schema.get("type") != "object")
    ):
        return "instruction"  # both modes answer with an object: an array is asked in words
    return mode


def strict_ready(schema: object) -> bool:
    """OpenAI's strict mode takes a schema only when every object closes its properties
    (additionalProperties: false) and requires all of them; else it is sent not strict."""
    if isinstance(schema, list):
        return all(strict_ready(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required") or ()) != set(properties):
            return False
    return all(strict_ready(value) for value in schema.values())


def parse(events: Iterator[tuple[str, str]], endpoint: Endpoint) -> Iterator[TextDelta | Finished]:
    usage = model = stop = None
    complete = False
    for _, data in events:
        if data.strip() == "[DONE]":
            complete = True
            break
        chunk = load_json(data, endpoint)
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            raise error_in_stream(endpoint, chunk["error"])
        model = chunk.get("model") or model
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield TextDelta(text)
            stop = choice.get("finish_reason") or stop
        if chunk.get("usage"):
            try:
                usage = from_openai_chat(chunk["usage"], reasoning_apart=endpoint.name == "xai")
            except UsageFormatError:
                usage = None  # unreadable: treated as missing, so the tokens are estimated
    if not (complete or stop):
        raise cut_short(endpoint)
    yield Finished(usage, model, stop)
