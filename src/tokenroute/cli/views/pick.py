"""What `pick` prints: the recommendation and its reasons, or the policy explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.advisor.pick import PickResult
    from tokenroute.advisor.router import Estimate


def show_pick(result: PickResult, *, as_json: bool, council: tuple | None = None) -> None:
    rec = result.recommendation
    for note in result.notes:
        render.say(note)
    if result.task_id:
        render.say(f"started task {result.task_id} (export TOKENROUTE_TASK={result.task_id})")
    if as_json:
        render.emit_json(
            {
                "task_type": rec.task_type,
                "tier": rec.tier,
                "model": _estimate_json(rec.model),
                "alternatives": [_estimate_json(e) for e in rec.alternatives],
                "estimated_cost_usd": rec.model.cost if rec.model else None,
                "usage": {"input_tokens": rec.usage.input, "output_tokens": rec.usage.output},
                "confidence": round(rec.confidence, 3),
                "reasons": rec.reasons,
                "learned_from_tasks": rec.learned_from,
                "explored": rec.explored,
                "provider_configured": rec.configured,
                "task_id": result.task_id,
                **({"council": _council_json(council, rec)} if council else {}),
            }
        )
        return
    kind = rec.task_type or "task"
    if rec.model is None:
        render.emit_lines([f"{kind} -> {rec.tier}: no model of this tier has a price today"])
    else:
        lines = [
            f"{kind} -> {rec.tier}: {rec.model.model.id} ({rec.model.model.provider}), "
            f"about {render.usd_amount(rec.model.cost)} per task "
            f"({rec.usage.input:,} in / {rec.usage.output:,} out)"
        ]
        if rec.alternatives:
            others = ", ".join(
                f"{e.model.id} ({e.model.provider}) {render.usd_amount(e.cost)}"
                for e in rec.alternatives
            )
            lines.append(f"alternatives: {others}")
        render.emit_lines(lines)
    render.emit_lines(["why:", *(f"  - {reason}" for reason in rec.reasons)])
    if council:
        render.emit_lines(["", *_council_lines(council, rec)])


def _estimate_json(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "id": estimate.model.id,
        "provider": estimate.model.provider,
        "estimated_cost_usd": estimate.cost,
    }


def show_policy(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"policy": rows})
        return
    columns = [
        Column("task type"),
        Column("policy"),
        Column("learned"),
        Column("outcomes (tier: success/failure, believed success rate)"),
        Column("what it covers"),
    ]
    cells = []
    for row in rows:
        outcomes = ", ".join(
            f"{tier}: {o['successes']}/{o['failures']} ({o['believed_success_rate']:.0%})"
            for tier, o in row["outcomes"].items()
        )
        cells.append(
            [
                row["task_type"],
                row["policy_tier"],
                row["learned_tier"],
                outcomes or "-",
                row["says"],
            ]
        )
    render.emit_table(columns, cells, title="Routing policy, and what the ledger taught it")


def _council_json(council: tuple, rec: Any) -> dict[str, Any]:
    decision, (best, alternatives) = council
    return {
        "tier": decision.tier,
        "task_type": decision.task_type,
        "how": decision.how,
        "cached": decision.cached,
        "cost_usd": decision.cost,
        "votes": [
            {
                "model": v.member,
                "provider": v.provider,
                "task_type": v.task_type,
                "tier": v.tier,
                "why": v.why,
                "cost_usd": v.cost,
                "left_out": v.problem,
            }
            for v in decision.votes
        ],
        "model": _estimate_json(best),
        "alternatives": [_estimate_json(e) for e in alternatives],
        "agrees_with_pick": decision.tier == rec.tier,
    }


def _council_lines(council: tuple, rec: Any) -> list[str]:
    decision, (best, _) = council
    counted = len(decision.counted)
    cost = "cached: no cost" if decision.cached else f"{render.usd_amount(decision.cost)}"
    lines = [f"council ({len(decision.votes)} members, {counted} counted, {cost}):"]
    for v in decision.votes:
        said = f"left out: {v.problem}" if v.problem else f"{v.tier}, {v.task_type}: {v.why}"
        lines.append(f"  - {v.member} ({v.provider}): {said}")
    how = {
        "unanimous": f"every counted vote, {counted} of {len(decision.votes)}",
        "majority": "a clear majority",
        "split": "split: the dearest tier voted is taken",
    }[decision.how]
    head = f"council decision: {decision.tier} ({how})"
    if best is not None:
        head += f" -> {best.model.id} ({best.model.provider}), about {render.usd_amount(best.cost)}"
    lines.append(head)
    beside = f"beside it: the offline classifier and the ledger say {rec.task_type or 'task'}"
    lines.append(beside + f" -> {rec.tier} ({rec.confidence:.0%} sure)")
    if decision.tier != rec.tier:
        lines.append(
            f"warning: the council ({decision.tier}) and pick ({rec.tier}) disagree: "
            "look closer before choosing"
        )
    return lines
