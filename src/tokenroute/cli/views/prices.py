"""What `prices`, `prices show|check|import|reprice` and `estimate` print."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.ledger.reprice import RepriceResult
    from tokenroute.models import Model, PricePeriod, TokenCount
    from tokenroute.prices.estimate import EstimateRow
    from tokenroute.prices.litellm import ImportResult
    from tokenroute.prices.table import PriceTable


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
