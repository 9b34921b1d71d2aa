"""The `tokenroute` command's entry point: pick's fast path when it can take the
arguments (fast_pick.py), else the whole typer app."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the `tokenroute` command."""
    from tokenroute.cli.fast_pick import plain_pick

    options = plain_pick(sys.argv[1:])
    if options is None:
        from tokenroute.cli.app import main as full_command_line

        full_command_line()
        return
    from tokenroute.cli.boundary import guarded
    from tokenroute.cli.fast_pick import pick

    guarded(lambda: pick(options), debug=False)
    sys.exit(0)
