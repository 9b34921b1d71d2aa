"""`tokenroute export otlp`: the ledger's attempts to an OpenTelemetry collector."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt, command_group
from tokenroute.errors import UsageError

group = command_group("Send the ledger to an OpenTelemetry collector.", no_args_is_help=True)


@group.command("otlp")
def export_otlp(
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="The collector's OTLP/HTTP base URL (default: $OTEL_EXPORTER_OTLP_ENDPOINT).",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            metavar="KEY=VALUE",
            help="A request header, e.g. an API key (repeatable; $OTEL_EXPORTER_OTLP_HEADERS).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Start from this day: older calls are skipped for good."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent as OTLP JSON; send nothing.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send every attempt the collector has not got yet: a span each (a trace per task,
    named by the OpenTelemetry GenAI conventions) and the gen_ai.client.token.usage and
    tokenroute.cost metrics, over OTLP/HTTP (protobuf) to URL/v1/traces and URL/v1/metrics.

    The ledger remembers what each collector took, so the next export sends only what came
    after, and a failed export is simply run again. Exit code 10: the collector could not
    be reached or refused the data.
    """
    from tokenroute.cli.context import ledger_path, now, parse_day
    from tokenroute.cli.views.export import show_export
    from tokenroute.export.http import check_endpoint
    from tokenroute.export.sending import export_otlp as send
    from tokenroute.timewindow import stamp

    configured = _configured()
    url = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not url and configured is not None:
        url = configured[0]
    if not url:
        raise UsageError(
            "give the collector: --endpoint http://127.0.0.1:4318 "
            "(or set OTEL_EXPORTER_OTLP_ENDPOINT, or otlp_endpoint in the config)"
        )
    headers = {**(configured[1] if configured else {}), **_headers(header or [])}
    check_endpoint(url, "--endpoint", headers)

    start = None if since is None else f"{parse_day(since, '--since').isoformat()}T00:00:00.000Z"
    done = send(
        ledger_path(ledger), url, headers, since=start, dry_run=dry_run,
        now=stamp(now()),
    )  # fmt: skip
    show_export(done, dry_run=dry_run, as_json=as_json)


def _configured() -> tuple[str, dict[str, str]] | None:
    """The config's otlp_endpoint and otlp_headers, if it names a collector."""
    from tokenroute.dispatch.config import load_config, otlp_settings
    from tokenroute.settings import resolve_paths

    return otlp_settings(load_config(resolve_paths().config))


def _headers(given: list[str]) -> dict[str, str]:
    """--header KEY=VALUE and OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2); the flags win."""
    from urllib.parse import unquote

    found: dict[str, str] = {}
    from_env = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    pairs = [(p, "OTEL_EXPORTER_OTLP_HEADERS") for p in from_env.split(",") if p.strip()]
    for pair, where in [*pairs, *((g, "--header") for g in given)]:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():  # never echoed: the text may be a secret
            raise UsageError(f"{where}: give each header as KEY=VALUE (one has no '=' or no key)")
        found[key.strip()] = unquote(value.strip())
    return found
