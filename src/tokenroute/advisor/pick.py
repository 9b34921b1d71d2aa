"""`tokenroute pick` from end to end: read, classify, ask when unsure, recommend, log.

The ledger comes in through `open_ledger` (storage's function, injected by the CLI), so this
module stays plain Python like the rest of the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from tokenroute.advisor.classifier import Classification, LinearModel, classify, trained_model
from tokenroute.advisor.learning import TierRecord, learned_tier, posteriors
from tokenroute.advisor.policy import Policy, load_user_policy
from tokenroute.advisor.router import CONFIDENT, Answers, Recommendation, recommend, tier_costs
from tokenroute.errors import BadInputError, UsageError
from tokenroute.inputs import read_text
from tokenroute.models import Task, Usage
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import GIVEN, TASK_TYPES, TIERS

NEIGHBOUR_TASKS = 200  # a neighbouring type's newest tasks read (each counts a fifth)

__all__ = ["Answers", "PickFlow", "PickResult", "read_description"]

MAX_DESCRIPTION = 5 * 1024 * 1024  # read at most this much; classification uses less
QUESTIONS = (
    ("deep", "Does this need deep reasoning (architecture, ambiguity, multi-system trade-offs)?"),
    ("good_enough", "Could a cheaper model get 80-95% of the way, and is that good enough?"),
    ("need_premium", "Is a premium model truly needed (not only convenient)?"),
)


class PickResult(NamedTuple):
    recommendation: Recommendation
    task_id: str | None
    notes: list[str]


def read_description(argument: str | None, file: Path | None, stdin: TextIO) -> str | None:
    """The description from the argument, --file or piped stdin; None when there is none."""
    if argument is not None and file is not None:
        raise UsageError("give the description as an argument or with --file, not both")
    if file is not None:
        text = read_text(str(file), stdin)
    elif argument is not None:
        text = argument
    elif not stdin.isatty():
        text = read_text("-", stdin)
        if not text.strip():
            return None  # nothing piped in: as if no description was given
    else:
        return None
    if not text.strip():
        raise BadInputError("the description is empty: say what the task is, e.g. 'refactor auth'")
    return text[:MAX_DESCRIPTION]


class PickFlow:
    def __init__(
        self,
        *,
        table: PriceTable,
        ledger_path: Path,
        day: date,
        now: datetime,
        policy_path: Path | None = None,
        open_ledger: Callable[..., Any] | None = None,
        configured: set[str] | None = None,
        project: str | None = None,
    ) -> None:
        from tokenroute.settings import configured_providers, resolve_paths

        self.table = table
        self.ledger_path = ledger_path
        self.day = day
        self.now = now
        paths = resolve_paths()
        self.policy: Policy = load_user_policy(policy_path or paths.policy, paths.cache)
        self.cache = paths.cache
        self.open_ledger = open_ledger or _storage_open
        self.configured = configured_providers() if configured is None else configured
        self.project = project

    def pick(
        self,
        text: str | None,
        answers: Answers,
        *,
        interactive: bool,
        ask: Callable[[str], bool] | None = None,
        tell: Callable[[str], None] | None = None,
        prompt_file: Path | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        quality_target: float | None = None,
        local: bool = False,
        explore: bool = True,
        log: bool = True,
        task_type: str | None = None,
    ) -> PickResult:
        notes: list[str] = []
        answered = any(a is not None for a in answers)
        if text is None and not answered and task_type is None:
            if not interactive or ask is None:
                raise UsageError(
                    'describe the task (tokenroute pick "refactor auth"), pipe it in, name its '
                    "type (--task-type code), or answer --deep/--execution "
                    "--good-enough/--must-be-best --need/--convenience"
                )
            answers = self._ask(ask)
        classification = None
        if task_type is not None:  # the user knows: nothing to guess, nothing to ask
            classification = Classification(task_type, 1.0, task_type, (GIVEN,))
        elif text is not None:
            classification = classify(text, self._model(), self.policy)
            if classification.truncated:
                notes.append(f"read {len(text):,} characters; classified on the first 20,000")
            if classification.confidence < CONFIDENT and interactive and ask and not answered:
                notice = "unsure of the task type: asking the screening questions"
                if tell is not None:
                    tell(notice)  # before the questions, which it explains
                else:
                    notes.append(notice)
                answers = self._ask(ask)
        usage = self._usage(prompt_file, input_tokens, output_tokens, classification)
        record, tasks = self._record(classification.task_type if classification else None)
        result = recommend(
            text=text or "",
            classification=classification,
            answers=answers,
            policy=self.policy,
            table=self.table,
            day=self.day,
            usage=usage,
            record=record,
            tasks_learned=tasks,
            configured=self.configured,
            quality_target=quality_target or self.policy.quality_target,
            local=local,
            explore_enabled=explore,
            interactive=interactive,
        )
        task_id = self._log(text, result) if log else None
        return PickResult(result, task_id, notes)

    def explain(self) -> list[dict[str, Any]]:
        """Per task type: the policy's tier and what the ledger's outcomes say of each tier."""
        records = self._records(TASK_TYPES)
        rows = []
        for name in TASK_TYPES:
            rule = self.policy.types[name]
            record, tasks = records[name]
            usage = Usage(input=rule.input_tokens, output=rule.output_tokens)
            costs = tier_costs(self.table, self.day, name, usage)
            learned, _, _ = learned_tier(
                rule.tier, record, costs, self.policy, self.policy.quality_target, tasks=tasks
            )
            beliefs = posteriors(rule.tier, record, list(record), self.policy)
            rows.append(
                {
                    "task_type": name,
                    "policy_tier": rule.tier,
                    "learned_tier": learned,
                    "outcomes": {
                        t: {
                            "successes": r.successes,
                            "failures": r.failures,
                            "believed_success_rate": round(a / (a + b), 4),
                        }
                        for t, r in record.items()
                        for a, b in [beliefs[t]]
                    },
                    "typical_usage": {
                        "input_tokens": rule.input_tokens,
                        "output_tokens": rule.output_tokens,
                    },
                    "says": rule.says,
                }
            )
        return rows

    # ------------------------------------------------------------ helpers

    def _model(self) -> LinearModel:
        return trained_model(self.cache)

    def _ask(self, ask: Callable[[str], bool]) -> Answers:
        replies = {field: ask(question) for field, question in QUESTIONS}
        return Answers(replies["deep"], replies["good_enough"], replies["need_premium"])

    def _usage(self, prompt_file, input_tokens, output_tokens, classification) -> Usage | None:
        rule = self.policy.types[classification.task_type] if classification else None
        if prompt_file is not None:
            from tokenroute.prices.tokens import count_tokens

            counted = count_tokens(read_text(str(prompt_file), None))  # type: ignore[arg-type]
            input_tokens = counted.tokens
        if input_tokens is None and output_tokens is None:
            return None
        return Usage(
            input=input_tokens
            if input_tokens is not None
            else (rule.input_tokens if rule else 5000),
            output=output_tokens
            if output_tokens is not None
            else (rule.output_tokens if rule else 1000),
        )

    def _record(self, task_type: str | None) -> tuple[dict[str, TierRecord], int]:
        return self._records([task_type])[task_type] if task_type else ({}, 0)

    def _records(self, task_types: Sequence[str]) -> dict[str, tuple[dict[str, TierRecord], int]]:
        """Each type's outcomes by tier and the number of tasks they come from, read with
        the ledger opened once."""
        ledger = self.open_ledger(self.ledger_path, create=False)
        if ledger is None:
            return {name: ({}, 0) for name in task_types}
        neighbours = {  # the other types of each one's policy tier, which count a fifth
            other
            for name in task_types
            for other, rule in self.policy.types.items()
            if rule.tier == self.policy.types[name].tier and other != name
        }
        try:
            own = ledger.first_tries(task_types)
            near = ledger.first_tries(sorted(neighbours), NEIGHBOUR_TASKS)
        finally:
            ledger.close()
        return {name: self._with_neighbours(name, own, near) for name in task_types}

    def _with_neighbours(
        self,
        name: str,
        own_tries: dict[str, dict[str, tuple[int, int]]],
        near: dict[str, dict[str, tuple[int, int]]],
    ) -> tuple[dict[str, TierRecord], int]:
        """A type's own first tries (its newest EVIDENCE_TASKS), and those of the other types
        at its policy tier (their newest NEIGHBOUR_TASKS): the same for pick and
        --explain-policy."""
        own = {t: r for t, r in own_tries.get(name, {}).items() if t in TIERS}
        neighbours: dict[str, list[int]] = {}
        tier = self.policy.types[name].tier
        for other, by_tier in near.items():
            rule = self.policy.types.get(other)
            if other == name or rule is None or rule.tier != tier:
                continue
            for t, (wins, losses) in by_tier.items():
                if t in TIERS:
                    sums = neighbours.setdefault(t, [0, 0])
                    sums[0] += wins
                    sums[1] += losses
        record = {
            t: TierRecord(*own.get(t, (0, 0)), *neighbours.get(t, (0, 0)))
            for t in set(own) | set(neighbours)
        }
        return record, sum(w + f for w, f in own.values())

    def _log(self, text: str | None, result: Recommendation) -> str:
        from tokenroute.models import new_task_id
        from tokenroute.timewindow import stamp

        task = Task(
            id=new_task_id(),
            created_at=stamp(self.now),
            type=result.task_type,
            description=(text or "")[:1000] or None,
            project=self.project,
        )
        ledger = self.open_ledger(self.ledger_path, create=True)
        try:
            ledger.add_task(task)
        finally:
            ledger.close()
        return task.id


def _storage_open(path: Path, *, create: bool) -> Any:
    from tokenroute.storage.sqlite import open_ledger

    return open_ledger(path, create=create)
