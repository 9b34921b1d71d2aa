"""Run a comparison: every (model, example, repeat) is a task of its own in the ledger,
dispatched as `run` would (retries, validation, every try an attempt), several at once.

Its outcome is the judgement, so `pick` learns from a comparison as it does from `run`;
every attempt carries the tag compare:NAME and the source `compare`. --max-cost covers the
whole comparison (the judge's calls too): each try reserves its expected cost first, so
calls in flight together cannot pass it. Ctrl-C (or a budget reached) starts nothing new,
lets what is in flight finish for a moment, and returns what was done, marked partial.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.compare.examples import Example
from tokenroute.compare.judging import judge
from tokenroute.compare.plan import Plan
from tokenroute.compare.scores import JUDGED, Outcome
from tokenroute.dispatch.attempts import RunOptions, RunResult, Services, dispatch
from tokenroute.dispatch.cancelling import Cancelled, cancellable
from tokenroute.dispatch.providers.base import Message, Request
from tokenroute.dispatch.targets import Target
from tokenroute.errors import InvalidAnswerError, OverBudgetError, TokenrouteError
from tokenroute.models import Task, new_task_id
from tokenroute.timewindow import stamp

GRACE_SECONDS = 2.0  # after Ctrl-C, how long the calls in flight have to record themselves
# a provider error of this kind on one call will be the same on every call of that model
STOPS_A_MODEL = {"auth", "bad_request"}


class Trial(NamedTuple):
    outcomes: list[Outcome]
    partial: bool
    stopped_by: TokenrouteError | None  # the budget that stopped it (None: done, or Ctrl-C)
    judge_cost: Decimal | None


class Setting(NamedTuple):
    """How each call is made: run's defaults and checks, and where it is logged."""

    ledger: Path
    clock: Callable[[], datetime]
    project: str | None
    price_revision: str | None
    options: RunOptions  # retries, timeouts, --expect json/--schema; tags and source set here
    max_cost: Decimal | None
    budgets: list
    concurrency: int
    answer_schema: dict[str, Any] | None = None  # --schema's: asked of each provider


def run_trial(
    plan: Plan, setting: Setting, *, advance: Callable[[int], None] = lambda n: None
) -> Trial:
    """Every job of the plan, `setting.concurrency` at a time; see the module's docstring."""
    jobs: queue.Queue[tuple[Target, Example, int]] = queue.Queue()
    for repeat in range(1, plan.repeat + 1):
        for example in plan.examples:
            for target in plan.targets:
                jobs.put((target, example, repeat))
    from tokenroute.storage.sqlite import open_ledger

    open_ledger(setting.ledger, create=True).close()  # a ledger that cannot be used: say so now
    runner = _Runner(plan, setting)
    workers = [
        threading.Thread(target=runner.work, args=(jobs,), daemon=True)
        for _ in range(min(setting.concurrency, plan.calls))
    ]
    for worker in workers:
        worker.start()
    done = 0
    try:
        while done < plan.calls and not runner.stop.is_set():
            try:
                runner.finished.get(timeout=0.1)  # short waits: Ctrl-C is seen at once
            except queue.Empty:
                if not any(w.is_alive() for w in workers):
                    break
                continue
            done += 1
            advance(1)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM: what was done goes with it
        runner.cancel.set()
        runner.stop.set()
        _settle(workers, GRACE_SECONDS)
        exc.trial = runner.result()  # type: ignore[attr-defined]
        raise
    runner.stop.set()
    _settle(workers, GRACE_SECONDS if runner.refused else None)
    if runner.crashed is not None:
        raise runner.crashed
    return runner.result()


def _settle(workers: Sequence[threading.Thread], grace: float | None) -> None:
    deadline = None if grace is None else time.monotonic() + grace
    for worker in workers:
        worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


class _Runner:
    """The state the worker threads share: results, the reservations, a stop flag."""

    def __init__(self, plan: Plan, setting: Setting) -> None:
        self.plan, self.setting = plan, setting
        self.stop = threading.Event()  # start nothing new
        self.cancel = threading.Event()  # Ctrl-C: cut the calls in flight short, too
        self.finished: queue.Queue[Outcome] = queue.Queue()
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.spent = Decimal(0)  # stored attempts' cost
        self.reserved = Decimal(0)  # expected cost of tries in flight
        self.local = threading.local()
        self.refused: TokenrouteError | None = None
        self.crashed: BaseException | None = None  # a worker's unexpected failure
        self.dropped: set[str] = set()  # models whose key or requests were refused
        self.skipped = 0  # their jobs, not sent (the comparison is not partial for them)
        self.judge_cost: Decimal | None = Decimal(0)
        self.judge_task = Task(
            id=new_task_id(),
            created_at=stamp(setting.clock()),
            description=f"compare {plan.name}: the judge",
            project=setting.project,
        )

    def result(self) -> Trial:
        with self.lock:
            outcomes = list(self.outcomes)
            partial = len(outcomes) + self.skipped < self.plan.calls
            return Trial(outcomes, partial, self.refused, self.judge_cost)

    # ------------------------------------------------------------ one worker thread

    def work(self, jobs: queue.Queue) -> None:
        from tokenroute.storage.sqlite import open_ledger

        store = None
        try:
            store = open_ledger(self.setting.ledger, create=True)
            self.local.store, self.local.reservation = store, Decimal(0)
            while not self.stop.is_set():
                try:
                    target, example, repeat = jobs.get_nowait()
                except queue.Empty:
                    return
                if target.name in self.dropped:  # its key or requests are refused: no use
                    with self.lock:
                        self.skipped += 1
                    continue
                outcome = self._one(target, example, repeat)
                if outcome is None:  # refused by a budget: the comparison stops
                    return
                with self.lock:
                    self.outcomes.append(outcome)
                self.finished.put(outcome)
        except Exception as exc:  # the main thread raises it: a worker must not die silently
            self.crashed = self.crashed or exc
            self.stop.set()
        finally:
            if store is not None:
                store.close()

    def _one(self, target: Target, example: Example, repeat: int) -> Outcome | None:
        plan, setting = self.plan, self.setting
        task = Task(
            id=new_task_id(),
            created_at=stamp(setting.clock()),
            type=plan.task_type,
            description=f"compare {plan.name}: example {example.id} on {target.name}",
            project=setting.project,
        )
        request = _request(example, plan, setting)
        detail, judge_cost = "", Decimal(0)
        result = None
        try:
            result = self._dispatch(request, target, task, plan.answer_tokens[example.id])
            verdict, detail, judge_cost = judge(result.answer, example, plan.judges, self._ask)
        except Cancelled:
            return None  # Ctrl-C: the cancelled try is in the ledger; the task is not judged
        except OverBudgetError as exc:  # the comparison stops; what was paid stays counted
            with self.lock:
                self.refused = self.refused or exc
            self.stop.set()
            result = result or getattr(exc, "run_so_far", None)
            if result is None or not result.tries:
                return None
            verdict, detail = "unjudged", exc.message
        except TokenrouteError as exc:
            result = getattr(exc, "run_so_far", None) or RunResult("", target, [], [])
            verdict = "invalid" if isinstance(exc, InvalidAnswerError) else "error"
            detail = exc.message
            if getattr(exc, "kind", None) in STOPS_A_MODEL:
                with self.lock:
                    self.dropped.add(target.name)
        if verdict in JUDGED:  # an unjudged answer teaches pick nothing: left unknown
            outcome = "success" if verdict == "success" else "failure"
            self.local.store.set_outcome(task.id, outcome, "compare", stamp(setting.clock()))
        with self.lock:
            if self.judge_cost is not None:
                self.judge_cost = None if judge_cost is None else self.judge_cost + judge_cost
        return _outcome(target, example, repeat, task, verdict, detail, result, judge_cost)

    def _dispatch(self, request: Request, target: Target, task: Task, output: int) -> RunResult:
        return dispatch(
            request, [target], task, self._options(task), self._services(),
            estimated_output=output,
        )  # fmt: skip

    def _ask(self, instructions: str, prompt: str) -> tuple[str, Decimal | None]:
        """One call to the judge; its attempts are the comparison's, in a task of their own."""
        target = self.plan.judge_target
        assert target is not None
        request = Request(model="", messages=(Message("user", prompt),), system=instructions)
        try:
            result = self._dispatch(request, target, self.judge_task, 100)
        except TokenrouteError as exc:
            so_far = getattr(exc, "run_so_far", None)
            exc.cost = so_far.spent if so_far else Decimal(0)  # type: ignore[attr-defined]
            raise
        return result.answer, result.spent

    def _options(self, task: Task) -> RunOptions:
        return self.setting.options._replace(
            stream=False,
            tags=(f"compare:{self.plan.name}",),
            source="compare",
            budget_gate=self._gate(task),
        )

    def _gate(self, task: Task) -> Callable[[Target, Decimal, str], None]:
        from tokenroute.dispatch.spending import budget_gate
        from tokenroute.ledger.queries import spend_reader

        budgets = budget_gate(
            self.setting.budgets,
            spend_reader(self.local.store),
            task_type=task.type,
            tags=(f"compare:{self.plan.name}",),
            project=self.setting.project,
            today=lambda: self.setting.clock().date(),
        )

        def gate(target: Target, expected: Decimal, what: str) -> None:
            limit = self.setting.max_cost
            with self.lock:  # the calls in flight count as spent, for --max-cost and budgets
                if budgets is not None:
                    budgets(target, expected + self.reserved, what)
                if limit is not None and self.spent + self.reserved + expected > limit:
                    raise OverBudgetError(
                        f"stopped: the comparison has spent ${self.spent:.4f} (and "
                        f"${self.reserved:.4f} is in flight) of --max-cost ${limit}, and the next "
                        f"call to {target.name} would pass it; raise --max-cost or compare "
                        "fewer examples"
                    )
                self.reserved += expected
                self.local.reservation += expected

        return gate

    def _services(self) -> Services:
        from tokenroute.dispatch.session import make_services

        services = make_services(
            _Counted(self), price_revision=self.setting.price_revision,
            write=lambda text: None, notify=lambda line: None, clock=self.setting.clock,
        )  # fmt: skip
        return services._replace(rng=random.Random(), send=cancellable(services.send, self.cancel))


class _Counted:
    """The thread's ledger, adding each stored attempt's cost to the comparison's spend and
    releasing the reservation its try made."""

    def __init__(self, runner: _Runner) -> None:
        self.runner = runner

    def add_attempts(self, batch: Sequence[tuple[Any, Task]]) -> Any:
        runner = self.runner
        stored = runner.local.store.add_attempts(batch)
        cost = sum(Decimal(a.cost_micros or 0) / 1_000_000 for a, _ in batch)
        with runner.lock:
            runner.spent += cost
            runner.reserved -= runner.local.reservation
        runner.local.reservation = Decimal(0)
        return stored


def _request(example: Example, plan: Plan, setting: Setting) -> Request:
    """The example as `run` would send it; with --expect json or --schema, JSON is asked of
    the provider the way it takes it (see the providers), and checked once it arrives."""
    system = example.system if example.system is not None else plan.system
    messages = tuple(Message(role, content) for role, content in example.messages)
    return Request(
        model="", messages=messages, system=system, max_tokens=plan.max_tokens,
        json_answer=setting.options.expect_json, answer_schema=setting.answer_schema,
    )  # fmt: skip


def _outcome(
    target: Target,
    example: Example,
    repeat: int,
    task: Task,
    verdict: str,
    detail: str,
    result: RunResult,
    judge_cost: Decimal | None,
) -> Outcome:
    tries = result.tries
    costs = [_stored_cost(t.attempt) for t in tries]  # as the ledger holds them: rounded
    cost = None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]
    failed = [t for t in tries if t.attempt.status != "ok"]
    return Outcome(
        model=target.name,
        example=example.id,
        repeat=repeat,
        task_id=task.id,
        verdict=verdict,
        cost=cost,
        judge_cost=judge_cost,
        input_tokens=sum(t.attempt.usage.total_input for t in tries),
        output_tokens=sum(t.attempt.usage.output for t in tries),
        retry_spend=sum((_stored_cost(t.attempt) or Decimal(0) for t in failed), Decimal(0)),
        latency_ms=sum(t.attempt.latency_ms or 0 for t in tries),
        detail=detail,
    )


def _stored_cost(attempt: Any) -> Decimal | None:
    micros = attempt.cost_micros
    return None if micros is None else Decimal(micros) / 1_000_000
