"""Who writes: the user and host stamped on each attempt that does not name its own. The CLI
says how to find them (`use`), once, at start; they are looked up only when an attempt is
written, so reading commands never pay for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Writer(NamedTuple):
    user: str | None = None
    host: str | None = None


_resolve: Callable[[], Writer] = Writer
_found: Writer | None = None


def use(resolve: Callable[[], Writer]) -> None:
    """How to find the writer (the CLI's: --user, TOKENROUTE_USER, config, login name)."""
    global _resolve, _found
    _resolve, _found = resolve, None


def writer() -> Writer:
    global _found
    if _found is None:
        _found = _resolve()
    return _found
