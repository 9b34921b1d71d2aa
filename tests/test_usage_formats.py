"""Reading providers' usage objects: what each number means, bucket by bucket."""

from __future__ import annotations

import pytest

from tokenroute.ledger.usage_formats import UsageFormatError, parse_usage
from tokenroute.models import Usage


@pytest.mark.parametrize(
    ("raw", "expected", "name"),
    [
        # OpenAI Chat Completions: prompt_tokens includes the cached ones
        (
            {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "total_tokens": 1500,
                "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 200},
            },
            Usage(input=200, cache_read=1000, output=300, reasoning=200),
            "openai",
        ),
        # OpenAI Responses API
        (
            {
                "input_tokens": 500,
                "input_tokens_details": {"cached_tokens": 100},
                "output_tokens": 80,
                "output_tokens_details": {"reasoning_tokens": 64},
                "total_tokens": 580,
            },
            Usage(input=400, cache_read=100, output=80, reasoning=64),
            "openai-responses",
        ),
        # Anthropic: input_tokens excludes cache reads and writes; writes split 5m / 1h
        (
            {
                "input_tokens": 12,
                "cache_creation_input_tokens": 3000,
                "cache_read_input_tokens": 20000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1000,
                    "ephemeral_1h_input_tokens": 2000,
                },
                "output_tokens": 450,
            },
            Usage(input=12, cache_read=20000, cache_write=1000, cache_write_1h=2000, output=450),
            "anthropic",
        ),
        # Anthropic without the split: every write is a 5-minute write
        (
            {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 90},
            Usage(input=5, cache_write=90, output=7),
            "anthropic",
        ),
        ({"input_tokens": 5, "output_tokens": 7}, Usage(input=5, output=7), "anthropic"),
        # Gemini: prompt includes cached content; thoughts are billed as output
        (
            {
                "promptTokenCount": 1000,
                "cachedContentTokenCount": 600,
                "candidatesTokenCount": 50,
                "thoughtsTokenCount": 150,
                "totalTokenCount": 1200,
            },
            Usage(input=400, cache_read=600, output=200, reasoning=150),
            "gemini",
        ),
    ],
)
def test_usage_objects_map_to_buckets(raw, expected, name):
    assert parse_usage(raw) == (expected, name)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2], "must be an object"),
        ({"tokens": 5}, "not in a format we know"),
        ({"prompt_tokens": -1, "completion_tokens": 2}, "prompt_tokens must be a whole number"),
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 20},
            },
            "more tokens were cached than were sent",
        ),
        ({"promptTokenCount": "many", "candidatesTokenCount": 1}, "promptTokenCount"),
        # Anthropic blocks are read at once, and again field by field to say which is wrong
        ({"input_tokens": True, "output_tokens": 1}, "input_tokens must be a whole number"),
        ({"input_tokens": 1, "output_tokens": -1}, "output_tokens must be a whole number"),
        ({"input_tokens": 1, "output_tokens": 1.5}, "output_tokens must be a whole number"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_creation": [5]}, "cache_creation must"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_creation": []}, "cache_creation must"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_creation": 0}, "cache_creation must"),
        (
            {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": True},
            "cache_creation_input_tokens must be a whole number",
        ),
        (  # the total is checked even when the split says the rest
            {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": -7,
                "cache_creation": {"ephemeral_5m_input_tokens": 3},
            },
            "cache_creation_input_tokens must be a whole number",
        ),
        (
            {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 5,
                "cache_creation": {},
                "cache_read_input_tokens": "lots",
            },
            "cache_read_input_tokens must be a whole number",
        ),
    ],
)
def test_unreadable_usage_says_why(raw, message):
    with pytest.raises(UsageFormatError, match=message):
        parse_usage(raw)


def test_deepseek_reports_cache_hits_in_its_own_field():
    usage, _ = parse_usage(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 50,
            "prompt_cache_hit_tokens": 800,
            "prompt_cache_miss_tokens": 200,
        }
    )
    assert (usage.input, usage.cache_read, usage.output) == (200, 800, 50)


def test_xai_reasoning_outside_the_completion_tokens_is_output():
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "completion_tokens_details": {"reasoning_tokens": 387},
    }
    usage, _ = parse_usage(raw)
    assert (usage.output, usage.reasoning) == (389, 387)
