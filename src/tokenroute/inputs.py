"""Read the text a command was given: a file, '-' for stdin, or a pipe."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from tokenroute.errors import BadInputError, UsageError


def read_text(source: str | None, stdin: TextIO) -> str:
    """The text of `source` (a path or '-'); with no source, stdin when it is not a terminal."""
    if source is None or source == "-":
        if source is None and stdin.isatty():
            raise UsageError("give a FILE, '-', or pipe the text in (e.g. 'cat prompt.md | ...')")
        raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8")  # strictly: binary input is an error, not tokens
        except UnicodeDecodeError:
            raise BadInputError("stdin is not UTF-8 text") from None
    if not source.strip():
        raise UsageError("the file name is empty: give a FILE, or '-' for stdin")
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not UTF-8 text") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
