"""The `tokenroute` command's entry point, with fast paths for its most-run commands.

`tokenroute pick "refactor auth" [--json] [--no-log] ...` is what people type many times a
day, `tokenroute estimate prompt.txt` what an editor or a pipeline asks before each call,
and importing typer alone costs about three times Python's own start-up. When their
arguments are only a description or a file, on/off flags and options whose value the
command checks itself, they are read here and the command's body runs without typer;
anything else (help, a number to check, a typo) goes to the full command line, which owns
every message about arguments. This module imports almost nothing, since every command
starts here. `tests/test_entry.py` keeps the options below in step with the typer commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenroute.cli.fast_estimate import EstimateOptions
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

ESTIMATE_FLAGS: dict[str, tuple[str, bool]] = {"--json": ("as_json", True)}
# option -> EstimateOptions field: text the body checks itself, or a count (digits only:
# anything else is click's to refuse)
ESTIMATE_VALUES: dict[str, str] = {
    "--models": "models",
    "--tier": "tier",
    "--at": "at",
    "--output-tokens": "output_tokens",
}


def _plain_fields(
    words: list[str],
    flags: dict[str, tuple[str, bool]],
    values: dict[str, str],
    positional: str,
    dash_ok: bool = False,
) -> dict[str, object] | None:
    """The fields these words set, or None when any of them needs the full command line."""
    fields: dict[str, object] = {}
    words_left = iter(words)
    for word in words_left:
        if word in flags:
            name, value = flags[word]
            if fields.get(name, value) != value:
                return None  # --deep --execution: the full command line says they clash
            fields[name] = value
        elif word in values:
            value = next(words_left, None)
            if value is None or value.startswith("-"):
                return None
            fields[values[word]] = value
        elif (word.startswith("-") and not (dash_ok and word == "-")) or positional in fields:
            return None
        else:
            fields[positional] = word
    return fields


def plain_pick(argv: list[str]) -> PickOptions | None:
    """pick's options when argv is `pick` with arguments the fast path reads; else None."""
    if not argv or argv[0] != "pick":
        return None
    fields = _plain_fields(argv[1:], PICK_FLAGS, PICK_PATHS, "description")
    if fields is None:
        return None
    from tokenroute.cli.fast_pick import PickOptions

    return PickOptions(**fields)  # type: ignore[arg-type]


def plain_estimate(argv: list[str]) -> EstimateOptions | None:
    """estimate's options when argv is `estimate` with arguments the fast path reads."""
    if not argv or argv[0] != "estimate":
        return None
    fields = _plain_fields(argv[1:], ESTIMATE_FLAGS, ESTIMATE_VALUES, "file", dash_ok=True)
    if fields is None:
        return None
    count = fields.get("output_tokens")
    if count is not None:
        if not (isinstance(count, str) and count.isascii() and count.isdigit()):
            return None
        fields["output_tokens"] = int(count)
    from tokenroute.cli.fast_estimate import EstimateOptions

    return EstimateOptions(**fields)  # type: ignore[arg-type]


def _writer():
    from tokenroute.cli.context import writer_identity

    return writer_identity()


def _fast_command(argv: list[str]) -> Callable[[], None] | None:
    """The command's body to run without typer, when its arguments allow it."""
    if (pick_options := plain_pick(argv)) is not None:
        from tokenroute.cli.fast_pick import pick

        return lambda: pick(pick_options)
    if (estimate_options := plain_estimate(argv)) is not None:
        from tokenroute.cli.fast_estimate import estimate

        return lambda: estimate(estimate_options)
    return None


def main() -> None:
    """Entry point of the `tokenroute` command."""
    from tokenroute.storage import identity

    identity.use(_writer)  # looked up only when a call is written
    command = _fast_command(sys.argv[1:])
    if command is None:
        from tokenroute.cli.app import main as full_command_line

        full_command_line()
        return
    from tokenroute.cli.boundary import guarded

    guarded(command, debug=False)
    sys.exit(0)
