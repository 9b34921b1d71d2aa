"""`tokenroute run`: send a prompt to the model the task needs (dispatch.session does it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt, TierOpt, parse_usd
from tokenroute.errors import UsageError


def run(
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt (piped stdin comes first, then this).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Use this model (or ENDPOINT/MODEL, e.g. ollama/qwen3)."
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="The system prompt.")] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", metavar="TYPE", help="The kind of task, or auto (default)."),
    ] = None,
    tier: TierOpt = None,
    escalate: Annotated[
        bool, typer.Option("--escalate", help="On failure, move up a tier and try again.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option("--local", help="A running local model first (small tasks), then escalate."),
    ] = False,
    retries: Annotated[
        int | None, typer.Option("--retries", min=0, max=10, help="Tries after the first.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Wait this long for a byte."),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline", min=0.1, metavar="SECONDS", help="Give up a try after this long in all."
        ),
    ] = None,
    expect: Annotated[
        str | None, typer.Option("--expect", metavar="json", help="Check the answer is JSON.")
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option("--schema", metavar="FILE", help="Check the answer against a JSON Schema."),
    ] = None,
    max_cost: Annotated[
        str | None,
        typer.Option("--max-cost", metavar="USD", help="Refuse a run expected to cost more."),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Cap the answer's length.")
    ] = None,
    cache: Annotated[
        bool, typer.Option("--cache", help="Ask Anthropic to cache the system prompt.")
    ] = False,
    no_store: Annotated[
        bool,
        typer.Option("--no-store", help="Keep no prompt or answer text, only hashes (no -c)."),
    ] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the answer only once it is complete.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the request (key redacted); send nothing.")
    ] = False,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag the attempts (repeatable).")
    ] = None,
    continue_last: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the last conversation.")
    ] = False,
    cid: Annotated[
        str | None, typer.Option("--cid", metavar="ID", help="Continue this conversation.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Nothing on stderr.")] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a prompt to the model the task needs; stream the answer; log every attempt.

    Retries 429s (honouring Retry-After), 5xx, timeouts and dropped connections with
    backoff; --escalate moves up a tier when a model keeps failing. stdout holds the
    answer alone. Example: echo "write tests for parse_duration" | tokenroute run --task test
    """
    from tokenroute.cli.context import check_tier, ledger_path, load_table, now
    from tokenroute.cli.views import run as view
    from tokenroute.dispatch import session
    from tokenroute.settings import detect_project, resolve_paths

    check_tier(tier)
    collector = _collector()  # a wrong setting says so before anything is paid for
    if expect not in (None, "json"):
        raise UsageError(f"--expect takes json (got '{expect}')")
    ask = session.RunAsk(
        prompt, model, system, task, tier, escalate, local, retries, timeout, deadline,
        expect == "json", schema, parse_usd(max_cost, "--max-cost"), max_tokens, cache, no_store,
        not (as_json or no_stream or expect or schema), tuple(tags or ()), continue_last, cid,
        dry_run,
    )  # fmt: skip
    where = session.Surroundings(
        resolve_paths(), ledger_path(ledger), os.environ, sys.stdin, now, load_table,
        detect_project(Path.cwd()),
    )  # fmt: skip
    plan = session.plan_run(ask, where)
    if dry_run:
        view.show_dry_run(plan.choice, *session.dry_run(plan, where), as_json=as_json)
        return
    talk = view.announce(plan, quiet=quiet)
    try:
        done = session.execute(plan, where, write=view.answer_writer(), notify=talk)
    except Exception as exc:
        view.show_failed_run(exc, plan, as_json=as_json)
        _export_to(collector, where)
        raise
    view.show_run(done.result, plan, streamed=ask.stream, quiet=quiet, as_json=as_json,
                  stored=done.stored)  # fmt: skip
    _export_to(collector, where)


def _collector() -> tuple[str, dict[str, str]] | None:
    """The collector the config names (checked now), and who this run's calls are made by:
    both are known before a provider is paid, so a wrong setting loses nothing."""
    from tokenroute.dispatch.config import load_config, otlp_settings
    from tokenroute.export.http import check_endpoint
    from tokenroute.settings import resolve_paths
    from tokenroute.storage import identity

    identity.writer()
    found = otlp_settings(load_config(resolve_paths().config))
    if found is not None:
        check_endpoint(found[0], "config: otlp_endpoint", found[1])
    return found


def _export_to(collector: tuple[str, dict[str, str]] | None, where) -> None:
    """Send what this run logged (and whatever was not sent before) to the config's
    collector, after the answer is out. A collector that is down or slow costs a warning
    and at most RUN_EXPORT_TIMEOUT seconds, never the run: the next export sends it."""
    if collector is None:
        return
    from tokenroute.cli import render
    from tokenroute.errors import ExportError
    from tokenroute.export.http import post
    from tokenroute.export.sending import export_otlp
    from tokenroute.timewindow import stamp

    endpoint, headers = collector

    def send(url: str, body: bytes, sent_headers) -> None:
        post(url, body, sent_headers, timeout=RUN_EXPORT_TIMEOUT)

    try:
        export_otlp(where.ledger, endpoint, headers, since=None, dry_run=False,
                    now=stamp(where.clock()), post=send)  # fmt: skip
    except ExportError as exc:
        render.warn(f"not exported yet: {exc.message}")


RUN_EXPORT_TIMEOUT = 5.0
