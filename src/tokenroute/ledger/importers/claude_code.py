"""Claude Code's session logs: `<config dir>/projects/<encoded cwd>/<session>.jsonl`.

What the lines mean, and the traps:
- Only `type: assistant` lines carry usage, in `message.usage` (Anthropic's buckets: input
  without the cache, cache writes split 5-minute/1-hour, cache reads, output).
- One API response is written once per content block (thinking, text, tool use), each line
  repeating `message.id` and the usage; releases before 2.1 write each block while it
  streams, with `output_tokens: 1`, and the final count only sometimes. The response is
  counted once, keyed by its message id alone: the copy with the most output wins.
- The message id, not `requestId`: third-party gateways send no request id, and older
  releases drop it from the copies `--fork-session` makes, so it cannot be part of the key.
- Fork copies (2.1 and later) carry `requestSessionId`, the session that made the call: the
  call belongs to that session's task whichever file is read first. Older copies do not say.
- Lines without a message id cannot be matched that way; their own `uuid` keeps a re-read
  from counting them twice.
- `model: <synthetic>` lines are Claude Code's own error notices with zero usage: skipped.
- Other line types (`attachment`, `api-request*`, `cost-state` with cumulative totals,
  `queue-operation`, `summary`, ...) are not calls: skipped.
- Sidechain (subagent) logs are real API calls of the same session: counted.
- Not in any log: the small side calls older releases make (titles, file paths).
The session is the task; the project is the folder the session ran in.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenroute.ledger.calls import Call, CallError, logged_call
from tokenroute.ledger.importers import json_lines
from tokenroute.ledger.importers.load import Parsed
from tokenroute.ledger.usage_formats import from_anthropic

SOURCE = "claude-code"


def default_roots(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Where Claude Code keeps its projects: CLAUDE_CONFIG_DIR (a comma-separated list)
    replaces both default folders."""
    configured = environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        bases = [Path(p).expanduser() for p in configured.split(",") if p.strip()]
    else:
        bases = [home / ".claude", home / ".config" / "claude"]
    return [base / "projects" for base in bases]


def parse_file(path: Path, lines: Sequence[tuple[int, bytes]], now: datetime) -> Parsed:
    """The calls in a file's new lines. The JSON of a line is read only when it mentions
    usage, and a call is validated only once its biggest copy is known."""
    best: dict[str, tuple[int, int, dict[str, Any]]] = {}  # key -> (output, offset, line)
    keyless: list[tuple[int, dict[str, Any]]] = []
    rejected: list[tuple[int, str]] = []
    copies = 0
    for at, raw in lines:
        try:
            line = _usage_line(raw)
        except CallError as exc:
            rejected.append((at, str(exc)))
            continue
        if line is None:
            continue
        message = line["message"]
        message_id = message.get("id")
        key = message_id if isinstance(message_id, str) and message_id else line.get("uuid")
        if not isinstance(key, str):
            keyless.append((at, line))
            continue
        output = message["usage"].get("output_tokens")
        output = output if isinstance(output, int) else -1  # a bad count loses, then fails
        if key in best:
            copies += 1
            if (output, _is_original(line)) <= (best[key][0], _is_original(best[key][2])):
                continue
        best[key] = (output, at, line)
    calls = []
    for key, (at, line) in [
        *((k, (at, line)) for k, (_, at, line) in best.items()),
        *((None, item) for item in keyless),
    ]:
        try:
            calls.append(_call(line, key, path, now))
        except CallError as exc:
            rejected.append((at, str(exc)))
    return Parsed(calls, copies, sorted(rejected))


def _usage_line(raw: bytes) -> dict[str, Any] | None:
    """An assistant line with usage, parsed; None for any other line."""
    text = raw.strip()
    if not text:
        return None
    if not (text.startswith(b"{") and text.endswith(b"}")):
        raise CallError("not valid JSON (cut off?)")
    if b'"usage"' not in text:
        return None  # prompts and tool results: most of the bytes, no usage, not parsed
    try:
        line = json_lines.loads(text)
    except (ValueError, RecursionError):
        raise CallError("not valid JSON") from None
    if not isinstance(line, dict) or line.get("type") != "assistant":
        return None
    message = line.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    if message.get("model") == "<synthetic>" or line.get("isApiErrorMessage"):
        return None  # Claude Code's own error notices, with zero usage
    return line


def _is_original(line: dict[str, Any]) -> bool:
    """The line the call was first written in: it names its request, and no other session."""
    return bool(line.get("requestId")) and not line.get("requestSessionId")


def _call(line: dict[str, Any], key: str | None, path: Path, now: datetime) -> Call:
    message = line["message"]
    session = _text(line.get("requestSessionId")) or _text(line.get("sessionId")) or path.stem
    return logged_call(
        model=message.get("model"),
        read_usage=lambda: from_anthropic(message["usage"]),
        at=line.get("timestamp"),
        now=now,
        tags=("sidechain",) if line.get("isSidechain") else (),
        task_id=f"cc-{session}",
        source_key=key,
        project=_project(line.get("cwd"), path),
        provider="anthropic",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _project(cwd: Any, path: Path) -> str:
    if isinstance(cwd, str) and cwd.strip():
        return _folder_name(cwd)
    folder = path.parent
    while folder.parent.name != "projects" and folder.parent != folder:
        folder = folder.parent  # a subagent log sits below its session's folder
    return folder.name  # the encoded cwd: '/' became '-', so the name cannot be split back


@functools.lru_cache(maxsize=1024)
def _folder_name(cwd: str) -> str:
    """The last part of the folder a session ran in (a handful per import, asked per call)."""
    return os.path.basename(cwd.rstrip("/\\")) or cwd
