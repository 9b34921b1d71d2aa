"""Read only what was appended to a log since the last import.

Per file the ledger keeps its size, modification time, the byte offset read up to and a
hash of the bytes before it. A file that grew is read from that offset; one that shrank, or
whose first bytes changed, is read again from the start (the ledger's source keys keep that
from adding duplicates). A last line without its newline is an agent still writing: it is
left for the next import.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

HEAD_BYTES = 4096


class Position(NamedTuple):
    size: int
    mtime_ns: int
    offset: int
    head: str  # sha256 of the first min(offset, HEAD_BYTES) bytes


class Chunk(NamedTuple):
    lines: list[tuple[int, bytes]]  # (line number, bytes without the newline)
    position: Position  # where the next import starts
    reread: bool  # the file changed under us: read from the start


def read_new(path: Path, known: Position | None) -> Chunk:
    """The complete lines after `known`'s offset (all of them when the file changed)."""
    stat = path.stat()
    with path.open("rb") as handle:
        start, first_line, reread = 0, 1, False
        if known is not None and known.offset <= stat.st_size:
            head = _head(handle, known.offset)
            if head == known.head:
                if known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
                    return Chunk([], known, False)  # nothing new: not even a read
                start = known.offset
            else:
                reread = True
        elif known is not None:
            reread = True  # shrank below what was read
        handle.seek(start)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # after the last complete line
    body = data[:end]
    if start:
        first_line = 1 + _count_lines_before(path, start)
    lines = [(first_line + i, line) for i, line in enumerate(body.split(b"\n")[:-1])]
    offset = start + end
    with path.open("rb") as handle:
        head = _head(handle, offset)
    return Chunk(lines, Position(stat.st_size, stat.st_mtime_ns, offset, head), reread)


def _head(handle, offset: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(min(offset, HEAD_BYTES))).hexdigest()


def _count_lines_before(path: Path, offset: int) -> int:
    """Line numbers in messages stay true after an incremental read (a cheap count)."""
    count = 0
    with path.open("rb") as handle:
        remaining = offset
        while remaining:
            block = handle.read(min(remaining, 1 << 20))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count
