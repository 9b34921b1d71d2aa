"""Which kind of task a description asks for: offline, deterministic, stdlib only.

A multinomial naive Bayes over words and word pairs, trained on the labelled descriptions
shipped in `data/tasks.jsonl`, plus the policy's keywords as strong evidence. It reports
how sure it is, and which words decided, so `pick` can explain itself and ask when unsure.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from tokenroute.policy import Policy

EXAMPLES = Path(__file__).resolve().parent / "data" / "tasks.jsonl"
MAX_CHARS = 20_000  # a longer description is classified on its first MAX_CHARS characters
KEYWORD_WEIGHT = 2.5  # log-odds a policy keyword adds for its type
ALPHA = 0.3  # additive smoothing, chosen by cross-validation in bench/pick_accuracy.py
_FEATURES_VERSION = "words+pairs/1"  # change with features_of: cached models go stale
_WORD = re.compile(r"[a-z0-9][a-z0-9'+#]*")


class Classification(NamedTuple):
    task_type: str
    confidence: float  # the model's probability for task_type, after calibration
    runner_up: str
    signals: tuple[str, ...]  # the words and phrases that decided
    truncated: bool = False


class NaiveBayes(NamedTuple):
    classes: tuple[str, ...]
    log_prior: dict[str, float]
    log_likelihood: dict[str, dict[str, float]]
    log_unseen: dict[str, float]

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]], alpha: float = ALPHA) -> NaiveBayes:
        counts: dict[str, Counter[str]] = {}
        documents: Counter[str] = Counter()
        vocabulary: set[str] = set()
        for text, label in examples:
            features = features_of(text)
            counts.setdefault(label, Counter()).update(features)
            documents[label] += 1
            vocabulary.update(features)
        total = sum(documents.values())
        size = len(vocabulary)
        likelihood, unseen = {}, {}
        for label, counter in counts.items():
            denominator = sum(counter.values()) + alpha * size
            likelihood[label] = {f: math.log((n + alpha) / denominator) for f, n in counter.items()}
            unseen[label] = math.log(alpha / denominator)
        prior = {label: math.log(n / total) for label, n in documents.items()}
        return cls(tuple(sorted(counts)), prior, likelihood, unseen)

    def scores(self, features: Sequence[str]) -> dict[str, float]:
        return {
            label: self.log_prior[label]
            + sum(self.log_likelihood[label].get(f, self.log_unseen[label]) for f in features)
            for label in self.classes
        }


def features_of(text: str) -> list[str]:
    """Words and word pairs, each once: repeating a phrase is not more evidence."""
    words = _WORD.findall(text.lower())
    return list(dict.fromkeys(words + [f"{a} {b}" for a, b in pairwise(words)]))


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str]]:
    return _parse_examples(path.read_bytes())


def _parse_examples(blob: bytes) -> list[tuple[str, str]]:
    examples = []
    for line in blob.decode("utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            examples.append((item["text"], item["type"]))
    return examples


def trained_model(cache: Path | None, path: Path = EXAMPLES) -> NaiveBayes:
    """The model trained on `path`, kept in `cache` by the examples' content hash.

    Training takes ~20 ms on every `pick`; loading the trained model takes ~3 ms. marshal
    is Python-version specific, so the version is part of the key; the cache is the user's
    own folder, written by this function alone.
    """
    blob = path.read_bytes()
    salt = f"{_FEATURES_VERSION}|{ALPHA}|{sys.version}".encode()
    key = hashlib.sha256(blob + salt).hexdigest()[:24]
    target = cache / f"classifier-{key}.marshal" if cache else None
    if target is not None:
        try:
            return NaiveBayes(*marshal.loads(target.read_bytes()))
        except (OSError, ValueError, EOFError, TypeError):
            pass  # missing or unreadable: train and try to write it again
    model = NaiveBayes.train(_parse_examples(blob))
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_suffix(".tmp")
            temp.write_bytes(marshal.dumps(tuple(model)))
            temp.replace(target)
        except OSError:
            pass  # an unwritable cache only costs the next start-up time
    return model


def classify(text: str, model: NaiveBayes, policy: Policy) -> Classification:
    """The most likely task type, how sure, and the evidence."""
    truncated = len(text) > MAX_CHARS
    sample = text[:MAX_CHARS]
    lowered = sample.lower()
    features = features_of(sample)
    scores = model.scores(features)
    hits: dict[str, list[str]] = {}
    for name, rule in policy.types.items():
        matched = [k for k in rule.keywords if _contains(lowered, k)]
        if matched and name in scores:
            scores[name] += KEYWORD_WEIGHT * len(matched)
            hits[name] = matched
    # Naive Bayes is overconfident on long texts: soften by the square root of the evidence.
    temperature = max(1.0, math.sqrt(len(features)) / 2)
    top = max(scores.values())
    weights = {label: math.exp((s - top) / temperature) for label, s in scores.items()}
    total = sum(weights.values())
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    best, second = ranked[0], ranked[1]
    signals = tuple(hits.get(best, [])) or _telling_words(features, model, best, second)
    return Classification(best, weights[best] / total, second, signals, truncated)


def _contains(text: str, phrase: str) -> bool:
    """The phrase where a word starts, so 'test' does not fire on 'latest' ('migrat' is a
    stem: no boundary is needed where it ends). No regex: pick compiles nothing at start-up."""
    start = text.find(phrase)
    while start != -1:
        if start == 0 or not text[start - 1].isalnum():
            return True
        start = text.find(phrase, start + 1)
    return False


def _telling_words(
    features: Sequence[str], model: NaiveBayes, best: str, second: str, limit: int = 3
) -> tuple[str, ...]:
    """The features that most favour `best` over `second`: why the model chose it."""

    def lift(feature: str) -> float:
        ours = model.log_likelihood[best].get(feature, model.log_unseen[best])
        theirs = model.log_likelihood[second].get(feature, model.log_unseen[second])
        return ours - theirs

    seen = sorted(set(features), key=lift, reverse=True)
    return tuple(f for f in seen[:limit] if lift(f) > 0)
