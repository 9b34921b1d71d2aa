"""`pick --council` against the loopback server: each member's vote scripted by model."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, ledger_db, write
from fakeprovider import FakeProvider, Reply, point_clients_at

from tokenroute.dispatch.council import Vote, decide
from tokenroute.errors import ExitCode

MEMBERS = "claude-haiku-4-5,gpt-5-mini,gemini-2.5-flash"
CLOSED = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, so no local model runs


@pytest.fixture
def provider(isolated_home, monkeypatch):
    server = FakeProvider()
    point_clients_at(server, monkeypatch)
    write(isolated_home / "config.yaml", config(server.url))
    yield server
    server.close()


def config(url: str) -> str:
    locals_ = "".join(
        f"  {n}: {{base_url: '{CLOSED}'}}\n" for n in ("ollama", "llamacpp", "vllm", "lmstudio")
    )
    return f"retries: 0\ntimeout: 5\nendpoints:\n  google: {{base_url: '{url}'}}\n" + locals_


def voting(votes: dict[str, object]):
    def respond(model: str, body: dict) -> Reply:
        vote = votes.get(model, ("mid", "code"))
        if isinstance(vote, Reply):
            return vote
        tier, task_type = vote
        return Reply(text=(json.dumps({"task_type": task_type, "tier": tier, "why": "because"}),))

    return respond


def council(run, *args: str) -> dict:
    outcome = run("pick", "refactor the auth module", "--no-log", "--council", *args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    return json.loads(outcome.stdout)["council"]


def test_a_clear_majority_decides_and_every_vote_is_an_attempt(run, provider, isolated_home):
    provider.respond = voting(
        {"claude-haiku-4-5": ("mid", "refactor"), "gpt-5-mini": ("mid", "refactor"),
         "gemini-2.5-flash": ("small", "code")}
    )  # fmt: skip
    body = council(run, "--council-models", MEMBERS)
    assert (body["tier"], body["how"], body["task_type"]) == ("mid", "majority", "refactor")
    assert [v["tier"] for v in body["votes"]] == ["mid", "mid", "small"]
    assert body["model"]["id"] and not body["cached"]
    conn = ledger_db(isolated_home)
    rows = conn.execute("SELECT source, model FROM attempts").fetchall()
    conn.close()
    assert sorted(rows) == sorted(("council", m) for m in MEMBERS.split(","))
    # each member was asked for strict JSON, the way its API takes it
    bodies = {r["path"].split("/")[1]: r["body"] for r in provider.requests}
    assert any(
        "response_format" in b or "tools" in b or "generationConfig" in b for b in bodies.values()
    )


def test_a_split_goes_to_the_dearer_tier_and_says_so(run, provider):
    provider.respond = voting(
        {"claude-haiku-4-5": ("small", "code"), "gpt-5-mini": ("mid", "code"),
         "gemini-2.5-flash": ("frontier", "architecture")}
    )  # fmt: skip
    body = council(run, "--council-models", MEMBERS)
    assert (body["tier"], body["how"]) == ("frontier", "split")
    human = run(
        "pick", "refactor the auth module", "--no-log", "--council", "--council-models", MEMBERS
    )
    assert "split: the dearest tier voted is taken" in human.stdout


def test_a_failed_or_malformed_member_is_named_and_left_out(run, provider):
    provider.respond = voting(
        {"claude-haiku-4-5": ("mid", "code"), "gpt-5-mini": Reply(kind="status", status=500),
         "gemini-2.5-flash": Reply(text=("I think mid, probably",))}
    )  # fmt: skip
    body = council(run, "--council-models", MEMBERS)
    left = {v["model"]: v["left_out"] for v in body["votes"] if v["left_out"]}
    assert set(left) == {"gpt-5-mini", "gemini-2.5-flash"}
    assert body["tier"] == "mid" and body["how"] == "unanimous"


def test_a_slow_member_is_left_out_at_the_timeout(run, provider):
    votes = {
        "gpt-5-mini": Reply(text=('{"task_type": "code", "tier": "small", "why": "x"}',), delay=4)
    }
    provider.respond = voting(votes)
    body = council(run, "--council-models", MEMBERS, "--timeout", "1")
    slow = next(v for v in body["votes"] if v["model"] == "gpt-5-mini")
    assert slow["left_out"] and "1" in slow["left_out"]
    assert body["tier"] == "mid"


def test_asking_again_is_cached_and_costs_nothing(run, provider):
    provider.respond = voting({})
    first = council(run, "--council-models", MEMBERS)
    sent = len(provider.requests)
    again = council(run, "--council-models", MEMBERS)
    assert len(provider.requests) == sent
    assert again["cached"] and again["tier"] == first["tier"]
    assert (
        "cached: no cost"
        in run(
            "pick", "refactor the auth module", "--no-log", "--council", "--council-models", MEMBERS
        ).stdout
    )


def test_the_default_council_is_one_cheap_model_per_keyed_provider(run, provider, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    provider.respond = voting({})
    body = council(run)
    providers = [v["provider"] for v in body["votes"]]
    assert sorted(providers) == ["anthropic", "openai"]


def test_no_key_and_no_local_model_says_what_to_configure(run, isolated_home):
    write(isolated_home / "config.yaml", config(CLOSED))
    outcome = run("pick", "refactor auth", "--no-log", "--council")
    assert_one_line_error(outcome, ExitCode.USAGE, "keys set")


def test_the_human_output_shows_the_votes_beside_the_classifier(run, provider):
    provider.respond = voting({"gemini-2.5-flash": ("frontier", "architecture")})
    outcome = run(
        "pick", "refactor the auth module", "--no-log", "--council", "--council-models", MEMBERS
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "council decision: mid (a clear majority)" in outcome.stdout
    assert "beside it: the offline classifier" in outcome.stdout
    assert "gemini-2.5-flash (google): frontier, architecture" in outcome.stdout


def test_decide_needs_one_counted_vote():
    with pytest.raises(Exception, match="no council member answered"):
        decide([Vote("a", "x", problem="down")])
    decision = decide([Vote("a", "x", "code", "small"), Vote("b", "y", "code", "mid")])
    assert (decision.tier, decision.how) == ("mid", "split")


def test_every_member_failing_is_a_provider_failure(run, provider):
    provider.respond = lambda model, body: Reply(kind="status", status=500)
    outcome = run("pick", "refactor auth", "--no-log", "--council", "--council-models", MEMBERS)
    assert_one_line_error(outcome, ExitCode.PROVIDER, "no council member answered")


def test_a_decision_with_a_member_left_out_is_not_cached(run, provider):
    provider.respond = voting({"gpt-5-mini": Reply(kind="status", status=500)})
    council(run, "--council-models", MEMBERS)
    sent = len(provider.requests)
    again = council(run, "--council-models", MEMBERS)
    assert not again["cached"] and len(provider.requests) > sent


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--council-models", MEMBERS], "go with --council"),
        (["--council", "--council-models", "gpt-5-mini,gpt-5-mini"], "twice"),
        (["--council", "--timeout", "0.1"], "--timeout"),
    ],
)
def test_council_options_are_checked_before_pick_logs(run, provider, isolated_home, args, fragment):
    outcome = run("pick", "refactor auth", *args)
    assert_one_line_error(outcome, ExitCode.USAGE, fragment)
    assert not (isolated_home / "ledger.db").exists()
