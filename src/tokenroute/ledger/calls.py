"""Turn what a user says about a call into a costed ledger attempt: the domain of `record`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from tokenroute.errors import UsageError
from tokenroute.ledger.usage_formats import UsageFormatError, parse_usage
from tokenroute.models import STATUSES, Attempt, Task, Usage, new_task_id
from tokenroute.prices.cost import cost_micros as cost_of_call
from tokenroute.prices.table import PriceTable
from tokenroute.timewindow import parse_moment, stamp

BUCKET_FIELDS = {
    "input_tokens": "input",
    "cache_read": "cache_read",
    "cache_write": "cache_write",
    "cache_write_1h": "cache_write_1h",
    "output_tokens": "output",
    "reasoning_tokens": "reasoning",
}
TEXT_FIELDS = (
    "model",
    "task_id",
    "task_type",
    "status",
    "error_kind",
    "project",
    "provider",
    "source_key",
    "prompt_hash",
    "context_hash",
    "timestamp",
    "model_answered",
)
KNOWN_FIELDS = {
    *BUCKET_FIELDS,
    *TEXT_FIELDS,
    "usage",
    "latency_ms",
    "tags",
    "tag",
    "estimated",
    "batch",
}


MAX_TOKENS = 10**12  # far beyond any context window; keeps sums inside SQLite's integers


class CallError(ValueError):
    """A call description we cannot store; the message says which field and why."""


class Call(NamedTuple):
    """One call as a user or a log described it, before pricing. A NamedTuple: an import
    builds hundreds of thousands of them."""

    model: str
    usage: Usage
    at: datetime
    status: str = "ok"
    task_id: str | None = None
    task_type: str | None = None
    error_kind: str | None = None
    latency_ms: int | None = None
    tags: tuple[str, ...] = ()
    project: str | None = None
    provider: str | None = None
    source_key: str | None = None
    prompt_hash: str | None = None
    context_hash: str | None = None
    model_answered: str | None = None
    estimated: bool = False
    batch: bool = False
    usage_format: str = "fields"


class Priced(NamedTuple):
    attempt: Attempt
    task: Task
    warnings: list[str]


MAX_LINE = 1_000_000  # bytes in one call's line: real ones are a few hundred
MAX_LATENCY_MS = 10**10  # 115 days: anything more is a mistake (and overflows SQLite later)


def call_from_line(raw: bytes, now: datetime, defaults: Mapping[str, Any]) -> Call:
    """A `Call` from one line of JSON (bytes as read). A line with a timestamp but no
    `source_key` is keyed by a hash of its bytes: read again (a re-run after a crash, a
    file imported twice), it is the same call, not a new one. A line with neither is new
    each time it is read."""
    import hashlib
    import json

    if len(raw) > MAX_LINE:
        raise CallError(f"the line is over {MAX_LINE:,} bytes")
    try:
        line = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CallError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CallError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise CallError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise CallError("not valid JSON: nested too deeply") from None
    call = call_from_json(line, now, defaults)
    if call.source_key is None and isinstance(line, dict) and line.get("timestamp"):
        # the flags given with the lines are part of the call (--project A and --project B
        # make two calls of one line)
        given = json.dumps(defaults, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(raw.strip() + b"\0" + given).hexdigest()[:32]
        call = call._replace(source_key="line-" + digest)
    return call


def call_from_json(raw: Any, now: datetime, defaults: Mapping[str, Any]) -> Call:
    """A `Call` from one JSON object (a line of `record`'s stdin); `defaults` fill gaps."""
    if not isinstance(raw, Mapping):
        raise CallError("each line must be a JSON object")
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        raise CallError(
            f"unknown field {shown(unknown[0])} (fields: {', '.join(sorted(KNOWN_FIELDS))})"
        )
    given = {k: v for k, v in raw.items() if v is not None}
    if "usage" in given:  # a line's own usage object beats token counts given as defaults
        defaults = {k: v for k, v in defaults.items() if k not in BUCKET_FIELDS}
    merged = {**defaults, **given}
    for key in TEXT_FIELDS:
        if key in merged:
            _check_text(merged[key], key)
    tags = merged.get("tags", [])
    if isinstance(tags, str) or not isinstance(tags, list):
        raise CallError("tags must be a list of strings")
    if "tag" in merged:
        tags = [*tags, merged["tag"]]
    if not all(isinstance(t, str) and t for t in tags):
        raise CallError("tags must be a list of strings")
    for tag in tags:
        _check_text(tag, "tags")
    return make_call(
        model=merged.get("model"),
        buckets={k: merged[k] for k in BUCKET_FIELDS if k in merged},
        usage=merged.get("usage"),
        at=merged.get("timestamp"),
        now=now,
        status=merged.get("status", "ok"),
        latency_ms=merged.get("latency_ms"),
        tags=tuple(tags),
        estimated=merged.get("estimated", False),
        batch=merged.get("batch", False),
        text={k: merged.get(k) for k in TEXT_FIELDS if k not in ("model", "status", "timestamp")},
    )


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message may quote it: repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_text(value: Any, key: str) -> None:
    if not isinstance(value, str):
        raise CallError(f"{key} must be a string (got {shown(value)})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"; SQLite does not)
        raise CallError(f"{key} holds a lone surrogate, which is not text") from None


def make_call(
    *,
    model: Any,
    buckets: Mapping[str, Any],
    usage: Any,
    at: Any,
    now: datetime,
    status: Any,
    latency_ms: Any,
    tags: tuple[str, ...],
    estimated: Any,
    batch: Any,
    text: Mapping[str, Any],
    at_option: str = "timestamp",
) -> Call:
    """Validate one call's fields, whichever way they came in (flags or JSON)."""
    if not isinstance(model, str) or not model.strip():
        raise CallError("model is required (e.g. --model claude-sonnet-4-5)")
    _check_text(model, "model")
    if status not in STATUSES:
        raise CallError(f"status must be one of {', '.join(STATUSES)} (got {shown(status)})")
    if latency_ms is not None and (
        not isinstance(latency_ms, int)
        or isinstance(latency_ms, bool)
        or not 0 <= latency_ms <= MAX_LATENCY_MS
    ):
        raise CallError(
            f"latency_ms must be a whole number from 0 to {MAX_LATENCY_MS:,} "
            f"(got {shown(latency_ms)})"
        )
    for name, value in (("estimated", estimated), ("batch", batch)):
        if not isinstance(value, bool):
            raise CallError(f"{name} must be true or false (got {shown(value)})")
    parsed, usage_format = _usage(buckets, usage)
    moment = now if at is None else _past_moment(at, now, at_option)
    return Call(
        model=model.strip(),
        usage=parsed,
        at=moment,
        status=status,
        latency_ms=latency_ms,
        tags=tags,
        estimated=estimated,
        batch=batch,
        usage_format=usage_format,
        **{k: v for k, v in text.items() if v is not None},
    )


def logged_call(
    *,
    model: Any,
    read_usage: Callable[[], Usage],
    at: Any,
    now: datetime,
    tags: tuple[str, ...] = (),
    **fields: Any,
) -> Call:
    """A call read from an agent's log: only what a log can get wrong is checked (model,
    time, counts), so a million lines import in reasonable time."""
    if not isinstance(model, str) or not model.strip():
        raise CallError("model is missing")
    for name, value in (("model", model), *fields.items(), *(("tags", t) for t in tags)):
        if isinstance(value, str) and not value.isascii():
            _check_text(value, name)  # a lone surrogate from a log would fail the store
    try:
        usage = _believable(read_usage())
    except UsageFormatError as exc:
        raise CallError(str(exc)) from None
    moment = _past_moment(at, now, "timestamp")
    return Call(model=model.strip(), usage=usage, at=moment, tags=tags, **fields)


def _past_moment(value: Any, now: datetime, option: str) -> datetime:
    """A call's time; a day's slack for clocks, but no call from the future."""
    moment = _moment(value, option)
    if moment > now + timedelta(days=1):
        raise CallError(f"{option} is in the future ({value})")
    return moment


def _moment(value: Any, option: str) -> datetime:
    if not isinstance(value, str):
        raise CallError(f"{option} must be an ISO-8601 string (got {shown(value)})")
    try:
        return parse_moment(value, option)
    except UsageError as exc:
        raise CallError(exc.message) from None


def _usage(buckets: Mapping[str, Any], raw: Any) -> tuple[Usage, str]:
    counts: dict[str, int] = {}
    for key, value in buckets.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CallError(f"{key} must be a whole number >= 0 (got {shown(value)})")
        if value > MAX_TOKENS:
            raise CallError(f"{key} must be at most {MAX_TOKENS:,} (got {shown(value)})")
        counts[BUCKET_FIELDS[key]] = value
    if raw is None:
        if not counts:
            raise CallError(
                "give token counts (input_tokens, output_tokens, ...) or a usage object"
            )
        return _checked_usage(counts), "fields"
    try:
        parsed, name = parse_usage(raw)
    except UsageFormatError as exc:
        raise CallError(str(exc)) from None
    merged = {**parsed._asdict(), **counts}  # explicit fields win over the usage object
    return _checked_usage(merged), name


def _checked_usage(counts: Mapping[str, int]) -> Usage:
    try:
        usage = Usage(**counts)
    except ValueError as exc:
        raise CallError(str(exc)) from None
    return _believable(usage)


def _believable(usage: Usage) -> Usage:
    if usage.total_input + usage.output > MAX_TOKENS:
        raise CallError(f"a call of more than {MAX_TOKENS:,} tokens is not believable")
    return usage


def price_call(call: Call, table: PriceTable, *, source: str, project: str | None) -> Priced:
    """Cost the call at the price in force when it was made; an unknown price stays unknown."""
    warnings = []
    model = table.find_billed(call.model, call.model_answered)
    day: date = call.at.astimezone(UTC).date()
    cost_micros = revision = tier = None
    provider = call.provider
    canonical = call.model
    if model is None:
        warnings.append(
            f"unknown model '{call.model}': not in the price table, stored with cost unknown; "
            "add its price ('tokenroute prices import FILE' or a YAML table in your price "
            "folder), then run 'tokenroute prices reprice'"
        )
    else:
        canonical, provider, tier = model.id, provider or model.provider, model.tier
        period = table.period_of(model, day)  # None only for a model without any price
        if period is not None:
            cost_micros = cost_of_call(period, call.usage, batch=call.batch)
            revision = table.revision
    started = stamp(call.at)
    task_id = call.task_id or new_task_id()
    task_project = call.project or project
    # an attempt of an existing task without its own project gets the task's, in the ledger
    project = None if call.task_id and call.project is None else task_project
    if call.task_id:
        task = Task(id=task_id, created_at=started, type=call.task_type, project=task_project)
    else:  # a single call is its own task: its status says how it went
        outcome = "success" if call.status == "ok" else "failure"
        task = Task(
            id=task_id,
            created_at=started,
            type=call.task_type,
            project=task_project,
            outcome=outcome,
            outcome_by="record",
            ended_at=started,
        )
    attempt = Attempt(
        started_at=started,
        task_id=task_id,
        model=canonical,
        usage=call.usage,
        status=call.status,
        source=source,
        cost_micros=cost_micros,
        price_revision=revision,
        model_requested=call.model,
        model_answered=call.model_answered,
        provider=provider,
        tier=tier,
        task_type=call.task_type,
        latency_ms=call.latency_ms,
        error_kind=call.error_kind,
        input_estimated=call.estimated,
        batch=call.batch,
        source_key=call.source_key,
        project=project,
        prompt_hash=call.prompt_hash,
        context_hash=call.context_hash,
        tags=call.tags,
    )
    return Priced(attempt, task, warnings)
