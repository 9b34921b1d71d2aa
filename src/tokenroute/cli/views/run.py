"""What `run` prints: the answer on stdout, talk and the usage line on stderr, or JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render

if TYPE_CHECKING:
    from tokenroute.dispatch.attempts import RunResult
    from tokenroute.dispatch.choice import Choice
    from tokenroute.dispatch.session import Plan
    from tokenroute.errors import TokenrouteError
    from tokenroute.models import Usage


def notify(line: str) -> None:
    """One line of talk on stderr, prefixed so it is never mistaken for the answer."""
    render.say(f"tokenroute: {line}")


def _usage_json(usage: Usage) -> dict[str, int]:
    """The six buckets under the ledger's names (input_tokens: uncached input)."""
    return {
        "input_tokens": usage.input,
        "cache_read_tokens": usage.cache_read,
        "cache_write_tokens": usage.cache_write,
        "cache_write_1h_tokens": usage.cache_write_1h,
        "output_tokens": usage.output,
        "reasoning_tokens": usage.reasoning,
    }


def _snake(name: str) -> str:
    """InvalidAnswerError -> invalid_answer: the provider errors' `kind` vocabulary."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def _usage_sum(usages: Sequence[Usage]) -> dict[str, int]:
    totals = [_usage_json(u) for u in usages]
    keys = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens")
    keys += ("output_tokens", "reasoning_tokens")
    return {key: sum(t[key] for t in totals) for key in keys}


def announce(plan: Plan, *, quiet: bool) -> Callable[[str], None]:
    """Say which model and why, and any budget warning; the talk function for the run."""
    talk = (lambda line: None) if quiet else notify
    talk(f"-> {plan.choice.why}")
    for warning in plan.budget_warnings:
        talk(f"warning: {warning}")
    return talk


def show_failed_run(exc: Exception, plan: Plan, *, as_json: bool) -> None:
    """With --json, a failed run prints the run's object all the same, with the error."""
    so_far = getattr(exc, "run_so_far", None)
    if as_json and so_far is not None:
        show_run(so_far, plan, streamed=False, quiet=True, as_json=True, error=exc)  # type: ignore[arg-type]


def answer_writer() -> Callable[[str], None]:
    """Where a streamed answer goes: stdout as it is now (tests and pipes replace it)."""
    stream = sys.stdout

    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


def show_run(
    result: RunResult,
    plan: Plan,
    *,
    streamed: bool,
    quiet: bool,
    as_json: bool,
    error: TokenrouteError | None = None,
    stored: bool = True,
) -> None:
    """The answer (unless it was streamed already) and the usage line on stderr. With
    --json a failed run prints the same object, `answer` the last invalid one (or null)
    and `error` what went wrong, so a script keeps the attempts and what they cost."""
    task_id, conversation_id = plan.task.id, plan.conversation.id
    final = result.tries[-1].attempt if result.tries else None
    spent = result.spent
    if as_json:
        failure = None
        if error is not None:
            failure = {"message": error.message, "exit_code": int(error.exit_code)}
            failure["kind"] = getattr(error, "kind", None) or _snake(type(error).__name__)
        render.emit_json(
            {
                "ok": error is None,
                "error": failure,
                "answer": result.answer if error is None else result.answer or None,
                "model": result.target.name,
                "provider": result.target.endpoint.name,
                "tier": result.target.tier,
                "task_id": task_id,
                "conversation_id": conversation_id,
                "history_tokens": final.history_tokens if final else 0,
                "usage": _usage_sum([t.attempt.usage for t in result.tries]),  # as cost_usd
                "usage_estimated": final.input_estimated if final else False,
                "cost_usd": spent,
                "attempts": [
                    {
                        "model": t.attempt.model,
                        "provider": t.attempt.provider,
                        "status": t.attempt.status,
                        "error_kind": t.attempt.error_kind,
                        "latency_ms": t.attempt.latency_ms,
                        "usage": _usage_json(t.attempt.usage),
                        "cost_usd": t.cost,
                    }
                    for t in result.tries
                ],
                "warnings": result.warnings,
            }
        )
        return
    if not streamed:
        sys.stdout.write(result.answer)
    if not result.answer.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    if quiet:
        return
    for warning in result.warnings:
        notify(warning)
    usage = final.usage
    cached = usage.cache_read + usage.cache_write + usage.cache_write_1h
    tokens = f"{usage.input + cached:,} in"
    if cached:
        tokens += f" ({usage.cache_read:,} cached)"
    tokens += f" / {usage.output:,} out" + (" (estimated)" if final.input_estimated else "")
    money = render.usd_amount(spent) if spent is not None else "cost unknown"
    seconds = sum(t.attempt.latency_ms or 0 for t in result.tries) / 1000
    tries = len(result.tries)
    notify(
        f"{result.target.name}: {tokens} · {money} · {seconds:.1f} s · "
        f"{tries} attempt{'s' if tries != 1 else ''} · task {task_id} · "
        f"conversation {conversation_id} "
        + ("(-c continues it)" if stored else "(no text kept: -c cannot continue it)")
    )


def show_dry_run(
    choice: Choice, request: dict[str, Any], expected: Decimal | None, *, as_json: bool
) -> None:
    ladder = [{"id": t.name, "provider": t.endpoint.name, "tier": t.tier} for t in choice.ladder]
    payload = {
        "model": ladder[0],
        "escalation": ladder[1:],
        "why": choice.why,
        "estimated_cost_usd": expected,
        "request": request,
    }
    if as_json:
        render.emit_json(payload)
        return
    import json

    sys.stdout.write(f"would send to {choice.why}\n")
    if ladder[1:]:
        sys.stdout.write(
            "escalating to " + ", ".join(f"{t['id']} ({t['tier']})" for t in ladder[1:]) + "\n"
        )
    sys.stdout.write(
        f"estimated cost: {render.usd_amount(expected) if expected is not None else 'unknown'}\n"
    )
    if request.get("structured_output"):
        sys.stdout.write(f"structured output: {request['structured_output']}\n")
    sys.stdout.write(f"POST {request['url']}\n")
    for name, value in request["headers"].items():
        sys.stdout.write(f"{name}: {value}\n")
    sys.stdout.write(json.dumps(request["body"], indent=2, ensure_ascii=False) + "\n")
