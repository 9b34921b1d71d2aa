"""Shared pieces of the fuzz tests: the CLI's error contract, a watchdog and hostile values.

Kept apart from test_fuzz.py so the strategies can be reused by later fuzz tests without
importing a test module.
"""

from __future__ import annotations

import contextlib
import json
import math
import resource
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import Outcome, Run
from hypothesis import strategies as st

# The exit codes the README documents for a run that went as designed (1 is "a bug").
DOCUMENTED_CODES = frozenset({0, 2, 3, 4, 5, 6, 7, 8, 9, 130})
ERROR_PREFIX = "tokenroute: error: "
HANG_SECONDS = 10.0
MEMORY_HEADROOM = 4 * 1024**3  # an alias bomb must fail with a message, not eat the machine


class Hang(BaseException):
    """Raised by the watchdog; a BaseException so the CLI's `except Exception` cannot eat it."""


def label_of(args: tuple[str, ...], stdin: str | bytes | None) -> str:
    """A short, printable name of one invocation, for failure messages."""
    shown = repr(stdin)
    if len(shown) > 400:
        shown = shown[:400] + f"... ({len(shown)} chars)"
    return f"tokenroute {' '.join(repr(a) for a in args)} <<< {shown}"


def _vm_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def watchdog(label: str, seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Turn a hang (or a runaway allocation) inside the CLI into a failure naming the input."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds:.0f} s: {label}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + MEMORY_HEADROOM
    if hard == resource.RLIM_INFINITY or cap < hard:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Hang as exc:
        raise AssertionError(str(exc)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def check_contract(out: Outcome, label: str, *, checker: bool = False) -> None:
    """The README's promise for any input: a documented code and, on failure, one error line.

    `checker`: a command whose job is to list problems (`prices check`, `doctor`, an import
    naming its rejected lines) exits 3 (doctor: 9) with its list and no error line of its own."""
    context = f"{label}\nexit {out.exit_code}\nstderr: {out.stderr[-2000:]!r}"
    assert out.exit_code in DOCUMENTED_CODES, f"undocumented exit code\n{context}"
    assert "Traceback" not in out.stderr, f"traceback on stderr\n{context}"
    assert "internal error" not in out.stderr, f"internal error\n{context}"
    lines = [line for line in out.stderr.split("\n") if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if out.exit_code == 0:
        assert not errors, f"exit 0 with an error line\n{context}"
    elif checker and not errors:
        assert out.exit_code in (3, 9) and (out.stdout + out.stderr).strip(), context
    else:
        assert len(errors) == 1, f"not exactly one error line\n{context}"
        assert lines[-1] == errors[0], f"the error is not the last line\n{context}"


def cli(run: Run, *args: str, stdin: str | bytes | None = None, checker: bool = False) -> Outcome:
    """One CLI invocation under the watchdog, checked against the error contract."""
    label = label_of(args, stdin)
    with watchdog(label):
        out = run(*args, input=stdin)
    check_contract(out, label, checker=checker)
    return out


def ledger_keys(ledger: Path, source: str | None = None) -> dict[str, int]:
    """How many attempts the ledger holds per source_key (empty when there is no ledger)."""
    if not ledger.exists():
        return {}
    conn = sqlite3.connect(ledger)
    try:
        query = "SELECT source_key, COUNT(*) FROM attempts"
        params: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            params = (source,)
        rows = conn.execute(query + " GROUP BY source_key", params).fetchall()
    finally:
        conn.close()
    return {key: count for key, count in rows if key is not None}


# ---------------------------------------------------------------------------- hostile values

HUGE_DIGITS = "9" * 5000
LONE_SURROGATES = ["\ud800", "\udfff", "a\udc80b", "\udbff\ud800"]
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "\t\n",
    "\u2028",
    "\ufeff",
    "é",
    "日本語",
    "💥" * 3,
    "-1",
    "1e309",
    "NaN",
    "null",
    "0x10",
    "%s%n",
    "'; DROP TABLE attempts; --",
    "x" * 10_000,
    *LONE_SURROGATES,
]
NASTY_INTS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**12 + 1]
NASTY_FLOATS = [math.nan, math.inf, -math.inf, 0.5, -0.0, 1e308, 5e-324, 1.0]


def nasty_scalars() -> st.SearchStrategy[Any]:
    """Scalars of every JSON type that a field should reject or survive."""
    return st.one_of(
        st.sampled_from(NASTY_INTS),
        st.sampled_from(NASTY_FLOATS),
        st.sampled_from(NASTY_TEXT),
        st.booleans(),
        st.none(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
    )


def nasty_values() -> st.SearchStrategy[Any]:
    """Scalars, containers of them, and shallowly nested structures: wrong types anywhere."""
    return st.recursive(
        nasty_scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )


def dumps(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON text as bytes; NaN/Infinity stay as Python writes them, lone surrogates go through
    either as \\u escapes (ascii_only) or as raw, invalid UTF-8 bytes."""
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


RAW_BAD_LINES: list[bytes] = [
    b"[" * 100_000,
    b"{" * 50_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b"[" * 100_000 + b"]" * 100_000,
    b"not json",
    b"{",
    b"}",
    b"null",
    b"1",
    b'"text"',
    b"[]",
    b"{}",
    b"\xff\xfe\xfd",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 (CESU): invalid
    b"\xef\xbb\xbf{}",  # a BOM
    b"\x00\x00\x00",
    b'{"model": "\xff"}',
    b'{"model": "gpt-5", "input_tokens": ' + HUGE_DIGITS.encode() + b"}",
    b'{"model": "gpt-5", "input_tokens": 1e99999}',
    b'{"model": "gpt-5", "input_tokens": NaN, "output_tokens": Infinity}',
    b'{"model": "gpt-5", "input_tokens": -Infinity}',
    b'{"model": "\\ud800", "input_tokens": 1, "output_tokens": 1}',
    b'{"model": "gpt-5", "task_id": "\\udfff", "input_tokens": 1, "output_tokens": 1}',
    b'{"model": "gpt-5", "input_tokens": 1, "output_tokens": 1, "tags": ["\\ud800"]}',
    b'{"model": "gpt-5", "input_tokens": 1, "output_tokens": 1, "project": "\\ud83d"}',
    b'{"model": "gpt-5", "input_tokens": 1, "output_tokens": 1, "source_key": "\\udc00"}',
    b'{"model": "gpt-5", "input_tokens": 1, "input_tokens": 2, "output_tokens": 1}',
    b'{"model": "gpt-5", "input_tokens": 1, "output_tokens": 1}{"x": 1}',
    b'{"model": "gpt-5", "input_tokens": 1, "output_tokens": 1, "timestamp": "\x00"}',
]


def raw_bad_lines() -> st.SearchStrategy[bytes]:
    """Byte-level junk: deep nesting, huge numbers, bad UTF-8, lone surrogates, non-objects."""
    return st.one_of(
        st.sampled_from(RAW_BAD_LINES),
        st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
        st.text(max_size=40).map(lambda t: t.replace("\n", "").encode("utf-8", "surrogatepass")),
    )


def moment_texts() -> st.SearchStrategy[str]:
    """Things that look like, or almost like, ISO-8601 dates and times; many out of range."""
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    year = st.one_of(st.integers(0, 9999).map(lambda n: f"{n:04d}"), st.sampled_from(["10000"]))
    zone = st.one_of(
        st.just(""),
        st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+99:99", "+24:00"]),
        st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), two, two),
    )
    fraction = st.one_of(st.just(""), st.from_regex(r"\A\.\d{1,30}\Z"))
    iso = st.builds(
        lambda y, mo, d, sep, h, mi, s, f, z: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{f}{z}",
        year,
        two,
        two,
        st.sampled_from(["T", " ", "t"]),
        two,
        two,
        two,
        fraction,
        zone,
    )
    day = st.builds(lambda y, mo, d: f"{y}-{mo}-{d}", year, two, two)
    edges = st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59.999999+00:00",
            "0001-01-01T00:00:00+23:59",
            "0001-01-01",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:00:00+00:01",
            "2000-01-01T00:30:00+01:00",
            "2026-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2024-02-29",
            "2026-11-23T24:00:00Z",
            "2026-11-23T23:60:00Z",
            "2026-11-23T12:00:60Z",
            "2026-11-24T12:00:00Z",
            "2026-11-25T12:00:00Z",
            "2026-11-23 ",
            " 2026-11-23",
            "2026-11-23\n",
            "２０２６-１１-２３",
            "٢٠٢٦-١١-٢٣",
            "20261123",
            "2026-W47",
            "2026-327",
        ]
    )
    return st.one_of(iso, day, edges, st.text(max_size=30))


def duration_texts() -> st.SearchStrategy[str]:
    """Spans for --last: good ones, huge ones, zero, signs, Unicode digits, unknown units."""
    units = st.sampled_from(["h", "d", "w", "m", "s", "y", "D", "", "hd", " d"])
    number = st.one_of(
        st.integers(0, 10**30).map(str),
        st.sampled_from([10**6, 10**8, 10**9, 10**10, 2**31, 2**63, 10**20]).map(str),
        st.sampled_from(
            ["0", "00", "-1", "+1", "1.5", "1e3", "١", "٣٠", "３", "1_000", HUGE_DIGITS]
        ),
    )
    return st.one_of(
        st.builds(lambda n, u: f"{n}{u}", number, units),
        st.sampled_from(
            [
                "1000000000d",
                "99999999w",
                "10000000000000h",
                "30d",
                "12h",
                "2w",
                " 7d ",
                "7d\n",
                "\u20077d",
                "d",
                "",
                " ",
            ]
        ),
        st.text(max_size=12),
    )
