"""pick's shipped classifier: the artefact, what it decides on text users type, and its reasons."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error

from tokenroute.advisor.classifier import MODEL_FILE, classify, model_inputs, trained_model
from tokenroute.advisor.policy import load_policy
from tokenroute.errors import ExitCode
from tokenroute.taxonomy import TASK_TYPES

SHARED = ROOT.parent / "shared" / "data" / "tasks" / "tasks_real.jsonl"
OWN = (
    ROOT / "src" / "tokenroute" / "advisor" / "data" / "tasks.jsonl",
    ROOT / "bench" / "pick_holdout.jsonl",
)


@pytest.fixture(scope="module")
def model():
    return trained_model(None)


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def pick_json(run, *args: str) -> dict:
    out = run("pick", *args, "--json", "--no-log")
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)


def test_the_artefact_is_small_complete_and_calibrated_upwards(model):
    assert MODEL_FILE.stat().st_size < 1_000_000
    assert sorted(model.classes) == sorted(TASK_TYPES)
    xs, ys = zip(*model.calibration, strict=True)
    assert list(xs) == sorted(xs) and list(ys) == sorted(ys)  # surer never means less right
    assert model.calibrated(0.0) <= model.calibrated(0.5) <= model.calibrated(1.0) <= 1


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this clone")
def test_the_artefact_is_built_from_the_files_here():
    """bench/train_pick.py records its inputs' hashes: rebuild when one changes."""
    shipped = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))
    units = ROOT / "bench" / "pick_checkset_units.txt"
    relabels = ROOT / "bench" / "pick_relabels.jsonl"
    policy = (
        ROOT / "src" / "tokenroute" / "advisor" / "data" / "policy.yaml"
    )  # keywords are features
    assert shipped["inputs"] == model_inputs(SHARED, units, (*OWN, relabels, policy)), (
        "stale: run python bench/train_pick.py"
    )


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this clone")
def test_no_check_set_source_is_trained_on():
    """The check set's rows belong to its hold-out units, which training leaves out."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_pick", ROOT / "bench" / "train_pick.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    units = set((ROOT / "bench" / "pick_checkset_units.txt").read_text().split())
    checked = [json.loads(line) for line in (ROOT / "bench" / "pick_checkset.jsonl").open()]
    assert all(train.unit_of(item["source"], units) in units for item in checked)
    trained_texts = {text for text, *_ in train.training_rows(units)}
    real = {json.loads(line)["source"]: json.loads(line) for line in SHARED.open()}
    leaked = [
        i["source"]
        for i in checked
        if (real[i["source"]].get("text_unprefixed") or real[i["source"]]["text"]) in trained_texts
    ]
    assert leaked == []


# Requests as users type them, one or two per type, with the tier the rubric gives them.
USER_REQUESTS = [
    ("Design the architecture for a multi-region event ingestion platform", "frontier"),
    (
        "Review our use of an AGPL library: does it oblige us to publish our source code?",
        "frontier",
    ),
    ("Synthesise the findings of these twelve customer interviews into themes", "frontier"),
    ("Implement a function that parses ISO 8601 durations and returns seconds", "mid"),
    ("Refactor the payment module to use dependency injection, no behaviour change", "mid"),
    ("The login page crashes with a null pointer exception after the last deploy", "mid"),
    ("Review this pull request and point out bugs and style problems", "mid"),
    ("Write unit tests for the date parsing helpers", "small"),
    ("Extract the invoice number, date and total from this email", "small"),
    ("Summarize this changelog in three bullet points", "small"),
    ("Translate the README into German", "small"),
    ("Convert these references to APA citation style", "economy"),
    ("Brainstorm ten names for a note-taking app", "economy"),
    ("What is the default port of PostgreSQL?", "economy"),
]


@pytest.mark.parametrize(("text", "tier"), USER_REQUESTS)
def test_user_requests_get_their_tier(run, text, tier):
    assert pick_json(run, text)["tier"] == tier


def test_reasons_name_real_words_never_fillers(model, policy):
    found = classify(
        "Is it better to use a or b, or to be done with it from a list?", model, policy
    )
    assert all(s not in ("or", "to be", "from a", "a", "to") for s in found.signals)
    found = classify("Translate the README into German", model, policy)
    assert found.task_type == "translate" and "translate" in found.signals


@pytest.mark.parametrize(
    ("confidence", "tier", "unsure"), [(0.49, "frontier", True), (0.5, "economy", False)]
)
def test_below_the_threshold_a_script_takes_the_dearer_candidate(policy, confidence, tier, unsure):
    from tokenroute.advisor.classifier import Classification
    from tokenroute.advisor.pick import Answers
    from tokenroute.advisor.router import start_tier

    guess = Classification("format", confidence, "analysis", ("reformat",))
    chosen, reasons = start_tier(
        guess, "reformat the notes", Answers(None, None, None), policy, interactive=False
    )
    assert chosen == tier
    said = "unsure between format and analysis: taking the safer frontier"
    assert (said in reasons) is unsure


def test_a_huge_description_is_read_in_part_and_said(run, tmp_path):
    big = tmp_path / "ticket.md"
    big.write_text("The checkout page crashes when the cart is empty. " * 100_000)  # ~5 MB
    out = run("pick", "--file", str(big), "--json", "--no-log")
    assert out.exit_code == 0, out.stderr
    assert "classified on the first 20,000" in out.stderr
    assert json.loads(out.stdout)["task_type"] == "debug"


def test_a_tier_word_inside_another_word_moves_nothing(run):
    plain = pick_json(run, "Write the onboarding guide for Growmatic")
    inside = pick_json(run, "Write the onboarding guide for Quickgrow")
    quick = pick_json(run, "Write a quick onboarding guide for Growmatic")
    assert inside["tier"] == plain["tier"]
    assert not any("'quick'" in r for r in inside["reasons"])
    assert any("'quick' moved it one tier down" in r for r in quick["reasons"])


def test_the_type_can_be_stated(run):
    body = pick_json(run, "--task-type", "analysis", "look at this")
    assert (body["task_type"], body["tier"]) == ("analysis", "frontier")
    assert any("as given with --task-type" in r for r in body["reasons"])
    out = run("pick", "--task-type", "poem", "look at this")
    assert_one_line_error(out, ExitCode.USAGE, "--task-type must be one of")


def test_the_model_is_read_from_the_cache_the_second_time(tmp_path):
    import marshal

    first = trained_model(tmp_path)
    [cached] = list(Path(tmp_path).glob("pick-model-*.marshal"))
    planted = first._replace(classes=tuple(reversed(first.classes)))
    cached.write_bytes(marshal.dumps(tuple(planted)))  # what the cache says is what is used
    assert trained_model(tmp_path).classes == planted.classes
    cached.write_bytes(b"not marshal")  # a broken cache is rebuilt, not fatal
    assert trained_model(tmp_path) == first


@pytest.mark.parametrize(
    "text",
    ["non-critical typo in the docs", "not complex at all: fix a typo in the docs",
     "fix the typo in quick_start.md"],
)  # fmt: skip
def test_tier_words_that_are_negated_or_part_of_a_name_move_nothing(run, text):
    assert not any("moved it one tier" in r for r in pick_json(run, text)["reasons"])


def test_a_stated_type_needs_no_description(run):
    body = pick_json(run, "--task-type", "translate")
    assert (body["task_type"], body["tier"]) == ("translate", "small")


def test_frontier_work_is_kept_at_mid_or_above_when_the_evidence_leans_that_way(policy):
    from tokenroute.advisor.classifier import Classification
    from tokenroute.advisor.pick import Answers
    from tokenroute.advisor.router import start_tier

    leaning = (("extract", 0.6), ("analysis", 0.3), ("qa", 0.1))
    guess = Classification("extract", 0.9, "analysis", ("clause",), False, leaning)
    tier, reasons = start_tier(guess, "x", Answers(None, None, None), policy, interactive=False)
    assert tier == "mid" and "30% of the evidence reads as frontier work: not below mid" in reasons
    plain = guess._replace(shares=(("extract", 0.9), ("analysis", 0.05), ("qa", 0.05)))
    tier, _ = start_tier(plain, "x", Answers(None, None, None), policy, interactive=False)
    assert tier == "small"


@pytest.mark.parametrize(
    "text",
    ["Given a statute and a set of facts, determine how much tax an individual owes.",
     "quick check: is this insurance claim covered by the policy?",
     "Classify whether this piece of evidence is hearsay"],
)  # fmt: skip
def test_a_high_stakes_subject_is_never_sent_below_mid(run, text):
    body = pick_json(run, text)
    assert body["tier"] in ("mid", "frontier"), body["reasons"]


def test_the_stakes_floor_holds_after_a_tier_word_moved_the_task_down(policy):
    from tokenroute.advisor.classifier import Classification
    from tokenroute.advisor.pick import Answers
    from tokenroute.advisor.router import start_tier

    sure = Classification("extract", 0.9, "qa", ("field",), False, (("extract", 1.0),))
    no = Answers(None, None, None)
    text = "quick: pull the patient's name from this form"
    tier, reasons = start_tier(sure, text, no, policy, interactive=False)
    assert tier == "mid"
    assert "'patient': a high-stakes subject: not below mid" in reasons
    tier, _ = start_tier(sure, "quick: pull the name from this form", no, policy, interactive=False)
    assert tier == "economy"  # the same words without the subject: moved down, kept there
