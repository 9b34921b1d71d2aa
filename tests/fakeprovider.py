"""A provider on 127.0.0.1 that speaks the real wire formats and fails on request.

OpenAI Chat Completions (`/v1/chat/completions`), Anthropic Messages (`/v1/messages`) and
Gemini (`/v1beta/models/M:streamGenerateContent?alt=sse`), each streaming Server-Sent
Events with its usage block where that provider puts it, and each error body in that
provider's shape. Tests queue `Reply`s; every request takes the next one (then `ok`).
Streams use chunked transfer encoding, so a cut connection is a broken stream, not an end.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    kind: str = "ok"  # ok | status | reset | stall | malformed | odd | no_usage | stream_error
    #                   | blocked (Gemini) | trickle (keep-alives, no end) | drip (a byte at a
    #                   time, no line end) | page (200, HTML)
    text: tuple[str, ...] = ("Hello", ", world", ".")
    input: int = 12  # uncached input tokens
    cached: int = 0  # cache reads
    cache_write: int = 0
    output: int = 7
    reasoning: int = 0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "something went wrong"
    delay: float = 0.0  # before the first byte
    model: str | None = None
    stop: str = "stop"  # OpenAI's finish_reason


class FakeProvider:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        # when set, answers each request by its model (and body) instead of the queue
        self.respond: Callable[[str, dict[str, Any]], Reply] | None = None
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"provider": self})
        self.server = _QuietServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self, model: str = "", body: dict[str, Any] | None = None) -> Reply:
        if self.respond is not None:
            return self.respond(model, body or {})
        with self.lock:
            return self.replies.popleft() if self.replies else Reply()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up early is part of the tests, not news


class _Handler(BaseHTTPRequestHandler):
    provider: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        """Model lists (what `tokenroute doctor --network` asks for)."""
        self.provider.requests.append(
            {"path": self.path, "headers": dict(self.headers.items()), "body": None}
        )
        reply = self.provider.next_reply()
        protocol = (
            "anthropic"
            if self.path.startswith("/v1/models")
            and "x-api-key" in {k.lower() for k in self.headers}
            else "openai"
        )
        if reply.kind == "status":
            self._json(reply.status, _error_body(protocol, reply), reply.headers)
        else:
            self._json(200, {"data": [{"id": "some-model"}], "models": []})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.provider.requests.append(
            {"path": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        if self.path.startswith("/v1/chat/completions"):
            protocol = "openai"
        elif self.path.startswith("/v1/messages"):
            protocol = "anthropic"
        elif ":streamGenerateContent" in self.path:
            protocol = "gemini"
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        reply = self.provider.next_reply(body.get("model") or _gemini_model(self.path), body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.kind == "status":
            self._json(reply.status, _error_body(protocol, reply), reply.headers)
            return
        if reply.kind == "page":  # a proxy's or captive portal's page, status 200
            page = b"<html><body>Welcome to the hotel network</body></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        forced = (body.get("tool_choice") or {}).get("name") if protocol == "anthropic" else None
        events = _events(protocol, reply, body.get("model") or _gemini_model(self.path), forced)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for index, event in enumerate(events):
            if reply.kind in ("trickle", "drip") and index == 2:  # bytes, never an answer
                for _ in range(150):  # drip: not even a whole line
                    self._chunk(b": keep-alive\n\n" if reply.kind == "trickle" else b" ")
                    time.sleep(0.2)
                return
            if reply.kind == "stall" and index == 2:
                time.sleep(30)  # hold the stream open: the client is interrupted meanwhile
                return
            if reply.kind == "reset" and index == 2:
                # hang up in the middle of the chunked body
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._chunk(event.encode())
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _gemini_model(path: str) -> str:
    return path.split("/models/")[1].split(":")[0] if "/models/" in path else "gemini"


def _error_body(protocol: str, reply: Reply) -> Any:
    if protocol == "anthropic":
        kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}
        return {
            "type": "error",
            "error": {"type": kind.get(reply.status, "api_error"), "message": reply.message},
        }
    if protocol == "gemini":
        return {"error": {"code": reply.status, "message": reply.message, "status": "ERROR"}}
    return {"error": {"message": reply.message, "type": "error", "code": None}}


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return head + "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n"


def _events(protocol: str, reply: Reply, model: str, tool: str | None = None) -> list[str]:
    """The stream of one reply; `tool`: Anthropic was made to call it, so the reply's text
    comes as the tool's input (input_json_delta), as the real API sends it."""
    model = reply.model or model
    usage = reply.kind != "no_usage"
    if protocol == "openai":
        events = [
            _sse({"model": model, "choices": [{"index": 0, "delta": {"content": t}}]})
            for t in reply.text
        ]
        if reply.kind == "malformed":
            events.insert(1, 'data: {"choices": [ {oops\n\n')
        if reply.kind == "odd":  # valid JSON of the wrong shape
            events.insert(1, _sse({"model": model, "choices": [{"index": 0, "delta": "x"}]}))
        finish = {"index": 0, "delta": {}, "finish_reason": reply.stop}
        events.append(_sse({"model": model, "choices": [finish]}))
        if usage:
            events.append(
                _sse(
                    {
                        "model": model,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": reply.input + reply.cached,
                            "completion_tokens": reply.output,
                            "total_tokens": reply.input + reply.cached + reply.output,
                            "prompt_tokens_details": {"cached_tokens": reply.cached},
                            "completion_tokens_details": {"reasoning_tokens": reply.reasoning},
                        },
                    }
                )
            )
        return [*events, _sse("[DONE]")]
    if protocol == "anthropic":
        start_usage = {
            "input_tokens": reply.input,
            "cache_creation_input_tokens": reply.cache_write,
            "cache_read_input_tokens": reply.cached,
            "output_tokens": 1,
        }
        events = [
            _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "model": model,
                        "usage": start_usage if usage else {},
                    },
                },
                "message_start",
            ),
            _sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""}
                    if tool is None
                    else {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}},
                },
                "content_block_start",
            ),
            _sse({"type": "ping"}, "ping"),
        ]
        for t in reply.text:
            events.append(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": t}
                        if tool is None
                        else {"type": "input_json_delta", "partial_json": t},
                    },
                    "content_block_delta",
                )
            )
        if reply.kind == "stream_error":
            events.append(
                _sse(
                    {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                    },
                    "error",
                )
            )
            return events
        if reply.kind == "malformed":
            events.insert(3, "event: content_block_delta\ndata: {oops\n\n")
        events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        events.append(
            _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn" if tool is None else "tool_use"},
                    "usage": {"output_tokens": reply.output} if usage else {},
                },
                "message_delta",
            )
        )
        return [*events, _sse({"type": "message_stop"}, "message_stop")]
    # gemini: every chunk repeats the running usage
    if reply.kind == "blocked":
        return [_sse({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": model})]
    if reply.kind == "stream_error":
        return [_sse({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})]
    events = []
    for i, t in enumerate(reply.text):
        chunk: dict[str, Any] = {
            "candidates": [{"content": {"parts": [{"text": t}], "role": "model"}}],
            "modelVersion": model,
        }
        if i == len(reply.text) - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
        if usage:
            chunk["usageMetadata"] = {
                "promptTokenCount": reply.input + reply.cached,
                "cachedContentTokenCount": reply.cached,
                "candidatesTokenCount": max(0, reply.output - reply.reasoning)
                * (i + 1)
                // len(reply.text),
                "thoughtsTokenCount": reply.reasoning,
            }
        events.append(_sse(chunk))
    if reply.kind == "malformed":
        events.insert(1, "data: {oops\n\n")
    return events


TEST_KEYS = {
    "OPENAI_API_KEY": "sk-test-OPENAI-0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdef",
    "GEMINI_API_KEY": "AIzaTEST0123456789abcdef",
}


def point_clients_at(server: FakeProvider, monkeypatch: Any) -> None:
    """OpenAI and Anthropic to this server by their environment variables, with test keys
    for the three (Gemini's address is the config's: `endpoints: google: base_url`)."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    for name, value in TEST_KEYS.items():
        monkeypatch.setenv(name, value)
