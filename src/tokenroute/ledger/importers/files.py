"""Read only what was appended to a log since the last import.

Per file the ledger keeps its size, modification time, the byte offset read up to and a
hash of the bytes before it. A file that grew is read from that offset; one that shrank, or
whose first bytes changed, is read again from the start (the ledger's source keys keep that
from adding duplicates). A last line without its newline is an agent still writing: it is
left for the next import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

HEAD_BYTES = 4096


class Position(NamedTuple):
    size: int
    mtime_ns: int
    offset: int
    head: str  # sha256 of the first min(offset, HEAD_BYTES) bytes


class Chunk(NamedTuple):
    lines: list[tuple[int, Any]]  # (byte offset where it starts, bytes without the newline)
    position: Position  # where the next import starts


def read_new(path: Path, known: Position | None) -> Chunk:
    """The complete lines after `known`'s offset (all of them when the file changed)."""
    stat = path.stat()
    with path.open("rb") as handle:
        start = 0  # a file that shrank below, or changed before, the offset: from the start
        if (
            known is not None
            and known.offset <= stat.st_size
            and _head(handle, known.offset) == known.head
        ):
            if known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
                return Chunk([], known)  # nothing new: not even a read
            start = known.offset
        handle.seek(start)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # after the last complete line
    lines, at = [], start
    for line in data.split(b"\n")[:-1]:  # the last part is what follows the last newline
        lines.append((at, line))
        at += len(line) + 1
    offset = start + end
    if start == 0:  # the head is in what was read
        head = hashlib.sha256(data[: min(offset, HEAD_BYTES)]).hexdigest()
    elif known is not None and known.offset >= HEAD_BYTES:
        head = known.head  # the same first HEAD_BYTES, checked above
    else:
        with path.open("rb") as handle:
            head = _head(handle, offset)
    return Chunk(lines, Position(stat.st_size, stat.st_mtime_ns, offset, head))


def _head(handle, offset: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(min(offset, HEAD_BYTES))).hexdigest()


def line_number(path: Path, offset: int) -> int:
    """The line that starts at byte `offset`: counted only for a line worth naming (a
    rejected one), so an append is read in time proportional to the append."""
    count = 0
    with path.open("rb") as handle:
        remaining = offset
        while remaining:
            block = handle.read(min(remaining, 1 << 20))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count + 1


def lines_before(path: Path, offset: int, block: int = 1 << 16) -> Iterator[bytes]:
    """The complete lines before `offset`, newest first, read backwards a block at a time:
    what an appended chunk needs of the file's past costs what it reads, not the file."""
    with path.open("rb") as handle:
        end, tail = offset, b""
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + tail
            parts = data.split(b"\n")
            tail = parts[0] if start > 0 else b""
            for line in reversed(parts[1:] if start > 0 else parts):
                if line.strip():
                    yield line
            end = start


def log_files(roots: Iterable[Path]) -> list[Path]:
    """Every .jsonl file under the roots (a root may be a file itself), each once."""
    found: set[Path] = set()
    for root in roots:
        root = root.resolve()  # read positions are kept by absolute path
        if root.is_file():
            found.add(root)
        elif root.is_dir():
            found.update(p for p in root.rglob("*.jsonl") if p.is_file())
    return sorted(found)
