"""Load and validate the versioned price tables, and find the price in force on a given day.

Two layers: the tables shipped with tokenroute (`pricing/` in the repo, `tokenroute/pricing`
in the wheel) and the user's own folder. A user table overrides a shipped model from the
day its first price takes effect; the shipped history before that day still applies, so
old calls keep their old price.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from tokenroute.errors import PricingTableError, UnknownModelError
from tokenroute.models import (
    TIERS,
    Cost,
    Model,
    PricePeriod,
    Usage,
)
from tokenroute.prices.cost import cost as cost_of
from tokenroute.prices.table_parsing import check_unique_names, merge_histories, parse_file
from tokenroute.prices.yaml_files import Document, read_documents

STALE_AFTER_DAYS = 90
TABLE_SUFFIXES = (".yaml", ".yml")

# Other tools' names for our providers, as used in `provider/model` names.
PROVIDER_SPELLINGS = {"gemini": "google", "x-ai": "xai", "mistralai": "mistral"}
_SNAPSHOT_SUFFIX = re.compile(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2})$")


class TableFile(NamedTuple):
    """One YAML file of a table: where it is, when its prices were last checked, its digest."""

    path: Path
    checked: date
    digest: str


class PriceTable:
    """All models in force, with their whole price history, indexed by id and alias."""

    def __init__(self, models: Iterable[Model], files: Iterable[TableFile]) -> None:
        self.models: list[Model] = list(models)
        self.files: list[TableFile] = list(files)
        self._index: dict[str, Model] = {}
        for model in self.models:
            for name in (model.id, *model.aliases):
                self._index[name.lower()] = model
        # an import asks the same few questions hundreds of thousands of times
        self._found: dict[str, Model | None] = {}
        self._periods: dict[tuple[str, str, date], PricePeriod | None] = {}

    @property
    def checked(self) -> date:
        """The newest date on which any table in use was checked against its sources."""
        return max(f.checked for f in self.files)

    def oldest_check(self, day: date) -> tuple[date, Model] | None:
        """The least recently checked price on offer on `day`, and its model: what the
        staleness warning names, since one stale price is enough to misprice a call."""
        oldest: tuple[date, Model] | None = None
        for model in self.models:
            period = model.offered_on(day)
            if period is None or period.checked is None:
                continue
            if oldest is None or period.checked < oldest[0]:
                oldest = (period.checked, model)
        return oldest

    def staleness(self, day: date) -> tuple[date, Model | None]:
        """The check the staleness warning and `doctor` judge: the oldest on offer on `day`
        and its model, else the table's newest (a table of nothing on offer)."""
        oldest = self.oldest_check(day)
        return oldest if oldest is not None else (self.checked, None)

    @cached_property
    def revision(self) -> str:
        """Identifies this exact table; the ledger stores it with every cost it computes.
        Computed once: an import prices thousands of calls."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f.digest.encode())
        return f"{self.checked.isoformat()}.{digest.hexdigest()[:8]}"

    def days_since_checked(self, today: date) -> int:
        return (today - self.checked).days

    def find(self, name: str) -> Model | None:
        """The model a name means: its id, an alias, `provider/id`, or a dated snapshot."""
        if name in self._found:
            return self._found[name]
        key = name.strip().lower()
        found = None
        for candidate in (key, _SNAPSHOT_SUFFIX.sub("", key)):
            found = self._index.get(candidate) or self._find_prefixed(candidate)
            if found is not None:
                break
        self._found[name] = found
        return found

    def find_billed(self, name: str, answered: str | None = None) -> Model | None:
        """The model that bills a call: the name it was logged under, or, when that is a
        client's own alias the table does not know, the model that answered."""
        model = self.find(name)
        if model is None and answered:
            model = self.find(answered)
        return model

    def period_of(self, model: Model, day: date) -> PricePeriod | None:
        """`model`'s price on `day`, if it had one."""
        key = (model.provider, model.id, day)
        if key not in self._periods:
            self._periods[key] = model.period_at(day)
        return self._periods[key]

    def _find_prefixed(self, key: str) -> Model | None:
        prefix, sep, rest = key.partition("/")
        if not sep:
            return None
        if prefix == "models":  # Gemini's REST names: models/gemini-2.5-flash
            return self._index.get(rest)
        model = self._index.get(rest)
        provider = PROVIDER_SPELLINGS.get(prefix, prefix)
        return model if model is not None and model.provider == provider else None

    def resolve(self, name: str) -> Model:
        model = self.find(name)
        if model is None:
            raise UnknownModelError(_unknown_model_message(name, self._index))
        return model

    def period_at(self, name: str, day: date) -> tuple[Model, PricePeriod]:
        model = self.resolve(name)
        period = model.period_at(day)
        if period is None:
            raise UnknownModelError(f"{model.id} has no price (see 'tokenroute prices show')")
        return model, period

    def offered(self, name: str, day: date) -> tuple[Model, PricePeriod]:
        """The price `name` was on offer at on `day`; an error says why it was not."""
        model = self.resolve(name)
        period = model.offered_on(day)
        if period is None:
            raise UnknownModelError(_not_offered_message(model, day))
        return model, period

    def in_force(
        self, day: date, *, provider: str | None = None, tier: str | None = None
    ) -> list[tuple[Model, PricePeriod]]:
        """Models on offer on `day` (released, not retired), optionally of one provider or
        tier: what can be recommended or sent to, as opposed to what bills a past call."""
        pairs = []
        for model in self.models:
            if provider is not None and model.provider != provider.lower():
                continue
            if tier is not None and model.tier != tier:
                continue
            period = model.offered_on(day)
            if period is not None:
                pairs.append((model, period))
        return pairs

    def cost(self, name: str, usage: Usage, day: date, *, batch: bool = False) -> Cost:
        _, period = self.period_at(name, day)
        return cost_of(period, usage, batch=batch)


def shipped_dir() -> Path:
    """The shipped tables: inside the installed package, or `pricing/` of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "pricing"
    if packaged.is_dir():
        return packaged
    return package.parent.parent / "pricing"


def table_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in TABLE_SUFFIXES and p.is_file())


def load_price_table(
    shipped: Path, user: Path | None = None, cache: Path | None = None
) -> PriceTable:
    """The table in use: the shipped layer, overridden model by model by the user's layer.

    With `cache`, parsed YAML is kept there as JSON keyed by the files' content hash:
    parsing YAML is most of the cost of loading the table, and the table rarely changes.
    """
    shipped_files = table_paths(shipped)
    if not shipped_files:
        raise PricingTableError([f"{shipped}: no price tables (*.yaml) found"])
    base_models, base_files = _load_layer(shipped_files, cache)
    table = PriceTable(base_models, base_files)
    user_files = table_paths(user) if user is not None else []
    if not user_files:
        return table
    user_models, user_meta = _load_layer(user_files, cache)
    problems: list[str] = []
    models = _overlay(table, user_models, problems)
    if problems:
        raise PricingTableError(problems)
    return PriceTable(models, base_files + user_meta)


def check_files(paths: list[Path], base: PriceTable | None = None) -> tuple[list[str], int]:
    """Every problem in these files (empty when they are valid) and how many models they hold."""
    problems: list[str] = []
    models, _ = _build_layer(read_documents(paths, problems, cache=None), problems)
    if base is not None and not problems:
        _overlay(base, models, problems)
    return problems, len(models)


def check_in_use(shipped: Path, user: Path | None) -> tuple[list[str], int, list[Path]]:
    """Check the tables in use as they are loaded: the shipped layer, then the user's over it."""
    shipped_files = table_paths(shipped)
    user_files = table_paths(user) if user is not None else []
    problems, count = check_files(shipped_files)
    if not shipped_files:
        problems.append(f"{shipped}: no price tables (*.yaml) found")
    if user_files and not problems:
        more, extra = check_files(user_files, PriceTable(*_load_layer(shipped_files, None)))
        problems, count = problems + more, count + extra
    return problems, count, shipped_files + user_files


def _load_layer(paths: list[Path], cache: Path | None) -> tuple[list[Model], list[TableFile]]:
    problems: list[str] = []
    models, files = _build_layer(read_documents(paths, problems, cache), problems)
    if problems:
        raise PricingTableError(problems)
    return models, files


def _build_layer(
    documents: list[Document], problems: list[str]
) -> tuple[list[Model], list[TableFile]]:
    models: list[Model] = []
    files: list[TableFile] = []
    for document in documents:
        file_models, checked = parse_file(document.raw, document.path, problems)
        models.extend(file_models)
        if checked is not None:
            files.append(TableFile(document.path, checked, document.digest))
    models = merge_histories(models, problems)
    check_unique_names(models, problems)
    return models, files


def _overlay(base: PriceTable, overrides: list[Model], problems: list[str]) -> list[Model]:
    """Override shipped models from each override's first date on; refuse taken names.

    A user model that names a shipped model of the same provider overrides it. A name that
    belongs to another provider's shipped model is a problem: it would hijack that model.
    """
    merged = {m.id: m for m in base.models}
    order = [m.id for m in base.models]
    for user_model in overrides:
        targets: dict[str, Model] = {}
        for name in (user_model.id, *user_model.aliases):
            found = base.find(name)
            if found is None:
                continue
            if found.provider != user_model.provider:
                problems.append(
                    f"{user_model.source}: {user_model.id}: name '{name}' belongs to the shipped "
                    f"{found.id} ({found.provider}); give this {user_model.provider} model "
                    f"another name, e.g. {user_model.provider}/{name}"
                )
            else:
                targets[found.id] = found
        if len(targets) > 1:
            problems.append(
                f"{user_model.source}: {user_model.id}: its names point at several shipped "
                f"models ({', '.join(sorted(targets))}); one entry can override only one"
            )
        if len(targets) != 1:
            if user_model.id not in merged:
                order.append(user_model.id)
            merged[user_model.id] = user_model
            continue
        shipped = next(iter(targets.values()))
        merged[shipped.id] = _override(shipped, user_model)
    return [merged[i] for i in order]


def _override(shipped: Model, user_model: Model) -> Model:
    cutover = user_model.periods[0].start
    kept = []
    for period in shipped.periods:
        if period.start >= cutover:
            continue
        if period.end is None or period.end > cutover:
            period = period._replace(end=cutover)
        kept.append(period)
    aliases = tuple(dict.fromkeys((*shipped.aliases, *user_model.aliases, user_model.id)))
    # a retirement the user's table does not restate still holds if their price predates it
    still_retired = shipped.retired is not None and cutover < shipped.retired
    return user_model._replace(
        retired=user_model.retired or (shipped.retired if still_retired else None),
        retired_source=user_model.retired_source
        or (shipped.retired_source if still_retired else None),
        id=shipped.id,
        aliases=tuple(a for a in aliases if a != shipped.id),
        periods=(*kept, *user_model.periods),
        good_for=user_model.good_for or shipped.good_for,
        context_window=user_model.context_window or shipped.context_window,
        max_output=user_model.max_output or shipped.max_output,
    )


def _unknown_model_message(name: str, index: dict[str, Model]) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), list(index), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown model '{name}': not in the price table (see 'tokenroute prices'){hint}"


def _not_offered_message(model: Model, day: date) -> str:
    first = model.periods[0]
    if day < first.start:
        when = f"its first price takes effect on {first.start}"
    elif model.retired is not None and day >= model.retired:
        when = f"it was retired on {model.retired}"
    else:
        ended = max((p.end for p in model.periods if p.end and p.end <= day), default=None)
        later = [p.start for p in model.periods if p.start > day]
        when = f"it was withdrawn on {ended}"
        if later:
            when += f" and is offered again from {min(later)}"
    return f"no price for {model.id} on {day}: {when} (see 'tokenroute prices show {model.id}')"


_TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}


def prices_in_force(
    table: PriceTable, day: date, *, provider: str | None, tier: str | None
) -> list[tuple[Model, PricePeriod]]:
    """The models in force on `day`, as `prices` lists them: by provider, dearest tier first."""
    rows = table.in_force(day, provider=provider, tier=tier)
    rows.sort(key=lambda r: (r[0].provider, -_TIER_RANK[r[0].tier], r[1].rates.input, r[0].id))
    return rows
