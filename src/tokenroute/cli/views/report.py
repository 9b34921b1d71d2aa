"""What `report` prints: the table by group (or JSON, or CSV), the spend chart, price notes,
questions worth asking, budget burn and the history re-read tax."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column
from tokenroute.cli.views import buckets
from tokenroute.cli.views.budget import burn_json, burn_share, burn_spent

if TYPE_CHECKING:
    from tokenroute.ledger.budgets import Burn
    from tokenroute.ledger.report import GroupReport, PriceNote, Report
    from tokenroute.models import AttemptFilter


REPORT_METRICS = (
    ("spend", "spend"),
    ("tasks", "tasks"),
    ("attempts", "attempts"),
    ("successful_tasks", "successes"),
    ("cost_per_task_mean", "$/task"),
    ("cost_per_task_median", "median"),
    ("cost_per_task_p95", "p95"),
    ("cost_per_successful_task", "$/success"),
    ("io_ratio", "in:out"),
    ("cache_read_share", "cache"),
    ("retry_tax", "retry tax"),
    ("failed_task_spend", "failed $"),
    ("frontier_cost", "frontier $"),
    ("cheapest_used_cost", "cheapest $"),
)


def unpriced_warning(attempts: int, models: Sequence[str], known: Sequence[str] = ()) -> str:
    """What is missing and the steps that fix it: a price where there is none, then
    `prices reprice` (alone, when every model is in the table by now)."""
    missing = [m for m in models if m not in known]
    if not missing:
        return (
            f"{attempts:,} attempt(s) are not in the spend yet: {', '.join(models)} "
            "now in the price table; run 'tokenroute prices reprice'"
        )
    return (
        f"{attempts:,} attempt(s) are not in the spend: {', '.join(missing)} not in the price "
        "table; add their prices ('tokenroute prices import FILE', or a YAML table in your "
        "price folder), then run 'tokenroute prices reprice'"
    )


def _price_note_line(note: PriceNote) -> str:
    calls = f"{note.attempts:,} attempt(s), {render.usd_amount(note.spend)}"
    if note.note == "after retirement":
        when = f" (retired {note.since})" if note.since else ""
        return f"after retirement: {note.model}{when}: {calls}, billed at its last list price"
    return f"{note.note}: {note.model}: {calls}, billed at its first list price"


# a group's figures as JSON (and CSV) keys: money ends in _usd, tokens are the ledger's
# buckets (input_tokens is uncached input; total_input_tokens every input bucket)
GROUP_KEYS = (
    ("spend", "cost_usd"),
    ("tasks", "tasks"),
    ("attempts", "attempts"),
    ("successful_tasks", "successful_tasks"),
    ("failed_tasks", "failed_tasks"),
    ("unpriced_attempts", "unpriced_attempts"),
    ("cost_per_task_mean", "cost_per_task_mean_usd"),
    ("cost_per_task_median", "cost_per_task_median_usd"),
    ("cost_per_task_p95", "cost_per_task_p95_usd"),
    ("percentiles_estimated", "percentiles_estimated"),
    ("cost_per_successful_task", "cost_per_successful_task_usd"),
    ("total_input_tokens", "total_input_tokens"),
    ("input_tokens", "input_tokens"),
    ("cache_read_tokens", "cache_read_tokens"),
    ("cache_write_tokens", "cache_write_tokens"),
    ("cache_write_1h_tokens", "cache_write_1h_tokens"),
    ("output_tokens", "output_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
    ("total_tokens", "total_tokens"),
    ("io_ratio", "io_ratio"),
    ("cache_read_share", "cache_read_share"),
    ("retry_tax", "retry_tax"),
    ("retry_spend", "retry_cost_usd"),
    ("failed_task_spend", "failed_task_cost_usd"),
    ("frontier_cost", "frontier_cost_usd"),
    ("cheapest_used_cost", "cheapest_used_cost_usd"),
)


def group_json(group: GroupReport, by: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"key": dict(zip(by, group.key, strict=True))} if by else {}
    for field, key in GROUP_KEYS:
        body[key] = getattr(group, field)
    return body


def show_report(
    result: Report | None,
    by: list[str],
    where: AttemptFilter,
    *,
    as_json: bool,
    as_csv: bool,
    budgets: Sequence[Burn] = (),
    breakdown: tuple[str, Report | None] | None = None,
) -> None:
    """`breakdown`: (its grouping, the report by --by and it): each group is split by it."""
    from tokenroute.ledger.report import Report, empty_group

    result = result or Report(groups=[], total=empty_group())
    window = {"start": where.start, "end": where.end}
    if result.unpriced_models and not as_json:
        render.warn(
            unpriced_warning(
                result.total.unpriced_attempts, result.unpriced_models, result.repriceable_models
            )
        )
    if as_json:
        render.emit_json(
            {
                "window": window,
                "by": by,
                "groups": [
                    {**group_json(g, by), **_split_json(g, breakdown, len(by))}
                    for g in result.groups
                ],
                "total": group_json(result.total, []),
                "daily": [{"day": d, "cost_usd": s} for d, s in result.daily],
                "diagnostics": result.diagnostics,
                "unpriced_models": result.unpriced_models,
                "price_notes": [
                    {
                        "model": n.model,
                        "note": n.note,
                        "since": n.since,
                        "attempts": n.attempts,
                        "cost_usd": n.spend,
                    }
                    for n in result.price_notes
                ],
                "conversations": [
                    {**c._asdict(), "history_share": round(c.share, 4)}
                    for c in result.conversations
                ],
                "budgets": burn_json(budgets),
            }
        )
        return
    if as_csv:
        split_by, split = breakdown or (None, None)
        _report_csv(split or result, [*by, split_by] if split_by else by)
        return
    names = [*by, breakdown[0]] if breakdown else by
    columns = [
        *(Column(name) for name in names),
        *(Column(h, numeric=True) for _, h in REPORT_METRICS),
    ]
    cells = []
    for g in result.groups:
        cells.append([*g.key, *(["all"] if breakdown else []), *_metric_cells(g)])
        for sub in _parts(g, breakdown, len(by)):
            cells.append([*[""] * len(by), sub.key[-1], *_metric_cells(sub)])
    blank = [""] * (len(names) - 1) if names else []
    cells.append([*(["total", *blank] if names else []), *_metric_cells(result.total)])
    start = where.start[:16].replace("T", " ") if where.start else None
    title = f"Spend from {start}" if start else "Spend since the first call"
    title += f" to {_inclusive_end(where.end)}" if where.end else " to now"
    render.emit_table(columns, cells, title=title)
    _token_table(result, names, breakdown, len(by))
    chart = render.spend_chart(result.daily, by_day="day" in by)
    if chart:
        render.emit_lines(chart)
    if result.price_notes:
        render.emit_lines(["", *(_price_note_line(n) for n in result.price_notes)])
    if result.diagnostics:
        render.emit_lines(["", "Questions worth asking:", *(f"- {q}" for q in result.diagnostics)])
    if budgets:
        render.emit_lines(
            ["", "Budget burn (UTC):"]
            + [
                f"- {b.budget.label}: {burn_spent(b)} of "
                f"{render.usd_amount(b.limit)} this {b.period} ({burn_share(b)})"
                for b in budgets
            ]
        )
    if result.conversations:
        render.emit_lines(
            ["", "History re-read tax (run -c resends earlier turns as input):"]
            + [
                f"- {c.conversation_id}: {c.history_tokens:,} of {c.total_input_tokens:,} "
                f"input tokens ({c.share:.0%}) were history, over {c.attempts} attempts, "
                f"{render.usd_amount(c.cost_usd)} in all"
                for c in result.conversations
            ]
        )


def _token_table(result: Report, names: list[str], breakdown, width: int) -> None:
    """Every token bucket per group, as a second table (one table of both is too wide)."""
    columns = [
        *(Column(name) for name in names),
        *(Column(h, numeric=True) for h in buckets.HEADERS),
    ]
    cells = []
    for g in result.groups:
        cells.append([*g.key, *(["all"] if breakdown else []), *_token_cells(g)])
        for sub in _parts(g, breakdown, width):
            cells.append([*[""] * width, sub.key[-1], *_token_cells(sub)])
    blank = [""] * (len(names) - 1) if names else []
    cells.append([*(["total", *blank] if names else []), *_token_cells(result.total)])
    render.emit_lines([""])
    render.emit_table(columns, cells, title="Tokens by bucket")


def _token_cells(group: GroupReport) -> list[str]:
    return [render.count(getattr(group, key)) for key in buckets.KEYS]


def _parts(group: GroupReport, breakdown, width: int) -> list[GroupReport]:
    """The sub-groups of `group` in the breakdown report (those whose key starts with its)."""
    if not breakdown or breakdown[1] is None:
        return []
    return [g for g in breakdown[1].groups if g.key[:width] == group.key]


def _split_json(group: GroupReport, breakdown, width: int) -> dict[str, Any]:
    if not breakdown:
        return {}
    name = breakdown[0]
    parts = _parts(group, breakdown, width)
    return {"breakdown": [{"key": {name: g.key[-1]}, **group_json(g, [])} for g in parts]}


def _inclusive_end(end: str) -> str:
    """An exclusive midnight end, as people say it: --until 2026-10-05 is 'to 2026-10-05'."""
    from datetime import date, timedelta

    if end[10:] == "T00:00:00.000Z":
        return (date.fromisoformat(end[:10]) - timedelta(days=1)).isoformat()
    return end[:16].replace("T", " ")


def _metric_cells(group: GroupReport) -> list[str]:
    cells = []
    for name, _ in REPORT_METRICS:
        value = getattr(group, name)
        if name in ("tasks", "attempts", "successful_tasks"):
            cells.append(render.count(value))
        elif name == "io_ratio":
            cells.append("-" if value is None else f"{value:.1f}:1")
        elif name in ("cache_read_share", "retry_tax"):
            cells.append("-" if value is None else f"{value:.0%}")
        elif name == "spend" or name.startswith("cost_per_task"):
            text = render.usd_amount(value) if value is not None or name == "spend" else "-"
            if value is not None and 0 < group.unpriced_attempts < group.attempts:
                text += "+?"  # some attempts have no known price: a lower bound
            sampled = group.percentiles_estimated and name in (
                "cost_per_task_median",
                "cost_per_task_p95",
            )
            cells.append(f"~{text}" if sampled else text)
        else:
            cells.append("-" if value is None else render.usd_amount(value))
    return cells


def _report_csv(result: Report, by: list[str]) -> None:
    import csv
    import sys

    writer = csv.writer(sys.stdout, lineterminator="\n")
    rows = [group_json(g, by) for g in result.groups]
    total = group_json(result.total, [])
    metrics = [k for k in total]
    writer.writerow([*by, *metrics])
    for row in rows:
        writer.writerow([*row["key"].values(), *(_csv_value(row[m]) for m in metrics)])
    writer.writerow(
        [
            *(["total"] + [""] * (len(by) - 1) if by else []),
            *(_csv_value(total[m]) for m in metrics),
        ]
    )


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
