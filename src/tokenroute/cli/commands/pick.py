"""`tokenroute pick`: its options as typer parses them. The body is fast_pick.pick, which
the typer-free fast path calls too, so both ways in behave alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt


def pick(
    description: Annotated[
        str | None, typer.Argument(help="The task, in your words (or pipe it in, or --file).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="PATH", help="Read the description from a file."),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file", metavar="PATH", help="Estimate with this real prompt's tokens."
        ),
    ] = None,
    input_tokens: Annotated[
        int | None,
        typer.Option("--input-tokens", min=0, metavar="N", help="Input tokens to estimate with."),
    ] = None,
    output_tokens: Annotated[
        int | None,
        typer.Option("--output-tokens", min=0, metavar="N", help="Output tokens to estimate with."),
    ] = None,
    deep: Annotated[
        bool | None,
        typer.Option("--deep/--execution", help="Deep reasoning, or execution of a clear spec?"),
    ] = None,
    good_enough: Annotated[
        bool | None,
        typer.Option("--good-enough/--must-be-best", help="Is 80-95% of the way good enough?"),
    ] = None,
    need: Annotated[
        bool | None,
        typer.Option("--need/--convenience", help="Is a premium model needed, or only convenient?"),
    ] = None,
    quality_target: Annotated[
        float | None,
        typer.Option(
            "--quality-target",
            metavar="Q",
            help="Share of tasks the first model must get right (0-1].",
        ),
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local/--no-local", help="Local models first where the task allows it."),
    ] = False,
    no_explore: Annotated[
        bool, typer.Option("--no-explore", help="Never try a cheaper tier to learn.")
    ] = False,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not start a task in the ledger.")
    ] = False,
    explain_policy: Annotated[
        bool,
        typer.Option("--explain-policy", help="Show the policy and what the ledger taught it."),
    ] = False,
    task_type: Annotated[
        str | None,
        typer.Option("--task-type", metavar="TYPE", help="The task type, when you know it."),
    ] = None,
    council: Annotated[
        bool, typer.Option("--council", help="Also ask several models which tier it needs.")
    ] = False,
    council_models: Annotated[
        str | None,
        typer.Option(
            "--council-models",
            metavar="A,B",
            help="The council (default: a cheap model per keyed provider, at most three).",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", help="The most the council waits."),
    ] = 20.0,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which model does this job need? The tier, a model and two alternatives, cost, reasons.

    Without a description on a terminal it asks three screening questions; in a script,
    answer them with --deep/--execution, --good-enough/--must-be-best, --need/--convenience.
    """
    from tokenroute.cli.fast_pick import PickOptions
    from tokenroute.cli.fast_pick import pick as run_pick

    run_pick(
        PickOptions(
            description=description,
            file=file,
            prompt_file=prompt_file,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            deep=deep,
            good_enough=good_enough,
            need=need,
            quality_target=quality_target,
            local=local,
            no_explore=no_explore,
            no_log=no_log,
            explain_policy=explain_policy,
            task_type=task_type,
            council=council,
            council_models=council_models,
            timeout=timeout,
            ledger=ledger,
            as_json=as_json,
        )
    )
