"""`tokenroute compare` from end to end: read the examples, plan and price the calls,
refuse what the user did not agree to spend, run the trial, score it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from tokenroute.compare.judging import Judges
from tokenroute.compare.plan import CONFIRM_ABOVE, Plan
from tokenroute.compare.scores import ModelScore, Verdict
from tokenroute.compare.trial import Trial
from tokenroute.dispatch.session import Surroundings
from tokenroute.errors import BadInputError, OverBudgetError, UsageError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class CompareAsk(NamedTuple):
    """What the user asked `compare` for, each option already checked by the CLI."""

    examples: str  # a path, or '-' for stdin
    models: tuple[str, ...]
    name: str | None = None
    system_file: Path | None = None
    task_type: str | None = None
    repeat: int = 1
    concurrency: int = 4
    max_cost: Decimal | None = None
    yes: bool = False
    expect_json: bool = False
    schema: Path | None = None
    judges: Judges = Judges()
    rubric_file: Path | None = None
    max_tokens: int | None = None
    dry_run: bool = False


class Scored(NamedTuple):
    trial: Trial
    scores: list[ModelScore]
    verdict: Verdict | None


def prepare(ask: CompareAsk, where: Surroundings) -> Plan:
    """The plan of the comparison, priced; nothing is sent."""
    from tokenroute.compare.examples import read_examples
    from tokenroute.compare.judging import check_examples
    from tokenroute.compare.plan import plan_comparison
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import read_keys

    name = ask.name or _default_name(ask.examples)
    if not NAME.fullmatch(name):
        raise UsageError(f"--name must be letters, digits, '.', '_' or '-' (got '{name}')")
    examples = read_examples(ask.examples, where.stdin)
    judges = ask.judges
    if judges.judge_model:
        if ask.rubric_file is None:
            raise UsageError("--judge needs --rubric FILE: what the judge grades against")
        judges = judges._replace(rubric=_text(ask.rubric_file, "--rubric"))
    check_examples(judges, examples)
    if ask.schema is not None:  # a bad schema is said now, --dry-run included
        from tokenroute.dispatch.session import load_schema

        load_schema(ask.schema)
    if ask.rubric_file is not None and not judges.judge_model:
        raise UsageError("--rubric goes with --judge MODEL")
    config = load_config(where.paths.config)
    return plan_comparison(
        ask.models, examples, name=name, repeat=ask.repeat, task_type=ask.task_type,
        system=_text(ask.system_file, "--system") if ask.system_file else None,
        max_tokens=ask.max_tokens, judges=judges, table=where.load_table(),
        specs=endpoint_specs(config), environ=where.environ,
        stored_keys=read_keys(where.paths.keys), at=where.clock(),
        policy_path=where.paths.policy, cache=where.paths.cache, need_keys=not ask.dry_run,
    )  # fmt: skip


def check_spend(plan: Plan, max_cost: Decimal | None, yes: bool) -> None:
    """Refuse a comparison expected to pass --max-cost, or $1 without --yes."""
    total = plan.total
    if total is None:
        unknown = [m for m, c in plan.estimates.items() if c is None]
        if plan.judge_target is not None and plan.judge_estimate is None:
            unknown.append(plan.judge_target.name)
        if max_cost is not None or not yes:
            raise OverBudgetError(
                f"{', '.join(unknown)} has no known price, so the comparison's cost cannot be "
                "estimated: add its price ('tokenroute prices import'), or pass --yes without "
                "--max-cost"
            )
        return
    if max_cost is not None and total > max_cost:
        raise OverBudgetError(
            f"the comparison would cost about ${total:.4f}, over --max-cost ${max_cost}: "
            "raise it, or use fewer examples, models or --repeat"
        )
    if max_cost is None and total > CONFIRM_ABOVE and not yes:
        raise OverBudgetError(
            f"the comparison would cost about ${total:.2f} ({plan.calls:,} calls): pass --yes "
            f"to spend it, or --max-cost USD (anything over ${CONFIRM_ABOVE} needs one)"
        )


def execute(plan: Plan, ask: CompareAsk, where: Surroundings, advance) -> Scored:
    """Run the plan and score it. Ctrl-C raises as usual, with the partial trial on it."""
    from tokenroute.compare.trial import Setting, run_trial
    from tokenroute.dispatch.attempts import RunOptions
    from tokenroute.dispatch.config import load_config, run_defaults
    from tokenroute.dispatch.session import load_schema, schema_checker
    from tokenroute.ledger.budgets import read_budgets

    defaults = run_defaults(load_config(where.paths.config))
    schema = load_schema(ask.schema) if ask.schema is not None else None
    options = RunOptions(
        retries=defaults.retries, timeout=defaults.timeout, deadline=defaults.deadline,
        retry_base=defaults.retry_base, max_wait=defaults.max_wait,
        expect_json=ask.expect_json or ask.schema is not None,
        check_json=schema_checker(schema) if schema is not None else None,
    )  # fmt: skip
    setting = Setting(
        where.ledger, where.clock, where.project, plan.price_revision, options,
        ask.max_cost, read_budgets(where.paths.budgets), ask.concurrency, schema,
    )  # fmt: skip
    trial = run_trial(plan, setting, advance=advance)
    return scored(plan, trial)


def scored(plan: Plan, trial: Trial) -> Scored:
    from tokenroute.compare.scores import score, verdict

    scores = [score(t.name, trial.outcomes, plan.repeat) for t in plan.targets]
    return Scored(trial, scores, verdict(scores))


def check_outcome(done: Scored) -> None:
    """After the results are shown: a comparison that learned nothing exits non-zero."""
    from tokenroute.errors import ProviderError

    outcomes = done.trial.outcomes
    if done.trial.stopped_by is not None:
        raise done.trial.stopped_by
    if outcomes and all(o.verdict == "error" for o in outcomes):
        raise ProviderError(
            f"no model answered: {outcomes[0].detail}", kind="error", retryable=False
        )
    if outcomes and not any(o.verdict in ("success", "wrong") for o in outcomes):
        problems = [o.detail for o in outcomes if o.verdict == "judge_error"]
        if problems:
            raise BadInputError(f"no answer could be judged: {problems[0]}")


def _default_name(source: str) -> str:
    stem = "stdin" if source == "-" else Path(source).stem
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", stem).strip("-._")[:64]
    return cleaned or "comparison"


def _text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise BadInputError(f"{path}: cannot read {option}: {reason}") from None
