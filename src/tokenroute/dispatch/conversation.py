"""A run's conversation: the earlier turns -c or --cid resends (the APIs keep no state), and
the request built from them and the new prompt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from tokenroute.dispatch.providers.base import Message, Request
from tokenroute.errors import UsageError


class Conversation(NamedTuple):
    id: str
    history: list[tuple[str, str]]  # (role, content), oldest first
    continued: bool


def conversation(
    open_ledger: Callable[[], Any], continue_last: bool, cid: str | None
) -> Conversation:
    """The conversation this run belongs to: the last one (-c), a given one (--cid), or new.
    `open_ledger` gives the ledger, or None when there is none yet."""
    from tokenroute.errors import NotFoundError

    if not continue_last and cid is None:
        return Conversation("c-" + os.urandom(6).hex(), [], False)
    store = open_ledger()
    try:
        if cid is None:
            cid = store.last_conversation() if store else None
            if cid is None:
                raise UsageError("there is no conversation to continue yet: run without -c first")
        history = store.conversation(cid) if store else []
    finally:
        if store:
            store.close()
    if not history:
        raise NotFoundError(f"no conversation '{cid}' (see 'tokenroute log --json')")
    return Conversation(cid, history, True)


def history_tokens(history: Sequence[tuple[str, str]]) -> int:
    from tokenroute.prices.tokens import count_tokens

    return sum(count_tokens(text).tokens for _, text in history)


def build_request(
    prompt: str,
    *,
    system: str | None,
    max_tokens: int | None,
    cache_system: bool,
    history: Sequence[tuple[str, str]] = (),
) -> Request:
    """The request: earlier turns of the conversation (resent: the APIs keep no state), then
    the new prompt."""
    return Request(
        model="",
        messages=(*(Message(role, text) for role, text in history), Message("user", prompt)),
        system=system,
        max_tokens=max_tokens,
        cache_system=cache_system,
    )
