"""The routing policy: which tier each task type needs, and what a typical task of it costs.

The default ships as `data/policy.yaml`; a user's own file replaces it. Every problem is
reported with the file, the task type and the field, as price tables are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import BadInputError
from tokenroute.taxonomy import TASK_TYPES, TIERS

DEFAULT_POLICY = Path(__file__).resolve().parent / "data" / "policy.yaml"


class TypePolicy(NamedTuple):
    name: str
    tier: str
    input_tokens: int
    output_tokens: int
    says: str
    keywords: tuple[str, ...]


class Policy(NamedTuple):
    types: dict[str, TypePolicy]
    quality_target: float
    exploration: float
    prior_strength: float
    down_words: tuple[str, ...]
    up_words: tuple[str, ...]
    source: str
    escalate: bool = False  # `run` moves up a tier when a model keeps failing
    stakes_words: tuple[str, ...] = ()  # high-stakes subjects: never below mid


def load_policy(path: Path | None = None, cache: Path | None = None) -> Policy:
    """The policy in `path` (default: the shipped one); BadInputError names what is wrong.

    With `cache`, the parsed YAML is kept as JSON by content hash, as price tables are.
    """
    from tokenroute.prices.yaml_files import read_documents

    where = path or DEFAULT_POLICY
    problems: list[str] = []
    documents = read_documents([where], problems, cache)
    if problems:
        raise BadInputError(problems[0])
    return parse_policy(documents[0].raw, str(where))


def load_user_policy(user_file: Path, cache: Path | None) -> Policy:
    """The user's policy file when there is one (it replaces the shipped one), else ours."""
    return load_policy(user_file if user_file.exists() else DEFAULT_POLICY, cache=cache)


def parse_policy(raw: Any, source: str) -> Policy:
    def bad(field: str, message: str) -> BadInputError:
        return BadInputError(f"{source}: {field}: {message}")

    if not isinstance(raw, dict) or not isinstance(raw.get("types"), dict):
        raise bad("types", "the policy must map each task type to its tier")
    types = {}
    for name, entry in raw["types"].items():
        if name not in TASK_TYPES:
            raise bad(f"types.{name}", f"unknown task type (known: {', '.join(TASK_TYPES)})")
        if not isinstance(entry, dict) or entry.get("tier") not in TIERS:
            tier = entry.get("tier") if isinstance(entry, dict) else entry
            raise bad(f"types.{name}.tier", f"must be one of {', '.join(TIERS)} (got {tier!r})")
        counts = []
        for field in ("input_tokens", "output_tokens"):
            value = entry.get(field, 1000)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise bad(f"types.{name}.{field}", f"must be a whole number >= 0 (got {value!r})")
            counts.append(value)
        keywords = entry.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise bad(f"types.{name}.keywords", "must be a list of words or phrases")
        types[name] = TypePolicy(
            name,
            entry["tier"],
            counts[0],
            counts[1],
            str(entry.get("says", "")),
            tuple(k.lower() for k in keywords),
        )
    missing = [t for t in TASK_TYPES if t not in types]
    if missing:
        raise bad("types", f"every task type needs a tier; missing: {', '.join(missing)}")
    target = _fraction(raw.get("quality_target", 0.9), "quality_target", bad, low_open=True)
    exploration = _fraction(raw.get("exploration", 0.05), "exploration", bad, low_open=False)
    strength = raw.get("prior_strength", 10)
    if not isinstance(strength, int | float) or isinstance(strength, bool) or strength <= 0:
        raise bad("prior_strength", f"must be a number > 0 (got {strength!r})")
    modifiers = raw.get("modifiers") or {}
    if not isinstance(modifiers, dict):
        raise bad("modifiers", "must be a mapping of down, up and stakes to lists of words")
    escalate = raw.get("escalate", False)
    if not isinstance(escalate, bool):
        raise bad("escalate", f"must be true or false (got {escalate!r})")
    return Policy(
        types=types,
        quality_target=target,
        exploration=exploration,
        prior_strength=float(strength),
        down_words=_words(modifiers, "down", bad),
        up_words=_words(modifiers, "up", bad),
        source=source,
        escalate=escalate,
        stakes_words=_words(modifiers, "stakes", bad),
    )


def _words(modifiers: dict[str, Any], key: str, bad: Any) -> tuple[str, ...]:
    words = modifiers.get(key) or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise bad(f"modifiers.{key}", "must be a list of words or phrases")
    return tuple(w.lower() for w in words)


def _fraction(value: Any, field: str, bad: Any, *, low_open: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and low_open:
        ok = 0 < value <= 1
    elif ok:
        ok = 0 <= value < 1
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1)"
        raise bad(field, f"must be a number in {interval} (got {value!r})")
    return float(value)
