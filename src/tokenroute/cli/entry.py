"""The `tokenroute` command's entry point, with a fast path for its most-run command.

`tokenroute pick "refactor auth" [--json] [--no-log] ...` is what people type many times a
day, and importing typer alone costs about four times Python's own start-up. When pick's
arguments are only a description, on/off flags and `--ledger PATH`, they are read here and
fast_pick.pick runs without typer; anything else (help, a value to check, a typo) goes to
the full command line, which owns every message about arguments. This module imports
almost nothing, since every command starts here. `tests/test_entry.py` keeps the flags
below in step with the typer command.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenroute.cli.fast_pick import PickOptions

# flag -> (PickOptions field, value it sets)
PICK_FLAGS: dict[str, tuple[str, bool]] = {
    "--json": ("as_json", True),
    "--no-log": ("no_log", True),
    "--no-explore": ("no_explore", True),
    "--explain-policy": ("explain_policy", True),
    "--local": ("local", True),
    "--no-local": ("local", False),
    "--deep": ("deep", True),
    "--execution": ("deep", False),
    "--good-enough": ("good_enough", True),
    "--must-be-best": ("good_enough", False),
    "--need": ("need", True),
    "--convenience": ("need", False),
}
# option -> PickOptions field, for options whose value needs no checking
PICK_PATHS: dict[str, str] = {"--ledger": "ledger"}


def plain_pick(argv: list[str]) -> PickOptions | None:
    """pick's options when argv is `pick` with arguments the fast path reads; else None."""
    if not argv or argv[0] != "pick":
        return None
    fields: dict[str, object] = {}
    words = iter(argv[1:])
    for word in words:
        if word in PICK_FLAGS:
            name, value = PICK_FLAGS[word]
            if fields.get(name, value) != value:
                return None  # --deep --execution: the full command line says they clash
            fields[name] = value
        elif word in PICK_PATHS:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
            fields[PICK_PATHS[word]] = value  # a path or a postgresql:// URL
        elif word.startswith("-") or "description" in fields:
            return None
        else:
            fields["description"] = word
    from tokenroute.cli.fast_pick import PickOptions

    return PickOptions(**fields)  # type: ignore[arg-type]


def _writer():
    from tokenroute.cli.context import writer_identity

    return writer_identity()


def main() -> None:
    """Entry point of the `tokenroute` command."""
    from tokenroute.storage import identity

    identity.use(_writer)  # looked up only when a call is written
    options = plain_pick(sys.argv[1:])
    if options is None:
        from tokenroute.cli.app import main as full_command_line

        full_command_line()
        return
    from tokenroute.cli.boundary import guarded
    from tokenroute.cli.fast_pick import pick

    guarded(lambda: pick(options), debug=False)
    sys.exit(0)
