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

import msgspec

from tokenroute.ledger.calls import Call, CallError, logged_call
from tokenroute.ledger.importers import json_lines
from tokenroute.ledger.importers.load import Parsed, ParsedRows
from tokenroute.ledger.importers.log_rows import RowMaker
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
    found, copies, rejected = _biggest_copies(lines)
    calls = []
    for key, at, line in found:
        try:
            calls.append(_call(line, key, path, now))
        except CallError as exc:
            rejected.append((at, str(exc)))
    return Parsed(calls, copies, sorted(rejected))


def parse_rows(path: Path, lines: Sequence[tuple[int, bytes]], maker: RowMaker) -> ParsedRows:
    """What `parse_file` finds, as ledger rows made the fast way (log_rows)."""
    found, copies, rejected = _biggest_copies(lines)
    rows, unknown = [], set()
    # one string per session, not per call: the rows go to the storing process pickled,
    # where a string shared by many of them is sent and rebuilt once
    task_ids: dict[str, str] = {}
    for key, at, line in found:
        message = line.message
        session = _text(line.requestSessionId) or _text(line.sessionId) or path.stem
        task_id = task_ids.get(session)
        if task_id is None:
            task_id = task_ids[session] = f"cc-{session}"
        try:
            made = maker.row(
                model=message.model,
                counts=_counts(message.usage),
                at=line.timestamp,
                task_id=task_id,
                source_key=key,
                project=_project(line.cwd, path),
                tags=("sidechain",) if line.isSidechain else (),
                general=lambda: _call(line, key, path, maker.now),  # noqa: B023 (called at once)
            )
        except CallError as exc:
            rejected.append((at, str(exc)))
            continue
        if made.row is not None:
            rows.append(made.row)
        if made.unknown_model is not None:
            unknown.add(made.unknown_model)
    return ParsedRows(rows, copies, sorted(rejected), sorted(unknown))


_ODD = (None,) * 5  # counts the fast way leaves to the general one


def _counts(usage: _Usage) -> tuple[Any, ...]:
    """(input, cache read, 5-minute write, 1-hour write, output), as from_anthropic reads
    them when every count is a plain int; else _ODD, and from_anthropic says what is wrong."""
    split = usage.cache_creation
    if split is None:
        split = {}
    elif type(split) is not dict:
        return _ODD
    raw = (
        usage.input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
        split.get("ephemeral_1h_input_tokens"),
        split.get("ephemeral_5m_input_tokens"),
        usage.output_tokens,
    )
    if None in raw:  # an absent count is 0 (older releases write no split)
        raw = tuple(0 if value is None else value for value in raw)
    for value in raw:
        if type(value) is not int or value < 0:  # even one the split makes unused
            return _ODD
    given, read, written, one_hour, five_minutes, output = raw
    return given, read, five_minutes if split else written - one_hour, one_hour, output


def _biggest_copies(
    lines: Sequence[tuple[int, bytes]],
) -> tuple[list[tuple[str | None, int, _Line]], int, list[tuple[int, str]]]:
    """Each call's line with the most output (key, offset, line), how many copies were
    dropped, and the lines rejected on the way."""
    best: dict[str, tuple[int, int, _Line]] = {}  # key -> (output, offset, line)
    keyless: list[tuple[None, int, _Line]] = []
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
        message_id = line.message.id
        key = message_id if isinstance(message_id, str) and message_id else line.uuid
        if not isinstance(key, str):
            keyless.append((None, at, line))
            continue
        output = line.message.usage.output_tokens
        output = output if isinstance(output, int) else -1  # a bad count loses, then fails
        if key in best:
            copies += 1
            if (output, _is_original(line)) <= (best[key][0], _is_original(best[key][2])):
                continue
        best[key] = (output, at, line)
    found = [(key, at, line) for key, (_, at, line) in best.items()]
    return [*found, *keyless], copies, rejected


class _Usage(msgspec.Struct):
    """The counts of `message.usage` that from_anthropic reads (absent or null: None, which
    it reads as 0); an object of its own rather than a dict: a tenth of the decoding."""

    input_tokens: Any = None
    cache_read_input_tokens: Any = None
    cache_creation_input_tokens: Any = None
    cache_creation: Any = None
    output_tokens: Any = None


class _Message(msgspec.Struct):
    """What is read of a line's `message`; the content blocks are skipped, never built. A
    `usage` that is not an object fails the line's decoding (_not_a_call then decides)."""

    id: Any = None
    model: Any = None
    usage: _Usage | None = None


class _Line(msgspec.Struct):
    """What is read of a line: a kilobyte or more of JSON, of which these few fields count.
    Decoding only them (msgspec) takes half the time of building the whole line (orjson)."""

    type: Any = None
    message: _Message | None = None
    timestamp: Any = None
    sessionId: Any = None
    requestSessionId: Any = None
    requestId: Any = None
    cwd: Any = None
    uuid: Any = None
    isSidechain: Any = None
    isApiErrorMessage: Any = None


_decode_line = msgspec.json.Decoder(_Line).decode


class _AnyUsage(msgspec.Struct):
    usage: Any = None


class _LineOfAnyUsage(msgspec.Struct):
    message: _AnyUsage | None = None


_decode_any_usage = msgspec.json.Decoder(_LineOfAnyUsage).decode


def _not_a_call(text: bytes) -> bool:
    """Whether a line _decode_line refused for its shape is one whose usage is there but not
    an object (skipped, as any line that is not a call), read as before usage had a shape
    of its own; else the general reader decides, as for any line msgspec refuses."""
    try:
        line = _decode_any_usage(text)
    except (msgspec.DecodeError, RecursionError):
        return False
    return line.message is None or not isinstance(line.message.usage, dict)


def _usage_line(raw: bytes) -> _Line | None:
    """An assistant line with usage, parsed; None for any other line."""
    # a line as Claude Code writes it is not stripped: that copies a line of kilobytes
    if raw[:1] == b"{" and raw[-1:] == b"}":
        text = raw
    else:
        text = raw.strip()
        if not text:
            return None
        if not (text.startswith(b"{") and text.endswith(b"}")):
            raise CallError("not valid JSON (cut off?)")
    # prompts and tool results: no usage, not parsed. Searched from the end: a call's usage
    # comes after its content, near the end of a line of kilobytes (at 1M lines this search
    # took 0.41 s rather than 0.76 s)
    if text.rfind(b'"usage"') < 0:
        return None
    try:
        line = _decode_line(text)
    except msgspec.ValidationError:
        line = None if _not_a_call(text) else _line_read_whole(text)
    except (msgspec.DecodeError, RecursionError):
        line = _line_read_whole(text)  # a line msgspec refuses: the general reader decides
    if line is None or line.type != "assistant":
        return None
    message = line.message
    if message is None or message.usage is None:
        return None
    if message.model == "<synthetic>" or line.isApiErrorMessage:
        return None  # Claude Code's own error notices, with zero usage
    return line


def _line_read_whole(text: bytes) -> _Line | None:
    """The line by json_lines (what json accepts, it accepts); None when its shape is not a
    log line's (msgspec refused a `message` that is not an object)."""
    try:
        value = json_lines.loads(text)
    except (ValueError, RecursionError):
        raise CallError("not valid JSON") from None
    if not isinstance(value, dict):
        return None
    message = value.get("message")
    if not isinstance(message, dict):
        return None
    fields = {name: value.get(name) for name in _Line.__struct_fields__ if name != "message"}
    usage = message.get("usage")
    if isinstance(usage, dict):
        usage = _Usage(**{name: usage.get(name) for name in _Usage.__struct_fields__})
    else:
        usage = None  # not an object: not a call's line
    return _Line(message=_Message(message.get("id"), message.get("model"), usage), **fields)


def _is_original(line: _Line) -> bool:
    """The line the call was first written in: it names its request, and no other session."""
    return bool(line.requestId) and not line.requestSessionId


def _call(line: _Line, key: str | None, path: Path, now: datetime) -> Call:
    message = line.message
    session = _text(line.requestSessionId) or _text(line.sessionId) or path.stem
    return logged_call(
        model=message.model,
        read_usage=lambda: from_anthropic(msgspec.structs.asdict(message.usage)),
        at=line.timestamp,
        now=now,
        tags=("sidechain",) if line.isSidechain else (),
        task_id=f"cc-{session}",
        source_key=key,
        project=_project(line.cwd, path),
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
