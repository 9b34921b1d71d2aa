"""The examples of a comparison: one JSON object per line, `prompt` (or `messages`), and
optionally `system`, `expected` and `id`.

A bad line stops the comparison before any call is made: money is spent only on a file
that is whole, and the error names the line.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple, TextIO

from tokenroute.errors import BadInputError

MAX_EXAMPLES = 10_000
KNOWN = {"prompt", "messages", "system", "expected", "id"}
ROLES = ("user", "assistant")


class Example(NamedTuple):
    id: str
    messages: tuple[tuple[str, str], ...]  # (role, content), the last one the user's
    system: str | None = None
    expected: Any = None  # what --match compares with, and what --check and --judge see

    @property
    def prompt(self) -> str:
        """The example's text, for estimates and classification."""
        return "\n".join(content for _, content in self.messages)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "messages": [list(m) for m in self.messages]}
        if self.system is not None:
            body["system"] = self.system
        if self.expected is not None:
            body["expected"] = self.expected
        return body


def read_examples(source: str, stdin: TextIO) -> list[Example]:
    """Every example of the file ('-': stdin), or BadInputError naming the first bad line."""
    from tokenroute.inputs import read_text

    text = read_text(source, stdin)
    path = "stdin" if source == "-" else source
    examples: list[Example] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        example = _example(line, number, path)
        if example.id in seen:
            raise BadInputError(f"{path}:{number}: the id '{example.id}' is used twice")
        seen.add(example.id)
        examples.append(example)
        if len(examples) > MAX_EXAMPLES:
            raise BadInputError(f"{path}: over {MAX_EXAMPLES:,} examples; split the file")
    if not examples:
        raise BadInputError(f"{path}: no examples (one JSON object per line, with 'prompt')")
    return examples


def _example(line: str, number: int, path: str) -> Example:
    def bad(why: str) -> BadInputError:
        return BadInputError(f"{path}:{number}: {why}")

    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise bad(f"not JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(raw, dict):
        raise bad("each line must be a JSON object with 'prompt' or 'messages'")
    unknown = sorted(set(raw) - KNOWN)
    if unknown:
        raise bad(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(KNOWN))})")
    if ("prompt" in raw) == ("messages" in raw):
        raise bad("give 'prompt' or 'messages', one of them")
    if "prompt" in raw:
        if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
            raise bad("'prompt' must be non-empty text")
        messages: tuple[tuple[str, str], ...] = (("user", raw["prompt"]),)
    else:
        messages = _messages(raw["messages"], bad)
    system = raw.get("system")
    if system is not None and not isinstance(system, str):
        raise bad("'system' must be text")
    given = raw.get("id", number)
    if isinstance(given, bool) or not isinstance(given, str | int) or not str(given).strip():
        raise bad("'id' must be text or a whole number")
    return Example(str(given), messages, system, raw.get("expected"))


def _messages(raw: Any, bad: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise bad("'messages' must be a non-empty list of {role, content}")
    messages = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or set(item) != {"role", "content"}:
            raise bad(f"message {index} must be an object with 'role' and 'content' only")
        role, content = item["role"], item["content"]
        if role not in ROLES:
            raise bad(f"message {index}: role must be user or assistant (system: 'system')")
        if not isinstance(content, str):
            raise bad(f"message {index}: 'content' must be text")
        messages.append((role, content))
    if messages[-1][0] != "user":
        raise bad("the last message must be the user's")
    return tuple(messages)
