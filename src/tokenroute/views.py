"""What each command shows: turns domain results into tables, lines or JSON via `render`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute import render
from tokenroute.render import Column
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from tokenroute.advisor.pick import PickResult
    from tokenroute.advisor.router import Estimate
    from tokenroute.dispatch.attempts import RunResult
    from tokenroute.dispatch.budgets import Burn
    from tokenroute.dispatch.doctor import Check
    from tokenroute.dispatch.plan import Choice
    from tokenroute.errors import TokenrouteError
    from tokenroute.ledger.importers.load import ImportSummary
    from tokenroute.ledger.intake import Recorded, Rejected
    from tokenroute.ledger.report import GroupReport, PriceNote, Report
    from tokenroute.ledger.reprice import RepriceResult
    from tokenroute.models import AttemptFilter, Model, PricePeriod, TokenCount, Usage
    from tokenroute.prices.estimate import EstimateRow
    from tokenroute.prices.litellm import ImportResult
    from tokenroute.prices.table import PriceTable

_TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}


def prices_in_force(
    table: PriceTable, day: date, *, provider: str | None, tier: str | None
) -> list[tuple[Model, PricePeriod]]:
    rows = table.in_force(day, provider=provider, tier=tier)
    rows.sort(key=lambda r: (r[0].provider, -_TIER_RANK[r[0].tier], r[1].rates.input, r[0].id))
    return rows


def period_json(period: PricePeriod) -> dict[str, Any]:
    rates = period.rates
    body: dict[str, Any] = {
        "from": period.start,
        "until": period.end,
        "input": rates.input,
        "output": rates.output,
        "cache_read": rates.effective_cache_read,
        "cache_write": rates.effective_cache_write,
        "cache_write_1h": rates.effective_cache_write_1h,
        "batch_discount": period.batch_discount,
        "long_context": None,
        "source": period.source,
        "checked": period.checked,
    }
    if period.long_context is not None:
        long_rates = period.long_context.rates
        body["long_context"] = {
            "above_input_tokens": period.long_context.above_input_tokens,
            "input": long_rates.input,
            "output": long_rates.output,
            "cache_read": long_rates.effective_cache_read,
            "cache_write": long_rates.effective_cache_write,
            "cache_write_1h": long_rates.effective_cache_write_1h,
        }
    return body


def model_json(model: Model) -> dict[str, Any]:
    return {
        "id": model.id,
        "provider": model.provider,
        "tier": model.tier,
        "aliases": list(model.aliases),
        "context_window": model.context_window,
        "max_output": model.max_output,
        "good_for": list(model.good_for),
        "retired": model.retired,
        "retired_source": model.retired_source,
    }


def show_prices(
    rows: list[tuple[Model, PricePeriod]], table: PriceTable, day: date, *, as_json: bool
) -> None:
    if as_json:
        render.emit_json(
            {
                "at": day,
                "revision": table.revision,
                "models": [{**model_json(m), "price": period_json(p)} for m, p in rows],
            }
        )
        return
    columns = [
        Column("model"),
        Column("provider"),
        Column("tier"),
        Column("input", numeric=True),
        Column("output", numeric=True),
        Column("cache read", numeric=True),
        Column("cache write", numeric=True),
        Column("context", numeric=True),
    ]
    cells = [
        [
            m.id,
            m.provider,
            m.tier,
            render.usd_rate(p.rates.input),
            render.usd_rate(p.rates.output),
            render.usd_rate(p.rates.cache_read),
            render.usd_rate(p.rates.cache_write),
            render.tokens_short(m.context_window),
        ]
        for m, p in rows
    ]
    title = f"Prices in force on {day}, USD per 1M tokens (table {table.revision})"
    render.emit_table(columns, cells, title=title)


def _tokens(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,} tokens"


def show_model(model: Model, *, as_json: bool) -> None:
    if as_json:
        body = model_json(model)
        body["source"] = model.source
        body["prices"] = [period_json(p) for p in model.periods]
        render.emit_json({"model": body})
        return
    render.emit_lines(
        [
            f"model         {model.id}",
            f"provider      {model.provider}",
            f"tier          {model.tier}",
            f"aliases       {', '.join(model.aliases) or '-'}",
            f"context       {_tokens(model.context_window)}",
            f"max output    {_tokens(model.max_output)}",
            f"good for      {', '.join(model.good_for) or '-'}",
            f"retired       {_retirement(model)}",
            f"table         {model.source}",
            "",
        ]
    )
    columns = [
        Column("from"),
        Column("until"),
        Column("input", numeric=True),
        Column("output", numeric=True),
        Column("cache read", numeric=True),
        Column("cache write", numeric=True),
        Column("1h write", numeric=True),
        Column("batch", numeric=True),
        Column("long context"),
        Column("checked"),
        Column("source"),
    ]
    cells = []
    for p in model.periods:
        long = "-"
        if p.long_context is not None:
            lc = p.long_context
            long = (
                f">{render.tokens_short(lc.above_input_tokens)}: "
                f"{render.usd_rate(lc.rates.input)} / {render.usd_rate(lc.rates.output)}"
            )
        cells.append(
            [
                str(p.start),
                str(p.end) if p.end else "-",
                render.usd_rate(p.rates.input),
                render.usd_rate(p.rates.output),
                render.usd_rate(p.rates.cache_read),
                render.usd_rate(p.rates.cache_write),
                render.usd_rate(p.rates.cache_write_1h),
                f"{p.batch_discount:.0%} off" if p.batch_discount else "-",
                long,
                str(p.checked) if p.checked else "-",
                p.source or "-",
            ]
        )
    render.emit_table(columns, cells, title="Price history, USD per 1M tokens")


def _retirement(model: Model) -> str:
    """When it left the provider's API, and that its last list price goes on applying."""
    if model.retired is None:
        return "-"
    where = f" ({model.retired_source})" if model.retired_source else ""
    return f"{model.retired}{where}; later calls are billed at the last list price"


def show_check(problems: list[str], models: int, files: list[Path], *, as_json: bool) -> None:
    if as_json:
        render.emit_json(
            {
                "ok": not problems,
                "files": [str(f) for f in files],
                "models": models,
                "problems": problems,
            }
        )
    elif problems:
        render.emit_lines(problems)
        render.say(f"{len(problems)} problem(s) in {len(files)} file(s)")
    else:
        render.emit_lines([f"ok: {models} models in {len(files)} file(s)"])


def show_import(result: ImportResult, *, as_json: bool) -> None:
    if as_json:
        render.emit_json(
            {
                "path": str(result.path),
                "effective": result.effective,
                "models": result.models,
                "overrides": result.overrides,
                "skipped": result.skipped,
            }
        )
        return
    render.emit_lines(
        [
            f"wrote {result.path}",
            f"{result.models} models priced from {result.effective}: {result.overrides} override "
            f"shipped prices, {result.models - result.overrides} are new; "
            f"{sum(result.skipped.values())} skipped"
            + (
                " (" + ", ".join(f"{n} {why}" for why, n in sorted(result.skipped.items())) + ")"
                if result.skipped
                else ""
            ),
        ]
    )


def _too_big(model: Model, prompt: int, output: int) -> str:
    if model.max_output is not None and output > model.max_output:
        return f"output over its {render.tokens_short(model.max_output)} max"
    return f"exceeds its {render.tokens_short(model.context_window)} context"


def show_estimate(
    rows: list[EstimateRow],
    counted: TokenCount,
    output_tokens: int,
    day: date,
    revision: str,
    *,
    as_json: bool,
) -> None:
    if as_json:
        render.emit_json(
            {
                "at": day,
                "revision": revision,
                "input_tokens": counted.tokens,
                "output_tokens": output_tokens,
                "token_method": counted.method,
                "estimates": [
                    {
                        "model": r.model.id,
                        "provider": r.model.provider,
                        "tier": r.model.tier,
                        "estimated_input_cost_usd": r.cost.input,
                        "estimated_output_cost_usd": r.cost.output,
                        "estimated_cost_usd": r.cost.total,
                        "fits_context": r.fits,
                    }
                    for r in rows
                ],
            }
        )
        return
    render.say(
        f"{counted.tokens:,} input tokens ({counted.method}), {output_tokens:,} output tokens "
        f"assumed (--output-tokens); prices of {day}"
    )
    columns = [
        Column("model"),
        Column("provider"),
        Column("tier"),
        Column("input", numeric=True),
        Column("output", numeric=True),
        Column("total", numeric=True),
        Column("note"),
    ]
    cells = [
        [
            r.model.id,
            r.model.provider,
            r.model.tier,
            render.usd_amount(r.cost.input),
            render.usd_amount(r.cost.output),
            render.usd_amount(r.cost.total),
            "" if r.fits else _too_big(r.model, counted.tokens, output_tokens),
        ]
        for r in rows
    ]
    render.emit_table(columns, cells)


# ---------------------------------------------------------------- record, log, report


def show_recorded(results: list[Recorded], rejected: list[Rejected], *, as_json: bool) -> None:
    for result in results:
        for warning in result.warnings:
            render.warn(warning)
    for bad in rejected:
        render.say(f"tokenroute: line {bad.line}: {bad.reason}")
    if as_json:
        render.emit_json(
            {
                "attempts": [
                    {
                        "id": r.id,
                        "task_id": r.attempt.task_id,
                        "attempt": r.number,
                        "model": r.attempt.model,
                        "status": r.attempt.status,
                        "cost_usd": _usd(r.attempt.cost_micros),
                        "price_revision": r.attempt.price_revision,
                        "duplicate": r.id is None,
                    }
                    for r in results
                ],
                "rejected": [{"line": b.line, "reason": b.reason} for b in rejected],
            }
        )
        return
    lines = []
    for r in results:
        if r.id is None:
            lines.append(f"duplicate  {r.attempt.source_key}  (already recorded, skipped)")
            continue
        lines.append(
            f"attempt {r.id}  task {r.attempt.task_id} #{r.number}  {r.attempt.model}  "
            f"{render.usd_amount(_usd(r.attempt.cost_micros))}"
        )
    render.emit_lines(lines)


def _usd(micros: int | None) -> Decimal | None:
    return None if micros is None else Decimal(micros) / 1_000_000


def show_log(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        for row in rows:
            row["cost_usd"] = _usd(row.pop("cost_micros"))
            row["tags"] = row["tags"].split(",") if row["tags"] else []
        render.emit_json({"attempts": rows})
        return
    columns = [
        Column("time (UTC)"),
        Column("task"),
        Column("#", numeric=True),
        Column("model"),
        Column("status"),
        Column("in", numeric=True),
        Column("cached", numeric=True),
        Column("out", numeric=True),
        Column("cost", numeric=True),
    ]
    cells = [
        [
            row["started_at"][:19].replace("T", " "),
            row["task_id"],
            str(row["attempt"]),
            row["model"],
            row["status"] if not row["error_kind"] else f"{row['status']}:{row['error_kind']}",
            render.count(row["input_tokens"]),
            render.count(row["cache_read_tokens"]),
            render.count(row["output_tokens"]),
            render.usd_amount(_usd(row["cost_micros"])),
        ]
        for row in rows
    ]
    render.emit_table(columns, cells)


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
) -> None:
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
                "groups": [group_json(g, by) for g in result.groups],
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
                "budgets": _burn_json(budgets),
            }
        )
        return
    if as_csv:
        _report_csv(result, by)
        return
    columns = [
        *(Column(name) for name in by),
        *(Column(h, numeric=True) for _, h in REPORT_METRICS),
    ]
    cells = [[*g.key, *_metric_cells(g)] for g in result.groups]
    cells.append([*(["total"] + [""] * (len(by) - 1) if by else []), *_metric_cells(result.total)])
    start = where.start[:16].replace("T", " ") if where.start else None
    title = f"Spend from {start}" if start else "Spend since the first call"
    title += f" to {_inclusive_end(where.end)}" if where.end else " to now"
    render.emit_table(columns, cells, title=title)
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
                f"- {b.budget.label}: {_burn_spent(b)} of "
                f"{render.usd_amount(b.limit)} this {b.period} ({_burn_share(b)})"
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


# ---------------------------------------------------------------- pick


def show_pick(result: PickResult, *, as_json: bool) -> None:
    rec = result.recommendation
    for note in result.notes:
        render.say(note)
    if result.task_id:
        render.say(f"started task {result.task_id} (export TOKENROUTE_TASK={result.task_id})")
    if as_json:
        render.emit_json(
            {
                "task_type": rec.task_type,
                "tier": rec.tier,
                "model": _estimate_json(rec.model),
                "alternatives": [_estimate_json(e) for e in rec.alternatives],
                "estimated_cost_usd": rec.model.cost if rec.model else None,
                "usage": {"input_tokens": rec.usage.input, "output_tokens": rec.usage.output},
                "confidence": round(rec.confidence, 3),
                "reasons": rec.reasons,
                "learned_from_tasks": rec.learned_from,
                "explored": rec.explored,
                "provider_configured": rec.configured,
                "task_id": result.task_id,
            }
        )
        return
    kind = rec.task_type or "task"
    if rec.model is None:
        render.emit_lines([f"{kind} -> {rec.tier}: no model of this tier has a price today"])
    else:
        lines = [
            f"{kind} -> {rec.tier}: {rec.model.model.id} ({rec.model.model.provider}), "
            f"about {render.usd_amount(rec.model.cost)} per task "
            f"({rec.usage.input:,} in / {rec.usage.output:,} out)"
        ]
        if rec.alternatives:
            others = ", ".join(
                f"{e.model.id} ({e.model.provider}) {render.usd_amount(e.cost)}"
                for e in rec.alternatives
            )
            lines.append(f"alternatives: {others}")
        render.emit_lines(lines)
    render.emit_lines(["why:", *(f"  - {reason}" for reason in rec.reasons)])


def _estimate_json(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "id": estimate.model.id,
        "provider": estimate.model.provider,
        "estimated_cost_usd": estimate.cost,
    }


def show_policy(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"policy": rows})
        return
    columns = [
        Column("task type"),
        Column("policy"),
        Column("learned"),
        Column("outcomes (tier: success/failure, believed success rate)"),
        Column("what it covers"),
    ]
    cells = []
    for row in rows:
        outcomes = ", ".join(
            f"{tier}: {o['successes']}/{o['failures']} ({o['believed_success_rate']:.0%})"
            for tier, o in row["outcomes"].items()
        )
        cells.append(
            [
                row["task_type"],
                row["policy_tier"],
                row["learned_tier"],
                outcomes or "-",
                row["says"],
            ]
        )
    render.emit_table(columns, cells, title="Routing policy, and what the ledger taught it")


def notify(line: str) -> None:
    """One line of talk on stderr, prefixed so it is never mistaken for the answer."""
    render.say(f"tokenroute: {line}")


def _usage_json(usage: Usage) -> dict[str, int]:
    """The six buckets under the ledger's names (input_tokens: uncached input)."""
    return {
        "input_tokens": usage.input,
        "cache_read_tokens": usage.cache_read,
        "cache_write_tokens": usage.cache_write,
        "cache_write_1h_tokens": usage.cache_write_1h,
        "output_tokens": usage.output,
        "reasoning_tokens": usage.reasoning,
    }


def _snake(name: str) -> str:
    """InvalidAnswerError -> invalid_answer: the provider errors' `kind` vocabulary."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def _usage_sum(usages: Sequence[Usage]) -> dict[str, int]:
    totals = [_usage_json(u) for u in usages]
    keys = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens")
    keys += ("output_tokens", "reasoning_tokens")
    return {key: sum(t[key] for t in totals) for key in keys}


def show_run(
    result: RunResult,
    task_id: str,
    conversation_id: str,
    *,
    streamed: bool,
    quiet: bool,
    as_json: bool,
    error: TokenrouteError | None = None,
    stored: bool = True,
) -> None:
    """The answer (unless it was streamed already) and the usage line on stderr. With
    --json a failed run prints the same object, `answer` the last invalid one (or null)
    and `error` what went wrong, so a script keeps the attempts and what they cost."""
    final = result.tries[-1].attempt if result.tries else None
    spent = result.spent
    if as_json:
        failure = None
        if error is not None:
            failure = {"message": error.message, "exit_code": int(error.exit_code)}
            failure["kind"] = getattr(error, "kind", None) or _snake(type(error).__name__)
        render.emit_json(
            {
                "ok": error is None,
                "error": failure,
                "answer": result.answer if error is None else result.answer or None,
                "model": result.target.name,
                "provider": result.target.endpoint.name,
                "tier": result.target.tier,
                "task_id": task_id,
                "conversation_id": conversation_id,
                "history_tokens": final.history_tokens if final else 0,
                "usage": _usage_sum([t.attempt.usage for t in result.tries]),  # as cost_usd
                "usage_estimated": final.input_estimated if final else False,
                "cost_usd": spent,
                "attempts": [
                    {
                        "model": t.attempt.model,
                        "provider": t.attempt.provider,
                        "status": t.attempt.status,
                        "error_kind": t.attempt.error_kind,
                        "latency_ms": t.attempt.latency_ms,
                        "usage": _usage_json(t.attempt.usage),
                        "cost_usd": t.cost,
                    }
                    for t in result.tries
                ],
                "warnings": result.warnings,
            }
        )
        return
    import sys

    if not streamed:
        sys.stdout.write(result.answer)
    if not result.answer.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    if quiet:
        return
    for warning in result.warnings:
        notify(warning)
    usage = final.usage
    cached = usage.cache_read + usage.cache_write + usage.cache_write_1h
    tokens = f"{usage.input + cached:,} in"
    if cached:
        tokens += f" ({usage.cache_read:,} cached)"
    tokens += f" / {usage.output:,} out" + (" (estimated)" if final.input_estimated else "")
    money = render.usd_amount(spent) if spent is not None else "cost unknown"
    seconds = sum(t.attempt.latency_ms or 0 for t in result.tries) / 1000
    tries = len(result.tries)
    notify(
        f"{result.target.name}: {tokens} · {money} · {seconds:.1f} s · "
        f"{tries} attempt{'s' if tries != 1 else ''} · task {task_id} · "
        f"conversation {conversation_id} "
        + ("(-c continues it)" if stored else "(no text kept: -c cannot continue it)")
    )


def show_dry_run(
    choice: Choice, request: dict[str, Any], expected: Decimal | None, *, as_json: bool
) -> None:
    ladder = [{"id": t.name, "provider": t.endpoint.name, "tier": t.tier} for t in choice.ladder]
    payload = {
        "model": ladder[0],
        "escalation": ladder[1:],
        "why": choice.why,
        "estimated_cost_usd": expected,
        "request": request,
    }
    if as_json:
        render.emit_json(payload)
        return
    import json
    import sys

    sys.stdout.write(f"would send to {choice.why}\n")
    if ladder[1:]:
        sys.stdout.write(
            "escalating to " + ", ".join(f"{t['id']} ({t['tier']})" for t in ladder[1:]) + "\n"
        )
    sys.stdout.write(
        f"estimated cost: {render.usd_amount(expected) if expected is not None else 'unknown'}\n"
    )
    sys.stdout.write(f"POST {request['url']}\n")
    for name, value in request["headers"].items():
        sys.stdout.write(f"{name}: {value}\n")
    sys.stdout.write(json.dumps(request["body"], indent=2, ensure_ascii=False) + "\n")


def show_keys(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"keys": rows})
        return
    cells = [[r["endpoint"], r["key_source"] or "-", r["base_url"]] for r in rows]
    render.emit_table(
        [Column("endpoint"), Column("key from"), Column("address")], cells, title="API keys"
    )


def _burn_json(burned: Sequence[Burn]) -> list[dict[str, Any]]:
    return [
        {
            "scope": b.budget.scope,
            "value": b.budget.value,
            "period": b.period,
            "limit_usd": b.limit,
            "cost_usd": b.spent,
            "unpriced_attempts": b.unpriced,
            "share": float(b.spent / b.limit),
            "action": b.budget.action,
        }
        for b in burned
    ]


def _burn_spent(burn: Burn) -> str:
    """Spend with '+?' where calls could not be priced: a floor, not the whole."""
    return render.usd_amount(burn.spent) + ("+?" if burn.unpriced else "")


def _burn_share(burn: Burn) -> str:
    return f"{burn.spent / burn.limit:.0%}" + ("+?" if burn.unpriced else "")


def show_budgets(burned: list[Burn], *, as_json: bool) -> None:
    from tokenroute.dispatch.budgets import unpriced_warning

    for burn in burned:
        if burn.maybe_over:
            render.warn(unpriced_warning(burn))
    if as_json:
        render.emit_json({"budgets": _burn_json(burned)})
        return
    if not burned:
        render.say("no budgets: set one with 'tokenroute budget set --daily 5'")
        return
    cells = [
        [
            b.budget.label,
            b.period,
            _burn_spent(b),
            render.usd_amount(b.limit),
            _burn_share(b),
            b.budget.action,
        ]
        for b in burned
    ]
    columns = [
        Column("budget"),
        Column("period"),
        Column("spent", numeric=True),
        Column("limit", numeric=True),
        Column("burn", numeric=True),
        Column("over it"),
    ]
    render.emit_table(columns, cells, title="Budgets (UTC days and months)")


def show_doctor(checks: list[Check], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"checks": [c._asdict() for c in checks]})
        return
    cells = [[c.status, c.area, c.name, c.detail] for c in checks]
    columns = [Column("status"), Column("area"), Column("what"), Column("detail")]
    render.emit_table(columns, cells, title="tokenroute doctor")


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


def show_reprice(result: RepriceResult, *, as_json: bool) -> None:
    if as_json:
        body = result._asdict()
        body["added_cost_usd"] = body.pop("added")
        render.emit_json({"reprice": body})
        return
    verb = "would price" if result.dry_run else "priced"
    line = f"{verb} {result.priced:,} of {result.examined:,} attempt(s) stored with cost unknown"
    if result.priced:
        line += f", adding {render.usd_amount(result.added)} to the spend"
        line += " (" + ", ".join(f"{m} {n:,}" for m, n in sorted(result.by_model.items())) + ")"
    render.emit_lines([line])
    if result.unreadable:
        render.warn(f"{result.unreadable:,} attempt(s) left unknown: their time cannot be read")
    if result.still_unknown:
        names = ", ".join(f"{m} ({n:,})" for m, n in sorted(result.still_unknown.items()))
        render.warn(
            f"still unknown, not in the price table: {names}; add their prices "
            "('tokenroute prices import FILE' or a YAML table in your price folder) and run "
            "this again"
        )
