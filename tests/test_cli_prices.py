"""`tokenroute prices` and its subcommands, driven through the real CLI."""

from __future__ import annotations

import json

import pytest
from conftest import ALIAS_BOMB, FIXTURES, PINNED_DAY, assert_one_line_error, write

from tokenroute.errors import ExitCode

FRESH = """\
provider: acme
checked: {checked}
models:
  - id: acme-large
    tier: frontier
    prices:
      - {{from: 2024-01-01, input: 4, output: 20}}
"""


def test_prices_lists_the_table_in_force_today(run):
    out = run("prices")
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "provider", "tier"]
    sonnet = next(line for line in lines if line.startswith("claude-sonnet-4-6 "))
    assert sonnet.split() == [
        "claude-sonnet-4-6",
        "anthropic",
        "mid",
        "$3.00",
        "$15.00",
        "$0.30",
        "$3.75",
        "1M",
    ]
    assert not any(line.startswith("claude-opus-4-0 ") for line in lines)  # withdrawn


def test_prices_filters_by_provider_and_tier(run):
    out = run("prices", "--provider", "openai", "--tier", "economy", "--json", "--at", "2026-10-01")
    ids = [m["id"] for m in json.loads(out.stdout)["models"]]
    assert ids == ["gpt-5-nano", "gpt-4.1-nano"]
    # gpt-4.1-nano retired on 2026-10-23: no longer on offer, so no longer listed
    out = run("prices", "--provider", "openai", "--tier", "economy", "--json")
    assert [m["id"] for m in json.loads(out.stdout)["models"]] == ["gpt-5-nano"]


def test_prices_at_a_past_date_shows_the_prices_then(run):
    body = json.loads(
        run("prices", "--at", "2025-06-01", "--provider", "anthropic", "--json").stdout
    )
    by_id = {m["id"]: m["price"] for m in body["models"]}
    assert by_id["claude-opus-4-0"]["input"] == 15
    assert "claude-opus-4-6" not in by_id
    assert body["at"] == "2025-06-01" and body["version"] == 2
    assert body["revision"].startswith("2026-")


def test_prices_json_has_every_rate(run):
    body = json.loads(run("prices", "--json").stdout)
    sonnet = next(m for m in body["models"] if m["id"] == "claude-sonnet-4-5")
    assert sonnet["aliases"] == ["claude-sonnet-4-5-20250929"]
    assert sonnet["price"]["long_context"]["above_input_tokens"] == 200000
    assert sonnet["price"]["cache_write_1h"] == 6
    assert sonnet["context_window"] == 200000


def test_prices_show_gives_the_whole_history(run):
    out = run("prices", "show", "o3-2025-04-16")
    assert out.exit_code == 0
    assert "aliases       o3-2025-04-16" in out.stdout
    history = [line.split() for line in out.stdout.splitlines() if line.startswith("2025-")]
    assert [row[:4] for row in history] == [
        ["2025-04-16", "2025-06-10", "$10.00", "$40.00"],
        ["2025-06-10", "-", "$2.00", "$8.00"],
    ]
    body = json.loads(run("prices", "show", "gpt-4o", "--json").stdout)
    assert [p["input"] for p in body["model"]["prices"]] == [5, 2.5]


def test_prices_check_passes_on_the_shipped_table(run):
    out = run("prices", "check")
    assert out.exit_code == 0
    assert out.stdout.startswith("ok: ")


def test_prices_check_lists_every_problem(run, tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        FRESH.format(checked="2026-01-01")
        .replace("input: 4", "input: -4")
        .replace("tier: frontier", "tier: huge"),
    )
    out = run("prices", "check", str(bad))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert len(out.stdout.splitlines()) == 2
    assert all(line.startswith(f"{bad}: acme-large: ") for line in out.stdout.splitlines())
    assert "2 problem(s)" in out.stderr
    body = json.loads(run("prices", "check", str(bad), "--json").stdout)
    assert body["ok"] is False and len(body["problems"]) == 2


def test_prices_check_on_a_missing_file(run, tmp_path):
    out = run("prices", "check", str(tmp_path / "nope.yaml"))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert "cannot read" in out.stdout


def test_prices_import_writes_a_table_that_then_applies(run, isolated_home):
    out = run("prices", "import", str(FIXTURES / "litellm_prices.json"), "--from", "2026-11-01")
    assert out.exit_code == 0, out.stderr
    written = isolated_home / "prices" / "litellm-2026-11-01.yaml"
    assert out.stdout.splitlines()[0] == f"wrote {written}"
    assert written.exists()
    shown = json.loads(run("prices", "show", "magistral-medium-2509", "--json").stdout)["model"]
    assert shown["provider"] == "mistral" and shown["prices"][0]["from"] == "2026-11-01"
    assert run("prices", "check").exit_code == 0


def test_stale_table_warns_on_stderr_but_still_works(run, tmp_path, monkeypatch):
    write(tmp_path / "tables" / "acme.yaml", FRESH.format(checked="2020-01-01"))
    monkeypatch.setenv("TOKENROUTE_PRICING_DIR", str(tmp_path / "tables"))
    out = run("prices")
    assert out.exit_code == 0
    assert "acme-large" in out.stdout
    assert (
        "tokenroute: warning: the oldest price in use (that of acme-large) was last checked on "
        "2020-01-01"
    ) in out.stderr


def test_fresh_table_gives_no_warning(run, tmp_path, monkeypatch):
    write(tmp_path / "tables" / "acme.yaml", FRESH.format(checked=PINNED_DAY))
    monkeypatch.setenv("TOKENROUTE_PRICING_DIR", str(tmp_path / "tables"))
    out = run("prices")
    assert out.exit_code == 0 and "warning" not in out.stderr


# ---------------------------------------------------------------- bad input


def test_at_that_is_not_a_date(run):
    assert_one_line_error(
        run("prices", "--at", "yesterday"), ExitCode.USAGE, "--at must be a date like"
    )


def test_unknown_tier(run):
    assert_one_line_error(run("prices", "--tier", "huge"), ExitCode.USAGE, "--tier must be one of")


def test_unknown_model(run):
    out = run("prices", "show", "gpt-9")
    assert_one_line_error(out, ExitCode.NOT_FOUND, "unknown model 'gpt-9'")


def test_malformed_user_table_names_the_file(run, isolated_home):
    bad = write(isolated_home / "prices" / "mine.yaml", "models: [\n")
    assert_one_line_error(run("prices"), ExitCode.BAD_INPUT, str(bad), "not valid YAML")


@pytest.mark.parametrize(
    ("where", "args"),
    [
        ("prices/mine.yaml", ["pick", "refactor auth", "--no-log"]),
        ("prices/mine.yaml", ["report", "--last", "7d"]),
        ("prices/mine.yaml", ["prices"]),
        ("policy.yaml", ["pick", "refactor auth", "--no-log"]),
        ("config.yaml", ["config", "show"]),
        ("config.yaml", ["run", "hi", "--dry-run"]),
    ],
)
def test_an_alias_bomb_in_any_user_file_is_one_line_not_a_hang(run, isolated_home, where, args):
    bad = write(isolated_home / where, ALIAS_BOMB)
    assert_one_line_error(run(*args), ExitCode.BAD_INPUT, str(bad), "expands to more than")


@pytest.mark.parametrize("checked", ["2026-13-01", "2026-02-30"])
def test_an_impossible_date_is_named_by_every_command(run, isolated_home, checked):
    bad = write(isolated_home / "prices" / "mine.yaml", FRESH.format(checked=checked))
    out = run("prices", "check")
    assert out.exit_code == ExitCode.BAD_INPUT and f"{bad}: checked: must be" in out.stdout
    for args in (["pick", "refactor auth", "--no-log"], ["report"]):
        assert_one_line_error(run(*args), ExitCode.BAD_INPUT, str(bad), "checked")


def test_negative_price_in_user_table(run, isolated_home):
    bad = write(
        isolated_home / "prices" / "mine.yaml",
        FRESH.format(checked="2026-01-01").replace("input: 4", "input: -4"),
    )
    assert_one_line_error(
        run("prices"), ExitCode.BAD_INPUT, str(bad), "acme-large", "prices[0].input"
    )


def test_import_of_an_unreadable_file(run, tmp_path):
    out = run("prices", "import", str(tmp_path / "missing.json"))
    assert_one_line_error(out, ExitCode.BAD_INPUT, "missing.json: cannot read")


def test_import_of_malformed_json_writes_nothing(run, tmp_path, isolated_home):
    source = write(tmp_path / "bad.json", '{"a": ')
    assert_one_line_error(
        run("prices", "import", str(source)), ExitCode.BAD_INPUT, "not valid JSON"
    )
    assert not (isolated_home / "prices").exists()


def test_list_options_before_a_subcommand_are_refused(run):
    out = run("prices", "--json", "show", "o3")
    assert_one_line_error(out, ExitCode.USAGE, "options go after the subcommand")


def test_unknown_provider(run):
    assert_one_line_error(
        run("prices", "--provider", "nope"), ExitCode.USAGE, "--provider must be one of"
    )


def test_a_day_before_any_price(run):
    assert_one_line_error(
        run("prices", "--at", "1990-01-01"), ExitCode.NOT_FOUND, "had a price on 1990-01-01"
    )


def test_at_accepts_only_plain_dates(run):
    for value in ("20250601", "2025-W23", "2025-06-01T12:00"):
        assert_one_line_error(run("prices", "--at", value), ExitCode.USAGE, "--at must be a date")
