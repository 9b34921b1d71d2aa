"""The token buckets, named once for every view: the ledger's columns as JSON and CSV keys,
and the headers a table shows them under. `input_tokens` is uncached input only; reasoning
is part of output, never added to it; `total_tokens` is every input bucket and output."""

from __future__ import annotations

from typing import Any

# (JSON and CSV key, table header)
BUCKETS = (
    ("input_tokens", "uncached in"),
    ("cache_write_tokens", "cache write 5m"),
    ("cache_write_1h_tokens", "cache write 1h"),
    ("cache_read_tokens", "cache read"),
    ("output_tokens", "output"),
    ("reasoning_tokens", "of it reasoning"),
    ("total_tokens", "total"),
)
KEYS = tuple(key for key, _ in BUCKETS)
HEADERS = tuple(header for _, header in BUCKETS)


def total_tokens(row: Any) -> int:
    """Every bucket of a row (a mapping of the ledger's column names) but reasoning."""
    return (
        row["input_tokens"]
        + row["cache_write_tokens"]
        + row["cache_write_1h_tokens"]
        + row["cache_read_tokens"]
        + row["output_tokens"]
    )
