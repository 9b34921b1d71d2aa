"""One price table file, parsed: its models and their dated prices, every problem named by
file, model and field (`tokenroute prices check` shows them all at once)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tokenroute.models import (
    TASK_TYPES,
    TIERS,
    LongContext,
    Model,
    PricePeriod,
    Rates,
)

_FILE_KEYS = {"provider", "checked", "source", "notes", "models"}
_MODEL_KEYS = {
    "id",
    "provider",
    "tier",
    "aliases",
    "context_window",
    "max_output",
    "good_for",
    "prices",
    "notes",
    "retired",
    "retired_source",
}
_RATE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_PERIOD_KEYS = {
    "from",
    "until",
    "batch_discount",
    "long_context",
    "notes",
    "source",
    "checked",
    *_RATE_KEYS,
}
_LONG_KEYS = {"above_input_tokens", *_RATE_KEYS}


def parse_file(raw: Any, path: Path, problems: list[str]) -> tuple[list[Model], date | None]:
    if not isinstance(raw, dict):
        problems.append(f"{path}: a price table must be a mapping with 'checked' and 'models'")
        return [], None
    for key in sorted(set(raw) - _FILE_KEYS):
        problems.append(f"{path}: unknown key '{key}' (expected one of {sorted(_FILE_KEYS)})")
    checked = _as_date(raw.get("checked"))
    if checked is None:
        problems.append(f"{path}: checked: must be the date the prices were checked, YYYY-MM-DD")
    source = raw.get("source")
    if source is not None and not _is_text(source):
        problems.append(f"{path}: source: must be the URL the prices were read from")
        source = None
    provider = raw.get("provider")
    entries = raw.get("models")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{path}: models: must be a non-empty list")
        return [], checked
    models = []
    for position, entry in enumerate(entries):
        model = _parse_model(entry, position, provider, path, problems, (source, checked))
        if model is not None:
            models.append(model)
    return models, checked


def _parse_model(
    entry: Any,
    position: int,
    default_provider: Any,
    path: Path,
    problems: list[str],
    provenance: tuple[str | None, date | None] = (None, None),
) -> Model | None:
    if not isinstance(entry, dict):
        problems.append(f"{path}: models[{position}]: must be a mapping with an 'id'")
        return None
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id.strip():
        problems.append(f"{path}: models[{position}]: id: must be a non-empty string")
        return None
    before = len(problems)

    def problem(field: str, message: str) -> None:
        problems.append(f"{path}: {model_id}: {field}: {message}")

    for key in sorted(set(entry) - _MODEL_KEYS):
        problem(key, f"unknown field (expected one of {sorted(_MODEL_KEYS)})")
    provider = entry.get("provider", default_provider)
    if not isinstance(provider, str) or not provider:
        problem("provider", "must be set on the model or at the top of the file")
    tier = entry.get("tier")
    if tier not in TIERS:
        problem("tier", f"must be one of {', '.join(TIERS)} (got {tier!r})")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        problem("aliases", "must be a list of names")
        aliases = []
    good_for = entry.get("good_for", [])
    if not isinstance(good_for, list) or any(t not in TASK_TYPES for t in good_for):
        problem("good_for", f"must be a list of task types: {', '.join(TASK_TYPES)}")
        good_for = []
    context_window = _optional_count(entry, "context_window", problem)
    max_output = _optional_count(entry, "max_output", problem)
    periods = _parse_periods(entry.get("prices"), problem, provenance)
    retired = None
    if entry.get("retired") is not None:
        retired = _as_date(entry["retired"])
        if retired is None:
            problem("retired", "must be the day the provider stopped serving it, YYYY-MM-DD")
    retired_source = entry.get("retired_source")
    if retired_source is not None and not _is_text(retired_source):
        problem("retired_source", "must be the URL of the provider's deprecation notice")
    if len(problems) > before:
        return None
    return Model(
        id=model_id,
        provider=str(provider).lower(),
        tier=str(tier),
        periods=tuple(periods),
        aliases=tuple(aliases),
        context_window=context_window,
        max_output=max_output,
        good_for=tuple(good_for),
        source=str(path),
        retired=retired,
        retired_source=retired_source,
    )


def _optional_count(entry: dict, field: str, problem: Any) -> int | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        problem(field, f"must be a whole number > 0 (got {value!r})")
        return None
    return value


def _parse_periods(
    raw: Any, problem: Any, provenance: tuple[str | None, date | None]
) -> list[PricePeriod]:
    if not isinstance(raw, list) or not raw:
        problem("prices", "must be a non-empty list of dated prices (from, input, output, ...)")
        return []
    periods: list[PricePeriod] = []
    for i, item in enumerate(raw):
        where = f"prices[{i}]"
        if not isinstance(item, dict):
            problem(where, "must be a mapping with from, input and output")
            continue
        for key in sorted(set(item) - _PERIOD_KEYS):
            problem(f"{where}.{key}", f"unknown field (expected one of {sorted(_PERIOD_KEYS)})")
        start = _as_date(item.get("from"))
        if start is None:
            problem(f"{where}.from", "must be the date this price took effect, YYYY-MM-DD")
            continue
        end = None
        if item.get("until") is not None:
            end = _as_date(item["until"])
            if end is None or end <= start:
                problem(f"{where}.until", "must be a date after 'from', YYYY-MM-DD")
                continue
        rates = _parse_rates(item, where, problem)
        discount = _parse_discount(item.get("batch_discount"), where, problem)
        long_context = _parse_long_context(item.get("long_context"), rates, where, problem)
        source, checked = _period_provenance(item, where, problem, provenance)
        if rates is not None:
            periods.append(PricePeriod(start, end, rates, discount, long_context, source, checked))
    return _close_periods(periods, problem)


def _period_provenance(
    item: dict, where: str, problem: Any, defaults: tuple[str | None, date | None]
) -> tuple[str | None, date | None]:
    """A price's own source and check date; the file's where the price does not say."""
    source, checked = defaults
    if item.get("source") is not None:
        if _is_text(item["source"]):
            source = item["source"]
        else:
            problem(f"{where}.source", "must be the URL the price was read from")
    if item.get("checked") is not None:
        checked = _as_date(item["checked"])
        if checked is None:
            problem(f"{where}.checked", "must be the day the price was checked, YYYY-MM-DD")
    return source, checked


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _close_periods(periods: list[PricePeriod], problem: Any) -> list[PricePeriod]:
    """Order periods; each open period ends where the next begins; overlaps are errors."""
    periods.sort(key=lambda p: p.start)
    closed = []
    for i, period in enumerate(periods):
        following = periods[i + 1] if i + 1 < len(periods) else None
        if following is not None:
            if period.start == following.start:
                problem("prices", f"two prices take effect on {period.start}")
            elif period.end is None:
                period = period._replace(end=following.start)
            elif period.end > following.start:
                problem("prices", f"the price from {period.start} overlaps the next one")
        closed.append(period)
    return closed


def _parse_rates(item: dict, where: str, problem: Any) -> Rates | None:
    values: dict[str, Decimal | None] = {}
    ok = True
    for key in _RATE_KEYS:
        required = key in ("input", "output")
        if item.get(key) is None:
            if required:
                problem(f"{where}.{key}", "is required: USD per 1M tokens")
                ok = False
            values[key] = None
            continue
        amount = _as_money(item[key])
        if amount is None or amount < 0:
            problem(
                f"{where}.{key}", f"must be a number >= 0, USD per 1M tokens (got {item[key]!r})"
            )
            ok = False
        values[key] = amount
    if not ok:
        return None
    return Rates(**values)  # type: ignore[arg-type]


def _parse_discount(raw: Any, where: str, problem: Any) -> Decimal | None:
    if raw is None:
        return None
    amount = _as_money(raw)
    if amount is None or not (0 <= amount < 1):
        problem(
            f"{where}.batch_discount", f"must be a fraction from 0 up to 1, e.g. 0.5 (got {raw!r})"
        )
        return None
    return amount


def _parse_long_context(
    raw: Any, base: Rates | None, where: str, problem: Any
) -> LongContext | None:
    if raw is None:
        return None
    field = f"{where}.long_context"
    if not isinstance(raw, dict):
        problem(field, "must be a mapping with above_input_tokens, input and output")
        return None
    for key in sorted(set(raw) - _LONG_KEYS):
        problem(f"{field}.{key}", f"unknown field (expected one of {sorted(_LONG_KEYS)})")
    threshold = raw.get("above_input_tokens")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
        problem(f"{field}.above_input_tokens", f"must be a whole number > 0 (got {threshold!r})")
        return None
    rates = _parse_rates(raw, field, problem)
    if rates is None or base is None:
        return None
    for key in _RATE_KEYS:
        long_rate, base_rate = getattr(rates, key), getattr(base, key)
        if long_rate is not None and base_rate is not None and long_rate < base_rate:
            problem(f"{field}.{key}", f"is below the normal rate ({long_rate} < {base_rate})")
    return LongContext(threshold, rates)


def merge_histories(models: list[Model], problems: list[str]) -> list[Model]:
    """One model defined in several files (successive imports) is one price history."""
    merged: dict[str, Model] = {}
    for model in models:
        key = model.id.lower()
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = model
            continue
        if earlier.source == model.source or earlier.provider != model.provider:
            problems.append(
                f"{model.source}: {model.id}: defined again (first in {earlier.source})"
            )
            continue

        def problem(field: str, message: str, model: Model = model) -> None:
            problems.append(f"{model.source}: {model.id}: {field}: {message}")

        history = _close_periods([*earlier.periods, *model.periods], problem)
        merged[key] = model._replace(
            aliases=tuple(dict.fromkeys((*earlier.aliases, *model.aliases))),
            periods=tuple(history),
            retired=model.retired or earlier.retired,
            retired_source=model.retired_source or earlier.retired_source,
        )
    return list(merged.values())


def check_unique_names(models: list[Model], problems: list[str]) -> None:
    owner: dict[str, Model] = {}
    for model in models:
        for name in dict.fromkeys(n.lower() for n in (model.id, *model.aliases)):
            other = owner.get(name)
            if other is not None and other is not model:
                problems.append(
                    f"{model.source}: {model.id}: name '{name}' is already used by "
                    f"{other.id} ({other.source})"
                )
            owner[name] = model


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.+Z-]*)?", value):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def _as_money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
