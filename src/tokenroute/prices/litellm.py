"""Convert LiteLLM's `model_prices_and_context_window.json` into a dated price table.

LiteLLM's file is the price list most tools share, but it has no dates: we date the whole
import (`--from`, default today), so calls made before it keep the shipped prices. Entries
that name a model the shipped table knows override that model; the rest are added with a
tier guessed from their output price. Nothing is fetched: the user brings the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tokenroute.errors import BadInputError, PricingTableError
from tokenroute.models import Model, PricePeriod, Rates
from tokenroute.prices.table import PriceTable, check_files

CHAT_MODES = {"chat", "completion", "responses"}
PROVIDER_NAMES = {"gemini": "google", "text-completion-openai": "openai"}
FIRST_PARTY = {"openai", "anthropic", "google", "xai", "deepseek", "mistral", "ollama"}
LOCAL_PROVIDERS = {"ollama", "ollama_chat", "llamafile", "lm_studio", "hosted_vllm"}
_LONG_INPUT_KEY = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")
_PER_MILLION = Decimal(1_000_000)


@dataclass
class ImportResult:
    path: Path
    effective: date
    models: int = 0
    overrides: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def import_file(
    source: Path, base: PriceTable, effective: date, prices_dir: Path, today: date | None = None
) -> ImportResult:
    """Write `prices_dir/litellm-<date>.yaml` from a LiteLLM price file and say what it holds."""
    raw = _read_json(source)
    result = ImportResult(prices_dir / f"litellm-{effective.isoformat()}.yaml", effective)
    entries = _convert(raw, base, effective, result)
    if not entries:
        raise BadInputError(f"{source}: no chat model with token prices found in this file")
    document = {
        "checked": today or effective,  # the day the prices were taken, not when they apply
        "source": f"LiteLLM model_prices_and_context_window.json ({source.name})",
        "notes": (
            "Imported by 'tokenroute prices import'. Overrides keep the shipped values LiteLLM "
            "does not give; tiers of new models are guessed from their price."
        ),
        "models": entries,
    }
    _write_checked(document, result.path, base)
    return result


def _read_json(source: Path) -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except (ValueError, RecursionError):  # a 5,000-digit number; nesting too deep
        raise BadInputError(
            f"{source}: not valid JSON: a number too long or nesting too deep"
        ) from None
    if not isinstance(raw, dict):
        raise BadInputError(f"{source}: expected LiteLLM's object of model name -> prices")
    return raw


def _convert(
    raw: dict[str, Any], base: PriceTable, effective: date, result: ImportResult
) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for key, entry in raw.items():
        if key == "sample_spec":
            continue
        reason = _skip_reason(entry)
        if reason:
            result.skipped[reason] += 1
            continue
        provider = _provider(entry)
        model_id = _model_id(key, provider)
        shipped = base.find(model_id)
        if shipped is not None and shipped.provider == provider:
            existing = by_id.get(shipped.id)
            if existing is not None:  # another name of a model already imported
                if model_id != shipped.id and model_id not in existing["aliases"]:
                    existing["aliases"].append(model_id)
                continue
            item = _override_entry(shipped, model_id, entry, effective)
            if item is None:
                result.skipped["withdrawn in the shipped table"] += 1
                continue
            by_id[shipped.id] = item
            result.overrides += 1
            continue
        if shipped is not None:  # the name means another provider's model: qualify it
            model_id = f"{provider}/{model_id}"
        if model_id in by_id or base.find(model_id) is not None:
            result.skipped["duplicate name"] += 1
            continue
        tier, good_for = _guess_tier(provider, _rates(entry)), []
        if shipped is not None:  # the same model resold: it keeps its tier
            tier, good_for = shipped.tier, list(shipped.good_for)
        period = _period(entry, effective)
        by_id[model_id] = _entry(model_id, provider, tier, good_for, entry, [period])
    for item in by_id.values():
        for optional in ("aliases", "good_for"):
            if not item.get(optional):
                item.pop(optional, None)
    result.models = len(by_id)
    return list(by_id.values())


def _override_entry(
    shipped: Model, name: str, entry: dict[str, Any], effective: date
) -> dict[str, Any] | None:
    """A shipped model's new price: LiteLLM's rates over the shipped period they replace.

    What LiteLLM does not give (a batch discount, long-context cache rates, a withdrawal
    date) is kept from the shipped table, and the new price never starts before the model
    existed. None when the shipped table says the model was withdrawn by then.
    """
    start = max(effective, shipped.periods[0].start)
    current = shipped.offered_on(start)
    if current is None:
        return None
    period = _period(entry, start, inherit=current)
    if current.end is not None and shipped.periods[-1] is current:
        period["until"] = current.end
    aliases = [] if name == shipped.id else [name]
    item = _entry(
        shipped.id,
        shipped.provider,
        shipped.tier,
        list(shipped.good_for),
        entry,
        [period],
        aliases=aliases,
    )
    if shipped.retired is not None:
        item["retired"] = shipped.retired
        if shipped.retired_source:
            item["retired_source"] = shipped.retired_source
    return item


def _skip_reason(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "malformed"
    mode = entry.get("mode", "chat")
    if not isinstance(mode, str) or mode not in CHAT_MODES:  # a list is unhashable in a set
        return "not a chat model"
    if "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
        return "no token prices"
    rates = _rates(entry)
    if rates.get("input") is None or rates.get("output") is None:
        return "invalid price"
    return None


def _provider(entry: dict[str, Any]) -> str:
    name = str(entry.get("litellm_provider") or "unknown").lower()
    return PROVIDER_NAMES.get(name, name)


def _model_id(key: str, provider: str) -> str:
    """`gemini/gemini-2.5-flash` -> `gemini-2.5-flash`; other hosts' names keep a prefix."""
    prefix, sep, rest = key.partition("/")
    if provider in FIRST_PARTY:
        if sep and "/" not in rest and PROVIDER_NAMES.get(prefix, prefix) == provider:
            return rest
        return key
    return key if sep else f"{provider}/{key}"


def _per_million(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value)) * _PER_MILLION
    except (InvalidOperation, ArithmeticError):  # "x", or "1e999999" (decimal.Overflow)
        return None
    if not amount.is_finite() or not 0 <= amount <= _MOST:
        return None  # negative, or too large to be a price (and to round to micro-dollars)
    return amount.quantize(Decimal("0.000001")).normalize()


_MOST = Decimal(1_000_000)  # USD per 1M tokens: far above any real price


def _rates(entry: dict[str, Any], suffix: str = "") -> dict[str, Decimal | None]:
    return {
        "input": _per_million(entry.get(f"input_cost_per_token{suffix}")),
        "output": _per_million(entry.get(f"output_cost_per_token{suffix}")),
        "cache_read": _per_million(entry.get(f"cache_read_input_token_cost{suffix}")),
        "cache_write": _per_million(entry.get(f"cache_creation_input_token_cost{suffix}")),
        "cache_write_1h": _per_million(entry.get("cache_creation_input_token_cost_above_1hr"))
        if not suffix
        else None,
    }


def _entry(
    model_id: str,
    provider: str,
    tier: str,
    good_for: list[str],
    entry: dict[str, Any],
    periods: list[dict[str, Any]],
    *,
    aliases: list[str] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": model_id,
        "provider": provider,
        "tier": tier,
        "aliases": aliases or [],
        "good_for": good_for,
    }
    for ours, theirs in (
        ("context_window", "max_input_tokens"),
        ("max_output", "max_output_tokens"),
    ):
        value = entry.get(theirs)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            item[ours] = value
    item["prices"] = periods
    return item


def _period(
    entry: dict[str, Any], start: date, inherit: PricePeriod | None = None
) -> dict[str, Any]:
    """One dated price from LiteLLM's per-token rates, falling back to `inherit`'s values."""
    rates = _rates(entry)
    if inherit is not None:
        for key, value in _rates_dict(inherit.rates).items():
            if rates.get(key) is None:
                rates[key] = value
    period: dict[str, Any] = {"from": start}
    period.update({k: float(v) for k, v in rates.items() if v is not None})
    discount = _batch_discount(entry, rates)
    if discount is None and inherit is not None:
        discount = inherit.batch_discount
    if discount:
        period["batch_discount"] = float(discount)
    long_context = _long_context(entry, rates)
    if long_context is None and inherit is not None and inherit.long_context is not None:
        long_context = {
            "above_input_tokens": inherit.long_context.above_input_tokens,
            **{
                k: float(v)
                for k, v in _rates_dict(inherit.long_context.rates).items()
                if v is not None
            },
        }
    if long_context:
        period["long_context"] = long_context
    return period


def _rates_dict(rates: Rates) -> dict[str, Decimal | None]:
    return {
        key: getattr(rates, key)
        for key in ("input", "output", "cache_read", "cache_write", "cache_write_1h")
    }


def _batch_discount(entry: dict[str, Any], rates: dict[str, Decimal | None]) -> Decimal | None:
    batch_input = _per_million(entry.get("input_cost_per_token_batches"))
    if batch_input is None or not rates.get("input"):
        return None
    discount = (1 - batch_input / rates["input"]).quantize(Decimal("0.01"))
    return discount if 0 < discount < 1 else None


def _long_context(entry: dict[str, Any], base: dict[str, Decimal | None]) -> dict[str, Any] | None:
    """LiteLLM's `*_above_Nk_tokens` rates. A long-context cache rate it does not give keeps
    the base cache rate's share of input, as Anthropic and Google price them."""
    thresholds = sorted(int(m.group(1)) for k in entry if (m := _LONG_INPUT_KEY.match(k)))
    if not thresholds or not base.get("input"):
        return None
    threshold = thresholds[0]
    long = _rates(entry, f"_above_{threshold}k_tokens")
    if long["input"] is None:
        return None
    scale = long["input"] / base["input"]
    long["output"] = long["output"] if long["output"] is not None else base["output"]
    for key in ("cache_read", "cache_write", "cache_write_1h"):
        if long.get(key) is None and base.get(key) is not None:
            long[key] = (base[key] * scale).quantize(Decimal("0.000001")).normalize()
    for key, rate in long.items():
        floor = base.get(key)
        if rate is not None and floor is not None and rate < floor:
            return None  # not a surcharge: leave it out rather than misprice
    body: dict[str, Any] = {"above_input_tokens": threshold * 1000}
    body.update({k: float(v) for k, v in long.items() if v is not None})
    return body


def _guess_tier(provider: str, rates: dict[str, Decimal | None]) -> str:
    """A rough tier from the output price per 1M: >= $20 frontier, >= $4 mid, >= $1 small."""
    output = rates.get("output") or Decimal(0)
    if provider in LOCAL_PROVIDERS and output == 0:
        return "local"
    if output >= 20:
        return "frontier"
    if output >= 4:
        return "mid"
    if output >= 1:
        return "small"
    return "economy"


def _write_checked(document: dict[str, Any], target: Path, base: PriceTable) -> None:
    """Write atomically, and only a table that passes the same checks as every other."""
    import yaml

    class PlainDumper(yaml.SafeDumper):
        """No &anchors or *aliases: every value written out, so the file reads plainly."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".import-", suffix=".yaml")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yaml.dump(
                document, out, Dumper=PlainDumper, sort_keys=False, allow_unicode=True, width=100
            )
        others = [p for p in sorted(target.parent.glob("*.y*ml")) if p != target and p != temp]
        problems, _ = check_files([*others, temp], base)
        if problems:
            raise PricingTableError(problems)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
