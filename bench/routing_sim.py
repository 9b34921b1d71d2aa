"""Does pick learn where the cheap tier suffices? A simulation on RouteLLM's outcome data.

Usage: python bench/routing_sim.py [--data ../shared/data/routing/routellm_outcomes.jsonl]
Streams prompts as tasks (the `group` is the task type), lets pick's learning choose
between a weak tier (Mixtral 8x7B, $0.60/$0.60 per 1M) and a strong one (GPT-4 1106,
$10/$30), reveals only the chosen tier's outcome, escalates to strong on a weak failure,
and compares cost per successful task with:
- fixed: the tier pick gave each type on its first task, never changed;
- cheapest: always start weak, escalate on a failure;
- strong: always the strong tier;
- oracle: weak exactly where it suffices (the floor).
pick learns from first tries only: a task that reached the strong tier because the weak
one failed is harder than one started there, and would bias the strong tier's record. Each
group also sees the other groups' first tries at a fifth of the weight (every group here has
the policy tier frontier, so all are neighbours), as pick does with task types of one tier.
Target: at 200 and 1,000 tasks pick at or below fixed and cheapest per success, with
success within a point of strong.
"""

from __future__ import annotations

import argparse
import json
import random
from decimal import Decimal
from pathlib import Path

from tokenroute.advisor.learning import TierRecord, choose_start
from tokenroute.advisor.policy import load_policy

WEAK, STRONG = "mixtral-8x7b-instruct", "gpt-4-1106-preview"
PRICES = {WEAK: (Decimal("0.60"), Decimal("0.60")), STRONG: (Decimal(10), Decimal(30))}
OUTPUT_TOKENS = {"mmlu": 20, "gsm8k": 250, "mt_bench": 500}
TIER = {WEAK: "small", STRONG: "frontier"}
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/routing/routellm_outcomes.jsonl"


def call_cost(model: str, prompt_tokens: int, output_tokens: int) -> Decimal:
    rate_in, rate_out = PRICES[model]
    return (prompt_tokens * rate_in + output_tokens * rate_out) / Decimal(1_000_000)


def simulate(tasks: list[dict], strategy: str, quality_target: float) -> dict:
    policy = load_policy()
    records: dict[str, dict[str, list[int]]] = {}
    totals = {"small": [0, 0], "frontier": [0, 0]}  # every group's first tries
    fixed: dict[str, str] = {}
    spent, successes, escalations = Decimal(0), 0, 0
    for task in tasks:
        out = OUTPUT_TOKENS[task["source"]]
        weak_ok, strong_ok = task["outcomes"][WEAK], task["outcomes"][STRONG]
        costs = {t: call_cost(m, task["tokens"], out) for m, t in TIER.items()}
        if strategy == "strong":
            start = "frontier"
        elif strategy == "cheapest":
            start = "small"
        elif strategy == "oracle":
            start = "small" if weak_ok or not strong_ok else "frontier"
        else:
            seen = records.setdefault(task["group"], {"small": [0, 0], "frontier": [0, 0]})
            pooled = {t: [totals[t][i] - seen[t][i] for i in (0, 1)] for t in totals}
            record = {  # its own first tries, and the other groups' (same policy tier)
                t: TierRecord(*seen[t], *pooled[t]) for t in seen if sum(seen[t]) or sum(pooled[t])
            }
            start = choose_start(
                "frontier", record, costs, policy, quality_target, task["id"], explore_enabled=True
            ).tier
            if strategy == "fixed":
                start = fixed.setdefault(task["group"], start)
        ok = weak_ok if start == "small" else strong_ok
        spent += costs[start]
        if strategy == "pick":
            records[task["group"]][start][0 if ok else 1] += 1
            totals[start][0 if ok else 1] += 1
        if not ok and start == "small":
            escalations += 1
            spent += costs["frontier"]
            ok = strong_ok  # an escalated task's outcome is not the strong tier's first try
        successes += ok
    return {
        "per_success": spent / successes if successes else None,
        "success": successes / len(tasks),
        "escalation": escalations / len(tasks),
        "spent": spent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quality-target", type=float, default=0.8)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no outcome data at {args.data}: nothing to simulate (see ../shared/data/routing)")
        return
    from tokenroute.prices.tokens import count_tokens

    with args.data.open(encoding="utf-8") as lines:  # not splitlines(): prompts hold U+2028
        tasks = [json.loads(line) for line in lines if line.strip()]
    random.Random(11).shuffle(tasks)
    print(
        f"{len(tasks):,} prompts; quality target {args.quality_target:.0%}; "
        f"strong {STRONG}, weak {WEAK}"
    )
    for size in (200, 1000):
        sample = tasks[:size]
        for task in sample:
            task.setdefault("tokens", count_tokens(task["prompt"]).tokens)
        print(f"\n{size} tasks        $/success   success  escalated   total $")
        for strategy in ("pick", "fixed", "cheapest", "strong", "oracle"):
            r = simulate(sample, strategy, args.quality_target)
            per = f"${r['per_success']:.5f}" if r["per_success"] else "-"
            print(
                f"  {strategy:<12}{per:>12}{r['success']:>9.1%}{r['escalation']:>11.1%}"
                f"{r['spent']:>10.4f}"
            )


if __name__ == "__main__":
    main()
