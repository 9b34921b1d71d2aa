"""What `keys list` prints: where each endpoint's key comes from, never the key."""

from __future__ import annotations

from typing import Any

from tokenroute.cli import render
from tokenroute.cli.render import Column


def show_keys(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"keys": rows})
        return
    cells = [[r["endpoint"], r["key_source"] or "-", r["base_url"]] for r in rows]
    render.emit_table(
        [Column("endpoint"), Column("key from"), Column("address")], cells, title="API keys"
    )
