"""Cutting a call short from another thread: compare's Ctrl-C reaches only the main thread,
and the council's timeout is the main thread's; the calls run in worker threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Cancelled(KeyboardInterrupt):
    """Raised inside a stream another thread cut short (compare's Ctrl-C, the council's
    timeout): `dispatch` records the try as cancelled, as Ctrl-C does in `run`."""


def cancellable(send: Callable[..., Any], cancel: Any) -> Callable[..., Any]:
    """`send`, raising Cancelled at its next event once `cancel` (an Event) is set."""

    def send_until_cancelled(*args: Any) -> Any:
        for event in send(*args):
            if cancel.is_set():
                raise Cancelled
            yield event

    return send_until_cancelled
