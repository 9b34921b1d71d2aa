"""`tokenroute doctor`: is everything `run` needs in place? Keys, config, prices, ledger,
and (when asked) whether the endpoints answer. Each check says what to do when it fails."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import NamedTuple

from tokenroute.dispatch.endpoints import EndpointSpec, key_source


class Check(NamedTuple):
    area: str  # keys, config, prices, ledger, endpoint
    name: str
    status: str  # ok | warn | fail
    detail: str


def key_checks(
    specs: Mapping[str, EndpointSpec], environ: Mapping[str, str], stored: Mapping[str, str]
) -> list[Check]:
    """A key for each paid endpoint (none is a warning: only that provider is out of reach)."""
    checks = []
    for name, spec in sorted(specs.items()):
        if spec.local:
            continue
        source = key_source(name, spec, environ, stored)
        if source:
            checks.append(Check("keys", name, "ok", source))
        else:
            how = f"set {spec.key_env[0]} or " if spec.key_env else ""
            checks.append(
                Check("keys", name, "warn", f"no key: {how}run 'tokenroute keys set {name}'")
            )
    return checks


def price_check(checked: date, today: date, stale_after: int) -> Check:
    age = (today - checked).days
    if age > stale_after:
        return Check(
            "prices",
            "table",
            "warn",
            f"last checked {checked} ({age} days ago): upgrade tokenroute or "
            "'tokenroute prices import' a fresh LiteLLM file",
        )
    if age < 0:
        return Check("prices", "table", "warn", f"checked {checked}: a day after today")
    return Check("prices", "table", "ok", f"oldest price in use checked {checked} ({age} days ago)")


def endpoint_checks(
    names: list[str], probe: Callable[[str], str | None], *, local: frozenset[str] = frozenset()
) -> list[Check]:
    """Each endpoint's answer to a cheap request (a model list): `probe` returns a problem.

    A paid endpoint that does not answer fails. Of the local servers (`local`), one is enough:
    the others not running is a warning, and only none answering fails."""
    checks = []
    for name in names:
        problem = probe(name)
        status = "ok" if not problem else ("warn" if name in local else "fail")
        checks.append(Check("endpoint", name, status, problem or "answers"))
    asked = [c for c in checks if c.name in local]
    if asked and all(c.status != "ok" for c in asked):
        checks.append(
            Check(
                "endpoint",
                "local",
                "fail",
                "no local server answers: start one (Ollama, llama.cpp, vLLM, LM Studio) "
                "or set its address under endpoints: in the config",
            )
        )
    return checks
