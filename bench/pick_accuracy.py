"""How often pick's classifier names the right task type.

Usage: python bench/pick_accuracy.py
Prints, per type: 5-fold cross-validated accuracy on the shipped labelled descriptions
(src/tokenroute/data/tasks.jsonl) for the learned model with the policy's keywords (what
pick uses) and for the keywords alone; then accuracy on bench/pick_holdout.jsonl, 240
descriptions written separately from the training set and never trained on (a test keeps
them apart), by the model trained on every shipped description.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from tokenroute.classifier import NaiveBayes, classify, features_of, load_examples
from tokenroute.policy import load_policy
from tokenroute.taxonomy import TASK_TYPES

FOLDS = 5
HOLDOUT = Path(__file__).resolve().parent / "pick_holdout.jsonl"


def keywords_only(text: str, policy) -> str:
    lowered = text.lower()
    hits = {name: sum(k in lowered for k in rule.keywords) for name, rule in policy.types.items()}
    best = max(hits, key=hits.get)
    return best if hits[best] else "qa"


def main() -> None:
    policy = load_policy()
    examples = load_examples()
    random.Random(7).shuffle(examples)
    right, rules_right, total = Counter(), Counter(), Counter()
    unsure = unsure_wrong = 0
    for fold in range(FOLDS):
        test = examples[fold::FOLDS]
        train = [e for i, e in enumerate(examples) if i % FOLDS != fold]
        model = NaiveBayes.train(train)
        for text, label in test:
            result = classify(text, model, policy)
            total[label] += 1
            right[label] += result.task_type == label
            rules_right[label] += keywords_only(text, policy) == label
            if result.confidence < 0.5:
                unsure += 1
                unsure_wrong += result.task_type != label
    holdout = load_examples(HOLDOUT)
    model = NaiveBayes.train(examples)
    held_right, held_total = Counter(), Counter()
    for text, label in holdout:
        held_total[label] += 1
        held_right[label] += classify(text, model, policy).task_type == label

    print(f"{len(examples)} labelled descriptions, {FOLDS}-fold cross-validation; ", end="")
    print(f"{len(holdout)} held out")
    print(f"{'type':<14}{'n':>5}{'pick':>8}{'rules':>8}{'held-out':>10}")
    for name in TASK_TYPES:
        n = total[name]
        held = held_right[name] / held_total[name] if held_total[name] else float("nan")
        print(f"{name:<14}{n:>5}{right[name] / n:>8.0%}{rules_right[name] / n:>8.0%}{held:>10.0%}")
    n = sum(total.values())
    print(
        f"{'all':<14}{n:>5}{sum(right.values()) / n:>8.1%}{sum(rules_right.values()) / n:>8.1%}"
        f"{sum(held_right.values()) / len(holdout):>10.1%}"
    )
    print(f"unsure (<50%): {unsure} of {n}; of those wrong: {unsure_wrong}")
    print(f"features per description: {sum(len(features_of(t)) for t, _ in examples) / n:.0f}")


if __name__ == "__main__":
    main()
