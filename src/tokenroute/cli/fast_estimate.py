"""`tokenroute estimate` without typer: its body, run by both the fast path (entry.py) and
the typer command (commands/prices.py), so both give the same output and errors.

An estimate is a quick question asked often (in an editor, a pipeline), and typer's import
alone is a third of its time.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from tokenroute.cli.context import check_tier, load_table, parse_day
from tokenroute.errors import BadInputError, NotFoundError, UsageError


class EstimateOptions(NamedTuple):
    """estimate's options, with the defaults of its command line."""

    file: str | None = None
    output_tokens: int = 500
    models: str | None = None
    tier: str | None = None
    at: str | None = None
    as_json: bool = False


def estimate(options: EstimateOptions) -> None:
    from tokenroute.cli.render import describe_filters
    from tokenroute.cli.views import prices as view
    from tokenroute.inputs import read_text
    from tokenroute.prices.estimate import estimate_costs
    from tokenroute.prices.tokens import count_tokens

    check_tier(options.tier)
    day = parse_day(options.at)
    table = load_table()
    wanted = [name.strip() for name in (options.models or "").split(",") if name.strip()]
    if options.models is not None and not wanted:
        raise UsageError("--models lists no model: give names separated by commas")
    chosen = [table.offered(name, day)[0] for name in wanted]
    text = read_text(options.file, sys.stdin)
    if not text.strip():
        raise BadInputError("the prompt is empty: nothing to estimate")
    counted = count_tokens(text)
    output = options.output_tokens
    rows = estimate_costs(table, day, counted, output, models=chosen, tier=options.tier)
    if not rows:
        where = describe_filters(None, options.tier, wanted)
        raise NotFoundError(f"no model {where}had a price on {day}")
    view.show_estimate(rows, counted, output, day, table.revision, as_json=options.as_json)
