"""How often pick names the right task type and tier, on real descriptions it never trained on.

Usage: python bench/pick_accuracy.py [--verbose]

The check set (bench/pick_checkset.jsonl) is 269 rows of ../shared/data/tasks/tasks_real.jsonl
from whole sources that bench/train_pick.py leaves out of training (pick_checkset_units.txt),
each labelled by the rubric of issue 13; only their ids and labels are committed, the text
is read from ../shared. For each row this runs pick as a script would (no terminal, no
ledger) and prints, per type and overall: type accuracy, tier accuracy, under-routing (a
frontier task recommended economy, small or local), the most common confusions, and the
calibration (accuracy when pick says it is at least 80% sure, and the share of tasks above
that). Then the old figures, on descriptions the project wrote itself (the former naive
Bayes model cross-validated on them, and both models on bench/pick_holdout.jsonl), so the
two kinds of evidence can be compared.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tokenroute.advisor.classifier import NaiveBayes, classify, load_examples, trained_model
from tokenroute.advisor.pick import Answers, PickFlow
from tokenroute.advisor.policy import load_policy
from tokenroute.prices.table import load_price_table, shipped_dir
from tokenroute.taxonomy import TASK_TYPES, TIERS

BENCH = Path(__file__).resolve().parent
REAL = BENCH.parents[1] / "shared" / "data" / "tasks" / "tasks_real.jsonl"
CHECKSET = BENCH / "pick_checkset.jsonl"
HOLDOUT = BENCH / "pick_holdout.jsonl"
SURE = 0.8


def check_items() -> list[tuple[str, str, str]]:
    """(text, type, unit) of every check-set row, the text read from ../shared."""
    by_source = {}
    for line in REAL.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_source[row["source"]] = row.get("text_unprefixed") or row["text"]
    items = []
    for line in CHECKSET.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        items.append((by_source[item["source"]], item["type"], item["unit"]))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    args = parser.parse_args()
    if not REAL.exists():
        sys.exit(f"needs {REAL} (../shared beside the project)")
    policy = load_policy()
    tier_of = {name: rule.tier for name, rule in policy.types.items()}
    rank = {tier: i for i, tier in enumerate(TIERS)}
    table = load_price_table(shipped_dir())
    with tempfile.TemporaryDirectory() as scratch:
        flow = PickFlow(
            table=table,
            ledger_path=Path(scratch) / "ledger.db",
            day=datetime(2026, 11, 23, tzinfo=UTC).date(),
            now=datetime(2026, 11, 23, 12, tzinfo=UTC),
            configured=set(),
        )
        items = check_items()
        results = []
        for text, label, unit in items:
            picked = flow.pick(text, Answers(None, None, None), interactive=False, log=False)
            rec = picked.recommendation
            results.append((label, rec.task_type, rec.tier, rec.confidence, unit, text))

    right, tier_right, total = Counter(), Counter(), Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    under = frontier = sure = sure_right = 0
    for label, got, tier, confidence, _, text in results:
        total[label] += 1
        right[label] += got == label
        tier_right[label] += tier == tier_of[label]
        if got != label:
            confusions[(label, got)] += 1
            if args.verbose:
                print(f"  {label} -> {got} ({confidence:.0%}, {tier}): {text[:100]}")
        if tier_of[label] == "frontier":
            frontier += 1
            under += rank[tier] < rank["mid"]
        if confidence >= SURE:
            sure += 1
            sure_right += got == label
    n = len(results)
    print(f"check set: {n} real descriptions from {len({r[4] for r in results})} held-out units")
    print(f"{'type':<14}{'n':>4}{'type':>8}{'tier':>8}")
    for name in TASK_TYPES:
        if total[name]:
            print(
                f"{name:<14}{total[name]:>4}{right[name] / total[name]:>8.0%}"
                f"{tier_right[name] / total[name]:>8.0%}"
            )
    print(f"{'all':<14}{n:>4}{sum(right.values()) / n:>8.1%}{sum(tier_right.values()) / n:>8.1%}")
    share = under / frontier
    print(f"under-routing: {under} of {frontier} frontier tasks sent below mid ({share:.1%})")
    print(
        f"calibration: {sure} of {n} ({sure / n:.0%}) at >= {SURE:.0%} sure, right "
        f"{sure_right / sure:.0%} of those"
        if sure
        else f"calibration: none at >= {SURE:.0%}"
    )
    print(
        "confusions (label -> picked):",
        ", ".join(f"{a}->{b} {k}" for (a, b), k in confusions.most_common(10)),
    )
    bayes = NaiveBayes.train(load_examples())
    former = sum(_bayes_type(bayes, text) == label for text, label, _ in items) / n
    print(f"the former naive Bayes (self-written training) on the check set: type {former:.1%}")
    self_written(policy)


def self_written(policy) -> None:
    """The figures the project used to quote: text it wrote itself."""
    examples = load_examples()
    random.Random(7).shuffle(examples)
    folds, hits = 5, 0
    for fold in range(folds):
        test = examples[fold::folds]
        train = [e for i, e in enumerate(examples) if i % folds != fold]
        bayes = NaiveBayes.train(train)
        hits += sum(_bayes_type(bayes, t) == label for t, label in test)
    holdout = load_examples(HOLDOUT)
    bayes = NaiveBayes.train(examples)
    model = trained_model(None)
    old = sum(_bayes_type(bayes, t) == label for t, label in holdout) / len(holdout)
    new = sum(classify(t, model, policy).task_type == label for t, label in holdout) / len(holdout)
    print(
        f"self-written (not evidence): former naive Bayes {hits / len(examples):.1%} "
        f"cross-validated on {len(examples)}, {old:.1%} on the {len(holdout)} held out; "
        f"the shipped model {new:.1%} on those (it trains on them now)"
    )


def _bayes_type(model: NaiveBayes, text: str) -> str:
    from tokenroute.advisor.classifier import features_of

    scores = model.scores(features_of(text))
    return max(scores, key=scores.__getitem__)


if __name__ == "__main__":
    main()
