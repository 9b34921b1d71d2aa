"""Attempts: send the prompt, stream the answer, retry, escalate; one ledger row per try.

Plain Python: the provider call (`send`), the clock, `sleep`, the token counter, the output
and the ledger all come in as arguments, so every path here is tested without a network and
the CLI decides what they are. Retry and escalation policy live here, never in a provider.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple, Protocol

from tokenroute.dispatch.answers import CUT_SHORT, answer_problem, usable_answer
from tokenroute.dispatch.providers.base import Finished, Request, TextDelta
from tokenroute.dispatch.targets import Target, estimate_cost, prompt_text, target_price
from tokenroute.errors import InvalidAnswerError, OverBudgetError, ProviderError, TokenrouteError
from tokenroute.models import Attempt, Task, Usage
from tokenroute.prices.cost import to_micro_dollars
from tokenroute.timewindow import stamp

# A try that failed this way will fail the same way on the next model too: stop, say why.
NOT_ESCALATED = {"auth", "bad_request", "too_large"}


class RunOptions(NamedTuple):
    retries: int = 2
    timeout: float = 60.0  # for each byte
    deadline: float = 600.0  # for a whole try
    retry_base: float = 0.5
    max_wait: float = 60.0
    expect_json: bool = False
    check_json: Callable[[Any], str | None] | None = None  # --schema: a problem, or None
    max_cost: Decimal | None = None
    stream: bool = True  # write text as it arrives (off: write only the final, valid answer)
    tags: tuple[str, ...] = ()
    conversation_id: str | None = None
    history_tokens: int = 0  # input tokens that are earlier turns of the conversation
    # raises OverBudgetError when a try of this target at this expected cost breaks a budget
    budget_gate: Callable[[Target, Decimal, str], None] | None = None
    prompt_hash: str | None = None  # the prompt's, and the system prompt's (report: cache it?)
    context_hash: str | None = None
    source: str = "run"  # the ledger's source of each attempt: run, compare, council


class Ledger(Protocol):
    def add_attempts(self, batch: Sequence[tuple[Attempt, Task]]) -> Any: ...


class Services(NamedTuple):
    """Everything dispatch needs from outside, injected."""

    send: Callable[[Target, Request, float, float], Iterator[TextDelta | Finished]]
    ledger: Ledger
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    count_tokens: Callable[[str], int]
    write: Callable[[str], None]  # the answer's text, to stdout
    notify: Callable[[str], None]  # one line of talk, to stderr
    price_revision: str | None
    rng: random.Random


class TryRecord(NamedTuple):
    attempt: Attempt
    target: Target
    cost: Decimal | None


class RunResult(NamedTuple):
    answer: str
    target: Target
    tries: list[TryRecord]
    warnings: list[str]

    @property
    def spent(self) -> Decimal | None:
        costs = [t.cost for t in self.tries]
        return None if any(c is None for c in costs) else sum(costs, Decimal(0))


class _Failed(Exception):
    """One target is done for: escalate, or give up with `error`."""

    def __init__(self, error: Exception, answer: str | None = None) -> None:
        self.error = error
        self.answer = answer  # the last answer, when it came back but was invalid


def dispatch(
    request: Request,
    ladder: Sequence[Target],
    task: Task,
    options: RunOptions,
    services: Services,
    *,
    estimated_output: int,
) -> RunResult:
    """Try each target of the ladder in turn (escalation), each with retries.

    A failure is raised with `run_so_far` on it (a RunResult of every try, the last invalid
    answer if any), so `run --json` can print the attempts and their cost either way."""
    tries: list[TryRecord] = []
    warnings: list[str] = []
    last: list[Any] = [None, ladder[0] if ladder else None]  # answer, target
    try:
        return _climb(
            request, ladder, task, options, services, tries, warnings, last, estimated_output
        )
    except TokenrouteError as exc:
        if last[1] is not None:
            so_far = RunResult(last[0] or "", last[1], tries, warnings)
            exc.run_so_far = so_far  # type: ignore[attr-defined]
        raise


def _climb(
    request: Request,
    ladder: Sequence[Target],
    task: Task,
    options: RunOptions,
    services: Services,
    tries: list[TryRecord],
    warnings: list[str],
    last: list[Any],
    estimated_output: int,
) -> RunResult:
    # counted only when needed (an estimate): loading the tokenizer costs ~100 ms
    input_tokens = cache(lambda: services.count_tokens(prompt_text(request)))
    error: Exception | None = None
    for level, target in enumerate(ladder):
        _check_budget(
            options,
            target,
            tries,
            input_tokens,
            estimated_output,
            services.clock(),
            "this run" if level == 0 else f"escalating to {target.name}",
        )
        if level:
            services.notify(f"escalating to {target.name} ({target.endpoint.name}): {error}")
        last[1] = target
        try:
            answer = _try_target(
                request,
                target,
                task,
                options,
                services,
                tries,
                warnings,
                input_tokens,
                estimated_output,
            )
        except _Failed as failed:
            error = failed.error
            last[0] = failed.answer
            if isinstance(error, ProviderError) and error.kind in NOT_ESCALATED:
                raise error from None
            continue
        return RunResult(answer, target, tries, warnings)
    assert error is not None
    raise error


def _try_target(
    request: Request,
    target: Target,
    task: Task,
    options: RunOptions,
    services: Services,
    tries: list[TryRecord],
    warnings: list[str],
    input_tokens: Callable[[], int],
    estimated_output: int,
) -> str:
    """The answer from this target, trying again on failures that may pass."""
    call = request._replace(model=target.api_model)
    for number in range(options.retries + 1):
        last = number == options.retries
        if number:  # a retry costs again: keep to --max-cost
            _check_budget(
                options,
                target,
                tries,
                input_tokens,
                estimated_output,
                services.clock(),
                f"another try on {target.name}",
            )
        started = services.clock()
        parts: list[str] = []
        finished: Finished | None = None
        try:
            for event in services.send(target, call, options.timeout, options.deadline):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    if options.stream:
                        services.write(event.text)
                else:
                    finished = event
        except ProviderError as exc:
            usage, estimated = _usage_so_far(parts, input_tokens, services)
            _store(
                services,
                options,
                tries,
                task,
                target,
                started,
                usage,
                "error",
                exc.kind,
                estimated,
                None,
            )
            if parts and options.stream:
                services.write("\n")  # the next try's answer starts on a line of its own
                services.notify(f"{target.name}: the answer was cut off ({exc.kind})")
            if not exc.retryable or last:
                raise _Failed(exc) from None
            wait = _retry_wait(exc, number, options, services.rng)
            services.notify(f"{exc.message}: retrying in {wait:.1f} s")
            services.sleep(wait)
            continue
        except BaseException as exc:  # Ctrl-C, a closed stdout, a bug: the try was paid for
            usage, _ = _usage_so_far(parts, input_tokens, services, always=True)
            kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
            status = "cancelled" if isinstance(exc, KeyboardInterrupt | OSError) else "error"
            _store(services, options, tries, task, target, started, usage, status, kind, True, None)
            raise
        answer = "".join(parts)
        model_answered = finished.model if finished else None
        if finished is not None and finished.usage is not None:
            usage, estimated = finished.usage, False
        else:
            usage, estimated = _estimate(answer, input_tokens, services)
            warnings.append(f"{target.endpoint.name} sent no usage: tokens estimated")
        stop = finished.stop_reason if finished else None
        if stop in CUT_SHORT:
            warnings.append(
                f"{target.name} stopped early ({stop}): the answer may be incomplete"
                + (
                    " (raise --max-tokens)"
                    if stop in ("length", "max_tokens", "MAX_TOKENS")
                    else ""
                )
            )
        problem = answer_problem(answer, options.expect_json, options.check_json)
        status = "invalid" if problem else "ok"
        _store(
            services,
            options,
            tries,
            task,
            target,
            started,
            usage,
            status,
            problem[0] if problem else None,
            estimated,
            model_answered,
        )
        if not problem:
            return usable_answer(answer, options.expect_json)
        services.notify(f"{target.name}: {problem[1]}")
        if last:
            raise _Failed(
                InvalidAnswerError(
                    f"{target.name}: {problem[1]} after {options.retries + 1} tries"
                ),
                answer,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _store(
    services: Services,
    options: RunOptions,
    tries: list[TryRecord],
    task: Task,
    target: Target,
    started: datetime,
    usage: Usage,
    status: str,
    error_kind: str | None,
    estimated: bool,
    model_answered: str | None,
) -> None:
    """Write the attempt to the ledger now, so a crash later loses nothing already spent."""
    ended = services.clock()
    price = target_price(target, usage, started)
    attempt = Attempt(
        started_at=stamp(started),
        task_id=task.id,
        model=target.name,
        usage=usage,
        status=status,
        source=options.source,
        cost_micros=None if price is None else to_micro_dollars(price),
        price_revision=services.price_revision if target.model is not None else None,
        model_requested=target.api_model,
        model_answered=model_answered,
        provider=target.endpoint.name,
        tier=target.tier,
        task_type=task.type,
        ended_at=stamp(ended),
        latency_ms=round((ended - started).total_seconds() * 1000),
        error_kind=error_kind,
        input_estimated=estimated,
        project=task.project,
        tags=options.tags,
        conversation_id=options.conversation_id,
        prompt_hash=options.prompt_hash,
        context_hash=options.context_hash,
        history_tokens=options.history_tokens if usage.total_input else 0,
    )
    services.ledger.add_attempts([(attempt, task)])
    tries.append(TryRecord(attempt, target, price))


def _check_budget(
    options: RunOptions,
    target: Target,
    tries: list[TryRecord],
    input_tokens: Callable[[], int],
    output_tokens: int,
    at: datetime,
    what: str,
) -> None:
    """Before every try: --max-cost over the whole run, and the budgets (`options.budget_gate`,
    which reads what the ledger already holds, this run's earlier tries included)."""
    if options.max_cost is None and options.budget_gate is None:
        return
    expected = estimate_cost(target, input_tokens(), output_tokens, at)
    if options.budget_gate is not None and (expected is not None or target.endpoint.local):
        options.budget_gate(target, expected or Decimal(0), what)
    if options.max_cost is None:
        return
    spent = sum((t.cost or Decimal(0) for t in tries), Decimal(0))
    if expected is None:
        raise OverBudgetError(
            f"{target.name} has no known price, so --max-cost cannot be kept: add its price "
            "(tokenroute prices import) or drop --max-cost"
        )
    if spent + expected > options.max_cost:
        raise OverBudgetError(
            f"{what} would cost about ${spent + expected:.4f}, over --max-cost "
            f"${options.max_cost}: raise it, or choose a cheaper model (-m, --tier)"
        )


def _usage_so_far(
    parts: list[str], input_tokens: Callable[[], int], services: Services, *, always: bool = False
) -> tuple[Usage, bool]:
    """A try that broke: a provider error before the first byte bills nothing; after it (or
    when we stopped reading, `always`), estimate."""
    if not parts and not always:
        return Usage(), False
    return _estimate("".join(parts), input_tokens, services)


def _estimate(
    answer: str, input_tokens: Callable[[], int], services: Services
) -> tuple[Usage, bool]:
    return Usage(input=input_tokens(), output=services.count_tokens(answer) if answer else 0), True


def _retry_wait(exc: ProviderError, number: int, options: RunOptions, rng: random.Random) -> float:
    """Seconds before the next try: the backoff, or longer when the provider asks; a wait
    over `max_wait` is not waited for (the try fails)."""
    wait = _backoff(number, options, rng)
    if exc.retry_after is None:
        return wait
    if exc.retry_after > options.max_wait:
        raise _Failed(
            ProviderError(
                f"{exc.message} (asks to wait {exc.retry_after:g} s, over max_wait "
                f"{options.max_wait:g} s)",
                kind=exc.kind,
                retryable=False,
                status=exc.status,
            )
        )
    return max(wait, exc.retry_after)


def _backoff(number: int, options: RunOptions, rng: random.Random) -> float:
    """Exponential backoff with jitter: base, 2x base, 4x base ... each between half and all."""
    ceiling = min(options.max_wait, options.retry_base * 2**number)
    return ceiling * (0.5 + rng.random() / 2)
