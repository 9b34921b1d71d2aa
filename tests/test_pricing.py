"""Loading, validating and looking up the versioned price tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ALIAS_BOMB, write

from tokenroute.errors import PricingTableError, UnknownModelError
from tokenroute.models import (
    AFTER_RETIREMENT,
    BEFORE_FIRST_PRICE,
    TASK_TYPES,
    TIERS,
    Usage,
)
from tokenroute.prices.table import check_files, load_price_table, shipped_dir, table_paths

MINIMAL = """\
provider: acme
checked: 2026-11-01
models:
  - id: acme-large
    aliases: [acme-large-20260101]
    tier: frontier
    context_window: 100000
    prices:
      - {from: 2026-01-01, input: 4, output: 20}
      - {from: 2026-06-01, input: 2, output: 10}
"""


def shipped_copy(tmp_path: Path, text: str = MINIMAL) -> Path:
    write(tmp_path / "shipped" / "acme.yaml", text)
    return tmp_path / "shipped"


# ---------------------------------------------------------------- the shipped table


def test_shipped_table_is_valid_and_covers_the_providers_we_promise(table):
    problems, count = check_files(table_paths(shipped_dir()))
    assert problems == [] and count == len(table.models)
    providers = {m.provider for m in table.models}
    assert {
        "anthropic",
        "openai",
        "google",
        "xai",
        "deepseek",
        "mistral",
        "ollama",
        "llamacpp",
    } <= providers
    for model in table.models:
        assert model.tier in TIERS
        assert set(model.good_for) <= set(TASK_TYPES)


@pytest.mark.parametrize(
    ("model", "input_rate", "output_rate"),
    [
        ("claude-opus-4-6", "5", "25"),
        ("claude-sonnet-4-6", "3", "15"),
        ("claude-haiku-4-5", "1", "5"),
        ("grok-4-1-fast-reasoning", "0.2", "0.5"),
        ("gemini-2.5-flash-lite", "0.1", "0.4"),
        ("gpt-5-mini", "0.25", "2"),
        ("gpt-4o", "2.5", "10"),
    ],
)
def test_seed_prices_are_in_force_in_april_2026(table, model, input_rate, output_rate):
    _, period = table.period_at(model, date(2026, 4, 15))
    assert period.rates.input == Decimal(input_rate)
    assert period.rates.output == Decimal(output_rate)


@pytest.mark.freshness
def test_the_shipped_prices_are_not_stale(table):
    """The one test that reads the real date: it fails once the shipped prices in use are
    older than the staleness threshold, which is when they must be checked again."""
    from datetime import UTC, datetime

    from tokenroute.prices.table import STALE_AFTER_DAYS

    today = datetime.now(UTC).date()
    oldest = table.oldest_check(today)
    assert oldest is not None, "no shipped price is on offer today"
    checked, model = oldest
    assert (today - checked).days <= STALE_AFTER_DAYS, (
        f"{model.id}'s price was last checked on {checked}: check the tables against the "
        "providers' pages and update `checked`"
    )


def test_every_price_has_a_source_and_a_check_date(table):
    missing = [m.id for m in table.models for p in m.periods if not (p.source and p.checked)]
    assert missing == []


def test_every_tier_has_a_model_in_force_today(table):
    today = date(2026, 11, 23)
    assert {m.tier for m, _ in table.in_force(today)} == set(TIERS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("Claude-Sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gpt-4o-2024-11-20", "gpt-4o"),  # an unlisted dated snapshot falls back to its family
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # a listed snapshot keeps its own price
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("claude-opus-4-20250514", "claude-opus-4-0"),
    ],
)
def test_names_resolve_to_models(table, name, expected):
    assert table.resolve(name).id == expected


def test_a_provider_prefix_must_match_the_provider(table):
    assert table.find("openai/claude-sonnet-4-5") is None


def test_unknown_model_suggests_close_names(table):
    with pytest.raises(UnknownModelError, match="did you mean.*claude-sonnet-4-5"):
        table.resolve("claude-sonet-4-5")


def test_price_history_is_used_by_date(table):
    _, before = table.period_at("o3", date(2025, 6, 9))
    _, after = table.period_at("o3", date(2025, 6, 10))
    assert (before.rates.input, after.rates.input) == (Decimal(10), Decimal(2))
    _, old_alias = table.period_at("gpt-4o", date(2024, 9, 1))
    assert old_alias.rates.input == Decimal(5)


RETIRED = MINIMAL.replace(
    "    context_window: 100000\n",
    "    context_window: 100000\n    retired: 2026-09-01\n"
    "    retired_source: https://acme.example/deprecations\n",
)


def test_a_retired_model_is_still_billed_at_its_last_list_price(tmp_path):
    loaded = load_price_table(shipped_copy(tmp_path, RETIRED))
    model = loaded.resolve("acme-large")
    late = date(2027, 3, 1)
    assert model.period_at(late).rates.input == Decimal(2)
    assert model.price_note(late) == AFTER_RETIREMENT
    assert model.price_note(date(2026, 8, 31)) is None
    assert loaded.cost("acme-large", Usage(input=1_000_000), late).total == Decimal(2)
    # but it is no longer on offer: pick, run, estimate and `prices` leave it out
    assert loaded.in_force(late) == [] and model.offered_on(date(2026, 8, 31)) is not None
    with pytest.raises(UnknownModelError, match="it was retired on 2026-09-01"):
        loaded.offered("acme-large", late)
    assert model.retired_source == "https://acme.example/deprecations"


def test_a_trailing_until_is_a_withdrawal_not_an_unknown_price(tmp_path):
    text = MINIMAL.replace("{from: 2026-06-01,", "{from: 2026-06-01, until: 2026-09-01,")
    model = load_price_table(shipped_copy(tmp_path, text)).resolve("acme-large")
    assert model.period_at(date(2026, 10, 1)).rates.input == Decimal(2)
    assert model.price_note(date(2026, 10, 1)) == AFTER_RETIREMENT
    assert model.offered_on(date(2026, 10, 1)) is None


def test_a_call_before_the_first_price_is_billed_at_the_first_price(tmp_path):
    model = load_price_table(shipped_copy(tmp_path)).resolve("acme-large")
    assert model.period_at(date(2025, 12, 1)).rates.input == Decimal(4)
    assert model.price_note(date(2025, 12, 1)) == BEFORE_FIRST_PRICE
    with pytest.raises(UnknownModelError, match="first price takes effect on 2026-01-01"):
        load_price_table(shipped_copy(tmp_path)).offered("acme-large", date(2025, 12, 1))


def test_a_repricing_starts_a_new_period(tmp_path):
    model = load_price_table(shipped_copy(tmp_path)).resolve("acme-large")
    assert model.period_at(date(2026, 5, 31)).rates.input == Decimal(4)
    assert model.period_at(date(2026, 6, 1)).rates.input == Decimal(2)
    assert model.price_note(date(2026, 6, 1)) is None


def test_every_price_carries_its_source_and_check_date(tmp_path):
    text = MINIMAL.replace(
        "checked: 2026-11-01\n", "checked: 2026-11-01\nsource: https://acme.example/pricing\n"
    ).replace(
        "{from: 2026-06-01, input: 2, output: 10}",
        "{from: 2026-06-01, input: 2, output: 10, source: https://acme.example/news, "
        "checked: 2026-11-20}",
    )
    first, second = load_price_table(shipped_copy(tmp_path, text)).resolve("acme-large").periods
    assert (first.source, first.checked) == ("https://acme.example/pricing", date(2026, 11, 1))
    assert (second.source, second.checked) == ("https://acme.example/news", date(2026, 11, 20))


def test_the_oldest_check_in_use_is_named(tmp_path):
    text = MINIMAL.replace(
        "{from: 2026-06-01, input: 2, output: 10}",
        "{from: 2026-06-01, input: 2, output: 10, checked: 2026-02-01}",
    )
    loaded = load_price_table(shipped_copy(tmp_path, text))
    checked, model = loaded.oldest_check(date(2026, 11, 23))
    assert (checked, model.id) == (date(2026, 2, 1), "acme-large")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("retired", "2026-02-30", "retired: must be the day"),
        ("retired_source", "[1, 2]", "retired_source: must be the URL"),
    ],
)
def test_bad_retirement_fields_are_named(tmp_path, field, value, problem):
    text = MINIMAL.replace("    tier: frontier\n", f"    tier: frontier\n    {field}: {value}\n")
    problems, _ = check_files([write(tmp_path / "t.yaml", text)])
    assert any(problem in p for p in problems), problems


def test_bad_period_provenance_is_named(tmp_path):
    text = MINIMAL.replace("{from: 2026-06-01,", "{from: 2026-06-01, checked: 2026-13-01,")
    problems, _ = check_files([write(tmp_path / "t.yaml", text)])
    assert any("prices[1].checked: must be the day" in p for p in problems), problems


def test_revision_is_stable_and_follows_content(tmp_path):
    directory = shipped_copy(tmp_path)
    first = load_price_table(directory).revision
    assert load_price_table(directory).revision == first
    assert first.startswith("2026-11-01.")
    write(directory / "acme.yaml", MINIMAL.replace("output: 20", "output: 21"))
    assert load_price_table(directory).revision != first


def test_days_since_checked(tmp_path):
    loaded = load_price_table(shipped_copy(tmp_path))
    assert loaded.days_since_checked(date(2027, 2, 1)) == 92


# ---------------------------------------------------------------- validation


BAD_TABLES = [
    ("checked: [", "not valid YAML"),
    ("- just a list", "must be a mapping"),
    (
        MINIMAL.replace("input: 4", "input: -4"),
        "acme-large: prices[0].input: must be a number >= 0",
    ),
    (MINIMAL.replace("tier: frontier", "tier: huge"), "acme-large: tier: must be one of"),
    (
        MINIMAL.replace("context_window", "context_windw"),
        "acme-large: context_windw: unknown field",
    ),
    (MINIMAL.replace("input: 4, ", ""), "prices[0].input: is required"),
    (MINIMAL.replace("from: 2026-06-01", "from: someday"), "prices[1].from: must be the date"),
    (MINIMAL.replace("{from: 2026-01-01,", "{from: 2026-01-01, until: 2026-07-01,"), "overlaps"),
    (
        MINIMAL.replace("{from: 2026-01-01,", "{from: 2026-01-01, until: 2025-01-01,"),
        "until: must be a date after",
    ),
    (MINIMAL.replace("checked: 2026-11-01\n", ""), "checked: must be the date"),
    (
        MINIMAL.replace("input: 2,", "input: 2, batch_discount: 1.5,"),
        "batch_discount: must be a fraction",
    ),
    (
        MINIMAL.replace(
            "input: 2,", "input: 2, long_context: {above_input_tokens: 1000, input: 1, output: 10},"
        ),
        "long_context.input: is below the normal rate",
    ),
    (
        MINIMAL + "  - id: acme-small\n    aliases: [acme-large]\n    tier: small\n"
        "    prices: [{from: 2026-01-01, input: 1, output: 2}]\n",
        "name 'acme-large' is already used",
    ),
    (
        MINIMAL.replace("    tier: frontier\n", "    tier: frontier\n    good_for: [juggling]\n"),
        "good_for",
    ),
    (MINIMAL + "1: x\n", "unknown key '1'"),  # a number beside text keys: no sort error
    ("x: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
    ("x: " + "[" * 100_000 + "\n", "not valid YAML"),
    (ALIAS_BOMB, "expands to more than 200,000 values (aliases?)"),
    ("checked: !!int x\n", "not valid YAML: invalid literal"),  # PyYAML raises ValueError
]


@pytest.mark.parametrize(("text", "message"), BAD_TABLES)
def test_invalid_tables_name_file_model_and_field(tmp_path, text, message):
    path = write(tmp_path / "bad.yaml", text)
    problems, _ = check_files([path])
    assert problems, "expected a problem"
    assert any(message in p for p in problems), problems
    assert all(p.startswith(str(path)) for p in problems)
    with pytest.raises(PricingTableError) as raised:
        load_price_table(path.parent)
    assert raised.value.message.startswith(str(path))


def test_yaml_errors_give_the_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "provider: x\nchecked: 2026-01-01\nmodels: [\n  - {id: a\n")
    problems, _ = check_files([path])
    assert problems[0].startswith(f"{path}:")
    assert "not valid YAML" in problems[0]


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    text = MINIMAL.replace("input: 4", "input: -4").replace("tier: frontier", "tier: huge")
    problems, _ = check_files([write(tmp_path / "bad.yaml", text)])
    assert len(problems) == 2


def test_a_directory_without_tables_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PricingTableError, match="no price tables"):
        load_price_table(tmp_path / "empty")


# ---------------------------------------------------------------- the user's layer


OVERRIDE = """\
provider: acme
checked: 2026-09-01
models:
  - id: acme-large-20260101
    tier: frontier
    prices:
      - {from: 2026-09-01, input: 1, output: 5}
  - id: acme-new
    tier: small
    prices:
      - {from: 2026-09-01, input: 0.1, output: 0.2}
"""


def test_user_table_overrides_from_its_date_and_keeps_older_history(tmp_path):
    user = tmp_path / "user"
    write(user / "mine.yaml", OVERRIDE)
    loaded = load_price_table(shipped_copy(tmp_path), user)
    model = loaded.resolve("acme-large")
    assert [p.start for p in model.periods] == [
        date(2026, 1, 1),
        date(2026, 6, 1),
        date(2026, 9, 1),
    ]
    assert model.periods[1].end == date(2026, 9, 1)
    usage = Usage(input=1_000_000)
    assert loaded.cost("acme-large", usage, date(2026, 3, 1)).total == Decimal(4)
    assert loaded.cost("acme-large", usage, date(2026, 7, 1)).total == Decimal(2)
    assert loaded.cost("acme-large", usage, date(2026, 10, 1)).total == Decimal(1)
    assert loaded.resolve("acme-new").tier == "small"
    assert loaded.checked == date(2026, 11, 1)


def test_successive_user_tables_build_one_history(tmp_path):
    user = tmp_path / "user"
    write(user / "a.yaml", OVERRIDE)
    write(
        user / "b.yaml",
        OVERRIDE.replace("2026-09-01", "2026-10-01").replace("input: 1,", "input: 0.5,"),
    )
    loaded = load_price_table(shipped_copy(tmp_path), user)
    starts = [p.start for p in loaded.resolve("acme-large").periods]
    assert starts == [date(2026, 1, 1), date(2026, 6, 1), date(2026, 9, 1), date(2026, 10, 1)]
    assert loaded.cost("acme-large", Usage(input=1_000_000), date(2026, 10, 2)).total == Decimal(
        "0.5"
    )
    assert loaded.resolve("acme-new").periods[0].end == date(2026, 10, 1)


def test_a_gap_in_the_history_is_explained(tmp_path):
    text = MINIMAL.replace("{from: 2026-01-01,", "{from: 2026-01-01, until: 2026-03-01,")
    loaded = load_price_table(shipped_copy(tmp_path, text))
    with pytest.raises(
        UnknownModelError, match="withdrawn on 2026-03-01 and is offered again from 2026-06-01"
    ):
        loaded.offered("acme-large", date(2026, 4, 1))
    # a call made in the gap is still billed, at the price withdrawn
    model = loaded.resolve("acme-large")
    assert model.period_at(date(2026, 4, 1)).rates.input == Decimal(4)
    assert model.price_note(date(2026, 4, 1)) == AFTER_RETIREMENT


HIJACK = """\
provider: azure
checked: 2026-09-01
models:
  - id: {name}
    tier: mid
    prices:
      - {{from: 2026-09-01, input: 1, output: 5}}
"""


@pytest.mark.parametrize("name", ["acme-large", "acme-large-20260101"])
def test_a_user_model_cannot_take_another_providers_name(tmp_path, name):
    user = tmp_path / "user"
    bad = write(user / "mine.yaml", HIJACK.format(name=name))
    with pytest.raises(PricingTableError, match="belongs to the shipped acme-large"):
        load_price_table(shipped_copy(tmp_path), user)
    problems, _ = check_files([bad], load_price_table(tmp_path / "shipped"))
    assert problems and "another name, e.g. azure/" in problems[0]


def test_provider_spellings_of_other_tools_resolve(table):
    assert table.resolve("gemini/gemini-2.5-flash").id == "gemini-2.5-flash"
    assert table.resolve("x-ai/grok-4").id == "grok-4"


def test_cache_survives_values_json_cannot_hold(tmp_path):
    text = MINIMAL.replace("provider: acme\n", "provider: acme\nnotes: !!binary aGVsbG8=\n")
    directory = shipped_copy(tmp_path, text)
    cache = tmp_path / "cache"
    assert load_price_table(directory, cache=cache).resolve("acme-large")
    assert load_price_table(directory, cache=cache).resolve("acme-large")


def test_cached_and_fresh_loads_agree_on_dates_with_times(tmp_path):
    text = MINIMAL.replace("from: 2026-06-01", "from: 2026-06-01 10:00:00")
    directory = shipped_copy(tmp_path, text)
    cache = tmp_path / "cache"
    first = load_price_table(directory, cache=cache)
    second = load_price_table(directory, cache=cache)
    assert list(cache.iterdir())
    assert first.resolve("acme-large").periods == second.resolve("acme-large").periods
