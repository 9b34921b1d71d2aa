"""`tokenroute completions SHELL`: the bash, zsh or fish completion script."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tokenroute.errors import UsageError


def completions(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print a shell completion script.

    Example: tokenroute completions zsh > ~/.zfunc/_tokenroute
    """
    from tokenroute.cli.completion import SHELLS, generate

    if shell not in SHELLS:
        raise UsageError(f"shell must be one of {', '.join(SHELLS)} (got '{shell}')")
    sys.stdout.write(generate(shell, ctx.find_root().command))  # the whole app: app.py
