"""`tokenroute doctor`: is everything `run` needs in place? Keys, config, prices, ledger,
and (when asked) whether the endpoints answer. Each check says what to do when it fails."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tokenroute.dispatch.endpoints import EndpointSpec, key_source
from tokenroute.errors import TokenrouteError
from tokenroute.settings import Paths

if TYPE_CHECKING:
    from tokenroute.prices.table import PriceTable


class Check(NamedTuple):
    area: str  # keys, config, prices, ledger, endpoint
    name: str
    status: str  # ok | warn | fail
    detail: str


def run_checks(
    paths: Paths,
    ledger: Path,
    environ: Mapping[str, str],
    *,
    load_table: Callable[[], PriceTable],
    today: Callable[[], date],
    network: bool,
    local: bool,
) -> list[Check]:
    """Every check, in the order doctor shows them; one failing does not stop the rest."""
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs, find_key, resolve_endpoint
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.prices.table import STALE_AFTER_DAYS

    found: list[Check] = []
    try:
        specs = endpoint_specs(load_config(paths.config))
        there = "found" if paths.config.exists() else "none (defaults)"
        found.append(Check("config", str(paths.config), "ok", there))
    except TokenrouteError as exc:
        found.append(Check("config", str(paths.config), "fail", exc.message))
        specs = endpoint_specs({})
    try:
        stored = read_keys(paths.keys)
    except TokenrouteError as exc:
        found.append(Check("keys", str(paths.keys), "fail", exc.message))
        stored = {}
    found += key_checks(specs, environ, stored)
    try:
        day = today()
        checked, _ = load_table().staleness(day)
        found.append(price_check(checked, day, STALE_AFTER_DAYS))
    except TokenrouteError as exc:
        found.append(Check("prices", "table", "fail", exc.message))
    found.append(ledger_check(ledger))
    if network or local:
        from tokenroute.dispatch.providers.wire import probe

        names = [
            n
            for n, spec in sorted(specs.items())
            if (spec.local and local)
            or (network and not spec.local and find_key(n, spec, environ, stored))
        ]
        found += endpoint_checks(
            names,
            lambda n: probe(resolve_endpoint(n, specs, environ, stored)),
            local=frozenset(n for n in names if specs[n].local),
        )
    return found


def ledger_check(path: Path) -> Check:
    from tokenroute.storage.sqlite import open_ledger

    try:
        store = open_ledger(path, create=False)
    except TokenrouteError as exc:
        return Check("ledger", str(path), "fail", exc.message)
    if store is None:
        return Check("ledger", str(path), "ok", "none yet: created by the first record or run")
    try:
        attempts = store.count_attempts()
    finally:
        store.close()
    return Check("ledger", str(path), "ok", f"{attempts:,} attempts")


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
