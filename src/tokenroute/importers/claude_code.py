"""Claude Code's session logs: `<config dir>/projects/<encoded cwd>/<session>.jsonl`.

What the lines mean, and the traps:
- Only `type: assistant` lines carry usage, in `message.usage` (Anthropic's buckets: input
  without the cache, cache writes split 5-minute/1-hour, cache reads, output).
- One API response is written once per content block (thinking, text, tool use), each line
  repeating `message.id`, `requestId` and the usage; a later copy may carry a larger output
  count (streaming). The response is counted once: the copy with the most output wins.
- Lines without ids cannot be matched that way; their own `uuid` keeps a re-read from
  counting them twice.
- `model: <synthetic>` lines are Claude Code's own error notices with zero usage: skipped.
- Sidechain (subagent) logs are real API calls of the same session: counted.
The session is the task; the project is the folder the session ran in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenroute.record import Call, CallError, make_call

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


def log_files(roots: Iterable[Path]) -> list[Path]:
    found: set[Path] = set()
    for root in roots:
        if root.is_file():
            found.add(root)
        elif root.is_dir():
            found.update(p for p in root.rglob("*.jsonl") if p.is_file())
    return sorted(found)


def call_of(raw: bytes, path: Path, now: datetime) -> Call | None:
    """The API call a log line records, or None for a line that records none."""
    text = raw.strip()
    if not (text.startswith(b"{") and text.endswith(b"}")):
        raise CallError("not valid JSON (cut off?)")
    if b'"usage"' not in text:
        return None  # prompts and tool results: most of the bytes, no usage, not parsed
    try:
        line = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise CallError("not valid JSON") from None
    if not isinstance(line, dict) or line.get("type") != "assistant":
        return None
    message = line.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    model = message.get("model")
    if model == "<synthetic>" or line.get("isApiErrorMessage"):
        return None
    message_id, request_id = message.get("id"), line.get("requestId")
    key = f"{message_id}:{request_id}" if message_id and request_id else line.get("uuid")
    session = line.get("sessionId") or path.stem
    return make_call(
        model=model,
        buckets={},
        usage=_anthropic_usage(message["usage"]),
        at=line.get("timestamp"),
        now=now,
        status="ok",
        latency_ms=None,
        tags=("sidechain",) if line.get("isSidechain") else (),
        estimated=False,
        batch=False,
        text={
            "task_id": f"cc-{session}",
            "source_key": key if isinstance(key, str) else None,
            "project": _project(line.get("cwd"), path),
            "provider": "anthropic",
        },
    )


def _anthropic_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Only the counting fields: `service_tier` and the like are not usage."""
    keep = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
    )
    picked = {k: usage[k] for k in keep if usage.get(k) is not None}
    picked.setdefault("input_tokens", 0)
    picked.setdefault("output_tokens", 0)
    return picked


def _project(cwd: Any, path: Path) -> str:
    if isinstance(cwd, str) and cwd.strip():
        return os.path.basename(cwd.rstrip("/\\")) or cwd
    folder = path.parent
    while folder.parent.name != "projects" and folder.parent != folder:
        folder = folder.parent  # a subagent log sits below its session's folder
    return folder.name  # the encoded cwd: '/' became '-', so the name cannot be split back
