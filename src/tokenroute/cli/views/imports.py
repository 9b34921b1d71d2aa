"""What `import ...` prints: a progress bar, then what came in and what was rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenroute.cli import render

if TYPE_CHECKING:
    from tokenroute.ledger.importers.load import ImportSummary


def import_progress(files: int):
    """A bar over the files of an import, on a terminal, once it takes over a second."""
    return render.progress(files, "importing logs")


def show_import_summary(
    summary: ImportSummary,
    roots: list[str],
    *,
    dry_run: bool,
    as_json: bool,
    unit: str = "lines",
) -> None:
    """`unit`: what a file holds, "lines" of a log or "rows" of a database."""
    if as_json:
        render.emit_json({"import": {**summary._asdict(), "roots": roots, "dry_run": dry_run}})
        return
    if not summary.files:
        render.say(f"tokenroute: no logs found in {', '.join(roots)} (--path DIR)")
        return
    verb = "would add" if dry_run else "added"
    render.say(
        f"tokenroute: {summary.files:,} files ({summary.files_read:,} with new {unit}), "
        f"{summary.lines:,} {unit} read; {verb} {summary.added:,} attempts, "
        f"{summary.duplicates:,} duplicates skipped, {summary.rejected:,} {unit} rejected"
        + (
            f"; {summary.replaced:,} stored copies replaced by bigger ones"
            if summary.replaced
            else ""
        )
    )
    for reason in summary.reasons:
        render.say(f"  rejected: {reason}")
    if summary.unknown_models:
        render.warn(
            f"{', '.join(summary.unknown_models)} not in the price table: stored with cost "
            "unknown; add their prices ('tokenroute prices import FILE' or a YAML table in your "
            "price folder), then run 'tokenroute prices reprice'"
        )
