"""simonw/llm's `logs.db`: one row per prompt and response, with token counts since llm 0.19.

Two layouts: the `responses` table (llm 0.5 on; `input_tokens`, `output_tokens` and a
`token_details` JSON since 0.19) and the older `logs` table (no counts of its own: the usage
block inside `response_json` is read when it is there). A row without any counts recorded no
usage and is skipped. The response id is the call's key, the conversation its task.

OpenAI models count cached input inside `input_tokens` (its `token_details` say how many
were cached: split out); Anthropic's plugin counts them apart (`cache_read_input_tokens`).
Reading is incremental: the largest rowid read is kept as the position, and an unchanged
file (size and modification time) is not opened at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenroute.importers.files import Chunk, Position
from tokenroute.importers.load import Parsed
from tokenroute.models import Usage
from tokenroute.record import Call, CallError, logged_call
from tokenroute.usage_formats import UsageFormatError, parse_usage

SOURCE = "llm"


def default_path(environ: Mapping[str, str], home: Path) -> Path:
    """Where llm keeps logs.db: LLM_USER_PATH, else its per-user folder."""
    configured = environ.get("LLM_USER_PATH", "").strip()
    if configured:
        return Path(configured).expanduser() / "logs.db"
    from platformdirs import user_config_dir

    return Path(user_config_dir("io.datasette.llm", appauthor=False)) / "logs.db"


def read_rows(path: Path, known: Position | None) -> Chunk:
    """The rows added since `known` (all of them when the file is new to us)."""
    stat = path.stat()
    if known is not None and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return Chunk([], known)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows, last = _rows(conn, known.offset if known else 0)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise OSError(f"not an llm logs database ({exc})") from None
    return Chunk(rows, Position(stat.st_size, stat.st_mtime_ns, last, ""))


def _rows(conn: sqlite3.Connection, after: int) -> tuple[list[tuple[int, Any]], int]:
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables & {"responses", "logs"}:
        raise sqlite3.DatabaseError("it has neither a responses nor a logs table")
    found: list[tuple[int, Any]] = []
    last = after
    if "responses" in tables:
        highest = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM responses").fetchone()[0]
        start = after if highest >= after else 0  # fewer rows than before: read them all
        query = "SELECT rowid AS row_number, * FROM responses WHERE rowid > ?"
        for row in conn.execute(query, (start,)):
            found.append((row["row_number"], ("responses", dict(row))))
        last = highest
    if "logs" in tables and not after:  # the old table no longer grows: read once
        for row in conn.execute("SELECT rowid AS row_number, * FROM logs"):
            found.append((-row["row_number"], ("logs", dict(row))))
    return found, last


def locate(path: Path, at: int) -> str:
    return f"{path}: {'logs' if at < 0 else 'responses'} row {abs(at)}"


def parse_file(path: Path, rows: Sequence[tuple[int, Any]], now: datetime) -> Parsed:
    calls: list[Call] = []
    rejected: list[tuple[int, str]] = []
    for at, (table, row) in rows:
        try:
            call = _call(table, row, now)
        except CallError as exc:
            rejected.append((at, str(exc)))
            continue
        if call is not None:
            calls.append(call)
    return Parsed(calls, 0, rejected)


def _call(table: str, row: dict[str, Any], now: datetime) -> Call | None:
    usage = _usage(row)
    if usage is None:
        return None
    model = row.get("resolved_model") or row.get("model")
    conversation = row.get("conversation_id") or row.get("chat_id")
    prefix = "llm" if table == "responses" else "llm-log"
    duration = row.get("duration_ms")
    return logged_call(
        model=model,
        read_usage=lambda: usage,
        at=row.get("datetime_utc") or row.get("timestamp_utc") or row.get("timestamp"),
        now=now,
        task_id=f"{prefix}-{conversation}" if conversation else None,
        source_key=f"{prefix}-{row.get('id')}",
        latency_ms=duration if isinstance(duration, int) and duration >= 0 else None,
    )


def _usage(row: dict[str, Any]) -> Usage | None:
    """The row's counts in our buckets; None when it recorded none."""
    details = _json(row.get("token_details"), "token_details") or {}
    given_in, given_out = row.get("input_tokens"), row.get("output_tokens")
    if given_in is None and given_out is None:
        raw = (_json(row.get("response_json"), "response_json") or {}).get("usage")
        if not isinstance(raw, dict):
            return None
        try:
            return parse_usage(raw)[0]
        except UsageFormatError as exc:
            raise CallError(str(exc)) from None
    counts = {"input_tokens": given_in or 0, "output_tokens": given_out or 0}
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CallError(f"{name} must be a whole number >= 0 (got {value!r})")
    cached = _whole((details.get("prompt_tokens_details") or {}).get("cached_tokens"))
    reasoning = _whole((details.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    cache_read = _whole(details.get("cache_read_input_tokens"))
    cache_write = _whole(details.get("cache_creation_input_tokens"))
    cached = min(cached, counts["input_tokens"])  # OpenAI: inside input_tokens
    return Usage(
        input=counts["input_tokens"] - cached,
        cache_read=cached + cache_read,  # Anthropic: apart from input_tokens
        cache_write=cache_write,
        output=counts["output_tokens"],
        reasoning=min(reasoning, counts["output_tokens"]),
    )


def _json(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str | bytes) else value
    except ValueError:
        raise CallError(f"{name} is not valid JSON") from None
    return parsed if isinstance(parsed, dict) else None


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
