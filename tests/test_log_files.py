"""What read_new reads of a log, and the position it leaves for the next import: the head it
keeps is the hash of the file's first bytes, however it came to know them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tokenroute.ledger.importers.files import HEAD_BYTES, read_new


def head_of(path: Path, offset: int) -> str:
    return hashlib.sha256(path.read_bytes()[: min(offset, HEAD_BYTES)]).hexdigest()


def test_a_first_read_gives_every_complete_line_and_the_head(tmp_path):
    log = tmp_path / "s.jsonl"
    log.write_bytes(b'{"a":1}\n\n{"b":2}\n{"c":')  # the last line is still being written
    chunk = read_new(log, None)
    assert chunk.lines == [(0, b'{"a":1}'), (8, b""), (9, b'{"b":2}')]
    assert chunk.position.offset == 17
    assert chunk.position.head == head_of(log, 17)
    # nothing complete yet: nothing read, and the next read starts at the beginning
    bare = tmp_path / "bare.jsonl"
    bare.write_bytes(b'{"a":')
    assert read_new(bare, None).lines == []
    assert read_new(bare, None).position.offset == 0


def test_the_head_after_an_append_is_the_files_own(tmp_path):
    for size in (100, HEAD_BYTES - 10, HEAD_BYTES, 3 * HEAD_BYTES):  # both sides of the head
        log = tmp_path / f"{size}.jsonl"
        first = b"".join(b'{"n":%d}\n' % n for n in range(size // 8))
        log.write_bytes(first)
        before = read_new(log, None).position
        assert before.head == head_of(log, before.offset)
        with log.open("ab") as handle:
            handle.write(b'{"new":1}\n{"new":2}\n')
        after = read_new(log, before)
        assert [line for _, line in after.lines] == [b'{"new":1}', b'{"new":2}']
        assert after.lines[0][0] == before.offset
        assert after.position.head == head_of(log, after.position.offset)
        assert read_new(log, after.position).lines == []  # and it is taken as read
