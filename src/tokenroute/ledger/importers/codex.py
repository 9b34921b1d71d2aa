"""Codex CLI's session logs: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl` (~/.codex).

What the lines mean, and the traps:
- `session_meta` (the first line) names the session (`payload.id`) and its folder (`cwd`);
  `turn_context` lines name the model of the turns that follow.
- `event_msg` lines of type `token_count` carry `info.total_token_usage`, the session's
  running total, and `info.last_token_usage`, the last turn's own counts. Codex emits the
  same total again without new usage: the session and the running total are the call's
  source key, so a repeat counts once, in this import and in any later one.
- `input_tokens` includes `cached_input_tokens` and (since 0.17x) `cache_write_input_tokens`
  (OpenAI's convention): both are split out, as cache reads and cache writes.
  `output_tokens` includes `reasoning_output_tokens`.
- Newer rollouts also hold `token_usage_record` lines (the same usage with the response id)
  and `world_state` or `thread_settings_applied` lines: the token_count stays the one read.
- Without `last_token_usage` (older logs) a turn is the difference of two running totals.
A read that starts part way into a file looks back for the model, folder and last total.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenroute.ledger.calls import Call, CallError, logged_call
from tokenroute.ledger.importers import json_lines
from tokenroute.ledger.importers.files import lines_before
from tokenroute.ledger.importers.load import Parsed, first_copies
from tokenroute.models import Usage

SOURCE = "codex"
UNKNOWN_MODEL = "codex-unknown-model"  # stored unpriced and named in the summary
_COUNTS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)


def default_roots(environ: Mapping[str, str], home: Path) -> list[Path]:
    base = environ.get("CODEX_HOME", "").strip()
    return [(Path(base).expanduser() if base else home / ".codex") / "sessions"]


class _Session:
    """What the lines so far say about the session a token count belongs to."""

    def __init__(self, path: Path) -> None:
        self.id = path.stem[-36:] if path.stem.startswith("rollout-") else path.stem
        self.model: str | None = None
        self.cwd: str | None = None
        self.total: dict[str, int] | None = None

    def learn(self, line: dict[str, Any]) -> dict[str, Any] | None:
        """Take in one line; the token_count's info when the line is one."""
        payload = line.get("payload")
        if not isinstance(payload, dict):
            return None
        kind = line.get("type")
        if kind == "session_meta":
            self.id = str(payload.get("id") or self.id)
            self.cwd = payload.get("cwd") or self.cwd
        elif kind == "turn_context":
            self.model = payload.get("model") or self.model
            self.cwd = payload.get("cwd") or self.cwd
        elif kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            return info if isinstance(info, dict) else None
        return None


def parse_file(path: Path, lines: Sequence[tuple[int, bytes]], now: datetime) -> Parsed:
    session = _Session(path)
    if lines and lines[0][0] > 0:
        _look_back(session, path, lines[0][0])
    calls: list[Call] = []
    rejected: list[tuple[int, str]] = []
    for at, raw in lines:
        text = raw.strip()
        if not text:
            continue
        try:
            line = _json(text)
            if line is None:
                continue
            info = session.learn(line)
            if info is None:
                continue
            call = _call(session, info, line, path, now)
        except CallError as exc:
            rejected.append((at, str(exc)))
            continue
        if call is not None:
            calls.append(call)
    return Parsed(*first_copies(calls), rejected)


def _json(text: bytes) -> dict[str, Any] | None:
    if not (text.startswith(b"{") and text.endswith(b"}")):
        raise CallError("not valid JSON (cut off?)")
    if (
        b'"session_meta"' not in text
        and b'"turn_context"' not in text
        and (b'"token_count"' not in text)
    ):
        return None  # messages and tool calls: no usage
    try:
        line = json_lines.loads(text)
    except (ValueError, RecursionError):
        raise CallError("not valid JSON") from None
    return line if isinstance(line, dict) else None


def _call(
    session: _Session, info: dict[str, Any], line: dict[str, Any], path: Path, now: datetime
) -> Call | None:
    total = _counts(info.get("total_token_usage"), "total_token_usage")
    last = _counts(info.get("last_token_usage"), "last_token_usage")
    previous, session.total = session.total, total or session.total
    if last is None:
        if total is None:
            return None
        last = {k: total[k] - (previous or {}).get(k, 0) for k in _COUNTS}
        if any(v < 0 for v in last.values()):
            last = total  # the running total started again
    turn = last
    if not any(turn.values()):
        return None
    if total:  # the running total names the turn, however the file is read again
        key = f"{session.id}:{total['input_tokens']}:{total['output_tokens']}"
    else:
        key = f"{session.id}:{line.get('timestamp')}:{turn['input_tokens']}:{turn['output_tokens']}"
    return logged_call(
        model=session.model or UNKNOWN_MODEL,
        read_usage=lambda: _usage(turn),
        at=line.get("timestamp"),
        now=now,
        task_id=f"cx-{session.id}",
        source_key=key,
        project=_project(session.cwd, path),
    )


def _counts(raw: Any, name: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CallError(f"{name} must be an object")
    counts = {}
    for key in _COUNTS:
        value = raw.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CallError(f"{name}.{key} must be a whole number >= 0 (got {value!r})")
        counts[key] = value
    return counts


def _usage(turn: dict[str, int]) -> Usage:
    cached = min(turn["cached_input_tokens"], turn["input_tokens"])
    written = min(turn["cache_write_input_tokens"], turn["input_tokens"] - cached)
    output = turn["output_tokens"]
    return Usage(
        input=turn["input_tokens"] - cached - written,
        cache_read=cached,
        cache_write=written,
        output=output,
        reasoning=min(turn["reasoning_output_tokens"], output),
    )


def _look_back(session: _Session, path: Path, offset: int) -> None:
    """Before `offset`: the newest turn_context (model, folder) and running total, and the
    session's own first line for its id (and folder, when no turn named one)."""
    for raw in lines_before(path, offset):
        if session.model is None and b'"turn_context"' in raw:
            line = _quiet_json(raw)
            if line is not None and line.get("type") == "turn_context":
                session.learn(line)
        elif session.total is None and b'"token_count"' in raw:
            line = _quiet_json(raw)
            info = session.learn(line) if line is not None else None
            if info is not None and info.get("total_token_usage") is not None:
                with contextlib.suppress(CallError):
                    session.total = _counts(info["total_token_usage"], "total_token_usage")
        if session.model is not None and session.total is not None:
            break
    with path.open("rb") as handle:
        first = _quiet_json(handle.readline())
    if first is not None and first.get("type") == "session_meta":
        folder = session.cwd
        session.learn(first)
        session.cwd = folder or session.cwd


def _quiet_json(raw: bytes) -> dict[str, Any] | None:
    """A line of the file's past: already judged when it was imported, so never rejected."""
    try:
        line = json_lines.loads(raw)
    except (ValueError, RecursionError):
        return None
    return line if isinstance(line, dict) else None


def _project(cwd: Any, path: Path) -> str | None:
    if isinstance(cwd, str) and cwd.strip():
        return os.path.basename(cwd.rstrip("/\\")) or cwd
    return None
