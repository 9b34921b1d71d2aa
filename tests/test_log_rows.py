"""The fast way from Claude Code's lines to ledger rows (log_rows, claude_code.parse_rows)
makes exactly the rows, rejections and unknown models of the general way (parse_file, then
price_call and bulk_row), on the real client's logs and on lines built to be odd."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenroute.ledger.calls import price_call
from tokenroute.ledger.importers import claude_code
from tokenroute.ledger.importers.files import read_new
from tokenroute.ledger.importers.log_rows import RowMaker
from tokenroute.prices.table import load_price_table, shipped_dir
from tokenroute.storage.rows import bulk_row

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TABLE = load_price_table(shipped_dir())
REAL_LOGS = ROOT / "tests" / "fixtures" / "real_clients" / "claude_code"
PATH = Path("/logs/projects/-home-dev-acme/s-1.jsonl")


def general_way(path, lines, since=None):
    parsed = claude_code.parse_file(path, lines, NOW)
    rows, unknown = [], set()
    for call in parsed.calls:
        if since and call.at.date() < since:
            continue
        priced = price_call(call, TABLE, source="claude-code", project=call.project)
        if priced.attempt.cost_micros is None:
            unknown.add(call.model)
        rows.append(bulk_row(priced.attempt, priced.task))
    return rows, parsed.copies, parsed.rejected, sorted(unknown)


def fast_way(path, lines, since=None, maker=None):
    maker = maker or RowMaker(TABLE, "claude-code", NOW, since)
    return tuple(claude_code.parse_rows(path, lines, maker))


def test_the_real_clients_logs_make_the_same_rows():
    files = sorted(REAL_LOGS.rglob("*.jsonl"))
    assert files
    maker = RowMaker(TABLE, "claude-code", NOW, None)  # templates carried across files
    for path in files:
        lines = read_new(path, None).lines
        assert fast_way(path, lines, maker=maker) == general_way(path, lines), path


def mostly(usual, odd, times=6):
    """`usual` about `times` draws in `times` + 1: the fast way must be taken often."""
    return st.integers(0, times).flatmap(lambda n: usual if n else odd)


COUNT = mostly(st.integers(0, 5000), st.sampled_from([None, -1, True, 2.5, "7", 10**13]), times=30)
MOMENT = mostly(
    st.sampled_from(
        ["2026-11-20T10:00:00.000Z", "2026-11-20T10:00:00.123Z", "2026-11-21T23:59:59.999Z"]
    ),
    st.sampled_from(
        [
            "2026-11-20T10:00:00Z",
            "2026-11-20T12:00:00+02:00",
            "2026-12-03T11:59:59.999Z",  # inside the day of slack
            "2026-12-03T12:00:00.001Z",  # just past it: in the future
            "2026-13-45T10:00:00.000Z",
            "2026-11-20T24:00:00.000Z",  # a real day (often with its template), no real time
            "2026-11-20T10:60:00.000Z",
            "2026-11-20T10:00:60.000Z",
            "2026-02-30T10:00:00.000Z",  # before --since, and no real day
            "2026-11-20T10:00:00.\u0660\u0660\u0660Z",  # digits, but not 0-9
            "2026-11-20T1\u0660:00:00.000Z",
            "1999-12-31T23:59:59.999Z",
            "yesterday",
            "",
        ]
    ),
    times=3,
)
MODEL = mostly(
    st.sampled_from(["claude-sonnet-4-5-20250929", "claude-haiku-4-5", "mystery-1"]),
    st.sampled_from([" claude-opus-4-6", "ünï", "", None]),
    times=3,
)


@st.composite
def assistant_line(draw):
    usage = {
        "input_tokens": draw(COUNT),
        "cache_read_input_tokens": draw(COUNT),
        "cache_creation_input_tokens": draw(COUNT),
        "output_tokens": draw(COUNT),
    }
    split = draw(mostly(st.sampled_from(["none", "dict"]), st.sampled_from(["empty", "odd"])))
    if split == "dict":
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": draw(COUNT),
            "ephemeral_1h_input_tokens": draw(COUNT),
        }
    elif split == "empty":
        usage["cache_creation"] = {}
    elif split == "odd":
        usage["cache_creation"] = [1]
    line = {
        "type": "assistant",
        "uuid": f"u{draw(st.integers(0, 9))}",
        "sessionId": draw(mostly(st.sampled_from(["s-1", "s-2"]), st.just("sessión"))),
        "cwd": draw(mostly(st.just("/home/dev/acme"), st.sampled_from(["/home/dev/ünï", None]))),
        "timestamp": draw(MOMENT),
        "message": {
            "id": draw(mostly(st.sampled_from([f"msg_{n}" for n in range(8)]), st.none())),
            "model": draw(MODEL),
            "usage": usage,
        },
    }
    if draw(st.booleans()):
        line["isSidechain"] = True
    return json.dumps(line).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(assistant_line(), max_size=20), st.sampled_from([None, date(2026, 11, 21)]))
def test_odd_lines_make_the_same_rows_and_rejections(raw_lines, since):
    lines = []
    at = 0
    for raw in raw_lines:
        lines.append((at, raw))
        at += len(raw) + 1
    assert fast_way(PATH, lines, since) == general_way(PATH, lines, since)


def a_line(**extra) -> bytes:
    line = {
        "type": "assistant",
        "uuid": "u1",
        "sessionId": "s-1",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "message": {"id": "msg_1", "model": "claude-haiku-4-5", "usage": {"output_tokens": 5}},
        **extra,
    }
    return json.dumps(line).encode()


def test_lines_msgspec_refuses_are_read_as_json_reads_them():
    """Only a line's few fields are decoded (msgspec); a line it refuses is read whole by
    json_lines, which accepts what json does: the call still counts."""
    nan = a_line(content="X").replace(b'"X"', b"NaN")
    surrogate = a_line(content="X").replace(b'"X"', b'"\\ud800"')
    for raw in (nan, surrogate):
        parsed = fast_way(PATH, [(0, raw)])
        assert (len(parsed[0]), parsed[2]) == (1, []), raw
        assert parsed == general_way(PATH, [(0, raw)])


def test_a_message_that_is_not_an_object_is_not_a_call():
    raw = a_line(message=[1, 2])
    assert fast_way(PATH, [(0, raw)]) == ([], 0, [], [])


def test_a_usage_that_is_not_an_object_is_not_a_call_whatever_else_the_line_holds():
    """Skipped, not rejected, also when the line holds what msgspec skips but json refuses
    (invalid UTF-8 in a content block): usage is decoded with a shape of its own, and a
    usage of another shape is read again as any value, as it was before."""
    for usage in ("x", 5, [1, 2], True):
        line = {**json.loads(a_line()), "content": "X"}
        line["message"]["usage"] = usage
        raw = json.dumps(line).encode().replace(b'"X"', b'"\xff"')  # a lone 0xff byte
        assert fast_way(PATH, [(0, raw)]) == ([], 0, [], []), usage
        assert general_way(PATH, [(0, raw)]) == ([], 0, [], []), usage


def test_a_line_cut_off_or_not_json_is_named():
    cut = a_line()[:-20]
    broken = a_line().replace(b'"usage"', b'"usage" oops')
    rows, _, rejected, _ = fast_way(PATH, [(0, cut), (500, broken)])
    assert rows == [] and [at for at, _ in rejected] == [0, 500]
