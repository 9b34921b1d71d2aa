"""Which kind of task a description asks for: offline, deterministic, stdlib only.

A multinomial logistic regression over words, word pairs and the policy's keywords, trained
by bench/train_pick.py on real task descriptions (../shared, never copied here) and the
project's own, shipped as `data/pick_model.json.gz`. Its confidence is calibrated on sources
it never saw, and it names the words that decided, so `pick` can explain itself and ask
when unsure. `NaiveBayes` is the former model, kept for bench/pick_accuracy.py's comparison.
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

from tokenroute.advisor.policy import Policy

EXAMPLES = Path(__file__).resolve().parent / "data" / "tasks.jsonl"
MODEL_FILE = Path(__file__).resolve().parent / "data" / "pick_model.json.gz"
MODEL_VERSION = 2  # the artefact's layout; change with features_of or keyword_features
MAX_CHARS = 20_000  # a longer description is classified on its first MAX_CHARS characters
ALPHA = 0.3  # NaiveBayes smoothing (bench/pick_accuracy.py compares it with the model)
_WORD = re.compile(r"[a-z0-9][a-z0-9'+#]*")


class Classification(NamedTuple):
    task_type: str
    confidence: float  # the model's probability for task_type, after calibration
    runner_up: str
    signals: tuple[str, ...]  # the words and phrases that decided
    truncated: bool = False
    shares: tuple[tuple[str, float], ...] = ()  # every type's (uncalibrated) probability


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


def model_inputs(real: Path, units: Path, own: Sequence[Path]) -> dict[str, str]:
    """What the shipped model was built from, by content hash (bench/train_pick.py)."""

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    found = {"tasks_real.jsonl": digest(real), "pick_checkset_units.txt": digest(units)}
    found.update({path.name: digest(path) for path in own})
    return found


def keyword_features(text: str, policy: Policy) -> list[str]:
    """One feature per task type whose policy keywords the text holds: the model learns what
    a keyword is worth, and a user's own keywords speak through the same features."""
    lowered = text.lower()
    return [
        f"kw:{name}"
        for name, rule in policy.types.items()
        if any(_contains(lowered, k) for k in rule.keywords)
    ]


class LinearModel(NamedTuple):
    """A multinomial logistic regression, its weights 8-bit per class (bench/train_pick.py)."""

    classes: tuple[str, ...]
    bias: tuple[float, ...]
    scales: tuple[float, ...]
    index: dict[str, int]  # feature -> its row in weights
    weights: bytes  # int8, feature-major: len(classes) per feature
    calibration: tuple[tuple[float, float], ...]  # raw top probability -> accuracy

    def scores(self, features: Iterable[str]) -> list[float]:
        from array import array

        n = len(self.classes)
        totals = list(self.bias)
        weights = array("b", self.weights)
        for feature in features:
            row = self.index.get(feature)
            if row is None:
                continue
            base = row * n
            for c in range(n):
                totals[c] += weights[base + c] * self.scales[c]
        return totals

    def weight(self, feature: str, label: str) -> float:
        row = self.index.get(feature)
        if row is None:
            return 0.0
        c = self.classes.index(label)
        value = self.weights[row * len(self.classes) + c]
        return (value - 256 if value > 127 else value) * self.scales[c]

    def calibrated(self, raw: float) -> float:
        """How often a top probability of `raw` was right on sources never trained on."""
        points = self.calibration
        for (x0, y0), (x1, y1) in pairwise(points):
            if raw <= x1:
                return y0 + (y1 - y0) * (raw - x0) / (x1 - x0) if x1 > x0 else y1
        return points[-1][1]


def trained_model(cache: Path | None, path: Path | None = None) -> LinearModel:
    """The shipped model, kept in `cache` as marshal by the artefact's content hash.

    Reading the gzipped JSON takes ~25 ms; the marshalled copy ~3 ms. marshal is Python-
    version specific, so the version is part of the key; the cache is the user's own folder,
    written by this function alone.
    """
    blob = (path or MODEL_FILE).read_bytes()
    key = hashlib.sha256(blob + sys.version.encode()).hexdigest()[:24]
    target = cache / f"pick-model-{key}.marshal" if cache else None
    if target is not None:
        try:
            classes, bias, scales, index, weights, curve = marshal.loads(target.read_bytes())
            return LinearModel(classes, bias, scales, index, weights, curve)
        except (OSError, ValueError, EOFError, TypeError):
            pass  # missing or unreadable: read the artefact and try to write it again
    model = _read_artefact(blob)
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_suffix(".tmp")
            temp.write_bytes(marshal.dumps(tuple(model)))
            temp.replace(target)
        except OSError:
            pass  # an unwritable cache only costs the next start-up time
    return model


def _read_artefact(blob: bytes) -> LinearModel:
    import gzip

    raw = json.loads(gzip.decompress(blob))
    if raw.get("version") != MODEL_VERSION:
        raise ValueError(f"pick model version {raw.get('version')} (expected {MODEL_VERSION})")
    return LinearModel(
        tuple(raw["classes"]),
        tuple(raw["bias"]),
        tuple(raw["scales"]),
        {feature: row for row, feature in enumerate(raw["features"])},
        bytes.fromhex(raw["weights"]),
        tuple((x, y) for x, y in raw["calibration"]),
    )


def classify(text: str, model: LinearModel, policy: Policy) -> Classification:
    """The most likely task type, how sure (calibrated), and the evidence."""
    truncated = len(text) > MAX_CHARS
    sample = text[:MAX_CHARS]
    words = features_of(sample)
    keywords = keyword_features(sample, policy)
    totals = model.scores(words + keywords)
    top = max(totals)
    weights = [math.exp(t - top) for t in totals]
    total = sum(weights)
    ranked = sorted(range(len(totals)), key=totals.__getitem__, reverse=True)
    best, second = model.classes[ranked[0]], model.classes[ranked[1]]
    confidence = model.calibrated(weights[ranked[0]] / total)
    signals = _telling(sample, words, keywords, model, best, second, policy)
    shares = tuple((c, w / total) for c, w in zip(model.classes, weights, strict=True))
    return Classification(best, confidence, second, signals, truncated, shares)


def _contains(text: str, phrase: str) -> bool:
    """The phrase where a word starts, so 'test' does not fire on 'latest' ('migrat' is a
    stem: no boundary is needed where it ends). No regex: pick compiles nothing at start-up."""
    start = text.find(phrase)
    while start != -1:
        if start == 0 or not text[start - 1].isalnum():
            return True
        start = text.find(phrase, start + 1)
    return False


_FILLER = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "which",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _telling(
    text: str,
    words: Sequence[str],
    keywords: Sequence[str],
    model: LinearModel,
    best: str,
    second: str,
    policy: Policy,
    limit: int = 3,
) -> tuple[str, ...]:
    """The words that most favour `best` over `second` (a policy keyword of `best` first):
    why the model chose it. Words like 'or' and 'to be' never count as a reason."""
    lowered = text.lower()
    named = []
    if f"kw:{best}" in keywords:
        named = [k for k in policy.types[best].keywords if _contains(lowered, k)][:limit]

    def lift(feature: str) -> float:
        return model.weight(feature, best) - model.weight(feature, second)

    telling = [f for f in words if not _FILLER.issuperset(f.split()) and lift(f) > 0.2]
    telling.sort(key=lift, reverse=True)
    return tuple(dict.fromkeys([*named, *telling]))[:limit]
