"""Read the text a command was given: a file, '-' for stdin, or a pipe."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from tokenroute.errors import BadInputError, UsageError

MAX_BYTES = 20_000_000  # a prompt, a file to estimate: 20 MB, read no further


def read_text(source: str | None, stdin: TextIO) -> str:
    """The text of `source` (a path or '-'); with no source, stdin when it is not a terminal.

    At most MAX_BYTES are read: `estimate /dev/urandom` or `run < /dev/zero` stop there."""
    if source is None or source == "-":
        if source is None and stdin.isatty():
            raise UsageError("give a FILE, '-', or pipe the text in (e.g. 'cat prompt.md | ...')")
        if not hasattr(stdin, "buffer"):
            text = stdin.read(MAX_BYTES + 1)
            _within(text, "stdin")
            return text
        return _decoded(stdin.buffer.read(MAX_BYTES + 1), "stdin")
    if not source.strip():
        raise UsageError("the file name is empty: give a FILE, or '-' for stdin")
    path = Path(source)
    try:
        with path.open("rb") as file:
            return _decoded(file.read(MAX_BYTES + 1), str(path))
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _decoded(raw: bytes, where: str) -> str:
    _within(raw, where)
    try:
        return raw.decode("utf-8")  # strictly: binary input is an error, not tokens
    except UnicodeDecodeError:
        raise BadInputError(f"{where} is not UTF-8 text") from None


def _within(raw: str | bytes, where: str) -> None:
    if len(raw) > MAX_BYTES:
        raise BadInputError(f"{where} is over the {MAX_BYTES // 1_000_000} MB limit")
