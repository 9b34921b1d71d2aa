"""simonw/llm's `logs.db`: one row per model call, with token counts since llm 0.19.

Three layouts, all read (a database upgraded from an older llm holds two of them):
- `turns` (llm 0.32 on, migration m023): one row per call, `thread_id` its conversation,
  `input_tokens`, `output_tokens`, `token_details` and `response_json`. Written with INSERT
  OR REPLACE, so a row can come back under a higher rowid: its id keeps it counted once.
- `responses` (llm 0.5 to 0.31; `input_tokens`, `output_tokens` and `token_details` since
  0.19); llm 0.32 and later no longer write it.
- `logs` (before 0.5): no counts of its own; the usage block in `response_json` is read.
A row without any counts recorded no usage and is skipped. The response id is the call's key,
the conversation its task. `model` is llm's own name for the model (often an alias of the
user's, such as `local-gpt-4.1-mini`); the model that answered, from `response_json`, is
kept beside it and prices the call when the alias is in no table.

What `token_details` holds depends on the API. Chat Completions: `prompt_tokens_details.
cached_tokens` inside `input_tokens`. The Responses API: `input_tokens_details.cached_tokens`
and `cache_write_tokens`, both inside `input_tokens`, and `output_tokens_details.
reasoning_tokens`. Anthropic: `cache_read_input_tokens` and `cache_creation_input_tokens`
apart from `input_tokens`, the writes split into 5-minute and 1-hour in `cache_creation`.
Reading is incremental: the largest rowid read of each table is kept as the position, and an
unchanged file (size and modification time) is not opened at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenroute.ledger.calls import Call, CallError, logged_call
from tokenroute.ledger.importers.files import Chunk, Position
from tokenroute.ledger.importers.load import Parsed
from tokenroute.ledger.usage_formats import UsageFormatError, parse_usage
from tokenroute.models import Usage

SOURCE = "llm"
TURN_ROWS = 1 << 40  # a turn's row number is offset by this: where a rejected row was
_NEEDED = {
    "turns": {"id", "model", "input_tokens", "output_tokens", "datetime_utc"},
    "responses": {"id", "model"},
    "logs": {"id", "model"},
}


def default_path(environ: Mapping[str, str], home: Path) -> Path:
    """Where llm keeps logs.db: LLM_USER_PATH, else its per-user folder."""
    configured = environ.get("LLM_USER_PATH", "").strip()
    if configured:
        return Path(configured).expanduser() / "logs.db"
    from platformdirs import user_config_dir

    return Path(user_config_dir("io.datasette.llm", appauthor=False)) / "logs.db"


def read_rows(path: Path, known: Position | None) -> Chunk:
    """The rows added since `known` (all of them when the file is new to us).

    The position's offset is the `responses` table's largest rowid, its head that of
    `turns` ("turns:N")."""
    stat = path.stat()
    if known is not None and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return Chunk([], known)
    after = (known.offset, _turns_read(known.head)) if known else (0, 0)
    try:
        # as a URI, quoted (a '#', '?' or '%' in the path would end it); text that is not
        # UTF-8 in a column we never read must not fail the whole file
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            rows, last = _rows(conn, *after)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise OSError(f"not an llm logs database ({exc})") from None
    return Chunk(rows, Position(stat.st_size, stat.st_mtime_ns, last[0], f"turns:{last[1]}"))


def _turns_read(head: str) -> int:
    prefix, _, number = head.partition(":")
    return int(number) if prefix == "turns" and number.isdigit() else 0


def _rows(
    conn: sqlite3.Connection, after: int, turns_after: int
) -> tuple[list[tuple[int, Any]], tuple[int, int]]:
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables & set(_NEEDED):
        raise sqlite3.DatabaseError("it has none of llm's turns, responses or logs tables")
    for table in sorted(tables & set(_NEEDED)):
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        missing = sorted(_NEEDED[table] - columns)
        if missing:  # a layout we cannot read: never report success over nothing
            raise sqlite3.DatabaseError(
                f"its {table} table has no {', '.join(missing)} column: a layout of llm this "
                "tokenroute cannot read (upgrade tokenroute)"
            )
    found: list[tuple[int, Any]] = []
    last = after
    if "responses" in tables:
        last = _read_table(conn, "responses", after, found, 0)
    turns_last = turns_after
    if "turns" in tables:
        turns_last = _read_table(conn, "turns", turns_after, found, TURN_ROWS)
    if "logs" in tables and not after:  # the old table no longer grows: read once
        for row in conn.execute("SELECT rowid AS row_number, * FROM logs"):
            found.append((-row["row_number"], ("logs", dict(row))))
    return found, (last, turns_last)


def _read_table(
    conn: sqlite3.Connection, table: str, after: int, found: list, numbered_from: int
) -> int:
    """Rows past `after` (all of them if the table shrank); its largest rowid."""
    highest = conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]
    start = after if highest >= after else 0
    query = f"SELECT rowid AS row_number, * FROM {table} WHERE rowid > ?"
    for row in conn.execute(query, (start,)):
        found.append((numbered_from + row["row_number"], (table, dict(row))))
    return highest


def locate(path: Path, at: int) -> str:
    if at >= TURN_ROWS:
        return f"{path}: turns row {at - TURN_ROWS}"
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
    conversation = row.get("thread_id") or row.get("conversation_id") or row.get("chat_id")
    prefix = "llm-log" if table == "logs" else "llm"
    answered = _answered_model(row)
    duration = row.get("duration_ms")
    return logged_call(
        model=model,
        read_usage=lambda: usage,
        at=row.get("datetime_utc") or row.get("timestamp_utc") or row.get("timestamp"),
        now=now,
        task_id=f"{prefix}-{conversation}" if conversation else None,
        source_key=f"{prefix}-{row.get('id')}",
        latency_ms=duration if isinstance(duration, int) and duration >= 0 else None,
        model_answered=answered,
    )


def _answered_model(row: dict[str, Any]) -> str | None:
    try:
        body = _json(row.get("response_json"), "response_json") or {}
    except CallError:
        return None
    model = body.get("model")
    return model if isinstance(model, str) and model.strip() else None


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
    chat_in, chat_out = (
        _part(details, "prompt_tokens_details"),
        _part(details, "completion_tokens_details"),
    )
    api_in, api_out = (
        _part(details, "input_tokens_details"),
        _part(details, "output_tokens_details"),
    )
    # OpenAI (Chat and Responses): cache reads and writes are inside input_tokens
    cached = _whole(chat_in.get("cached_tokens")) + _whole(api_in.get("cached_tokens"))
    written = _whole(api_in.get("cache_write_tokens"))
    cached = min(cached, counts["input_tokens"])
    written = min(written, counts["input_tokens"] - cached)
    reasoning = _whole(chat_out.get("reasoning_tokens")) + _whole(api_out.get("reasoning_tokens"))
    # Anthropic: apart from input_tokens; the writes split by how long they are kept
    cache_read = _whole(details.get("cache_read_input_tokens"))
    split = _part(details, "cache_creation")
    write_5m, write_1h = (
        _whole(split.get("ephemeral_5m_input_tokens")),
        _whole(split.get("ephemeral_1h_input_tokens")),
    )
    if not (write_5m or write_1h):
        write_5m = _whole(details.get("cache_creation_input_tokens"))
    return Usage(
        input=counts["input_tokens"] - cached - written,
        cache_read=cached + cache_read,
        cache_write=written + write_5m,
        cache_write_1h=write_1h,
        output=counts["output_tokens"],
        reasoning=min(reasoning, counts["output_tokens"]),
    )


def _part(details: dict[str, Any], name: str) -> dict[str, Any]:
    value = details.get(name)
    return value if isinstance(value, dict) else {}


def _json(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str | bytes) else value
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise CallError(f"{name} is not valid JSON") from None
    return parsed if isinstance(parsed, dict) else None


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
