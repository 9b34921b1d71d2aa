"""What `doctor` prints: each check with its status and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.dispatch.doctor import Check


def show_doctor(checks: list[Check], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"checks": [c._asdict() for c in checks]})
        return
    cells = [[c.status, c.area, c.name, c.detail] for c in checks]
    columns = [Column("status"), Column("area"), Column("what"), Column("detail")]
    render.emit_table(columns, cells, title="tokenroute doctor")
