"""Many attempts at once: in one INSERT (rows.insert_attempts), the columns every row shares
go into the statement as literals, and what ends up stored must be what one plain INSERT
per row stores, value and type, whatever the rows hold; and a batch (bulk.store_batch)
takes its tasks' type and project as single writes do."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenroute.models import Attempt, Task, Usage
from tokenroute.storage import identity, rows
from tokenroute.storage.schema import migrate
from tokenroute.storage.sqlite import open_ledger

BASE = (
    *rows.attempt_row(
        Attempt(
            started_at="2026-11-01T10:00:00.000Z",
            task_id="cc-s-1",
            model="claude-sonnet-4-5",
            usage=Usage(input=10, output=5),
            cost_micros=63,
            source="claude-code",
            provider="anthropic",
            price_revision="2026-12-02.aa2464bd",
        )
    ),
    1,  # its number
)
COLUMNS = len(BASE)
# Values a column could hold, and some no log should: text SQL would read otherwise, bools,
# the int64 bounds, floats that equal ints, NUL, non-ASCII.
ODD = [
    None,
    0,
    1,
    True,
    False,
    -1,
    2**63 - 1,
    -(2**63),
    0.0,
    1.5,
    "",
    "ok",
    "error",
    "it's",
    "a'); DROP TABLE attempts; --",
    "ünïcode",
    "nul\x00inside",
    "x" * 300,
    "claude-code",
]


def ledger() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, 0)
    return conn


def stored(conn: sqlite3.Connection) -> list[tuple]:
    names = [row[1] for row in conn.execute("PRAGMA table_info(attempts)")]
    typed = ", ".join(f"{name}, typeof({name})" for name in names)
    return conn.execute(f"SELECT {typed} FROM attempts ORDER BY id").fetchall()


def one_by_one(batch: list[tuple]) -> list[tuple]:
    conn = ledger()
    for row in batch:
        rows.insert_attempt(conn, row)
    return stored(conn)


def all_at_once(batch: list[tuple]) -> list[tuple]:
    conn = ledger()
    rows.insert_attempts(conn, batch)
    return stored(conn)


def batch_of(count: int, everywhere: list, here_and_there: list) -> list[tuple]:
    made = [list(BASE) for _ in range(count)]
    for number, row in enumerate(made):
        row[rows.ROW_SOURCE_KEY] = f"msg_{number}"
    for column, value in everywhere:
        for row in made:
            row[column] = value
    for at, column, value in here_and_there:
        made[at % count][column] = value
    return [tuple(row) for row in made]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(rows.SHARED_FROM_ROWS, rows.SHARED_FROM_ROWS + 60),
    everywhere=st.lists(st.tuples(st.integers(0, COLUMNS - 1), st.sampled_from(ODD)), max_size=6),
    here_and_there=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, COLUMNS - 1), st.sampled_from(ODD)),
        max_size=12,
    ),
)
def test_shared_columns_store_what_one_insert_per_row_stores(count, everywhere, here_and_there):
    batch = batch_of(count, everywhere, here_and_there)
    try:
        expected = one_by_one(batch)
    except (sqlite3.Error, OverflowError) as exc:  # a value SQLite refuses, either way
        try:
            all_at_once(batch)
        except type(exc):
            return
        raise AssertionError(f"stored what one by one refused ({exc})") from None
    assert all_at_once(batch) == expected


def test_an_import_shaped_batch_binds_only_what_varies():
    batch = batch_of(500, [], [(7, rows.ROW_PROVIDER, "openai"), (400, rows.ROW_USER, "ann")])
    shared = rows.shared_columns(batch)
    # the source, status and price revision, and every NULL and zero: one value in all rows
    for column in (rows.ROW_SOURCE, rows.ROW_HOST, rows.ROW_COST, rows.ROW_TASK_TYPE):
        assert column in shared
    # what differs, from the first row on or from the 8th or 401st
    for column in (rows.ROW_SOURCE_KEY, rows.ROW_PROVIDER, rows.ROW_USER):
        assert column not in shared
    assert all_at_once(batch) == one_by_one(batch)
    assert len(one_by_one(batch)) == 500


def imported(
    task_id: str, key: str, project: str | None, task_type: str | None = None
) -> rows.BulkRow:
    attempt = Attempt(
        started_at="2026-11-02T10:00:00.000Z",
        task_id=task_id,
        model="claude-sonnet-4-5",
        usage=Usage(input=10, output=5),
        cost_micros=63,
        source="claude-code",
        source_key=key,
        project=project,
    )
    task = Task(id=task_id, created_at=attempt.started_at, type=task_type)
    return rows.bulk_row(attempt, task)


def test_imported_calls_take_their_tasks_type_and_project_as_single_writes_do(tmp_path):
    """A batch of an import whose tasks have no type and whose rows have a project changes
    nothing by inheritance (the UPDATE is left out); one that reaches a typed task, or has
    a row without a project, is changed as ever, and the summaries stay a rebuild's."""
    ledger = open_ledger(tmp_path / "ledger.db")
    typed = Task(id="cc-typed", created_at="2026-11-01T10:00:00.000Z", type="refactor")
    placed = Task(id="cc-placed", created_at="2026-11-01T10:00:00.000Z", project="acme")
    for task in (typed, placed):
        first = Attempt(
            started_at="2026-11-01T10:00:00.000Z",
            task_id=task.id,
            model="gpt-5",
            usage=Usage(input=1, output=1),
            cost_micros=1,
            project=task.project,
        )
        ledger.add_attempts([(first, task)])

    plain = [imported("cc-new", f"msg_{n}", "app") for n in range(3)]
    ledger.import_rows("claude-code", [], plain)
    # each alone in its batch: a typed task (reached by rows with a project), a row
    # without a project
    ledger.import_rows(
        "claude-code",
        [],
        [imported("cc-typed", "msg_t", "app"), imported("cc-new", "msg_n", "app")],
    )
    ledger.import_rows("claude-code", [], [imported("cc-placed", "msg_p", None)])
    ledger.import_rows("claude-code", [], [imported("cc-given", "msg_g", "app", "test")])

    by_key = dict(
        (key, (task_type, project))
        for key, task_type, project in ledger.query(
            "SELECT source_key, task_type, project FROM attempts WHERE source = 'claude-code'"
        )
    )
    assert by_key["msg_0"] == (None, "app")
    assert by_key["msg_t"] == ("refactor", "app")  # the task's type wins
    assert by_key["msg_p"] == (None, "acme")  # the task's project fills a gap
    assert by_key["msg_n"] == (None, "app")
    assert by_key["msg_g"] == ("test", "app")  # a new task's type, as it comes
    tables = ("usage_daily", "tasks_daily", "tasks")
    kept = [ledger.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6") for table in tables]
    ledger.rebuild_summaries()
    rebuilt = [ledger.query(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5, 6") for t in tables]
    assert kept == rebuilt


def another_call(**fields) -> rows.BulkRow:
    """A row of task cc-s-0 with only the given key or writer fields."""
    attempt = Attempt(
        started_at="2026-11-02T10:00:00.000Z",
        task_id="cc-s-0",
        model="m",
        usage=Usage(input=1, output=1),
        source="claude-code",
        **fields,
    )
    return rows.bulk_row(attempt, Task(id="cc-s-0", created_at=attempt.started_at))


def test_a_batch_numbered_at_once_is_numbered_as_row_by_row(monkeypatch):
    """A first import's batch (every row keyed and signed) is numbered in C; the rows, their
    tags and the new tasks' rows must be what the loop over each row makes."""
    from tokenroute.storage import bulk

    batch = []
    for n in range(60):
        attempt = Attempt(
            started_at=f"2026-11-01T10:{n:02d}:00.000Z",
            task_id=f"cc-s-{n % 4}",
            model="claude-sonnet-4-5",
            usage=Usage(input=n, output=5),
            source="claude-code",
            source_key=f"msg_{n}",
            user_name="dev",
            host_name="box",
            tags=("sidechain",) if n % 7 == 0 else (),
        )
        batch.append(
            rows.bulk_row(attempt, Task(id=attempt.task_id, created_at=attempt.started_at))
        )
    numbers = {"cc-s-0": 1, "cc-s-1": 5, "cc-s-2": 1, "cc-s-3": 12}  # 1 and 3 were stored
    known = {"cc-s-1", "cc-s-3"}
    fast = bulk._numbered_at_once(batch, dict(numbers), known)
    slow = bulk._numbered_one_by_one(ledger(), batch, dict(numbers), known)
    assert fast == slow
    keyed, tags, of_new_tasks = fast
    assert [row[-1] for row in keyed[:8]] == [1, 5, 1, 12, 2, 6, 2, 13]
    assert len(tags) == 9 and tags[0] == ("sidechain", "claude-code", "msg_0")
    assert {row[rows.ROW_TASK_ID] for row in of_new_tasks} == {"cc-s-0", "cc-s-2"}
    assert bulk._numbered_at_once(batch, dict(numbers), set())[2] == keyed  # all of them new
    # a row without its writer is signed as the loop signs it; one without a key (inserted
    # on its own, its tags by row id) goes the row-by-row way
    monkeypatch.setattr(identity, "_found", identity.Writer("importer", "laptop"))
    unsigned = [*batch[:3], another_call(source_key="msg_x"), *batch[3:]]
    fast = bulk._numbered_at_once(unsigned, dict(numbers), known)
    assert fast == bulk._numbered_one_by_one(ledger(), unsigned, dict(numbers), known)
    assert fast[0][3][rows.ROW_USER] == "importer" and fast[0][3][rows.ROW_HOST] == "laptop"
    keyless = another_call(user_name="dev", host_name="box")
    assert bulk._numbered_at_once([*batch, keyless], dict(numbers), known) is None


def test_rows_the_same_in_every_column_keep_one_bound():
    """Found by the property above: when every column is shared, none would be bound."""
    conn = ledger()
    same = [BASE] * rows.SHARED_FROM_ROWS
    rows.insert_attempts(conn, same)
    expected = ledger()
    for row in same:
        rows.insert_attempt(expected, row)
    assert stored(conn) == stored(expected)
