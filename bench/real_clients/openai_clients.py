"""Real-client fixtures for the Codex and llm importers, with the server's usage as ground truth.

The real clients are driven against a fake server on 127.0.0.1 that speaks the OpenAI
Responses API, Chat Completions and Anthropic Messages. Every billed response carries its
own distinct token counts, recorded with the response id and model in `ground_truth.json`
next to the files the client wrote. CI never runs this: the committed fixtures are what the
tests use.

Regenerate (clients are installed by hand under /tmp, never into the project):

    npm install --prefix /tmp/rc/codex @openai/codex@0.171.0
    python3 -m venv /tmp/rc/llm-0.31.1
    /tmp/rc/llm-0.31.1/bin/pip install llm==0.31.1 httpx llm-anthropic "anthropic>=0.96,<1"
    python3 -m venv /tmp/rc/llm-0.36
    /tmp/rc/llm-0.36/bin/pip install llm==0.36 llm-anthropic             # 0.30
    python bench/real_clients/openai_clients.py --out tests/fixtures/real_clients \\
        --codex /tmp/rc/codex/node_modules/.bin/codex \\
        --llm-venv /tmp/rc/llm-0.31.1 --llm-venv /tmp/rc/llm-0.36 [--only codex|llm]

`--keep DIR` keeps the work folder (each client's home, runs.json with every command's
output, requests.json with every request the server got). Then compare today's importers
with the ground truth (needs `tokenroute` on PATH):

    python bench/real_clients/openai_clients.py --compare tests/fixtures/real_clients

As root with `unshare` at hand the generation re-runs itself in a new network namespace
with only loopback up (`--no-isolate` turns that off), so the clients can reach nothing but
the fake server. Children get a scrubbed environment: a temporary HOME, dummy keys only.

Layout written:
    codex/<version>/responses/sessions/YYYY/MM/DD/rollout-*.jsonl  (what `import codex` reads)
    codex/<version>/ground_truth.json
    llm/<version>/logs.db, llm/<version>/ground_truth.json
    llm/0.31.1-then-0.36/logs.db  (a 0.31.1 database used on by 0.36)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OPENAI_KEY = "sk-dummy-for-fixtures"
ANTHROPIC_KEY = "sk-ant-dummy-for-fixtures"
CODEX_MODEL = "gpt-5-codex"
CHAT_MODEL = "gpt-4.1-mini"  # what the llm model asks the server for
CHAT_SNAPSHOT = "gpt-4.1-mini-2025-04-14"  # what the server says answered
RESP_MODEL = "gpt-5-mini"
RESP_SNAPSHOT = "gpt-5-mini-2025-08-07"
CLAUDE_ALIAS = "claude-sonnet-4.5"
CLAUDE_SNAPSHOT = "claude-sonnet-4-5-20250929"
UPGRADED = "0.31.1-then-0.36"

# --------------------------------------------------------------------------- ground truth


@dataclass
class Billed:
    """One response the server billed, as it sent it."""

    id: str
    api: str  # responses | chat | anthropic
    model_requested: str
    model_answered: str
    stream: bool
    scenario: str
    label: str
    usage_sent: dict[str, Any]
    buckets: dict[str, int]  # the server's own split, named by format
    expected: dict[str, int]  # the same in tokenroute's buckets


@dataclass
class Recorder:
    """What the server sent, and the requests it got (kept for the report, not committed)."""

    label: str = "unlabelled"
    billed: list[Billed] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def add(self, billed: Billed) -> None:
        with self.lock:
            self.billed.append(billed)

    def note(self, request: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(request)

    def take(self, label_prefix: str) -> list[Billed]:
        with self.lock:
            return [b for b in self.billed if b.label.startswith(label_prefix)]


def openai_counts(n: int, profile: str) -> dict[str, int]:
    """Distinct, non-round counts for response number `n` (OpenAI convention: totals)."""
    total_in = 2113 + 587 * n
    output = 89 + 29 * n
    reasoning = 31 + 7 * n
    cached = 1279 + 61 * n if profile in ("cached", "cache_write") else 0
    write = 317 + 43 * n if profile == "cache_write" else 0
    return {
        "input_total": total_in,
        "cached": cached,
        "cache_write": write,
        "output": output,
        "reasoning": reasoning,
    }


def anthropic_counts(n: int, profile: str) -> dict[str, int]:
    """Anthropic convention: `input` is the uncached part; writes split by lifetime."""
    counts = {
        "input": 23 + 11 * n,
        "cache_read": 0,
        "cache_write_5m": 0,
        "cache_write_1h": 0,
        "output": 97 + 31 * n,
    }
    if profile == "write_both":  # first call of a cached prompt: 5m and 1h writes, small read
        counts.update(cache_read=613 + 7 * n, cache_write_5m=1517 + 13 * n)
        counts["cache_write_1h"] = 2741 + 17 * n
    elif profile == "read":  # the follow-up: mostly read, a small 5m write for the new turn
        counts.update(cache_read=4289 + 19 * n, cache_write_5m=157 + 3 * n)
    return counts


def openai_expected(c: dict[str, int]) -> dict[str, int]:
    """Cached and cache-write tokens are both inside input_tokens; reasoning inside output."""
    return {
        "input": c["input_total"] - c["cached"] - c["cache_write"],
        "cache_read": c["cached"],
        "cache_write": c["cache_write"],
        "cache_write_1h": 0,
        "output": c["output"],
        "reasoning": c["reasoning"],
    }


def anthropic_expected(c: dict[str, int]) -> dict[str, int]:
    return {
        "input": c["input"],
        "cache_read": c["cache_read"],
        "cache_write": c["cache_write_5m"],
        "cache_write_1h": c["cache_write_1h"],
        "output": c["output"],
        "reasoning": 0,
    }


# --------------------------------------------------------------------------- the server


def _texts(value: Any) -> list[str]:
    """Every string under `text` or `content` keys, depth first."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "content") and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_texts(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_texts(item))
    return found


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else "\n".join(_texts(content))
    return ""


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # -- plumbing

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding"):
            raise ValueError(f"compressed body ({self.headers['Content-Encoding']})")
        body = json.loads(raw) if raw else {}
        return body if isinstance(body, dict) else {}

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            head = f"event: {name}\n" if name else ""
            self.wfile.write(f"{head}data: {text}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    def _note(self, body: Any) -> None:
        auth = self.headers.get("Authorization") or self.headers.get("x-api-key") or ""
        self.server.recorder.note(
            {
                "label": self.server.recorder.label,
                "method": self.command,
                "path": self.path,
                "auth": auth[:12] + "..." if auth else "",
                "user_agent": self.headers.get("User-Agent", ""),
                "body": body,
            }
        )

    # -- routes

    def do_GET(self) -> None:
        self._note(None)
        if self.path.rstrip("/").endswith("/models"):
            names = [CODEX_MODEL, CHAT_MODEL, RESP_MODEL]
            models = [{"id": m, "object": "model", "owned_by": "fake"} for m in names]
            self._json(200, {"object": "list", "data": models})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        try:
            body = self._body()
        except ValueError as exc:
            self._note(str(exc))
            self._json(400, {"error": {"message": str(exc)}})
            return
        self._note(body)
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/responses"):
            self._responses(body)
        elif path.endswith("/chat/completions"):
            self._chat(body)
        elif path.endswith("/messages"):
            self._anthropic(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    # -- OpenAI Responses

    def _responses(self, body: dict[str, Any]) -> None:
        rec = self.server.recorder
        n = rec.next_number()
        items = body.get("input")
        items = items if isinstance(items, list) else [{"role": "user", "content": str(items)}]
        prompt = _last_user_text(items)
        last = items[-1] if items else {}
        after_tool = isinstance(last, dict) and last.get("type") == "function_call_output"
        wants_tool = "[[tool]]" in prompt and not after_tool
        if after_tool or "[[resume]]" in prompt or "[[cached]]" in prompt:
            profile, scenario = "cached", "after_tool" if after_tool else "cached"
        elif "[[cache]]" in prompt:
            profile, scenario = "cache_write", "cache_write"
        else:
            profile, scenario = "plain", "tool_call" if wants_tool else "plain"
        requested = str(body.get("model") or "")
        answered = RESP_SNAPSHOT if requested == RESP_MODEL else requested
        rid = f"resp_fx{n:03d}{uuid.uuid4().hex[:20]}"
        c = openai_counts(n, profile)
        usage = {
            "input_tokens": c["input_total"],
            "input_tokens_details": {
                "cached_tokens": c["cached"],
                "cache_write_tokens": c["cache_write"],
            },
            "output_tokens": c["output"],
            "output_tokens_details": {"reasoning_tokens": c["reasoning"]},
            "total_tokens": c["input_total"] + c["output"],
        }
        stream = bool(body.get("stream"))
        rec.add(
            Billed(
                rid,
                "responses",
                requested,
                answered,
                stream,
                scenario,
                rec.label,
                usage,
                c,
                openai_expected(c),
            )
        )
        reasoning_item = {
            "id": f"rs_fx{n:03d}",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "**Planning** the reply."}],
            "encrypted_content": "ZmFrZS1yZWFzb25pbmc=",
        }
        if wants_tool:
            answer = ""
            item: dict[str, Any] = {
                "id": f"fc_fx{n:03d}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_fx{n:03d}",
                "name": "exec_command",
                "arguments": json.dumps({"cmd": "echo fixture-tool-ok"}),
            }
        else:
            answer = f"Fixture answer {n} ({scenario})."
            item = {
                "id": f"msg_fx{n:03d}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        created = int(time.time())
        base = {
            "id": rid,
            "object": "response",
            "created_at": created,
            "model": answered,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "output": [],
        }
        done = {**base, "status": "completed", "output": [reasoning_item, item], "usage": usage}
        if not stream:
            self._json(200, done)
            return
        seq = iter(range(1000))
        events: list[tuple[str | None, Any]] = []

        def ev(kind: str, **data: Any) -> None:
            events.append((kind, {"type": kind, "sequence_number": next(seq), **data}))

        ev("response.created", response={**base, "status": "in_progress", "usage": None})
        ev("response.in_progress", response={**base, "status": "in_progress", "usage": None})
        ev("response.output_item.added", output_index=0, item={**reasoning_item, "summary": []})
        ev("response.output_item.done", output_index=0, item=reasoning_item)
        if wants_tool:
            ev("response.output_item.added", output_index=1, item={**item, "arguments": ""})
            ev(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=1,
                delta=item["arguments"],
            )
            ev(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=1,
                arguments=item["arguments"],
            )
        else:
            ev(
                "response.output_item.added",
                output_index=1,
                item={**item, "status": "in_progress", "content": []},
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            ev(
                "response.content_part.added",
                item_id=item["id"],
                output_index=1,
                content_index=0,
                part=part,
            )
            for piece in re.findall(r"\S+\s*", answer):
                ev(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=1,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            ev(
                "response.output_text.done",
                item_id=item["id"],
                output_index=1,
                content_index=0,
                text=answer,
                logprobs=[],
            )
            ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=1,
                content_index=0,
                part={**part, "text": answer},
            )
        ev("response.output_item.done", output_index=1, item=item)
        ev("response.completed", response=done)
        self._sse(events)

    # -- Chat Completions

    def _chat(self, body: dict[str, Any]) -> None:
        rec = self.server.recorder
        n = rec.next_number()
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        prompt = _last_user_text(messages)
        continued = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
        profile = "cached" if "[[cache]]" in prompt or continued > 1 else "plain"
        scenario = "continued" if continued > 1 else "plain"
        if any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
            scenario += "+system"
        requested = str(body.get("model") or "")
        answered = CHAT_SNAPSHOT if requested == CHAT_MODEL else requested
        rid = f"chatcmpl-fx{n:03d}{uuid.uuid4().hex[:16]}"
        c = openai_counts(n, profile)
        usage = {
            "prompt_tokens": c["input_total"],
            "completion_tokens": c["output"],
            "total_tokens": c["input_total"] + c["output"],
            "prompt_tokens_details": {"cached_tokens": c["cached"], "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": c["reasoning"],
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        rec.add(
            Billed(
                rid,
                "chat",
                requested,
                answered,
                stream,
                scenario + ("" if include_usage or not stream else "+no_usage_requested"),
                rec.label,
                usage,
                c,
                openai_expected(c),
            )
        )
        answer = f"Fixture chat answer {n}."
        created = int(time.time())
        if not stream:
            self._json(
                200,
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": answered,
                    "system_fingerprint": "fp_fixture",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        head = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": answered,
            "system_fingerprint": "fp_fixture",
        }
        extra = {"usage": None} if include_usage else {}
        chunks: list[tuple[str | None, Any]] = []
        first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        chunks.append((None, {**head, "choices": [first], **extra}))
        for piece in re.findall(r"\S+\s*", answer):
            delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            chunks.append((None, {**head, "choices": [delta], **extra}))
        chunks.append(
            (
                None,
                {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra},
            )
        )
        if include_usage:
            chunks.append((None, {**head, "choices": [], "usage": usage}))
        chunks.append((None, "[DONE]"))
        self._sse(chunks)

    # -- Anthropic Messages

    def _anthropic(self, body: dict[str, Any]) -> None:
        rec = self.server.recorder
        n = rec.next_number()
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        prompt = _last_user_text(messages)
        cached = "cache_control" in json.dumps(messages) or "cache_control" in json.dumps(
            body.get("system")
        )
        users = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
        if cached and "[[cache1h]]" in prompt:
            profile = "write_both"
        elif cached and users > 1:
            profile = "read"
        else:
            profile = "plain"
        scenario = profile + ("+cache_control" if cached else "")
        requested = str(body.get("model") or "")
        answered = CLAUDE_SNAPSHOT if requested.startswith("claude-sonnet-4-5") else requested
        rid = f"msg_fx{n:03d}{uuid.uuid4().hex[:18]}"
        c = anthropic_counts(n, profile)
        usage = {
            "input_tokens": c["input"],
            "cache_creation_input_tokens": c["cache_write_5m"] + c["cache_write_1h"],
            "cache_read_input_tokens": c["cache_read"],
            "cache_creation": {
                "ephemeral_5m_input_tokens": c["cache_write_5m"],
                "ephemeral_1h_input_tokens": c["cache_write_1h"],
            },
            "output_tokens": c["output"],
            "service_tier": "standard",
        }
        stream = bool(body.get("stream"))
        rec.add(
            Billed(
                rid,
                "anthropic",
                requested,
                answered,
                stream,
                scenario,
                rec.label,
                usage,
                c,
                anthropic_expected(c),
            )
        )
        answer = f"Fixture Claude answer {n}."
        message = {
            "id": rid,
            "type": "message",
            "role": "assistant",
            "model": answered,
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not stream:
            self._json(200, message)
            return
        start_usage = {**usage, "output_tokens": 3}
        events: list[tuple[str | None, Any]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        **message,
                        "content": [],
                        "stop_reason": None,
                        "usage": start_usage,
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            ("ping", {"type": "ping"}),
        ]
        for piece in re.findall(r"\S+\s*", answer):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": c["output"]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._sse(events)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.recorder = recorder

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(recorder: Recorder) -> Iterator[FakeServer]:
    server = FakeServer(recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- running clients


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No key, proxy or config of the person running this reaches a client."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TZ": "UTC",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path, log: list[dict[str, Any]]) -> str:
    started = time.time()
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    log.append(
        {
            "cmd": cmd,
            "rc": proc.returncode,
            "seconds": round(time.time() - started, 1),
            "stdout": proc.stdout[-4000:],
            "stderr": proc.stderr[-4000:],
        }
    )
    print(f"  $ {' '.join(cmd)}\n    -> rc={proc.returncode}", flush=True)
    if proc.returncode != 0:
        print(f"    stderr: {proc.stderr[-1500:]}", flush=True)
    return proc.stdout


def write_truth(path: Path, client: str, version: str, billed: list[Billed], **notes: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "client": client,
        "version": version,
        "conventions": {
            "openai": "input_total includes cached and cache_write; output includes reasoning",
            "anthropic": "input excludes cache_read and cache writes; 5m and 1h writes apart",
            "expected": "tokenroute buckets: input (uncached), cache_read, cache_write (5m), "
            "cache_write_1h, output (incl. reasoning), reasoning",
            "logged_at": "where the client logged the response: for codex the rollout (relative "
            "to this folder) and 1-based line numbers; for llm the table and row id",
        },
        **notes,
        "responses": [
            {k: v for k, v in asdict(b).items() if k != "label"} | {"call": b.label} for b in billed
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def add_locations(truth: Path, locate: Callable[[str], dict[str, Any] | None]) -> None:
    """Name, for each billed response, where the client logged it (`logged_at`)."""
    doc = json.loads(truth.read_text())
    for response in doc["responses"]:
        response["logged_at"] = locate(response["id"])
    truth.write_text(json.dumps(doc, indent=2) + "\n")


def codex_locator(root: Path) -> Callable[[str], dict[str, Any] | None]:
    """The rollout, session and token_count line that follow a response's usage record."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.jsonl")):
        pending: dict[str, Any] | None = None
        session = None
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = json.loads(raw)
            payload = line.get("payload") or {}
            if line.get("type") == "session_meta":
                session = payload.get("id")
            elif line.get("type") == "token_usage_record":
                pending = {
                    "rollout": str(path.relative_to(root)),
                    "session_id": session,
                    "token_usage_record_line": number,
                    "response_id": payload.get("response_id"),
                }
            elif payload.get("type") == "token_count" and pending:
                found[pending.pop("response_id")] = {**pending, "token_count_line": number}
                pending = None
    return found.get


def llm_locator(db: Path) -> Callable[[str], dict[str, Any] | None]:
    """The responses or turns row whose response_json names the server's response id."""
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    rows: list[tuple[str, str, str, str | None, str]] = []
    for table, conversation in (("responses", "conversation_id"), ("turns", "thread_id")):
        if table in tables:
            query = f"SELECT id, model, {conversation}, response_json FROM {table}"
            rows += [(table, *r) for r in conn.execute(query)]
    conn.close()

    def locate(response_id: str) -> dict[str, Any] | None:
        for table, row_id, model, conversation, raw in rows:
            if raw and f'"{response_id}"' in raw:
                return {"table": table, "id": row_id, "model": model, "conversation": conversation}
        return None

    return locate


# -- Codex


CODEX_CONFIG = """\
model = "{model}"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fixture server"
base_url = "{base}/v1"
env_key = "FAKE_API_KEY"
wire_api = "{wire_api}"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false
"""


def codex_version(codex: str) -> str:
    out = subprocess.run([codex, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split()[-1]


def run_codex(codex: str, server: FakeServer, out: Path, work: Path) -> dict[str, Any]:
    rec = server.recorder
    version = codex_version(codex)
    base_out = out / "codex" / version
    notes: dict[str, Any] = {"codex_version": version, "runs": []}
    for wire_api in ("responses", "chat"):
        home = work / f"codex-{wire_api}"
        codex_home = home / ".codex"
        project = home / "project"
        codex_home.mkdir(parents=True)
        project.mkdir()
        (project / "README.md").write_text("fixture project\n")
        config = CODEX_CONFIG.format(model=CODEX_MODEL, base=server.base, wire_api=wire_api)
        (codex_home / "config.toml").write_text(config)
        env = clean_env(home, CODEX_HOME=str(codex_home), FAKE_API_KEY=OPENAI_KEY)
        runs: list[dict[str, Any]] = notes["runs"]
        exec_ = [codex, "exec", "--skip-git-repo-check", "--color", "never"]
        print(f"codex {version} wire_api={wire_api}", flush=True)
        rec.label = f"codex:{wire_api}:plain"
        run([*exec_, "Say hello in five words."], env, project, runs)
        if wire_api == "chat" and runs[-1]["rc"] != 0:
            notes["chat_refused"] = (runs[-1]["stderr"] or runs[-1]["stdout"]).strip()[-800:]
            continue
        sessions = sorted((codex_home / "sessions").rglob("rollout-*.jsonl"))
        first_id = _session_id(sessions[0]) if sessions else None
        rec.label = f"codex:{wire_api}:tool"
        run(
            [
                *exec_,
                "--dangerously-bypass-approvals-and-sandbox",
                "Run the check command, then report. [[tool]]",
            ],
            env,
            project,
            runs,
        )
        rec.label = f"codex:{wire_api}:cache"
        run([*exec_, "Summarise the README again. [[cache]]"], env, project, runs)
        if first_id:
            rec.label = f"codex:{wire_api}:resume"
            run(
                [
                    codex,
                    "exec",
                    "resume",
                    "--skip-git-repo-check",
                    first_id,
                    "One more line, please. [[resume]]",
                ],
                env,
                project,
                runs,
            )
        target = base_out / wire_api
        if target.exists():
            shutil.rmtree(target)
        for source in sorted((codex_home / "sessions").rglob("*.jsonl")):
            dest = target / source.relative_to(codex_home)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    billed = rec.take("codex:")
    write_truth(
        base_out / "ground_truth.json",
        "codex",
        version,
        billed,
        model_configured=CODEX_MODEL,
        chat_refused=notes.get("chat_refused"),
        commands=[" ".join(r["cmd"][1:]) for r in notes["runs"]],
    )
    add_locations(base_out / "ground_truth.json", codex_locator(base_out))
    return notes


def _session_id(path: Path) -> str | None:
    match = re.search(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", path.name)
    return match.group(1) if match else None


# -- llm


def llm_version(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "llm"), "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().split()[-1]


def has_plugin(venv: Path, name: str) -> bool:
    out = subprocess.run(
        [str(venv / "bin" / "llm"), "plugins"],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(Path(tempfile.gettempdir())),
    )
    return name in out.stdout


def llm_yaml(base: str, responses: bool) -> str:
    lines = [
        "- model_id: local-gpt-4.1-mini",
        f"  model_name: {CHAT_MODEL}",
        f"  api_base: {base}/v1",
        "  api_key_name: fixture",
    ]
    if responses:
        lines += [
            "- model_id: local-gpt-5-mini-responses",
            f"  model_name: {RESP_MODEL}",
            f"  api_base: {base}/v1",
            "  api_key_name: fixture",
            "  responses: true",
        ]
    return "\n".join(lines) + "\n"


def llm_session(
    venv: Path, server: FakeServer, user_dir: Path, work: Path
) -> tuple[dict[str, str], list[str]]:
    version = llm_version(venv)
    responses = tuple(int(p) for p in version.split(".")[:2]) >= (0, 32)
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "extra-openai-models.yaml").write_text(llm_yaml(server.base, responses))
    home = work / f"home-llm-{version}"
    home.mkdir(exist_ok=True)
    env = clean_env(
        home,
        LLM_USER_PATH=str(user_dir),
        ANTHROPIC_BASE_URL=server.base,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
    )
    llm = str(venv / "bin" / "llm")
    subprocess.run(
        [llm, "keys", "set", "fixture", "--value", OPENAI_KEY],
        env=env,
        check=True,
        capture_output=True,
    )
    return env, [llm]


def run_llm(venv: Path, server: FakeServer, out: Path, work: Path) -> dict[str, Any]:
    rec = server.recorder
    version = llm_version(venv)
    user_dir = work / f"llm-{version}"
    env, llm = llm_session(venv, server, user_dir, work)
    anthropic = has_plugin(venv, "llm-anthropic")
    runs: list[dict[str, Any]] = []
    print(f"llm {version} (llm-anthropic: {anthropic})", flush=True)
    label = f"llm:{version}:"
    chat = ["-m", "local-gpt-4.1-mini"]

    def call(name: str, *args: str) -> None:
        rec.label = label + name
        run([*llm, *args], env, work, runs)

    call("chat-stream", *chat, "Say hi in three words.")
    call("chat-system-no-stream", *chat, "--no-stream", "-s", "You are terse.", "Name a colour.")
    call("chat-continued", "-c", "And another one?")
    if tuple(int(p) for p in version.split(".")[:2]) >= (0, 32):
        resp = ["-m", "local-gpt-5-mini-responses"]
        call("responses-stream-cache", *resp, "Explain caching briefly. [[cache]]")
        call("responses-no-stream-system", *resp, "--no-stream", "-s", "Be brief.", "Why?")
        call("responses-continued", "-c", "Go on. [[cached]]")
    if anthropic:
        claude = ["-m", CLAUDE_ALIAS]
        # llm-anthropic 0.25.1 marks only an attachment for caching (a plain prompt or a
        # fragment gets no cache_control): an image makes both versions send it.
        image = work / "pixel.png"
        image.write_bytes(tiny_png())
        cache = ["-o", "cache", "1", "-a", str(image)]
        call("claude-cache-write-5m-1h", *claude, *cache, "Read this. [[cache1h]]")
        # Without a smaller max_tokens, anthropic<1 refuses --no-stream for these models
        # ("Streaming is required for operations that may take longer than 10 minutes").
        small = ["--no-stream", "-o", "max_tokens", "1024"]
        call("claude-continued-cache-read", "-c", *small, "-o", "cache", "1", "And now?")
        call("claude-plain-no-cache-option", *claude, *small, "Plain question.")
    target = out / "llm" / version
    target.mkdir(parents=True, exist_ok=True)
    copy_db(user_dir / "logs.db", target / "logs.db")
    write_truth(
        target / "ground_truth.json",
        "llm",
        version,
        rec.take(label),
        llm_anthropic=plugin_version(venv, "llm-anthropic"),
        models={
            "local-gpt-4.1-mini": f"chat completions, model_name {CHAT_MODEL}",
            "local-gpt-5-mini-responses": f"responses API, model_name {RESP_MODEL}",
            CLAUDE_ALIAS: "llm-anthropic alias, ANTHROPIC_BASE_URL at the fake server",
        },
        commands=[" ".join(r["cmd"][1:]) for r in runs],
    )
    add_locations(target / "ground_truth.json", llm_locator(target / "logs.db"))
    return {"version": version, "runs": runs, "user_dir": str(user_dir)}


def run_llm_upgrade(
    old_dir: Path, new_venv: Path, server: FakeServer, out: Path, work: Path
) -> dict[str, Any]:
    """A logs.db written by the old llm, then used on by the new one."""
    rec = server.recorder
    user_dir = work / f"llm-{UPGRADED}"
    shutil.copytree(old_dir, user_dir)
    (user_dir / "extra-openai-models.yaml").unlink()
    env, llm = llm_session(new_venv, server, user_dir, work)
    runs: list[dict[str, Any]] = []
    label = f"llm:{UPGRADED}:"
    print(f"llm {UPGRADED}", flush=True)
    rec.label = label + "continue-legacy-conversation"
    run(
        [*llm, "-c", "--no-stream", "-o", "cache", "1", "Continue after the upgrade."],
        env,
        work,
        runs,
    )
    rec.label = label + "new-chat-after-upgrade"
    run([*llm, "-m", "local-gpt-4.1-mini", "New question after the upgrade."], env, work, runs)
    target = out / "llm" / UPGRADED
    target.mkdir(parents=True, exist_ok=True)
    copy_db(user_dir / "logs.db", target / "logs.db")
    old_truth = json.loads((out / "llm" / "0.31.1" / "ground_truth.json").read_text())
    doc_notes = {
        "old_rows": "the responses listed first were logged by 0.31.1 (see llm/0.31.1)",
        "commands": [" ".join(r["cmd"][1:]) for r in runs],
    }
    write_truth(target / "ground_truth.json", "llm", UPGRADED, rec.take(label), **doc_notes)
    doc = json.loads((target / "ground_truth.json").read_text())
    doc["responses"] = old_truth["responses"] + doc["responses"]
    (target / "ground_truth.json").write_text(json.dumps(doc, indent=2) + "\n")
    add_locations(target / "ground_truth.json", llm_locator(target / "logs.db"))
    return {"version": UPGRADED, "runs": runs}


def tiny_png() -> bytes:
    """A 1x1 white PNG, made here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def plugin_version(venv: Path, name: str) -> str | None:
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import importlib.metadata as m; print(m.version({name!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None


def copy_db(source: Path, dest: Path) -> None:
    """A compact copy (VACUUM INTO) so the fixture holds no free pages or WAL."""
    if dest.exists():
        dest.unlink()
    conn = sqlite3.connect(source)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()


# --------------------------------------------------------------------------- compare


def tokenroute(*args: str) -> Any:
    out = subprocess.run(["tokenroute", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"tokenroute {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


BUCKETS = ("input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning")


def _attempt_buckets(row: dict[str, Any]) -> dict[str, int]:
    usage = row.get("usage") if isinstance(row.get("usage"), dict) else row
    found = {}
    for name in BUCKETS:
        for key in (name, f"{name}_tokens"):
            if isinstance(usage.get(key), int):
                found[name] = usage[key]
                break
        else:
            found[name] = 0
    return found


def compare(root: Path, work: Path) -> int:
    """Import each fixture into a fresh ledger and set every bucket beside ground truth."""
    problems = 0
    targets: list[tuple[str, Path, Path]] = []
    for truth in sorted(root.glob("codex/*/ground_truth.json")):
        targets.append(("codex", truth.parent, truth))
    for truth in sorted(root.glob("llm/*/ground_truth.json")):
        targets.append(("llm", truth.parent / "logs.db", truth))
    for kind, path, truth_path in targets:
        truth = json.loads(truth_path.read_text())
        ledger = work / f"{kind}-{truth['version']}.db"
        ledger.unlink(missing_ok=True)
        imported = tokenroute(
            "import", kind, "--path", str(path), "--ledger", str(ledger), "--json"
        )
        log = tokenroute(
            "log", "--ledger", str(ledger), "--json", "-n", "1000", "--since", "2020-01-01"
        )
        rows = log.get("attempts", log) if isinstance(log, dict) else log
        got = [(_attempt_buckets(r), r) for r in rows]
        expected = truth["responses"]
        print(
            f"\n== {kind} {truth['version']}: {len(expected)} billed by the server, "
            f"{len(got)} attempts imported; import said: {json.dumps(imported)[:300]}"
        )
        used: set[int] = set()
        for resp in expected:
            want = resp["expected"]
            match = next(
                (
                    i
                    for i, (b, _) in enumerate(got)
                    if i not in used and b["output"] == want["output"]
                ),
                None,
            )
            if match is None:
                problems += 1
                print(f"  MISSING {resp['call']} {resp['id']} ({resp['api']}): {want}")
                continue
            used.add(match)
            have, row = got[match]
            diffs = {k: (want[k], have[k]) for k in BUCKETS if want[k] != have[k]}
            model = row.get("model")
            flag = "ok  " if not diffs else "DIFF"
            problems += bool(diffs)
            print(
                f"  {flag} {resp['call']} {resp['id']} model={model!r}"
                + (f" expected/got: {diffs}" if diffs else "")
            )
        for i, (b, row) in enumerate(got):
            if i not in used:
                problems += 1
                print(f"  EXTRA attempt {row.get('model')!r}: {b}")
        report = tokenroute("report", "--ledger", str(ledger), "--json", "--since", "2020-01-01")[
            "total"
        ]
        every_input = ("input", "cache_read", "cache_write", "cache_write_1h")
        for name, parts in (
            ("input", every_input),
            ("cache_read", ("cache_read",)),
            ("output", ("output",)),
        ):
            # the report's input_tokens is every input token: uncached, read and written
            want_total = sum(r["expected"][part] for r in expected for part in parts)
            have_total = report.get(f"{name}_tokens")
            flag = "ok  " if want_total == have_total else "DIFF"
            problems += want_total != have_total
            print(f"  {flag} report total {name}: expected {want_total}, got {have_total}")
        print(
            f"  report: attempts={report.get('attempts')}",
            f"unpriced={report.get('unpriced_attempts')}",
        )
    return 1 if problems else 0


# --------------------------------------------------------------------------- main


def isolate_or_not(argv: list[str], wanted: bool) -> None:
    """Re-run inside a fresh network namespace (loopback only) when we can."""
    if not wanted or os.environ.get("RC_IN_NETNS") == "1":
        if os.environ.get("RC_IN_NETNS") == "1":
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            print("in a new network namespace: loopback only", flush=True)
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        print("warning: not isolated (needs root, unshare and ip)", file=sys.stderr)
        return
    env = {**os.environ, "RC_IN_NETNS": "1"}
    proc = subprocess.run(
        ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        check=False,
    )
    sys.exit(proc.returncode)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="fixture root (tests/fixtures/real_clients)")
    parser.add_argument("--only", choices=("codex", "llm"))
    parser.add_argument("--codex", default="/tmp/rc/codex/node_modules/.bin/codex")
    parser.add_argument("--llm-venv", type=Path, action="append", default=[])
    parser.add_argument("--no-isolate", action="store_true")
    parser.add_argument("--compare", type=Path, help="check importers against this root")
    parser.add_argument("--keep", type=Path, help="keep the work folder (and requests) here")
    args = parser.parse_args(args_list)
    if args.compare:
        with tempfile.TemporaryDirectory(prefix="rc-compare-") as tmp:
            return compare(args.compare.resolve(), Path(tmp))
    if not args.out:
        parser.error("--out is required")
    isolate_or_not(args_list, not args.no_isolate)
    out = args.out.resolve()
    venvs = args.llm_venv or [Path("/tmp/rc/llm-0.31.1"), Path("/tmp/rc/llm-0.36")]
    recorder = Recorder()
    work = Path(tempfile.mkdtemp(prefix="rc-work-", dir=args.keep))
    report: dict[str, Any] = {}
    with serving(recorder) as server:
        print(f"fake server at {server.base}", flush=True)
        if args.only in (None, "codex"):
            report["codex"] = run_codex(args.codex, server, out, work)
        if args.only in (None, "llm"):
            done: dict[str, dict[str, Any]] = {}
            for venv in venvs:
                result = run_llm(venv, server, out, work)
                done[result["version"]] = result
            report["llm"] = list(done.values())
            if "0.31.1" in done and len(venvs) > 1:
                newest = max(venvs, key=lambda v: [int(p) for p in llm_version(v).split(".")])
                old_dir = Path(done["0.31.1"]["user_dir"])
                report["llm"].append(run_llm_upgrade(old_dir, newest, server, out, work))
    (work / "runs.json").write_text(json.dumps(report, indent=2, default=str))
    (work / "requests.json").write_text(json.dumps(recorder.requests, indent=1, default=str))
    print(f"work folder (runs.json, requests.json): {work}")
    if not args.keep:
        print("pass --keep DIR to keep it; removing", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
