"""`prices import`: LiteLLM's price file becomes a dated table that overrides from its date."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from conftest import FIXTURES, write

from tokenroute.errors import BadInputError
from tokenroute.models import AFTER_RETIREMENT, Usage
from tokenroute.prices.litellm import import_file
from tokenroute.prices.table import check_files, load_price_table, shipped_dir

SOURCE = FIXTURES / "litellm_prices.json"
DAY = date(2026, 11, 1)


@pytest.fixture
def imported(tmp_path, table):
    prices = tmp_path / "prices"
    result = import_file(SOURCE, table, DAY, prices)
    return result, load_price_table(shipped_dir(), prices)


def test_import_counts_what_it_took_and_skipped(imported):
    result, _ = imported
    assert result.path.name == "litellm-2026-11-01.yaml"
    assert (
        result.overrides == 4
    )  # claude-sonnet-4-5 (twice named), gpt-4o, gemini-2.5-pro, llama3.1
    assert result.models == 8
    assert dict(result.skipped) == {
        "not a chat model": 2,
        "invalid price": 1,
        "withdrawn in the shipped table": 1,
    }
    assert check_files([result.path])[0] == []


def test_dated_names_of_one_model_become_aliases(imported):
    _, table = imported
    model = table.resolve("claude-sonnet-4-5-20250929")
    assert model.id == "claude-sonnet-4-5"
    assert model.periods[-1].start == DAY
    assert model.periods[-1].rates.cache_write_1h == Decimal(6)


def test_imported_prices_apply_from_their_date_only(imported, table):
    _, merged = imported
    usage = Usage(input=1_000_000, output=1_000_000)
    before = date(2025, 1, 1)
    assert merged.cost("gpt-4o", usage, before).total == table.cost("gpt-4o", usage, before).total
    assert merged.cost("gpt-4o", usage, date(2026, 11, 2)).total == Decimal("12.5")


def test_batch_and_long_context_rates_are_converted(imported):
    _, table = imported
    gpt = table.resolve("gpt-4o").periods[-1]
    assert gpt.batch_discount == Decimal("0.5")
    gemini = table.resolve("gemini-2.5-pro").periods[-1]
    assert gemini.long_context is not None
    assert gemini.long_context.above_input_tokens == 200_000
    assert gemini.long_context.rates.output == Decimal(15)


def test_other_providers_keep_qualified_names_and_get_a_guessed_tier(imported):
    _, table = imported
    reseller = table.resolve("openrouter/anthropic/claude-3.5-sonnet")
    assert reseller.provider == "openrouter" and reseller.tier == "mid"
    vertex = table.resolve("vertex_ai-language-models/gemini-2.5-pro")
    assert vertex.provider == "vertex_ai-language-models"
    assert table.resolve("gemini-2.5-pro").provider == "google"
    assert table.resolve("magistral-medium-2509").tier == "mid"
    assert table.resolve("groq/llama-3.3-70b-versatile").tier == "economy"
    assert table.resolve("llama3.1").tier == "local"


def test_a_later_import_extends_the_history(tmp_path, table):
    prices = tmp_path / "prices"
    import_file(SOURCE, table, DAY, prices)
    cheaper = SOURCE.read_text().replace(
        '"output_cost_per_token": 1e-05,\n    "output_cost_per_token_batches"',
        '"output_cost_per_token": 8e-06,\n    "output_cost_per_token_batches"',
    )
    later = write(tmp_path / "later.json", cheaper)
    import_file(later, table, date(2026, 12, 1), prices)
    merged = load_price_table(shipped_dir(), prices)
    periods = merged.resolve("gpt-4o").periods
    assert [p.start for p in periods[-2:]] == [DAY, date(2026, 12, 1)]
    assert periods[-1].rates.output == Decimal(8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"gpt-4o": {', "litellm.json:1:13: not valid JSON"),
        ("[1, 2]", "expected LiteLLM's object"),
        ('{"x": {"mode": "embedding"}}', "no chat model with token prices"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(tmp_path, table, text, message):
    source = write(tmp_path / "litellm.json", text)
    with pytest.raises(BadInputError, match=message):
        import_file(source, table, DAY, tmp_path / "prices")
    assert not (tmp_path / "prices").exists() or not any((tmp_path / "prices").iterdir())


def test_overrides_keep_what_litellm_does_not_say(imported):
    _, table = imported
    shipped = load_price_table(shipped_dir()).resolve("claude-sonnet-4-5")
    model = table.resolve("claude-sonnet-4-5")
    assert model.retired == shipped.retired  # the shipped retirement date is kept
    assert model.retired_source == shipped.retired_source
    sonnet = model.periods[-1]
    assert sonnet.batch_discount == Decimal("0.5")  # LiteLLM gives no batch rate for it
    assert sonnet.long_context.rates.cache_write_1h == Decimal(12)  # 2x the long input rate
    gemini = table.resolve("gemini-2.5-pro").periods[-1]
    assert gemini.long_context.rates.cache_read == Decimal("0.25")  # the 10% share, not $2.50
    assert gemini.batch_discount == Decimal("0.5")


def test_a_model_the_shipped_table_withdrew_is_not_revived(imported):
    result, table = imported
    assert result.skipped["withdrawn in the shipped table"] == 1
    opus = table.resolve("claude-opus-4-0")
    assert opus.offered_on(date(2026, 12, 1)) is None
    # withdrawn, not repriced: a late call is still billed at the last list price
    assert opus.period_at(date(2026, 12, 1)).rates.input == Decimal(15)
    assert opus.price_note(date(2026, 12, 1)) == AFTER_RETIREMENT


def test_an_early_date_never_prices_a_model_before_it_existed(tmp_path, table):
    prices = tmp_path / "prices"
    import_file(SOURCE, table, date(2024, 1, 1), prices, today=date(2026, 11, 23))
    merged = load_price_table(shipped_dir(), prices)
    assert merged.resolve("claude-sonnet-4-5").periods[0].start == date(2025, 9, 29)
    assert merged.resolve("claude-sonnet-4-5").offered_on(date(2025, 1, 1)) is None
    text = (prices / "litellm-2024-01-01.yaml").read_text()
    assert "checked: 2026-11-23" in text and "&id" not in text


@pytest.mark.parametrize(
    ("cost", "mode"),
    [(1e30, "chat"), ("1e999999", "chat"), (-1e-6, "chat"), (float("nan"), "chat"), (1e-6, [])],
    ids=["huge", "huger", "negative", "nan", "mode-a-list"],
)
def test_a_price_no_model_could_have_skips_that_model_only(tmp_path, table, cost, mode):
    entries = {
        "acme/odd": {"input_cost_per_token": cost, "output_cost_per_token": 1e-6,
                     "litellm_provider": "openai", "mode": mode},
        "acme/fine": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                      "litellm_provider": "openai", "mode": "chat"},
    }  # fmt: skip
    source = write(tmp_path / "prices.json", json.dumps(entries, allow_nan=True))
    result = import_file(source, table, DAY, tmp_path / "prices")
    assert result.models == 1
