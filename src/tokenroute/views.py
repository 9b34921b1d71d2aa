"""What each command shows: turns domain results into tables, lines or JSON via `render`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute import render
from tokenroute.render import Column
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from tokenroute.estimate import EstimateRow
    from tokenroute.litellm import ImportResult
    from tokenroute.models import Model, PricePeriod, TokenCount
    from tokenroute.pricing import PriceTable

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
            render.usd_rate(p.rates.effective_cache_read),
            render.usd_rate(p.rates.effective_cache_write),
            render.tokens_short(m.context_window),
        ]
        for m, p in rows
    ]
    title = f"Prices in force on {day}, USD per 1M tokens (table {table.revision})"
    render.emit_table(columns, cells, title=title)


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
            f"context       {render.count(model.context_window)} tokens",
            f"max output    {render.count(model.max_output)} tokens",
            f"good for      {', '.join(model.good_for) or '-'}",
            f"source        {model.source}",
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
                render.usd_rate(p.rates.effective_cache_read),
                render.usd_rate(p.rates.effective_cache_write),
                render.usd_rate(p.rates.effective_cache_write_1h),
                f"-{p.batch_discount * 100:g}%" if p.batch_discount else "-",
                long,
            ]
        )
    render.emit_table(columns, cells, title="Price history, USD per 1M tokens")


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
            f"{sum(result.skipped.values())} entries skipped"
            + (
                " (" + ", ".join(f"{n} {why}" for why, n in sorted(result.skipped.items())) + ")"
                if result.skipped
                else ""
            ),
        ]
    )


def show_estimate(
    rows: list[EstimateRow], counted: TokenCount, output_tokens: int, day: date, *, as_json: bool
) -> None:
    if as_json:
        render.emit_json(
            {
                "at": day,
                "input_tokens": counted.tokens,
                "output_tokens": output_tokens,
                "token_method": counted.method,
                "estimates": [
                    {
                        "model": r.model.id,
                        "provider": r.model.provider,
                        "tier": r.model.tier,
                        "input_cost_usd": r.cost.input,
                        "output_cost_usd": r.cost.output,
                        "cost_usd": r.cost.total,
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
            "" if r.fits else f"exceeds its {render.tokens_short(r.model.context_window)} context",
        ]
        for r in rows
    ]
    render.emit_table(columns, cells)
