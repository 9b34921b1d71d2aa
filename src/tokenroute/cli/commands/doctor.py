"""`tokenroute doctor`: does run have what it needs? Keys, config, prices, ledger, endpoints."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt
from tokenroute.errors import ExitCode


def doctor(
    network: Annotated[
        bool, typer.Option("--network", help="Also ask each endpoint with a key if it answers.")
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Also ask the local servers (Ollama, llama.cpp, ...).")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that run has what it needs: keys, config, prices, ledger, endpoints.

    Exit code 0 when nothing failed (warnings allowed), 9 when a check failed.
    """
    from tokenroute.cli.context import ledger_path, load_table, today
    from tokenroute.cli.views import doctor as view
    from tokenroute.dispatch.doctor import run_checks
    from tokenroute.settings import resolve_paths

    found = run_checks(
        resolve_paths(), ledger_path(ledger, broken_config_ok=True), os.environ,
        load_table=load_table, today=today, network=network, local=local,
    )  # fmt: skip
    view.show_doctor(found, as_json=as_json)
    if any(c.status == "fail" for c in found):
        raise typer.Exit(ExitCode.CHECK_FAILED)
