"""Read the `usage` object of an OpenAI, Anthropic or Gemini response into our buckets.

What the numbers mean differs by provider, so each is read on its own terms:
- OpenAI (Chat Completions and Responses): input *includes* cached tokens; reasoning is
  part of output.
- Anthropic Messages: `input_tokens` *excludes* cache reads and writes, which come in their
  own fields; `cache_creation` splits writes into 5-minute and 1-hour.
- Gemini `usageMetadata`: the prompt count includes cached content; thinking tokens are
  counted apart from the candidates but billed as output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokenroute.models import Usage


class UsageFormatError(ValueError):
    """The object is not a usage block we can read; the message says why."""


def parse_usage(raw: Any) -> tuple[Usage, str]:
    """The usage in `raw` and the name of the format it was read as."""
    if not isinstance(raw, Mapping):
        raise UsageFormatError("usage must be an object")
    if "promptTokenCount" in raw or "candidatesTokenCount" in raw:
        return from_gemini(raw), "gemini"
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        return from_openai_chat(raw), "openai"
    if "cache_creation_input_tokens" in raw or "cache_read_input_tokens" in raw:
        return from_anthropic(raw), "anthropic"
    if "input_tokens_details" in raw or "output_tokens_details" in raw:
        return from_openai_responses(raw), "openai-responses"
    if "input_tokens" in raw and "output_tokens" in raw:
        return from_anthropic(raw), "anthropic"
    raise UsageFormatError(
        "usage is not in a format we know (OpenAI prompt_tokens/completion_tokens, "
        "Anthropic input_tokens/output_tokens, or Gemini promptTokenCount)"
    )


def from_openai_chat(raw: Mapping[str, Any], *, reasoning_apart: bool = False) -> Usage:
    """`reasoning_apart`: the server counts reasoning outside the completion tokens (xAI)."""
    return _openai(raw, "prompt_tokens", "completion_tokens", reasoning_apart)


def from_openai_responses(raw: Mapping[str, Any]) -> Usage:
    return _openai(raw, "input_tokens", "output_tokens")


def _openai(
    raw: Mapping[str, Any], input_key: str, output_key: str, reasoning_apart: bool = False
) -> Usage:
    """Both OpenAI APIs: `<input_key>` includes the cached tokens its details report.

    Compatible servers differ: DeepSeek reports cache hits as `prompt_cache_hit_tokens`;
    xAI counts reasoning apart from the completion tokens (so reasoning > completion), while
    OpenAI counts it inside them. Both are billed as output."""
    prompt = _count(raw, input_key)
    cached = _count(_details(raw, f"{input_key}_details"), "cached_tokens")
    cached = cached or _count(raw, "prompt_cache_hit_tokens")
    output = _count(raw, output_key)
    reasoning = _count(_details(raw, f"{output_key}_details"), "reasoning_tokens")
    if reasoning_apart or reasoning > output:  # xAI: the completion count leaves it out
        output += reasoning
    return _usage(input=prompt - cached, cache_read=cached, output=output, reasoning=reasoning)


def from_anthropic(raw: Mapping[str, Any]) -> Usage:
    """Read at once, with Usage checking the counts (an import reads hundreds of thousands);
    a block that fails is read again field by field, for a message that names the field."""
    try:
        return _anthropic(raw, _given, _given_details, Usage)
    except (ValueError, TypeError, AttributeError):
        return _anthropic(raw, _count, _details, _usage)


def _anthropic(
    raw: Mapping[str, Any],
    count: Callable[[Mapping[str, Any], str], Any],
    details: Callable[[Mapping[str, Any], str], Mapping[str, Any]],
    usage: Callable[..., Usage],
) -> Usage:
    written = count(raw, "cache_creation_input_tokens")
    split = details(raw, "cache_creation")
    one_hour = count(split, "ephemeral_1h_input_tokens")
    five_minutes = count(split, "ephemeral_5m_input_tokens") if split else written - one_hour
    return usage(
        input=count(raw, "input_tokens"),
        cache_read=count(raw, "cache_read_input_tokens"),
        cache_write=five_minutes,
        cache_write_1h=one_hour,
        output=count(raw, "output_tokens"),
    )


def _given(raw: Mapping[str, Any], key: str) -> int:
    """A count, as strict as `_count` but without building a message."""
    value = raw.get(key)
    if value is None:
        return 0
    if type(value) is not int or value < 0:  # not bool; the slow path says why
        raise ValueError(key)
    return value


def _given_details(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if type(value) is not dict:  # the slow path accepts other mappings, or says why
        raise TypeError(key)
    return value


def from_gemini(raw: Mapping[str, Any]) -> Usage:
    prompt = _count(raw, "promptTokenCount") + _count(raw, "toolUsePromptTokenCount")
    cached = _count(raw, "cachedContentTokenCount")
    thoughts = _count(raw, "thoughtsTokenCount")
    output = _count(raw, "candidatesTokenCount") + thoughts
    return _usage(input=prompt - cached, cache_read=cached, output=output, reasoning=thoughts)


def _details(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageFormatError(f"usage.{key} must be an object")
    return value


def _count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageFormatError(f"usage.{key} must be a whole number >= 0 (got {value!r})")
    return value


def _usage(**buckets: int) -> Usage:
    if any(value < 0 for value in buckets.values()):
        raise UsageFormatError("usage says more tokens were cached than were sent")
    try:
        return Usage(**buckets)
    except ValueError as exc:
        raise UsageFormatError(str(exc)) from None
