"""The router's learning, as pure functions: how often it explores, and when it stops."""

from __future__ import annotations

from decimal import Decimal

from tokenroute.advisor.learning import TierRecord, choose_start
from tokenroute.advisor.policy import load_policy

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


def test_when_no_tier_meets_the_target_the_cheapest_per_eventual_success_wins():
    """Frontier is surer but ten times dearer: starting small and escalating on a failure
    costs less per finished task, so the rule must not drift to the surest tier."""
    from decimal import Decimal

    from tokenroute.advisor.learning import TierRecord, learned_tier
    from tokenroute.advisor.policy import load_policy

    record = {"small": TierRecord(120, 80), "frontier": TierRecord(170, 30)}  # 60%, 85%
    costs = {"small": Decimal("0.001"), "mid": Decimal("0.004"), "frontier": Decimal("0.01")}
    best, reasons, _ = learned_tier("frontier", record, costs, load_policy(), 0.9, tasks=400)
    assert best == "small"  # 60%, escalating the rest: 90% and more finished, far cheaper
    assert any(r.startswith("so small: starting at frontier finishes 85%") for r in reasons)
    record = {"small": TierRecord(110, 90), "frontier": TierRecord(120, 80)}  # 55%, 60%
    costs = {"small": Decimal("0.001"), "frontier": Decimal("0.01")}
    best, reasons, _ = learned_tier("frontier", record, costs, load_policy(), 0.9, tasks=400)
    assert best == "small"  # neither reaches 90%: the cheaper per eventual success
    said = "no start finishes 90% of them, even with one escalation: small"
    assert any(r.startswith(said) for r in reasons)


def test_a_start_that_mostly_fails_is_never_chosen_however_cheap():
    """Ten architecture tasks tried on economy, all failed: one escalation up would still
    look cheap per success, but a first try that fails more often than not is no start."""
    from tokenroute.advisor.learning import TierRecord, learned_tier

    record = {"economy": TierRecord(0, 10)}
    costs = {
        "economy": Decimal("0.001"),
        "small": Decimal("0.004"),
        "mid": Decimal("0.02"),
        "frontier": Decimal("0.1"),
    }
    for target in (0.9, 0.99):
        best, _, _ = learned_tier("frontier", record, costs, load_policy(), target, tasks=10)
        assert best == "frontier"


def test_a_tier_with_one_first_try_cannot_start_yet():
    from tokenroute.advisor.learning import TierRecord, learned_tier

    record = {"small": TierRecord(1, 0), "mid": TierRecord(20, 0)}
    best, _, _ = learned_tier("mid", record, COSTS, load_policy(), 0.9, tasks=21)
    assert best == "mid"  # small has one success: exploring will find out more


def test_a_dearer_first_try_that_adds_no_success_is_not_bought():
    from decimal import Decimal

    from tokenroute.advisor.learning import TierRecord, learned_tier
    from tokenroute.advisor.policy import load_policy

    record = {"small": TierRecord(380, 20), "mid": TierRecord(385, 15)}  # 95% and 96%
    costs = {"small": Decimal("0.001"), "mid": Decimal("0.004"), "frontier": Decimal("0.01")}
    best, _, _ = learned_tier("mid", record, costs, load_policy(), 0.9, tasks=800)
    assert best == "small"


def closed_loop(first_try_ok, costs: dict[str, Decimal], tasks: int = 40) -> list[str]:
    """Starts chosen task after task, each outcome recorded back as pick records it: a
    failed start is escalated once and only its first try counts as evidence."""
    policy = load_policy()
    record: dict[str, list[int]] = {}
    starts = []
    for i in range(tasks):
        view = {t: TierRecord(*ok_fail) for t, ok_fail in record.items()}
        start = choose_start("frontier", view, costs, policy, 0.9, f"t{i}", explore_enabled=True)
        starts.append(start.tier)
        ok = first_try_ok(start.tier)
        record.setdefault(start.tier, [0, 0])[0 if ok else 1] += 1
    return starts


FRONTIER_COSTS = {"economy": Decimal("0.001"), "small": Decimal("0.004"),
                  "mid": Decimal("0.02"), "frontier": Decimal("0.1")}  # fmt: skip


def test_work_only_frontier_can_do_stays_at_frontier_after_a_few_explorations():
    starts = closed_loop(lambda tier: tier == "frontier", FRONTIER_COSTS)
    assert starts[0] == "frontier" and starts[-10:].count("frontier") >= 8
    assert set(starts) <= {"mid", "frontier"}  # explored one tier down, never further
    assert 1 <= starts.count("mid") <= 12  # each failure makes the next try rarer


def test_work_a_cheaper_tier_can_do_moves_there_within_a_few_tasks():
    starts = closed_loop(lambda tier: tier in ("mid", "frontier"), FRONTIER_COSTS)
    assert starts[-10:].count("frontier") == 0  # mid proven; small and economy explored
    assert starts.index("mid") < 10


def test_exploration_is_rare_when_the_cheaper_tier_would_save_little():
    policy = load_policy()
    record = {"mid": TierRecord(3, 0)}
    near = {"small": Decimal("0.019"), "mid": Decimal("0.02")}  # a failure costs both

    def share(costs: dict[str, Decimal]) -> float:
        starts = [
            choose_start("mid", record, costs, policy, 0.9, f"s{i}", explore_enabled=True)
            for i in range(1000)
        ]
        return sum(s.explored for s in starts) / len(starts)

    # small at a fifth of mid's price is worth finding out; at 95% of it, only if it
    # hardly ever fails
    assert share(near) < share(COSTS) / 2


def test_a_new_type_explores_on_its_neighbours_evidence():
    policy = load_policy()
    neighbours = {"mid": TierRecord(0, 0, 30, 2)}  # other mid types' first tries only
    starts = [
        choose_start("mid", neighbours, COSTS, policy, 0.9, f"s{i}", explore_enabled=True)
        for i in range(200)
    ]
    assert any(s.explored for s in starts)


def test_a_start_must_finish_half_its_own_first_tries_whatever_the_prior_believes():
    from tokenroute.advisor.learning import learned_tier

    # mid's prior (78%, worth ten tasks) outweighs three failures: the belief is still 60%,
    # but a tier that has finished none of its three first tries cannot start
    record = {"mid": TierRecord(0, 3), "frontier": TierRecord(5, 0)}
    best, _, _ = learned_tier("frontier", record, FRONTIER_COSTS, load_policy(), 0.9, tasks=8)
    assert best == "frontier"
    record = {"mid": TierRecord(2, 1), "frontier": TierRecord(5, 0)}
    best, _, _ = learned_tier("frontier", record, FRONTIER_COSTS, load_policy(), 0.9, tasks=8)
    assert best == "mid"
