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
        raise
    finally:
        _export_as_configured(where)
    view.show_run(done.result, plan, streamed=ask.stream, quiet=quiet, as_json=as_json,
                  stored=done.stored)  # fmt: skip


def _export_as_configured(where) -> None:
    """With `otlp_endpoint` in the config, send what this run logged (and anything not sent
    before) to the collector. A collector that is down costs a warning, never the run: the
    next run or `export otlp` sends it."""
    from tokenroute.cli import render
    from tokenroute.dispatch.config import load_config, otlp_settings
    from tokenroute.errors import ExportError

    found = otlp_settings(load_config(where.paths.config))
    if found is None:
        return
    from tokenroute.export.sending import export_otlp
    from tokenroute.timewindow import stamp

    endpoint, headers = found
    try:
        export_otlp(where.ledger, endpoint, headers, since=None, dry_run=False,
                    now=stamp(where.clock()))  # fmt: skip
    except ExportError as exc:
        render.warn(f"not exported yet: {exc.message}")
