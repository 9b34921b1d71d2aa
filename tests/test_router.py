"""The router's learning, as pure functions: how often it explores, and when it stops."""

from __future__ import annotations

from decimal import Decimal

from tokenroute.policy import load_policy
from tokenroute.router import TierRecord, choose_start

COSTS = {"economy": Decimal("0.001"), "small": Decimal("0.004"), "mid": Decimal("0.02")}


def explored_share(record: dict[str, TierRecord], *, enabled: bool = True) -> float:
    policy = load_policy()
    starts = [
        choose_start("mid", record, COSTS, policy, 0.9, f"seed-{i}", explore_enabled=enabled)
        for i in range(1000)
    ]
    assert all(s.tier in ("small", "mid") for s in starts)
    return sum(s.explored for s in starts) / len(starts)


def test_little_evidence_explores_often_and_failures_make_it_rare():
    hopeful = explored_share({"mid": TierRecord(3, 0)})
    hopeless = explored_share({"mid": TierRecord(40, 0), "small": TierRecord(2, 38)})
    # the floor (5%) stays; the Thompson draw adds exploration only while small might do
    assert 0.15 < hopeful < 0.6
    assert 0.02 < hopeless < 0.09


def test_no_outcomes_or_explore_off_never_explores():
    assert explored_share({}) == 0
    assert explored_share({"mid": TierRecord(3, 0)}, enabled=False) == 0


def test_a_proven_cheaper_tier_is_the_start_and_explores_below_it():
    policy = load_policy()
    record = {"small": TierRecord(60, 1), "mid": TierRecord(5, 0)}
    start = choose_start("mid", record, COSTS, policy, 0.9, "x", explore_enabled=False)
    assert (start.tier, start.learned_from, start.explored) == ("small", 66, False)
    tiers = {
        choose_start("mid", record, COSTS, policy, 0.9, f"s{i}", explore_enabled=True).tier
        for i in range(200)
    }
    assert tiers == {"small", "economy"}
