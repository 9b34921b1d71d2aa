"""Fixtures from the real Claude Code CLI: session logs it wrote while talking to a fake server.

A local server on 127.0.0.1 speaks the Anthropic Messages API (streamed and not) with distinct,
non-round token counts in every response; real `claude -p` processes (installed from npm
under /tmp) run short scenarios against it; the session files they write are copied, with
the usage the server sent, as fixtures that tests import.

Regenerate (needs Node.js and the npm registry; CI never runs this):

    . .venv/bin/activate
    python bench/real_clients/claude_code.py --out tests/fixtures/real_clients/claude_code \\
        [--versions 2.1.332 2.0.14 1.0.128] [--clients /tmp/rc]

Each version is installed with `npm install --prefix <clients>/cc-<version>` if it is not
there yet. Then the script runs itself again inside a new network namespace (`unshare -n`,
only loopback up) so nothing but 127.0.0.1 can be reached; `--no-netns` skips that, and
HTTPS_PROXY then points at the fake server, which refuses and notes every other host.
Claude Code runs with a dummy API key, a temporary HOME and CLAUDE_CONFIG_DIR per scenario,
and its non-essential traffic, telemetry, auto-updater and error reports off. Where a version
has them, --tools Bash,Read, a one-line --system-prompt and --disable-slash-commands keep its
logs small (2.1 logs the system prompt and every tool schema); the kinds of line stay.

Per version, `<out>/<version>/<scenario>/projects/<slug>/<session>.jsonl` keeps Claude Code's
layout (`tokenroute import claude-code --path <out>/<version>` reads it), the temporary home
is rewritten to /home/fixture, and `<out>/<version>/ground_truth.json` lists every billed
response (message id, request id or null, model, usage buckets, session, scenario; and, apart
as `in_logs`, which lines and output counts of it the logs hold), the error responses, the
other requests Claude Code made (hosts it tried through the proxy), each line type/subtype.

Afterwards (or alone, with `--compare-only`) today's importer reads each version's fixtures
into a scratch ledger and every call's buckets are compared with the ground truth.

Scenarios: plain (a streamed text answer), tool (thinking + text + two tool uses in one
response, the tools run, a text answer), resume (a second process with --resume), fork
(--resume --fork-session), gateway (responses without a request-id header, several blocks),
overloaded (one 529, then the retry succeeds), bad_request (a 400 on every try).

The logs are copied whole, line for line; what they hold can vary between two runs, since
older versions write a response's lines while it streams and race its final usage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSIONS = ("2.1.332", "2.0.14", "1.0.128")
MAIN_MODEL = "claude-sonnet-4-5-20250929"
DUMMY_KEY = "sk-ant-dummy-for-fixtures"
HOME_PLACEHOLDER = "/home/fixture"
NETNS_MARK = "TOKENROUTE_FIXTURES_IN_NETNS"
RUN_TIMEOUT = 180.0
MAX_FIXTURE_FILE = 512 * 1024  # a bigger file under projects/ is left out (and said so)

# What the server does for a prompt that carries the marker.
PLAIN, TOOL, GATEWAY, OVERLOADED, BAD_REQUEST = (
    "FIXTURE-PLAIN",
    "FIXTURE-TOOL",
    "FIXTURE-GATEWAY",
    "FIXTURE-OVERLOADED",
    "FIXTURE-BAD-REQUEST",
)
MARKERS = (PLAIN, TOOL, GATEWAY, OVERLOADED, BAD_REQUEST)


@dataclass(frozen=True)
class Buckets:
    """What one response bills, in the buckets tokenroute keeps apart."""

    input: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int

    def start_usage(self) -> dict[str, Any]:
        """The usage of `message_start`: everything but output, which has barely begun."""
        return {**self.api_usage(), "output_tokens": 1}

    def api_usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write_5m + self.cache_write_1h,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m,
                "ephemeral_1h_input_tokens": self.cache_write_1h,
            },
            "output_tokens": self.output,
            "service_tier": "standard",
        }


def planned_buckets(n: int) -> Buckets:
    """The n-th response's counts: distinct per response and per bucket, none a round number
    (so any count in a ledger names the response it came from)."""

    def odd(value: int) -> int:
        return value + 1 if value % 10 == 0 else value

    return Buckets(
        input=odd(17 + 23 * n),
        cache_read=odd(12_041 + 1_237 * n),
        cache_write_5m=odd(2_029 + 313 * n),
        cache_write_1h=odd(613 + 157 * n),
        output=odd(37 + 19 * n),
    )


@dataclass
class Billed:
    """One response the server answered with usage: ground truth for the importer."""

    scenario: str
    run: str
    message_id: str
    request_id: str | None
    model: str
    streamed: bool
    usage: Buckets
    session_id: str | None  # as the request named it (metadata or header)
    kind: str  # main | side


@dataclass
class Refused:
    scenario: str
    run: str
    status: int
    error_type: str
    request_id: str | None
    model: str
    session_id: str | None


@dataclass
class Block:
    """One content block of a planned answer."""

    kind: str  # text | thinking | tool_use
    text: str = ""
    tool: str = ""
    tool_input: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    blocks: list[Block]
    stop_reason: str
    request_id_header: bool = True


@dataclass
class ServerState:
    """Shared by the handler threads; the run label is set before each claude process."""

    main_model: str
    seed: int
    debug_dir: Path | None = None
    scenario: str = "-"
    run: str = "-"
    billed: list[Billed] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    refused_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next_ids(self) -> tuple[int, str, str]:
        with self.lock:
            n = self.counter
            self.counter += 1
            alphabet = string.ascii_letters + string.digits
            message_id = "msg_01" + "".join(self.rng.choices(alphabet, k=22))
            request_id = "req_011C" + "".join(self.rng.choices(alphabet, k=20))
        return n, message_id, request_id

    def note_other(self, method: str, path: str, status: int, detail: str = "") -> None:
        with self.lock:
            self.other.append(
                {"scenario": self.scenario, "method": method, "path": path, "status": status}
                | ({"detail": detail} if detail else {})
            )


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]


def _has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _marker(body: dict[str, Any]) -> tuple[str | None, bool]:
    """The marker of the last prompt a person typed, and whether the last message is tool
    results (so the model has seen its tools run)."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    after_tools = bool(users) and _has_tool_result(users[-1].get("content"))
    for message in reversed(users):
        text = "\n".join(_texts(message.get("content")))
        found = [m for m in MARKERS if m in text]
        if found:
            return max(found, key=text.rfind), after_tools
    return None, after_tools


def _session_of(body: dict[str, Any], headers: Any) -> str | None:
    header = headers.get("x-claude-code-session-id")
    if header:
        return str(header)
    user_id = (body.get("metadata") or {}).get("user_id")
    if not isinstance(user_id, str):
        return None
    try:
        parsed = json.loads(user_id)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
        return parsed["session_id"]
    match = re.search(r"session_([0-9a-f-]{36})", user_id)
    return match.group(1) if match else None


def side_answer(body: dict[str, Any]) -> Answer:
    """A small request without tools (a title, a topic check, the paths a command read):
    the answer each asks for, going by its system prompt."""
    system = json.dumps(body.get("system"))
    if "<filepaths>" in system:
        text = "<is_displaying_contents>\nfalse\n</is_displaying_contents>\n\n"
        text += "<filepaths>\n</filepaths>"
    elif "isNewTopic" in system:
        text = '{"isNewTopic": false, "title": null}'
    else:
        text = "Fixture session"
    return Answer([Block("text", text)], "end_turn")


def plan_answer(marker: str | None, after_tools: bool) -> Answer:
    gateway = marker == GATEWAY
    if marker in (TOOL, GATEWAY) and not after_tools:
        blocks = [
            Block("thinking", "The user wants a command run; Bash will do."),
            Block("text", "Let me run that."),
            Block(
                "tool_use", tool="Bash", tool_input={"command": "echo hi", "description": "Say hi"}
            ),
        ]
        if marker == TOOL:
            blocks.append(Block("tool_use", tool="Read", tool_input={"file_path": "NOTES"}))
        return Answer(blocks, "tool_use", request_id_header=not gateway)
    if after_tools:
        return Answer([Block("text", "Done: the command printed hi.")], "end_turn", not gateway)
    return Answer([Block("text", "Hello from the fixture server.")], "end_turn")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ServerState  # set on a subclass per server
    project_dir: str = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    # Anything that is not the Messages API: noted, answered with a 404 (or 403 for a proxy).
    def do_GET(self) -> None:
        self._other()

    def do_HEAD(self) -> None:
        self._other()

    def do_CONNECT(self) -> None:
        self.state.note_other("CONNECT", self.path, 403, "refused: only 127.0.0.1 is served")
        self._send_json(403, {"error": "no outside hosts"}, close=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path.startswith("http://") or path.startswith("https://"):
            self.state.note_other("POST", self.path, 403, "refused: proxied request")
            self._send_json(403, {"error": "no outside hosts"}, close=True)
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        self._dump(path, body)
        if path == "/v1/messages":
            self._messages(body)
        elif path == "/v1/messages/count_tokens":
            self.state.note_other("POST", path, 200)
            self._send_json(200, {"input_tokens": 4_321})
        else:
            self._other(status_detail=f"body keys: {sorted(body)}" if body else "")

    def _other(self, status_detail: str = "") -> None:
        path = self.path
        if path.startswith("/v1/models"):
            self.state.note_other(self.command, path, 200)
            model = {
                "type": "model",
                "id": self.state.main_model,
                "display_name": "Fixture Sonnet",
                "created_at": "2025-09-29T00:00:00Z",
            }
            self._send_json(200, {"data": [model], "has_more": False})
            return
        self.state.note_other(self.command, path, 404, status_detail)
        error = {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}
        self._send_json(404, error)

    def _dump(self, path: str, body: dict[str, Any]) -> None:
        if self.state.debug_dir is None:
            return
        secret = {"x-api-key", "authorization"}
        headers = {k: ("<set>" if k.lower() in secret else v) for k, v in self.headers.items()}
        with self.state.lock:
            n = len(list(self.state.debug_dir.iterdir()))
            name = f"{n:03d}-{self.state.scenario}-{path.strip('/').replace('/', '_')}.json"
            dump = {"headers": headers, "path": self.path, "body": body}
            (self.state.debug_dir / name).write_text(json.dumps(dump, indent=1))

    def _messages(self, body: dict[str, Any]) -> None:
        state = self.state
        model = str(body.get("model") or "")
        marker, after_tools = _marker(body)
        side = not body.get("tools")
        session = _session_of(body, self.headers)
        n, message_id, request_id = state.next_ids()
        refusal = self._refusal(marker, side)
        if refusal is not None:
            status, error_type = refusal
            with state.lock:
                state.refused.append(
                    Refused(
                        state.scenario, state.run, status, error_type, request_id, model, session
                    )
                )
            error = {"type": "error", "error": {"type": error_type, "message": "Fixture error"}}
            self._send_json(status, error, request_id=request_id)
            return
        answer = side_answer(body) if side else plan_answer(marker, after_tools)
        buckets = planned_buckets(n)
        streamed = bool(body.get("stream"))
        with state.lock:
            state.billed.append(
                Billed(
                    scenario=state.scenario,
                    run=state.run,
                    message_id=message_id,
                    request_id=request_id if answer.request_id_header else None,
                    model=model,
                    streamed=streamed,
                    usage=buckets,
                    session_id=session,
                    kind="side" if side else "main",
                )
            )
        rid = request_id if answer.request_id_header else None
        if streamed:
            self._stream(message_id, model, answer, buckets, rid, n)
        else:
            message = _message(message_id, model, answer, n, self.project_dir)
            message["usage"] = buckets.api_usage()
            self._send_json(200, message, request_id=rid)

    def _refusal(self, marker: str | None, side: bool) -> tuple[int, str] | None:
        if side:
            return None
        if marker == BAD_REQUEST:
            return 400, "invalid_request_error"
        if marker == OVERLOADED:
            key = f"{self.state.scenario}:{self.state.run}"
            with self.state.lock:
                if key not in self.state.refused_once:
                    self.state.refused_once.add(key)
                    return 529, "overloaded_error"
        return None

    def _stream(
        self,
        message_id: str,
        model: str,
        answer: Answer,
        buckets: Buckets,
        request_id: str | None,
        n: int,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        if request_id:
            self.send_header("request-id", request_id)
        self.end_headers()
        self.close_connection = True
        skeleton = _message(message_id, model, answer, n, self.project_dir)
        start = {**skeleton, "content": [], "stop_reason": None, "usage": buckets.start_usage()}
        self._event("message_start", {"type": "message_start", "message": start})
        for index, block in enumerate(skeleton["content"]):
            for event, data in _block_events(index, block):
                self._event(event, data)
            time.sleep(0.02)
        delta = {"stop_reason": answer.stop_reason, "stop_sequence": None}
        final = {"output_tokens": buckets.output}
        self._event("message_delta", {"type": "message_delta", "delta": delta, "usage": final})
        self._event("message_stop", {"type": "message_stop"})

    def _event(self, name: str, data: dict[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _send_json(
        self,
        status: int,
        payload: dict[str, Any],
        request_id: str | None = None,
        close: bool = False,
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if request_id:
            self.send_header("request-id", request_id)
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


def _message(
    message_id: str, model: str, answer: Answer, n: int, project_dir: str
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for i, block in enumerate(answer.blocks):
        if block.kind == "text":
            content.append({"type": "text", "text": block.text})
        elif block.kind == "thinking":
            signature = f"Fixture{n:03d}{i}Signature=="
            content.append({"type": "thinking", "thinking": block.text, "signature": signature})
        else:
            tool_input = dict(block.tool_input)
            if "file_path" in tool_input:
                tool_input["file_path"] = f"{project_dir}/{tool_input['file_path']}"
            tool_id = f"toolu_01Fixture{n:03d}{i}{block.tool}"
            content.append(
                {"type": "tool_use", "id": tool_id, "name": block.tool, "input": tool_input}
            )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
    }


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _halves(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in _halves(raw)]
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": start},
    )
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


class FakeAnthropic:
    """The server, on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        handler = type("BoundHandler", (Handler,), {"state": state})
        self.handler = handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass(frozen=True)
class Step:
    """One claude process of a scenario."""

    run: str
    prompt: str
    resume: str | None = None  # the run whose session this one resumes
    fork: bool = False
    output_format: str = "json"


SCENARIOS: dict[str, tuple[Step, ...]] = {
    "plain": (Step("first", f"Say hello. {PLAIN}"),),
    "tool": (Step("first", f"Run echo hi, then read NOTES. {TOOL}", output_format="stream-json"),),
    "resume": (
        Step("first", f"Say hello. {PLAIN}"),
        Step("resumed", f"Say hello again. {PLAIN}", resume="first"),
    ),
    "fork": (
        Step("first", f"Run echo hi, then read NOTES. {TOOL}"),
        Step("forked", f"Say hello. {PLAIN}", resume="first", fork=True),
    ),
    "gateway": (Step("first", f"Run echo hi. {GATEWAY}"),),
    "overloaded": (Step("first", f"Say hello. {OVERLOADED}"),),
    "bad_request": (Step("first", f"Say hello. {BAD_REQUEST}"),),
}


def slug(path: str) -> str:
    """Claude Code's folder name for a working directory."""
    return re.sub(r"[^A-Za-z0-9]", "-", path)


def claude_env(home: Path, server_url: str) -> dict[str, str]:
    node = shutil.which("node")
    path = os.pathsep.join([*([str(Path(node).parent)] if node else []), "/usr/bin", "/bin"])
    return {
        "PATH": path,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "SHELL": "/bin/bash",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": server_url,
        "ANTHROPIC_API_KEY": DUMMY_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "HTTPS_PROXY": server_url,  # any other host lands here, is refused and noted
        "HTTP_PROXY": server_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }


SLIM_FLAGS = (  # each used where `claude --help` lists it: smaller logs, same kinds of line
    ("--tools", "Bash,Read"),
    ("--system-prompt", "You are a fixture agent. Use the tools when asked."),
    ("--disable-slash-commands", None),
)


def slim_flags(binary: Path) -> list[str]:
    """The flags of SLIM_FLAGS this version has. Newer versions log the system prompt and
    every tool schema (a quarter of a megabyte per session); these keep a session small."""
    done = subprocess.run([str(binary), "--help"], capture_output=True, text=True, check=False)
    flags: list[str] = []
    for flag, value in SLIM_FLAGS:
        if re.search(rf"(^|[\s,]){re.escape(flag)}\b", done.stdout):
            flags += [flag] if value is None else [flag, value]
    return flags


def run_step(
    binary: Path,
    step: Step,
    project: Path,
    env: dict[str, str],
    sessions: dict[str, str],
    extra: Sequence[str],
) -> tuple[str | None, str]:
    """Run one claude process; its session id (from its output) and a short outcome."""
    command = [str(binary), "-p", step.prompt, "--output-format", step.output_format]
    command += ["--model", MAIN_MODEL, *extra, "--allowedTools", "Bash(echo:*)", "Read"]
    if step.output_format == "stream-json":
        command.append("--verbose")
    if step.resume is not None:
        command += ["--resume", sessions[step.resume]]
        if step.fork:
            command.append("--fork-session")
    try:
        done = subprocess.run(
            command,
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {RUN_TIMEOUT:.0f} s"
    session = None
    result = ""
    for text in done.stdout.splitlines():
        try:
            item = json.loads(text)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("type") == "result":
            session = item.get("session_id")
            result = f"{item.get('subtype')} is_error={item.get('is_error')}"
    outcome = f"exit {done.returncode}, {result or 'no result line'}"
    if done.returncode != 0 or not session:
        outcome += f"; stderr: {done.stderr.strip()[-400:]!r}; stdout: {done.stdout[-400:]!r}"
    return session, outcome


def line_kinds(files: Sequence[Path]) -> list[str]:
    """Each `type` (with `/subtype` when a line has one) in the files, sorted."""
    kinds = set()
    for path in files:
        for text in path.read_text().splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                kinds.add("<not JSON>")
                continue
            kind = str(line.get("type"))
            if line.get("subtype"):
                kind += f"/{line['subtype']}"
            kinds.add(kind)
    return sorted(kinds)


def copy_logs(home: Path, dest: Path) -> list[str]:
    """Copy the session files with the temporary home rewritten; notes on what was left out."""
    notes = []
    projects = home / ".claude" / "projects"
    swaps = [(str(home), HOME_PLACEHOLDER), (slug(str(home)), slug(HOME_PLACEHOLDER))]
    for source in sorted(projects.rglob("*")):
        if not source.is_file():
            continue
        relative = str(source.relative_to(projects))
        if source.stat().st_size > MAX_FIXTURE_FILE:
            notes.append(f"left out {relative} ({source.stat().st_size} bytes)")
            continue
        for old, new in swaps:
            relative = relative.replace(old, new)
        target = dest / "projects" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text()
        for old, new in swaps:
            text = text.replace(old, new)
        if DUMMY_KEY[-12:] in text:  # the key, or the tail Claude Code shows of one
            raise SystemExit(f"{source} holds the API key: not copied")
        if str(home.parent) in text or "/tmp/" in text:
            notes.append(f"{relative} still names a temporary path")
        target.write_text(text)
    return notes


def run_version(version: str, binary: Path, out: Path, debug: Path | None) -> dict[str, Any]:
    """All scenarios against one installed client; writes its fixtures and ground truth."""
    state = ServerState(main_model=MAIN_MODEL, seed=sum(map(ord, version)), debug_dir=debug)
    target = out / version
    if target.exists():
        shutil.rmtree(target)
    scenarios: dict[str, Any] = {}
    extra = slim_flags(binary)
    with FakeAnthropic(state) as server, tempfile.TemporaryDirectory(prefix="cc-") as scratch:
        for name, steps in SCENARIOS.items():
            home = Path(scratch) / name / "home"
            project = home / "project"
            project.mkdir(parents=True)
            (project / "NOTES").write_text("fixture notes: one line\n")
            server.handler.project_dir = str(project)
            env = claude_env(home, server.url)
            sessions: dict[str, str] = {}
            runs = []
            for step in steps:
                state.scenario, state.run = name, step.run
                session, outcome = run_step(binary, step, project, env, sessions, extra)
                if session:
                    sessions[step.run] = session
                runs.append({"run": step.run, "session_id": session, "outcome": outcome})
                print(f"  {version} {name}/{step.run}: {outcome}", file=sys.stderr)
                if step.resume is not None and step.resume not in sessions:
                    break
            notes = copy_logs(home, target / name)
            files = sorted((target / name).rglob("*.jsonl"))
            scenarios[name] = {
                "runs": runs,
                "files": [str(p.relative_to(target)) for p in files],
                "line_types": line_kinds(files),
                **({"left_out": notes} if notes else {}),
            }
    truth = ground_truth(version, state, scenarios, extra, logged_copies(target))
    target.mkdir(parents=True, exist_ok=True)
    (target / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def logged_copies(root: Path) -> dict[str, dict[str, Any]]:
    """Per message id, what the copied logs hold of it: how many assistant lines in which
    files, the output counts and request ids those lines carry (not ground truth: what an
    importer has to work with)."""
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.jsonl")):
        for text in path.read_text().splitlines():
            line = json.loads(text)
            message = line.get("message")
            if line.get("type") != "assistant" or not isinstance(message, dict):
                continue
            entry = seen.setdefault(
                str(message.get("id")),
                {"lines": 0, "files": [], "output_tokens": [], "request_ids": []},
            )
            entry["lines"] += 1
            for key, value in (
                ("files", str(path.relative_to(root))),
                ("output_tokens", (message.get("usage") or {}).get("output_tokens")),
                ("request_ids", line.get("requestId")),
            ):
                if value not in entry[key]:
                    entry[key].append(value)
    return seen


def ground_truth(
    version: str,
    state: ServerState,
    scenarios: dict[str, Any],
    extra: Sequence[str],
    logs: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    sessions = {
        (name, run["run"]): run["session_id"]
        for name, info in scenarios.items()
        for run in info["runs"]
    }
    calls = []
    for billed in state.billed:
        call = asdict(billed)
        call["usage"] = asdict(billed.usage)
        call["run_session_id"] = sessions.get((billed.scenario, billed.run))
        call["in_logs"] = logs.get(billed.message_id, {"lines": 0})
        calls.append(call)
    totals = {
        bucket: sum(c["usage"][bucket] for c in calls) for bucket in asdict(planned_buckets(0))
    }
    return {
        "client": "claude-code",
        "version": version,
        "generated_by": "bench/real_clients/claude_code.py",
        "home_placeholder": HOME_PLACEHOLDER,
        "main_model": MAIN_MODEL,
        "extra_flags": list(extra),
        "calls": calls,
        "totals": {"calls": len(calls), **totals},
        "refused": [asdict(r) for r in state.refused],
        "other_requests": state.other,
        "line_types": sorted({kind for info in scenarios.values() for kind in info["line_types"]}),
        "scenarios": scenarios,
    }


BUCKETS = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
LEDGER_COLUMNS = {
    "input": "input_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write_5m": "cache_write_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "output": "output_tokens",
}


def tokenroute(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "tokenroute", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tokenroute {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def compare(version_dir: Path, scratch: Path) -> list[str]:
    """Import one version's fixtures with today's importer; each difference from the truth."""
    truth = json.loads((version_dir / "ground_truth.json").read_text())
    ledger = scratch / f"{version_dir.name}.db"
    ledger.unlink(missing_ok=True)
    imported = tokenroute(
        "import", "claude-code", "--path", str(version_dir), "--ledger", str(ledger), "--json"
    )
    report = tokenroute("report", "--ledger", str(ledger), "--json", "--since", "2020-01-01")
    names = ["source_key", "model_requested", "task_id"]
    columns = ", ".join([*names, *LEDGER_COLUMNS.values()])
    with sqlite3.connect(ledger) as db:
        rows = [
            dict(zip([*names, *BUCKETS], row, strict=True))
            for row in db.execute(f"SELECT {columns} FROM attempts ORDER BY id")
        ]
    problems = []
    by_input: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_input.setdefault(row["input"], []).append(row)
    for call in truth["calls"]:
        where = f"{call['scenario']}/{call['run']} {call['kind']} {call['message_id']}"
        got = by_input.pop(call["usage"]["input"], [])
        if len(got) != 1:
            problems.append(f"{where}: {len(got)} attempts, expected 1")
        for row in got:
            for bucket in BUCKETS:
                if row[bucket] != call["usage"][bucket]:
                    problems.append(
                        f"{where}: {bucket} expected {call['usage'][bucket]}, got {row[bucket]}"
                    )
            if row["model_requested"] != call["model"]:
                problems.append(
                    f"{where}: model expected {call['model']}, got {row['model_requested']}"
                )
            task = f"cc-{call['run_session_id']}"
            if row["task_id"] != task:
                problems.append(f"{where}: task expected {task}, got {row['task_id']}")
    for rows_left in by_input.values():
        for row in rows_left:
            problems.append(f"attempt matching no response: {row}")
    expected = truth["totals"]
    got_totals = {b: sum(r[b] for r in rows) for b in BUCKETS}
    if len(rows) != expected["calls"]:
        problems.append(f"total attempts expected {expected['calls']}, got {len(rows)}")
    for bucket in BUCKETS:
        if got_totals[bucket] != expected[bucket]:
            problems.append(f"total {bucket} expected {expected[bucket]}, got {got_totals[bucket]}")
    problems.extend(_report_problems(report, expected))
    print(f"{version_dir.name}: import said {json.dumps(imported)[:600]}", file=sys.stderr)
    return problems


def _report_problems(report: Any, expected: dict[str, int]) -> list[str]:
    """The report's own totals: attempts, every input token (uncached, cache reads and both
    kinds of cache write), cache reads, output."""
    total = report.get("total") if isinstance(report, dict) else None
    if not isinstance(total, dict):
        return [f"report JSON has no total object (keys: {sorted(report)[:12]})"]
    wanted = {
        "attempts": expected["calls"],
        "input_tokens": sum(expected[b] for b in BUCKETS if b != "output"),
        "cache_read_tokens": expected["cache_read"],
        "output_tokens": expected["output"],
    }
    return [
        f"report total.{key} expected {value}, got {total.get(key)}"
        for key, value in wanted.items()
        if total.get(key) != value
    ]


def install(version: str, clients: Path) -> Path | None:
    """The claude command of one version, installed from npm under `clients` if need be."""
    prefix = clients / f"cc-{version}"
    binary = prefix / "node_modules" / ".bin" / "claude"
    if not binary.exists():
        package = f"@anthropic-ai/claude-code@{version}"
        command = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", package]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{version}: npm install failed: {done.stderr.strip()[-600:]}", file=sys.stderr)
            return None
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or version not in done.stdout:
        print(
            f"{version}: `claude --version` said {done.stdout!r} {done.stderr!r}", file=sys.stderr
        )
        return None
    return binary


def enter_netns(argv: Sequence[str]) -> None:
    """Run this script again in a network namespace of its own, with only loopback up."""
    unshare = shutil.which("unshare")
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not Path(ip).exists():
        sys.exit("unshare and ip are needed for the network namespace (or pass --no-netns)")
    flags = "-n" if os.geteuid() == 0 else "-rn"
    inner = f'{ip} link set lo up && exec "$@"'
    command = [unshare, flags, "sh", "-c", inner, "sh", sys.executable, __file__, *argv]
    os.execve(unshare, command, {**os.environ, NETNS_MARK: "1"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/real_clients/claude_code"))
    parser.add_argument("--versions", nargs="+", default=list(VERSIONS))
    parser.add_argument("--clients", type=Path, default=Path("/tmp/rc"), help="npm prefixes")
    parser.add_argument("--no-netns", action="store_true", help="stay in this network")
    parser.add_argument("--compare-only", action="store_true", help="only import and compare")
    parser.add_argument("--debug-dir", type=Path, help="dump every request here (no key)")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    out: Path = args.out.resolve()
    versions = list(args.versions)
    if not args.compare_only:
        binaries = {v: b for v in versions if (b := install(v, args.clients)) is not None}
        if not args.no_netns and not os.environ.get(NETNS_MARK):
            enter_netns(argv)
        for version, binary in binaries.items():
            debug = args.debug_dir / version if args.debug_dir else None
            if debug:
                shutil.rmtree(debug, ignore_errors=True)
                debug.mkdir(parents=True)
            print(f"{version}: running scenarios", file=sys.stderr)
            run_version(version, binary, out, debug)
        versions = list(binaries)
    failed = False
    with tempfile.TemporaryDirectory(prefix="cc-ledger-") as scratch:
        for version in versions:
            problems = compare(out / version, Path(scratch))
            failed = failed or bool(problems)
            print(f"{version}: {len(problems)} difference(s) from the ground truth")
            for problem in problems:
                print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
