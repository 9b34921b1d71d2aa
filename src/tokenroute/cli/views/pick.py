"""What `pick` prints: the recommendation and its reasons, or the policy explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.advisor.pick import PickResult
    from tokenroute.advisor.router import Estimate


def show_pick(result: PickResult, *, as_json: bool) -> None:
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
