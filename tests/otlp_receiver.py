"""A real OTLP/HTTP receiver on 127.0.0.1 for the export tests: it decodes each protobuf
body with the `opentelemetry-proto` messages, keeps what it accepted, and can be told to
refuse the next requests (a collector restarting, a full queue)."""

from __future__ import annotations

import http.server
import threading
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

SIGNALS = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}


class Receiver:
    def __init__(self) -> None:
        self.traces: list[Any] = []
        self.metrics: list[Any] = []
        self.refuse: list[tuple[str, int]] = []  # (path, HTTP status) for the next requests
        self.refuse_nth: dict[str, tuple[int, int]] = {}  # path -> (which request, status)
        self.asked: dict[str, int] = {}
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.headers.append(dict(self.headers))
                receiver.asked[self.path] = receiver.asked.get(self.path, 0) + 1
                nth = receiver.refuse_nth.get(self.path)
                if nth and nth[0] == receiver.asked[self.path]:
                    status = nth[1]
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if receiver.refuse and receiver.refuse[0][0] == self.path:
                    _, status = receiver.refuse.pop(0)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                kind, answer = SIGNALS.get(self.path, (None, None))
                if kind is None or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404 if kind is None else 415)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                message = kind.FromString(body)
                (receiver.traces if self.path == "/v1/traces" else receiver.metrics).append(message)
                reply = answer().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def metric(self, name: str) -> list[Any]:
        return [
            metric
            for request in self.metrics
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
        ]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes(item: Any) -> dict[str, Any]:
    """A span's or data point's attributes as plain values."""
    found = {}
    for kv in item.attributes:
        kind = kv.value.WhichOneof("value")
        found[kv.key] = getattr(kv.value, kind)
    return found
