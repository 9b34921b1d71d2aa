"""Build pick's classifier from real task descriptions:
src/tokenroute/advisor/data/pick_model.json.gz.

Usage (a build step, not run by CI; needs ../shared beside the project):
    pip install scikit-learn          # numpy and scipy come with it
    python bench/train_pick.py [--check]

What it learns from:
- ../shared/data/tasks/tasks_real.jsonl: 16,708 descriptions people wrote for their own
  purposes, with their sources' labels mapped to our types (commit subjects without their
  `fix:` prefix, which gives the label away). Rows of the hold-out units in
  bench/pick_checkset_units.txt are left out: bench/pick_checkset.jsonl is checked on them.
- bench/pick_relabels.jsonl: 3,046 of those rows read by a person and labelled by the
  rubric (ids and labels only), which replace their sources' labels: 1,155 had none.
- src/tokenroute/advisor/data/tasks.jsonl and bench/pick_holdout.jsonl: descriptions the project
  wrote, in the way users type requests (weighted up, since the real rows are mostly
  templates, proposals and commit subjects).

The model is a multinomial logistic regression over the features pick reads at run time
(words and word pairs, `classifier.features_of`, plus one feature per task type whose policy
keywords the text contains), with class weights for the thin types. Its confidence is
calibrated on out-of-fold predictions with whole sources held out, so that "80% sure" means
right at least about 80% of the time on text from sources it never saw. Weights are rounded
to 8 bits per class. The artefact records the hashes of its inputs; `--check` (and a test, when
../shared is present) says whether it is still built from the files here.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tokenroute.advisor.classifier import (  # noqa: E402
    MODEL_FILE,
    MODEL_VERSION,
    keyword_features,
    model_inputs,
)
from tokenroute.advisor.policy import load_policy  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "tasks" / "tasks_real.jsonl"
UNITS = ROOT / "bench" / "pick_checkset_units.txt"
RELABELS = ROOT / "bench" / "pick_relabels.jsonl"  # rows relabelled by the rubric (ids only)
POLICY = (
    ROOT / "src" / "tokenroute" / "advisor" / "data" / "policy.yaml"
)  # its keywords are features
OWN = (
    ROOT / "src" / "tokenroute" / "advisor" / "data" / "tasks.jsonl",
    ROOT / "bench" / "pick_holdout.jsonl",
)
OWN_WEIGHT = 3.0  # a self-written request counts as much as three real rows
C = 2.0  # inverse L2 strength (scikit-learn's default is 1)
MIN_DF = 2  # a feature must occur in two descriptions
KEEP = 0.02  # features whose largest weight is below this are dropped
FOLDS = 5


def unit_of(source: str, units: set[str]) -> str:
    """The hold-out unit of a row: `owner/repo:path` or `owner/repo`."""
    file_part = source.split("@")[0]
    repo = re.split(r"[:@]", source, maxsplit=1)[0]
    if file_part in units:
        return file_part
    if repo in units:
        return repo
    return file_part if ":" in file_part else repo


def training_rows(units: set[str]) -> list[tuple[str, str, str, float]]:
    """(text, type, group, weight): real rows outside the hold-out units, then our own."""
    real = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()]
    relabels = relabelled()
    held = {
        _text(r) for r in real if unit_of(r["source"], units) in units
    }  # the same subject committed to two repositories is held out from both
    rows = []
    for row in real:
        label = relabels.get((row["source"], _sha(row["text"])), row["type"])
        if label in (None, "skip") or unit_of(row["source"], units) in units:
            continue
        if _text(row) in held:
            continue
        rows.append((_text(row), label, unit_of(row["source"], units), 1.0))
    for path in OWN:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                item = json.loads(line)
                rows.append((item["text"], item["type"], f"own-{number % FOLDS}", OWN_WEIGHT))
    return rows


def calibration_curve(top, right) -> list[list[float]]:
    """Raw top probability -> how often that was right, on sources never trained on.

    Conservative on purpose: at each knot, the lower end of a 95% Wilson interval over the
    out-of-fold predictions within 0.05 of it (thin bins count for less), made monotone.
    Other people's text is harder than any held-out fold of ours."""
    import numpy as np

    curve, floor = [], 0.0
    for x in np.linspace(0, 1, 41):
        near = np.abs(top - x) <= 0.05
        n = int(near.sum())
        if n:
            p, z = right[near].mean(), 1.96
            centre = p + z * z / (2 * n)
            spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
            floor = max(floor, (centre - spread) / (1 + z * z / n))
        curve.append([round(float(x), 3), round(float(floor), 4)])
    return curve


def relabelled() -> dict[tuple[str, str], str]:
    """(source, sha) -> the rubric's label, where a person read the row and the source's
    own label did not fit it (or there was none); `skip` rows are not tasks."""
    found = {}
    for line in RELABELS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        found[(item["source"], item["sha"])] = item["type"]
    return found


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _text(row: dict) -> str:
    return row.get("text_unprefixed") or row["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args()
    if not REAL.exists():
        sys.exit(f"needs {REAL} (../shared beside the project)")
    inputs = model_inputs(REAL, UNITS, (*OWN, RELABELS, POLICY))
    if args.check:
        shipped = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))
        current = shipped.get("inputs") == inputs and shipped.get("version") == MODEL_VERSION
        print("current" if current else "stale: run python bench/train_pick.py")
        sys.exit(0 if current else 1)
    build(inputs)


def build(inputs: dict[str, str]) -> None:
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from tokenroute.advisor.classifier import features_of

    policy = load_policy()
    units = set(UNITS.read_text().split())
    rows = training_rows(units)
    texts = [text for text, *_ in rows]
    labels = np.array([label for _, label, _, _ in rows])
    groups = [group for _, _, group, _ in rows]
    counts = Counter(labels)
    balance = {k: (len(labels) / (len(counts) * n)) ** 0.5 for k, n in counts.items()}
    weights = np.array([w * balance[label] for _, label, _, w in rows])

    def analyse(text: str) -> list[str]:
        return features_of(text) + keyword_features(text, policy)

    def fit(indices):
        vectorizer = CountVectorizer(analyzer=analyse, binary=True, min_df=MIN_DF)
        matrix = vectorizer.fit_transform([texts[i] for i in indices])
        model = LogisticRegression(C=C, max_iter=4000)
        model.fit(matrix, labels[indices], sample_weight=weights[indices])
        return vectorizer, model

    # out-of-fold confidence on whole sources never seen: what calibration learns from
    # (real rows only: our own, written in one voice, would make it look surer than it is)
    top, right = [], []
    for train, test in GroupKFold(FOLDS).split(texts, labels, groups):
        test = [i for i in test if not groups[i].startswith("own-")]
        vectorizer, model = fit(train)
        probabilities = model.predict_proba(vectorizer.transform([texts[i] for i in test]))
        top.extend(probabilities.max(axis=1))
        right.extend(model.classes_[probabilities.argmax(axis=1)] == labels[test])
    curve = calibration_curve(np.array(top), np.array(right, dtype=float))

    vectorizer, model = fit(np.arange(len(texts)))
    names = vectorizer.get_feature_names_out()
    coefficients = model.coef_  # classes x features
    keep = np.abs(coefficients).max(axis=0) >= KEEP
    kept = coefficients[:, keep]
    scales = np.abs(kept).max(axis=1) / 127
    quantised = np.round(kept / scales[:, None]).astype(np.int8)
    artefact = {
        "version": MODEL_VERSION,
        "classes": [str(c) for c in model.classes_],
        "bias": [round(float(b), 5) for b in model.intercept_],
        "scales": [float(f"{s:.6g}") for s in scales],
        "features": [str(f) for f in names[keep]],
        "weights": quantised.T.reshape(-1).tobytes().hex(),  # feature-major: 15 per feature
        "calibration": curve,
        "inputs": inputs,
        "trained_on": {"rows": len(rows), "real": int(sum(1 for r in rows if r[3] == 1.0))},
    }
    blob = json.dumps(artefact, separators=(",", ":"), sort_keys=True).encode()
    MODEL_FILE.write_bytes(gzip.compress(blob, mtime=0))
    print(
        f"{MODEL_FILE.relative_to(ROOT)}: {len(artefact['features']):,} features, "
        f"{len(rows):,} rows, out-of-fold accuracy {np.mean(right):.1%}, "
        f"{MODEL_FILE.stat().st_size / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
