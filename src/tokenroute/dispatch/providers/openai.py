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
    headers = {"content-type": "application/json"}
    if endpoint.key:
        headers["authorization"] = f"Bearer {endpoint.key}"
    return HttpCall(endpoint.base_url.rstrip("/") + "/chat/completions", headers, body)


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
