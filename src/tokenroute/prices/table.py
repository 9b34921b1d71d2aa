"""Load and validate the versioned price tables, and find the price in force on a given day.

Two layers: the tables shipped with tokenroute (`pricing/` in the repo, `tokenroute/pricing`
in the wheel) and the user's own folder. A user table overrides a shipped model from the
day its first price takes effect; the shipped history before that day still applies, so
old calls keep their old price.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import PricingTableError, UnknownModelError
from tokenroute.models import (
    TASK_TYPES,
    TIERS,
    Cost,
    LongContext,
    Model,
    PricePeriod,
    Rates,
    Usage,
)
from tokenroute.prices.cost import cost as cost_of

STALE_AFTER_DAYS = 90
TABLE_SUFFIXES = (".yaml", ".yml")

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


class _Document(NamedTuple):
    path: Path
    raw: Any
    digest: str


def _load_layer(paths: list[Path], cache: Path | None) -> tuple[list[Model], list[TableFile]]:
    problems: list[str] = []
    models, files = _build_layer(read_documents(paths, problems, cache), problems)
    if problems:
        raise PricingTableError(problems)
    return models, files


def _build_layer(
    documents: list[_Document], problems: list[str]
) -> tuple[list[Model], list[TableFile]]:
    models: list[Model] = []
    files: list[TableFile] = []
    for document in documents:
        file_models, checked = _parse_file(document.raw, document.path, problems)
        models.extend(file_models)
        if checked is not None:
            files.append(TableFile(document.path, checked, document.digest))
    models = _merge_histories(models, problems)
    _check_unique_names(models, problems)
    return models, files


def read_documents(paths: list[Path], problems: list[str], cache: Path | None) -> list[_Document]:
    """Each readable file's parsed content, from the cache when its bytes are unchanged."""
    blobs: list[tuple[Path, bytes]] = []
    for path in paths:
        try:
            blobs.append((path, path.read_bytes()))
        except OSError as exc:
            problems.append(f"{path}: cannot read: {_os_reason(exc)}")
    digests = [hashlib.sha256(blob).hexdigest() for _, blob in blobs]
    key = hashlib.sha256("".join(digests).encode()).hexdigest()[:24]
    cached = _cache_get(cache, key, len(blobs))
    if cached is not None:
        return [_Document(p, raw, d) for (p, _), raw, d in zip(blobs, cached, digests, strict=True)]
    documents = []
    for (path, blob), digest in zip(blobs, digests, strict=True):
        raw = parse_yaml(path, blob, problems)
        if raw is not UNREADABLE:
            documents.append(_Document(path, raw, digest))
    if len(documents) == len(blobs) and not problems:
        _cache_put(cache, key, [d.raw for d in documents])
    return documents


def _cache_get(cache: Path | None, key: str, expected: int) -> list[Any] | None:
    if cache is None:
        return None
    try:
        raw = json.loads((cache / f"tables-{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, list) and len(raw) == expected else None


def _cache_put(cache: Path | None, key: str, documents: list[Any]) -> None:
    """Best effort: a cache that cannot be written only costs the next start-up time."""
    if cache is None:
        return
    target = cache / f"tables-{key}.json"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(documents, default=_json_value), encoding="utf-8")
        temp.replace(target)
    except (OSError, TypeError, ValueError):
        return  # unwritable, or content JSON cannot hold (e.g. !!binary): just do not cache


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot cache {type(value).__name__}")


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


UNREADABLE = object()


def parse_yaml(path: Path, blob: bytes, problems: list[str]) -> Any:
    """A user's YAML file as plain data (see _plain), or UNREADABLE with the problem said.
    Dates stay text, for the checks that name their field."""
    import yaml

    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path}: cannot read: not UTF-8 text")
        return UNREADABLE
    try:
        return _plain(yaml.load(text, Loader=_table_loader(yaml)), [MAX_YAML_VALUES], 0)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(f"{path}{where}: not valid YAML: {reason}")
    except RecursionError:
        problems.append(f"{path}: not valid YAML: nested too deeply")
    except (ValueError, TypeError, OverflowError) as exc:  # an explicit tag: `!!int x`
        problems.append(f"{path}: not valid YAML: {str(exc)[:100]}")
    except _TooBig as exc:
        problems.append(f"{path}: {exc}")
    return UNREADABLE


MAX_YAML_VALUES = 200_000  # a price table has a few thousand; an alias bomb, billions
MAX_YAML_DEPTH = 32  # a price table nests five deep


class _TooBig(Exception):
    pass


def _plain(value: Any, budget: list[int], depth: int) -> Any:
    """The parsed YAML as plain data: aliases copied out within a budget (a 2 KB 'billion
    laughs' file expands to billions of values), keys as text (`1:` and `a:` side by side
    cannot be sorted otherwise), no deeper than MAX_YAML_DEPTH."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(f"expands to more than {MAX_YAML_VALUES:,} values (aliases?)")
    if depth > MAX_YAML_DEPTH:
        raise _TooBig(f"nested more than {MAX_YAML_DEPTH} levels deep")
    if isinstance(value, dict):
        return {str(k): _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget, depth + 1) for v in value]
    return value


@functools.cache
def _table_loader(yaml: Any) -> Any:
    """The C safe loader, but dates stay text: `_as_date` checks them and names the field
    (PyYAML's own date constructor raises on 2026-02-30 before we can say where it is).
    Built once: yaml is imported only when a table must really be parsed."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class TableLoader(base):  # type: ignore[misc, valid-type]
        pass

    TableLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return TableLoader


def _os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _parse_file(raw: Any, path: Path, problems: list[str]) -> tuple[list[Model], date | None]:
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


def _merge_histories(models: list[Model], problems: list[str]) -> list[Model]:
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


def _check_unique_names(models: list[Model], problems: list[str]) -> None:
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
