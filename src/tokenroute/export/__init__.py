"""Sending the ledger elsewhere: OpenTelemetry (OTLP/HTTP) spans and metrics."""
