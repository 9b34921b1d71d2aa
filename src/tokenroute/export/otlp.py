"""The ledger's attempts as OTLP messages, named by the OpenTelemetry GenAI semantic
conventions: a span per attempt (a trace per task) and the `gen_ai.client.token.usage`
histogram, with tokenroute's cost, task and outcome as `tokenroute.*` attributes.

Built with the `opentelemetry-proto` messages rather than the SDK: the SDK's exporters are
made for live instrumentation (a tracer provider, batch processors, its own clock and ids),
while this replays stored calls with their own times, and must give each the same ids every
time it is sent, so a batch sent twice is the same spans twice, which a collector can tell
from new ones.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from tokenroute import __version__

# gen_ai.client.token.usage's advised bucket boundaries (powers of 4)
TOKEN_BOUNDS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                16777216, 67108864)  # fmt: skip
# our provider names -> gen_ai.provider.name's well-known values
PROVIDER_NAMES = {
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "xai": "x_ai",
    "mistral": "mistral_ai",
}
SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2
TEMPORALITY_DELTA = 1


def nanos(stamp: str | None) -> int:
    if not stamp:
        return 0
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _id(kind: str, value: str, size: int) -> bytes:
    return hashlib.sha256(f"tokenroute:{kind}:{value}".encode()).digest()[:size]


def input_tokens(row: dict[str, Any]) -> int:
    """gen_ai.usage.input_tokens: every input bucket (the conventions count cached ones in)."""
    return (
        row["input_tokens"]
        + row["cache_read_tokens"]
        + row["cache_write_tokens"]
        + row["cache_write_1h_tokens"]
    )


def provider_name(row: dict[str, Any]) -> str | None:
    provider = row["provider"] or ""
    return PROVIDER_NAMES.get(provider, provider) or None


def span_attributes(row: dict[str, Any]) -> dict[str, Any]:
    cost = row["cost_micros"]
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider_name(row),
        "gen_ai.request.model": row["model_requested"] or row["model"],
        "gen_ai.response.model": row["model_answered"] or row["model"],
        "gen_ai.usage.input_tokens": input_tokens(row),
        "gen_ai.usage.output_tokens": row["output_tokens"],
        "gen_ai.usage.cache_read.input_tokens": row["cache_read_tokens"],
        "gen_ai.usage.cache_creation.input_tokens": (
            row["cache_write_tokens"] + row["cache_write_1h_tokens"]
        ),
        "gen_ai.usage.reasoning.output_tokens": row["reasoning_tokens"],
        "error.type": row["error_kind"] or (None if row["status"] == "ok" else row["status"]),
        "tokenroute.model": row["model"],
        "tokenroute.cost.usd": None if cost is None else cost / 1_000_000,
        "tokenroute.price_revision": row["price_revision"],
        "tokenroute.task.id": row["task_id"],
        "tokenroute.task.type": row["task_type"],
        "tokenroute.task.outcome": row["outcome"],
        "tokenroute.attempt": row["attempt"],
        "tokenroute.attempt.status": row["status"],
        "tokenroute.tier": row["tier"],
        "tokenroute.source": row["source"],
        "tokenroute.project": row["project"],
        "user.name": row["user_name"],
        "host.name": row["host_name"],
        "tokenroute.usage.uncached.input_tokens": row["input_tokens"],
        "tokenroute.usage.cache_creation_1h.input_tokens": row["cache_write_1h_tokens"],
    }
    return {k: v for k, v in attributes.items() if v is not None}


def _value(value: Any) -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(values: dict[str, Any]) -> list[Any]:
    return [_key_value(k, v) for k, v in values.items() if v is not None]


@lru_cache(maxsize=65536)
def _key_value(key: str, value: Any) -> Any:
    """One attribute; most repeat from span to span (a model, a provider, a status), and
    building them was most of an export's time, so each is built once."""
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    return KeyValue(key=key, value=_value(value))


def _resource() -> Any:
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    service = {"service.name": "tokenroute", "service.version": __version__}
    return Resource(attributes=_attributes(service))


def _scope() -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope

    return InstrumentationScope(name="tokenroute", version=__version__)


def span_id(row: dict[str, Any]) -> bytes:
    """The call's own key where it has one (an imported call re-read with more output keeps
    its span id), else its row."""
    if row.get("source_key"):
        return _id("call", f"{row['source']}:{row['source_key']}", 8)
    return _id("attempt", f"{row['id']}:{row['started_at']}:{row['task_id']}", 8)


def traces(rows: Sequence[dict[str, Any]]) -> Any:
    """ExportTraceServiceRequest: one CLIENT span per attempt, in its task's trace."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

    spans = []
    for row in rows:
        start = nanos(row["started_at"])
        end = nanos(row["ended_at"]) or start + (row["latency_ms"] or 0) * 1_000_000
        failed = row["status"] != "ok"
        status = Status(code=STATUS_ERROR, message=row["error_kind"] or row["status"])
        spans.append(
            Span(
                trace_id=_id("task", row["task_id"], 16),
                span_id=span_id(row),
                name=f"chat {row['model_requested'] or row['model']}",
                kind=SPAN_KIND_CLIENT,
                start_time_unix_nano=start,
                end_time_unix_nano=max(end, start),
                attributes=_attributes(span_attributes(row)),
                status=status if failed else Status(),
            )
        )
    scope = ScopeSpans(scope=_scope(), spans=spans)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=_resource(), scope_spans=[scope])]
    )


class MetricTotals:
    """Token counts and cost of many attempts, per series, for one metrics request."""

    def __init__(self) -> None:
        self.tokens: dict[tuple, list[int]] = {}
        self.cost_micros: dict[tuple, int] = {}
        self.attempts = 0
        self.first_ns = 0  # the earliest call's time

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self.attempts += 1
            at = nanos(row["started_at"])
            self.first_ns = min(self.first_ns, at) if self.first_ns else at
            common = (
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.provider.name", provider_name(row)),
                ("gen_ai.request.model", row["model_requested"] or row["model"]),
                ("user.name", row["user_name"]),
                ("host.name", row["host_name"]),
            )
            for kind, tokens in (("input", input_tokens(row)), ("output", row["output_tokens"])):
                self.tokens.setdefault((*common, ("gen_ai.token.type", kind)), []).append(tokens)
            if row["cost_micros"] is not None:
                key = (("tokenroute.model", row["model"]), *common[3:])
                self.cost_micros[key] = self.cost_micros.get(key, 0) + row["cost_micros"]


def metrics(totals: MetricTotals, start: int, end: int) -> Any:
    """ExportMetricsServiceRequest: gen_ai.client.token.usage (a delta histogram per token
    type, provider, model, user and host) and tokenroute.cost (a delta sum in USD per model,
    user and host), over the interval [start, end] in nanoseconds."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    histogram = m.Histogram(
        aggregation_temporality=TEMPORALITY_DELTA,
        data_points=[_histogram_point(dict(k), v, start, end) for k, v in totals.tokens.items()],
    )
    cost = m.Sum(
        aggregation_temporality=TEMPORALITY_DELTA, is_monotonic=True,
        data_points=[
            m.NumberDataPoint(attributes=_attributes(dict(key)), start_time_unix_nano=start,
                              time_unix_nano=end, as_double=micros / 1_000_000)
            for key, micros in totals.cost_micros.items()
        ],
    )  # fmt: skip
    found = [
        m.Metric(name="gen_ai.client.token.usage", unit="{token}",
                 description="Number of input and output tokens used.", histogram=histogram),
        m.Metric(name="tokenroute.cost", unit="USD",
                 description="What the calls cost, at the price in force when each was made.",
                 sum=cost),
    ]  # fmt: skip
    scope = m.ScopeMetrics(scope=_scope(), metrics=found)
    return ExportMetricsServiceRequest(
        resource_metrics=[m.ResourceMetrics(resource=_resource(), scope_metrics=[scope])]
    )


def _histogram_point(attributes: dict[str, Any], values: list[int], start: int, end: int) -> Any:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint

    buckets = [0] * (len(TOKEN_BOUNDS) + 1)
    for value in values:
        buckets[bisect_left(TOKEN_BOUNDS, value)] += 1  # bucket i holds (bound i-1, bound i]
    return HistogramDataPoint(
        attributes=_attributes(attributes), start_time_unix_nano=start, time_unix_nano=end,
        count=len(values), sum=float(sum(values)), bucket_counts=buckets,
        explicit_bounds=[float(b) for b in TOKEN_BOUNDS], min=float(min(values)),
        max=float(max(values)),
    )  # fmt: skip


def as_json(message: Any) -> dict[str, Any]:
    """The message in OTLP/JSON's mapping (what --dry-run prints): trace and span ids in
    hex, enums as integers, and doubles as Decimals so they print as plain digits."""
    import base64
    from decimal import Decimal

    from google.protobuf.json_format import MessageToDict

    def fix(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: fix(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v, key) for v in value]
        if key in ("traceId", "spanId") and isinstance(value, str):
            return base64.b64decode(value).hex()
        if isinstance(value, float):
            return Decimal(repr(value))
        return value

    return fix(MessageToDict(message, use_integers_for_enums=True))
