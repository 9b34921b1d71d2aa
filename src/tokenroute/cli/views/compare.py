"""What `compare` prints: the plan (or --dry-run's), a table per model, and the verdict."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.compare.comparison import Scored
    from tokenroute.compare.plan import Plan
    from tokenroute.compare.scores import ModelScore

FAILURE_KINDS = ("invalid", "error", "wrong", "judge_error", "unjudged")
RULE = (
    "the cheapest per successful task among the models whose success rate is not clearly "
    "below the best (a two-sided two-proportion z-test at 5%)"
)


def _judged_by(plan: Plan, expect_json: bool) -> str:
    names = (["--expect json/--schema"] if expect_json else []) + plan.judges.names
    return ", ".join(names) if names else "nothing: every valid answer counts as a success"


def announce(plan: Plan, *, expect_json: bool) -> None:
    """The plan in one line on stderr, before any call."""
    warn_too_big(plan)
    render.say(
        f"tokenroute: compare {plan.name}: {len(plan.targets)} models x {len(plan.examples):,} "
        f"examples x {plan.repeat} = {plan.calls:,} calls, about {render.usd_amount(plan.total)} "
        f"(task type {plan.task_type or 'unknown'}); judged by {_judged_by(plan, expect_json)}"
    )


def warn_too_big(plan: Plan) -> None:
    for model, ids in plan.too_big.items():
        render.warn(
            f"{len(ids):,} example(s) do not fit {model}'s context window (e.g. {ids[0]}): "
            "they will fail as errors"
        )


def progress(calls: int):
    return render.progress(calls, "comparing", after=0.5)


def plan_json(plan: Plan, expect_json: bool) -> dict[str, Any]:
    return {
        "name": plan.name,
        "task_type": plan.task_type,
        "examples": len(plan.examples),
        "repeat": plan.repeat,
        "calls": plan.calls,
        "models": [
            {
                "id": t.name,
                "provider": t.endpoint.name,
                "tier": t.tier,
                "estimated_cost_usd": plan.estimates[t.name],
            }
            for t in plan.targets
        ],
        "judge": plan.judge_target.name if plan.judge_target else None,
        "judge_estimated_cost_usd": plan.judge_estimate if plan.judge_target else None,
        "judged_by": ([] if not expect_json else ["expect_json"]) + plan.judges.names,
        "estimated_cost_usd": plan.total,
        "too_big_for_context": plan.too_big,
        "tag": f"compare:{plan.name}",
    }


def show_plan(plan: Plan, *, expect_json: bool, as_json: bool) -> None:
    """--dry-run: what would be sent and what it would cost; nothing is sent."""
    warn_too_big(plan)
    if as_json:
        render.emit_json({"plan": plan_json(plan, expect_json), "dry_run": True})
        return
    cells = [
        [t.name, t.endpoint.name, t.tier or "-", render.usd_amount(plan.estimates[t.name])]
        for t in plan.targets
    ]
    if plan.judge_target is not None:
        judge = plan.judge_target
        cells.append([f"{judge.name} (judge)", judge.endpoint.name, judge.tier or "-",
                      render.usd_amount(plan.judge_estimate)])  # fmt: skip
    columns = [Column("model"), Column("provider"), Column("tier"), Column("estimate", True)]
    total = render.usd_amount(plan.total)
    title = f"compare {plan.name}: would send {plan.calls:,} calls, about {total}"
    render.emit_table(columns, cells, title=title + "; nothing sent (--dry-run)")


def _score_json(s: ModelScore) -> dict[str, Any]:
    per_task = s.cost_per_task
    return {
        "model": s.model,
        "tasks": s.tasks,
        "judged": s.judged,
        "successes": s.successes,
        "success_rate": s.success_rate,
        "success_interval_95": list(s.interval) if s.interval else None,
        "cost_usd": s.cost,
        "cost_per_successful_task_usd": s.cost_per_success,
        "cost_per_task_mean_usd": per_task[0] if per_task else None,
        "cost_per_task_median_usd": per_task[1] if per_task else None,
        "cost_per_task_p95_usd": per_task[2] if per_task else None,
        "total_input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "retry_tax": s.retry_tax,
        "latency_p50_ms": s.latency_ms[0] if s.latency_ms else None,
        "latency_p95_ms": s.latency_ms[1] if s.latency_ms else None,
        "failures": {kind: s.failures.get(kind, 0) for kind in FAILURE_KINDS},
    }


def _problems_json(done: Scored, model: str) -> list[dict[str, Any]]:
    return [{"kind": k, "what": w, "count": n} for k, w, n in top_problems(done, model)]


def show_comparison(plan: Plan, done: Scored, *, expect_json: bool, as_json: bool) -> None:
    trial, verdict = done.trial, done.verdict
    spent = [s.cost for s in done.scores] + [trial.judge_cost]
    total = None if any(c is None for c in spent) else sum(spent, Decimal(0))  # type: ignore[arg-type]
    if as_json:
        body = plan_json(plan, expect_json)
        body.update(
            partial=trial.partial,
            done=len(trial.outcomes),
            cost_usd=total,
            judge_cost_usd=trial.judge_cost,
            results=[
                {**_score_json(s), "top_problems": _problems_json(done, s.model)}
                for s in done.scores
            ],
            verdict=None if verdict is None else {
                "model": verdict.model, "versus": verdict.versus,
                "saves_per_1000_tasks_usd": verdict.saves_per_1000,
                "clearly_below_best": verdict.clearly_below, "rule": RULE,
            },
        )  # fmt: skip
        render.emit_json({"comparison": body})
        return
    columns = [
        Column("model"), Column("tasks", True), Column("success", True), Column("95%"),
        Column("$/success", True), Column("$/task", True), Column("median", True),
        Column("p95", True), Column("in", True), Column("out", True), Column("retry tax", True),
        Column("p50 s", True), Column("p95 s", True), Column("invalid", True),
        Column("error", True), Column("wrong", True), Column("unjudged", True),
    ]  # fmt: skip
    render.emit_table(columns, [_cells(s) for s in done.scores], title=_title(plan, done, total))
    render.emit_lines(["", *_problem_lines(done), _verdict_line(done)])


def _title(plan: Plan, done: Scored, total: Decimal | None) -> str:
    trial = done.trial
    done_tasks = f"{len(trial.outcomes):,} of {plan.calls:,} tasks"
    title = f"compare {plan.name}: {done_tasks}, {render.usd_amount(total)}"
    if trial.judge_cost:
        title += f" ({render.usd_amount(trial.judge_cost)} of it the judge)"
    if trial.partial:
        title += " (partial: stopped before the end)"
    return title


def _cells(s: ModelScore) -> list[str]:
    def seconds(ms: int) -> str:
        return f"{ms / 1000:.1f}"

    per_task = s.cost_per_task
    return [
        s.model,
        render.count(s.tasks),
        "-" if s.success_rate is None else f"{s.success_rate:.0%}",
        "-" if s.interval is None else f"{s.interval[0]:.0%}-{s.interval[1]:.0%}",
        "-" if s.cost_per_success is None else render.usd_amount(s.cost_per_success),
        *(("-", "-", "-") if per_task is None else (render.usd_amount(v) for v in per_task)),
        render.count(s.input_tokens),
        render.count(s.output_tokens),
        "-" if s.retry_tax is None else f"{s.retry_tax:.0%}",
        *(("-", "-") if s.latency_ms is None else (seconds(v) for v in s.latency_ms)),
        str(s.failures.get("invalid", 0)),
        str(s.failures.get("error", 0)),
        str(s.failures.get("wrong", 0)),
        str(s.failures.get("judge_error", 0) + s.failures.get("unjudged", 0)),
    ]


def top_problems(done: Scored, model: str, most: int = 2) -> list[tuple[str, str, int]]:
    """The commonest reasons a model's tasks were not successes: (kind, what, how many)."""
    counts: dict[tuple[str, str], int] = {}
    for o in done.trial.outcomes:
        if o.model == model and o.verdict != "success" and o.detail:
            key = (o.verdict, o.detail[:160])
            counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:most]
    return [(kind, what, n) for (kind, what), n in ranked]


def _problem_lines(done: Scored) -> list[str]:
    lines = []
    for s in done.scores:
        for kind, what, n in top_problems(done, s.model):
            lines.append(f"{s.model}: {n} {kind}: {what}")
    return [*lines, ""] if lines else []


def _verdict_line(done: Scored) -> str:
    verdict = done.verdict
    if len(done.scores) == 1:
        return "verdict: one model compared: nothing to choose between"
    if verdict is None:
        return "verdict: none: no model has a known cost per successful task"
    line = f"verdict: {verdict.model}, {RULE}"
    if verdict.clearly_below:
        line += f"; clearly below the best: {', '.join(verdict.clearly_below)}"
    if verdict.model == verdict.versus:
        return line + f"; {verdict.versus} (the first given) is already it"
    if verdict.saves_per_1000 is None:
        return line + f"; {verdict.versus} (the first given) has no known cost per success"
    if verdict.saves_per_1000 < 0:  # the first model is cheaper, but clearly less successful
        return (
            line + f"; it costs {render.usd_amount(-verdict.saves_per_1000)} more per 1,000 "
            f"successful tasks than {verdict.versus}, which succeeds clearly less often"
        )
    return (
        line + f"; switching from {verdict.versus} saves "
        f"{render.usd_amount(verdict.saves_per_1000)} per 1,000 successful tasks"
    )
