"""Is an answer usable? Cut short by its stop reason, not JSON under --expect json, or off
the --schema; and the JSON itself, out of a ```json fence."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Stop reasons that mean the answer was not finished (OpenAI, Anthropic, Gemini spellings).
CUT_SHORT = {"length", "content_filter", "max_tokens", "MAX_TOKENS", "SAFETY", "RECITATION"}


def answer_problem(
    answer: str, expect_json: bool, check_json: Callable[[Any], str | None] | None
) -> tuple[str, str] | None:
    """(error kind, what is wrong) when the answer fails --expect json or --schema."""
    if not expect_json:
        return None
    try:
        value = json.loads(unfenced(answer))
    except ValueError as exc:
        return "invalid_json", f"the answer is not valid JSON ({exc.args[0] if exc.args else exc})"
    problem = check_json(value) if check_json else None
    return ("schema", problem) if problem else None


def usable_answer(answer: str, expect_json: bool) -> str:
    """With --expect json, the JSON itself: a ```json fence around it is dropped."""
    return unfenced(answer) if expect_json else answer


def unfenced(answer: str) -> str:
    text = answer.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3]
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text.strip()
