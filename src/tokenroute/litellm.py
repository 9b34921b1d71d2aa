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
from tokenroute.pricing import PriceTable, check_files

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


def import_file(source: Path, base: PriceTable, effective: date, prices_dir: Path) -> ImportResult:
    """Write `prices_dir/litellm-<date>.yaml` from a LiteLLM price file and say what it holds."""
    raw = _read_json(source)
    result = ImportResult(prices_dir / f"litellm-{effective.isoformat()}.yaml", effective)
    entries = _convert(raw, base, effective, result)
    if not entries:
        raise BadInputError(f"{source}: no chat model with token prices found in this file")
    document = {
        "checked": effective,
        "source": f"LiteLLM model_prices_and_context_window.json ({source.name})",
        "notes": "Imported by 'tokenroute prices import'; tiers of new models guessed from price.",
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
            aliases = [] if model_id == shipped.id else [model_id]
            by_id[shipped.id] = _entry(
                shipped.id, provider, shipped.tier, aliases, entry, effective
            )
            by_id[shipped.id]["good_for"] = list(shipped.good_for)
            result.overrides += 1
            continue
        if shipped is not None:  # the name means another provider's model: qualify it
            model_id = f"{provider}/{model_id}"
        if model_id in by_id or base.find(model_id) is not None:
            result.skipped["duplicate name"] += 1
            continue
        price = _rates(entry)
        by_id[model_id] = _entry(
            model_id, provider, _guess_tier(provider, price), [], entry, effective
        )
    for item in by_id.values():
        if not item["aliases"]:
            del item["aliases"]
        if not item.get("good_for"):
            item.pop("good_for", None)
    result.models = len(by_id)
    return list(by_id.values())


def _skip_reason(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "malformed"
    if entry.get("mode", "chat") not in CHAT_MODES:
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
    """`gemini/gemini-2.5-flash` -> `gemini-2.5-flash`; a reseller's names keep their prefix."""
    prefix, sep, rest = key.partition("/")
    if sep and "/" not in rest and PROVIDER_NAMES.get(prefix, prefix) == provider:
        return rest
    if not sep and provider not in FIRST_PARTY:
        return f"{provider}/{key}"
    return key


def _per_million(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value)) * _PER_MILLION
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(Decimal("0.000001")).normalize()


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
    aliases: list[str],
    entry: dict[str, Any],
    effective: date,
) -> dict[str, Any]:
    base_rates = _rates(entry)
    period: dict[str, Any] = {"from": effective}
    period.update({k: float(v) for k, v in base_rates.items() if v is not None})
    batch_input = _per_million(entry.get("input_cost_per_token_batches"))
    if batch_input is not None and base_rates["input"]:
        discount = (1 - batch_input / base_rates["input"]).quantize(Decimal("0.01"))
        if 0 < discount < 1:
            period["batch_discount"] = float(discount)
    long_context = _long_context(entry, base_rates)
    if long_context:
        period["long_context"] = long_context
    item: dict[str, Any] = {"id": model_id, "provider": provider, "tier": tier, "aliases": aliases}
    for ours, theirs in (
        ("context_window", "max_input_tokens"),
        ("max_output", "max_output_tokens"),
    ):
        value = entry.get(theirs)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            item[ours] = value
    item["prices"] = [period]
    return item


def _long_context(entry: dict[str, Any], base: dict[str, Decimal | None]) -> dict[str, Any] | None:
    thresholds = sorted(int(m.group(1)) for k in entry if (m := _LONG_INPUT_KEY.match(k)))
    if not thresholds:
        return None
    threshold = thresholds[0]
    long = _rates(entry, f"_above_{threshold}k_tokens")
    if long["input"] is None:
        return None
    long["output"] = long["output"] if long["output"] is not None else base["output"]
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

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".import-", suffix=".yaml")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True, width=100)
        others = [p for p in sorted(target.parent.glob("*.y*ml")) if p != target and p != temp]
        problems, _ = check_files([*others, temp], base)
        if problems:
            raise PricingTableError(problems)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
