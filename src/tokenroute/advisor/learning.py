"""Learning from outcomes: what the ledger's first tries say each tier finishes, and which
tier a kind of task should start on.

Each tier's success rate is a Beta belief: the policy's prior (a tier below the policy's is
believed less likely to do), then the type's own first tries, then its neighbours' at a fifth
each. A start is chosen by cost per *successful* task, counting the escalation a cheap
failure costs; an unproven cheaper tier is tried now and then (Thompson sampling).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from tokenroute.advisor.policy import Policy
from tokenroute.taxonomy import TIERS

# A start that fails must be tried again a tier up: beyond its price, that costs the user
# time. Per success, a start is dearer by this share of its chance of failing.
ESCALATION_PENALTY = 0.05
PRIOR_STEP_DOWN = 0.12  # each tier below the policy's is believed this much less likely to do
PRIOR_STEP_UP = 0.04
PAID_TIERS = TIERS[1:]  # local needs --local: it runs on the user's own machine


class TierRecord(NamedTuple):
    """First tries at a tier for one task type; `pooled_*` those of the other types the
    policy puts at the same tier, which count POOL_WEIGHT each (partial pooling: a new
    type learns from its neighbours, and its own tasks soon outweigh them)."""

    successes: int
    failures: int
    pooled_successes: int = 0
    pooled_failures: int = 0


POOL_WEIGHT = 0.2
MIN_TRIES = 3  # first tries (own, or a fifth each from neighbours) before a tier can start
MIN_FIRST_TRY = 0.5  # a start other than the policy's must finish at least this share itself
MAX_EXPLORE = 0.5  # the most often a promising, unproven cheaper tier is tried


def prior_success(tier: str, policy_tier: str) -> float:
    gap = TIERS.index(tier) - TIERS.index(policy_tier)
    step_size = PRIOR_STEP_UP if gap > 0 else PRIOR_STEP_DOWN
    return min(0.99, max(0.05, 0.9 + gap * step_size))


def posteriors(
    tier: str, record: Mapping[str, TierRecord], tiers: Sequence[str], policy: Policy
) -> dict[str, tuple[float, float]]:
    """Each tier's Beta(successes, failures) belief that it finishes this kind of task: the
    policy's belief worth `prior_strength` tasks, updated by the ledger's outcomes."""
    k = policy.prior_strength
    beliefs = {}
    for t in tiers:
        done = record.get(t, TierRecord(0, 0))
        prior = prior_success(t, tier)
        beliefs[t] = (
            prior * k + done.successes + POOL_WEIGHT * done.pooled_successes,
            (1 - prior) * k + done.failures + POOL_WEIGHT * done.pooled_failures,
        )
    return beliefs


def learned_tier(
    tier: str,
    record: Mapping[str, TierRecord],
    tier_cost: Mapping[str, Decimal],
    policy: Policy,
    quality_target: float,
    *,
    tasks: int | None = None,
) -> tuple[str, list[str], int]:
    """The cheapest start tier whose expected success meets the target, by cost per success.

    A failed start escalates one tier at a time, so a cheap tier that keeps failing costs
    more per successful task than the tier above it. `tasks` is how many tasks the record
    comes from (a task that failed on one tier and finished on the next is in both).
    """
    tiers = [t for t in PAID_TIERS if t in tier_cost]
    seen = sum(r.successes + r.failures for r in record.values())
    if seen and tasks is not None:
        seen = tasks
    pooled = sum(r.pooled_successes + r.pooled_failures for r in record.values())
    if not (seen or pooled) or tier not in tiers:
        return tier, [], seen
    rates = {t: a / (a + b) for t, (a, b) in posteriors(tier, record, tiers, policy).items()}
    per_success, eventual = {}, {}
    for i, t in enumerate(tiers):
        # a failed first try is sent once more, one tier up (run --escalate): what a start
        # costs and finishes is that pair, not a climb through every tier
        above = tiers[i + 1] if i + 1 < len(tiers) else None
        miss = 1 - rates[t]
        expected_cost = tier_cost[t] + (tier_cost[above] * Decimal(miss) if above else 0)
        success = rates[t] + (miss * rates[above] if above else 0.0)
        per_success[t] = expected_cost / Decimal(max(success, 1e-9))
        eventual[t] = success
    # What the user pays for is an eventual success: among the starts that reach the target
    # with that one escalation, the cheapest per success, so a dearer first try is bought
    # only when it raises success or saves money. When no start reaches it, the cheapest
    # per success of all, never the surest regardless. A start needs MIN_TRIES first tries
    # of its own (a neighbour type's count a fifth), or to be the policy's tier: a tier no
    # task has started at is reached by exploring, not on the prior's word.
    # And a start that fails more often than not is no first try at all, however cheap.
    tried = [
        t
        for t in tiers
        if t == tier
        or (tries(record.get(t)) >= MIN_TRIES and _finished(record[t]) >= MIN_FIRST_TRY)
    ]
    eligible = [t for t in tried if eventual[t] >= quality_target]

    def price(t: str) -> tuple[Decimal, int]:  # a failed first try costs time too
        return per_success[t] * Decimal(1 + ESCALATION_PENALTY * (1 - rates[t])), TIERS.index(t)

    best = min(eligible or tried, key=price)
    figures = ", ".join(
        f"{t} {rates[t]:.0%} at ${per_success[t]:.4f}/success" for t in tiers if t in record
    )
    learned = f"learned from {seen} tasks of this type"
    if pooled:
        learned += f" and {pooled} of other {tier} types"
    reasons = [f"{learned}: {figures}"]
    if not eligible:
        reasons.append(
            f"no start finishes {quality_target:.0%} of them, even with one escalation: "
            f"{best}, the cheapest per success ({_floor(eventual[best])} finished)"
        )
    elif best != tier and eventual[tier] < quality_target:
        reasons.append(
            f"so {best}: starting at {tier} finishes {_floor(eventual[tier])} of them, short "
            f"of the {quality_target:.0%} target"
        )
    elif best != tier:
        reasons.append(
            f"so {best} instead of {tier}: with one escalation on a failure it finishes "
            f"{_floor(eventual[best])} of them, cheaper per successful task"
        )
    return best, reasons, seen


def tries(record: TierRecord | None) -> float:
    if record is None:
        return 0.0
    own = record.successes + record.failures
    return own + POOL_WEIGHT * (record.pooled_successes + record.pooled_failures)


def _finished(record: TierRecord) -> float:
    """The share of its first tries a tier finished itself: the ledger's, not the prior's."""
    done = record.successes + POOL_WEIGHT * record.pooled_successes
    return done / tries(record)


def _floor(rate: float) -> str:
    """A share, never rounded up: 99.5% finished is 99%, not all of them."""
    return f"{math.floor(rate * 100)}%"


def explore(
    tier: str,
    beliefs: Mapping[str, tuple[float, float]],
    costs: Mapping[str, Decimal],
    quality_target: float,
    policy: Policy,
    seed: str,
    *,
    cheaper: str,
) -> tuple[str, list[str], bool]:
    """Now and then try the next cheaper tier, so the ledger can learn that it suffices.

    Thompson sampling on the decision itself: draw the cheaper tier's first-try rate from
    its Beta belief, and try it when, at that rate, starting there (escalating a failure to
    `tier`) would be chosen: half its first tries finished, the target met, less per
    eventual success. While the ledger knows little and the saving is large, that is often
    (at most MAX_EXPLORE of tasks); once it has seen the tier fail, rarely. `exploration`
    is the floor that never goes away.
    """
    if cheaper == tier or cheaper not in beliefs or tier not in beliefs:
        return tier, [], False
    import random

    rng = random.Random(seed)
    drawn = rng.betavariate(*beliefs[cheaper])
    success, failure = beliefs[tier]
    rate = success / (success + failure)
    eventual = drawn + (1 - drawn) * rate
    expected = costs[cheaper] + costs[tier] * Decimal(1 - drawn)
    hopeful = (
        drawn >= MIN_FIRST_TRY
        and eventual >= quality_target
        and expected / Decimal(eventual) < costs[tier] / Decimal(max(rate, 1e-9))
        and rng.random() < MAX_EXPLORE
    )
    if not hopeful and rng.random() >= policy.exploration:
        return tier, [], False
    return (
        cheaper,
        [f"exploring: trying {cheaper} this time to learn if it suffices (--no-explore)"],
        True,
    )


class Start(NamedTuple):
    tier: str
    reasons: list[str]
    learned_from: int
    explored: bool


def choose_start(
    tier: str,
    record: Mapping[str, TierRecord],
    tier_cost: Mapping[str, Decimal],
    policy: Policy,
    quality_target: float,
    seed: str,
    *,
    explore_enabled: bool,
    tasks: int | None = None,
) -> Start:
    """Where a task should start: what the ledger has learned, and now and then one cheaper.

    Exploration starts once the ledger holds outcomes of this type or of its neighbours
    (types of the same policy tier), so a new user's first picks follow the policy."""
    best, reasons, seen = learned_tier(tier, record, tier_cost, policy, quality_target, tasks=tasks)
    tiers = [t for t in PAID_TIERS if t in tier_cost]
    known = seen or any(r.pooled_successes + r.pooled_failures for r in record.values())
    if not explore_enabled or not known or best not in tiers or tiers.index(best) == 0:
        return Start(best, reasons, seen, False)
    cheaper = tiers[tiers.index(best) - 1]
    beliefs = posteriors(tier, record, [cheaper, best], policy)
    chosen, why, explored = explore(
        best, beliefs, tier_cost, quality_target, policy, seed, cheaper=cheaper
    )
    return Start(chosen, reasons + why, seen, explored)
