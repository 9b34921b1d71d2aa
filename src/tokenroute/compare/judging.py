"""Was an answer right? --match, --match-regex, --check CMD and --judge MODEL, in that
order; the first that says no decides. --expect json and --schema are checked earlier, by
dispatch, so an answer that breaks them is retried and, in the end, `invalid`.

Without any judge every valid answer is a success, and the comparison says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from tokenroute.compare.examples import Example
from tokenroute.errors import BadInputError

CHECK_TIMEOUT = 120.0  # seconds a --check command may take for one answer
EXAMPLE_VARIABLE = "TOKENROUTE_EXAMPLE"  # --check's example, as JSON
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "PASSWORD")  # kept from --check's environment
JUDGE_INSTRUCTIONS = (
    "You grade one answer against a rubric. Reply with JSON only, exactly "
    '{"pass": true or false, "why": "one short line"}.'
)

# (prompt for the judge) -> (its reply, what the judge's calls cost)
AskJudge = Callable[[str, str], tuple[str, Decimal | None]]


class Judges(NamedTuple):
    match: bool = False
    regex: re.Pattern[str] | None = None
    check: str | None = None
    judge_model: str | None = None
    rubric: str | None = None

    @property
    def names(self) -> list[str]:
        """How success is judged, as the output says it."""
        names = ["--match"] if self.match else []
        names += ["--match-regex"] if self.regex else []
        names += ["--check"] if self.check else []
        names += [f"--judge {self.judge_model}"] if self.judge_model else []
        return names


def check_examples(judges: Judges, examples: Sequence[Example]) -> None:
    """--match needs every example's `expected`: say which lacks it before any call."""
    if judges.match:
        missing = [e.id for e in examples if e.expected is None]
        if missing:
            raise BadInputError(
                f"--match compares with each example's 'expected'; example {missing[0]} has "
                "none (add it, or judge another way)"
            )


def judge(
    answer: str, example: Example, judges: Judges, ask: AskJudge | None
) -> tuple[str, str, Decimal | None]:
    """(verdict, what was wrong, the judge's cost): verdict success, wrong or judge_error."""
    if judges.match and not _matches(answer, example.expected):
        return "wrong", "the answer is not the expected one", Decimal(0)
    if judges.regex is not None and not judges.regex.search(answer):
        return "wrong", f"the answer does not match /{judges.regex.pattern}/", Decimal(0)
    if judges.check:
        verdict, detail = _run_check(judges.check, answer, example)
        if verdict != "success":
            return verdict, detail, Decimal(0)
    if judges.judge_model and ask is not None:
        return _ask_judge(answer, example, judges.rubric or "", ask)
    return "success", "", Decimal(0)


def _matches(answer: str, expected: Any) -> bool:
    if isinstance(expected, str):
        return answer.strip() == expected.strip()
    try:
        return json.loads(answer) == expected  # a number, list or object: as JSON
    except ValueError:
        return False


def _run_check(command: str, answer: str, example: Example) -> tuple[str, str]:
    # the generated code may run here: it gets no API key of the user's
    environ = {k: v for k, v in os.environ.items() if not k.endswith(SECRET_SUFFIXES)}
    environ[EXAMPLE_VARIABLE] = json.dumps(example.as_json(), ensure_ascii=False)
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=answer.encode(),
            env=environ,
            capture_output=True,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "wrong", f"--check took over {CHECK_TIMEOUT:g} s"
    except OSError as exc:
        return "judge_error", f"--check could not start: {exc.strerror or exc}"
    if done.returncode == 0:
        return "success", ""
    if done.returncode < 0:  # stopped by a signal (Ctrl-C reaches the whole process group)
        return "judge_error", f"--check was stopped by signal {-done.returncode}"
    if done.returncode in (126, 127):  # the shell could not run it: the check, not the answer
        return "judge_error", f"--check could not run (exit {done.returncode}): {command}"
    said = done.stderr.decode(errors="replace").strip().splitlines()
    return "wrong", f"--check exited {done.returncode}" + (f": {said[-1][:200]}" if said else "")


def judge_prompt(answer: str, example: Example, rubric: str) -> str:
    parts = [f"Rubric:\n{rubric.strip()}", f"Task:\n{example.prompt}"]
    if example.expected is not None:
        expected = example.expected
        shown = expected if isinstance(expected, str) else json.dumps(expected)
        parts.append(f"A reference answer:\n{shown}")
    parts.append(f"The answer to grade:\n{answer}")
    return "\n\n".join(parts)


def _ask_judge(
    answer: str, example: Example, rubric: str, ask: AskJudge
) -> tuple[str, str, Decimal | None]:
    from tokenroute.dispatch.answers import unfenced
    from tokenroute.errors import OverBudgetError, TokenrouteError

    try:
        reply, cost = ask(JUDGE_INSTRUCTIONS, judge_prompt(answer, example, rubric))
    except OverBudgetError:
        raise  # the comparison stops: not this answer's fault
    except TokenrouteError as exc:
        return "judge_error", f"the judge failed: {exc.message}", getattr(exc, "cost", None)
    try:
        grade = json.loads(unfenced(reply))
        passed = grade["pass"]
        if not isinstance(passed, bool):
            raise TypeError(passed)
    except (ValueError, KeyError, TypeError):
        return "judge_error", 'the judge\'s reply is not {"pass": ..., "why": ...}', cost
    why = str(grade.get("why", ""))[:200]
    return ("success", why, cost) if passed else ("wrong", f"judged wrong: {why}", cost)
