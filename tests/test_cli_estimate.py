"""`tokenroute estimate`: offline token counts and what they would cost, cheapest first."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import assert_one_line_error, write

from tokenroute.errors import ExitCode

PROMPT = "Refactor the auth module so that sessions expire after 30 minutes of inactivity.\n"


def estimate_json(run, *args: str, input: str | None = None) -> dict:
    out = run("estimate", *args, "--json", input=input)
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)


def test_estimate_from_a_file_lists_models_cheapest_first(run, tmp_path):
    prompt = write(tmp_path / "prompt.md", PROMPT)
    body = estimate_json(run, str(prompt), "--at", "2026-06-01")
    assert body["token_method"] == "tiktoken:cl100k_base"
    assert body["input_tokens"] == 17
    assert body["output_tokens"] == 500
    costs = [e["estimated_cost_usd"] for e in body["estimates"]]
    assert costs == sorted(costs)
    assert body["estimates"][0]["tier"] == "local" and costs[0] == 0
    sonnet = next(e for e in body["estimates"] if e["model"] == "claude-sonnet-4-6")
    assert Decimal(str(sonnet["estimated_cost_usd"])) == Decimal(
        "0.007551"
    )  # 17 x $3 + 500 x $15, per 1M


def test_estimate_reads_stdin_piped_or_dash(run):
    piped = estimate_json(run, input=PROMPT)
    dashed = estimate_json(run, "-", input=PROMPT)
    assert piped["input_tokens"] == dashed["input_tokens"] == 17


def test_estimate_for_chosen_models_and_output_length(run):
    body = estimate_json(
        run, "--models", "claude-opus-4-6, gpt-5-mini", "--output-tokens", "1000", input=PROMPT
    )
    assert [e["model"] for e in body["estimates"]] == ["gpt-5-mini", "claude-opus-4-6"]
    opus = body["estimates"][1]
    assert Decimal(str(opus["estimated_output_cost_usd"])) == Decimal("0.025")


def test_estimate_by_tier(run):
    body = estimate_json(run, "--tier", "frontier", input=PROMPT)
    assert {e["tier"] for e in body["estimates"]} == {"frontier"}


def test_estimate_table_says_how_it_counted(run):
    out = run("estimate", "--models", "gpt-5", input=PROMPT)
    assert out.exit_code == 0
    assert "17 input tokens (tiktoken:cl100k_base), 500 output tokens assumed" in out.stderr
    assert out.stdout.splitlines()[1].split()[:3] == ["gpt-5", "openai", "frontier"]


def test_a_prompt_too_long_for_a_model_is_flagged_and_sorted_last(run):
    long_prompt = "word " * 140_000
    body = estimate_json(run, "--models", "gpt-4o-mini,gpt-5-nano", input=long_prompt)
    assert [e["fits_context"] for e in body["estimates"]] == [True, False]
    assert body["estimates"][1]["model"] == "gpt-4o-mini"


# ---------------------------------------------------------------- bad input


def test_missing_file(run, tmp_path):
    out = run("estimate", str(tmp_path / "nope.md"))
    assert_one_line_error(out, ExitCode.BAD_INPUT, "nope.md: cannot read")


def test_directory_instead_of_file(run, tmp_path):
    assert_one_line_error(run("estimate", str(tmp_path)), ExitCode.BAD_INPUT, "is a directory")


def test_binary_file(run, tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert_one_line_error(run("estimate", str(binary)), ExitCode.BAD_INPUT, "not UTF-8 text")


def test_unknown_model_in_models(run):
    out = run("estimate", "--models", "gpt-9", input=PROMPT)
    assert_one_line_error(out, ExitCode.NOT_FOUND, "unknown model 'gpt-9'")


def test_model_not_in_force_on_that_day(run):
    out = run("estimate", "--models", "claude-opus-4-6", "--at", "2025-01-01", input=PROMPT)
    assert_one_line_error(out, ExitCode.NOT_FOUND, "no price for claude-opus-4-6 on 2025-01-01")


def test_negative_output_tokens(run):
    out = run("estimate", "--output-tokens", "-5", input=PROMPT)
    assert_one_line_error(out, ExitCode.USAGE, "--output-tokens")


def test_at_not_a_date(run):
    assert_one_line_error(
        run("estimate", "--at", "2025-13-01", input=PROMPT), ExitCode.USAGE, "--at"
    )


def test_binary_stdin_is_refused(run):
    out = run("estimate", input=b"\xff\xfe\x81garbage")
    assert_one_line_error(out, ExitCode.BAD_INPUT, "stdin is not UTF-8 text")


def test_empty_prompt(run):
    assert_one_line_error(run("estimate", input=""), ExitCode.BAD_INPUT, "the prompt is empty")


def test_empty_models_list(run):
    assert_one_line_error(
        run("estimate", "--models", ",,", input=PROMPT), ExitCode.USAGE, "--models lists no model"
    )


def test_no_model_matches(run):
    out = run("estimate", "--models", "gpt-5", "--tier", "small", input=PROMPT)
    assert_one_line_error(out, ExitCode.NOT_FOUND, "no model in tier small among gpt-5")


def test_output_over_a_models_max_output_is_flagged(run):
    body = estimate_json(
        run,
        "--models",
        "claude-sonnet-4-5",
        "--output-tokens",
        "100000",
        "--at",
        "2026-01-01",
        input=PROMPT,
    )
    assert body["estimates"][0]["fits_context"] is False
    out = run(
        "estimate",
        "--models",
        "claude-sonnet-4-5",
        "--output-tokens",
        "100000",
        "--at",
        "2026-01-01",
        input=PROMPT,
    )
    assert "output over its 64k max" in out.stdout


def test_empty_file_name(run):
    assert_one_line_error(run("estimate", ""), ExitCode.USAGE, "file name is empty")


@pytest.mark.parametrize("args", [["estimate", "/dev/urandom"], ["run", "--dry-run", "-"]])
def test_an_endless_input_stops_at_the_20_mb_limit(run, args):
    """/dev/urandom and /dev/zero never end: the limit stops the read, not follows it."""
    piped = b"\0" * 20_000_001 if args[0] == "run" else None
    out = run(*args, input=piped)
    assert_one_line_error(out, ExitCode.BAD_INPUT, "over the 20 MB limit")
