"""A team's ledger in PostgreSQL, on a real server (tests/pg_server.py): the same figures
as the SQLite file, logins as libpq users expect, no password shown anywhere, and a server
that is down, refuses the login or stops mid-import costs one line and loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claude_logs import write_tree
from conftest import assert_one_line_error, write
from pg_server import TEAMMATE, TEAMMATE_PASSWORD, start_server

from tokenroute.errors import ExitCode
from tokenroute.storage.location import ServerLedger, ledger_location, shown_database_url
from tokenroute.storage.schema import SCHEMA_VERSION
from tokenroute.storage.sqlite import open_ledger

pytestmark = pytest.mark.sqlite_only  # its own backends, side by side
END = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
# import commits every 20 calls here (50,000 by default), so a stop falls between groups
SMALL_GROUPS = (
    "from tokenroute.ledger.importers import load; load.GROUP_ROWS = 20; "
    "from tokenroute.cli.entry import main; main()"
)


def calls() -> list[dict]:
    """A few days of calls: several models (one without a price), tasks with types, tags,
    projects, errors, an edge of the 30-day window and today's partial day."""
    rows = []
    models = ("gpt-5-mini", "claude-sonnet-4-5", "gpt-5", "acme-unpriced-1")
    for n in range(60):
        day = 23 - (n % 35)
        month = 11 if day > 0 else 10
        day = day if day > 0 else 31 + day
        rows.append({
            "model": models[n % 4], "input_tokens": 1000 + 37 * n, "output_tokens": 50 + n,
            "cache_read": 100 * (n % 3), "cache_write": 10 * (n % 2), "reasoning_tokens": n % 5,
            "task_id": f"task-{n // 3}", "task_type": ("test", "docs", "refactor")[n % 3],
            "status": "error" if n % 7 == 0 else "ok", "tags": [f"sprint-{n % 2}"],
            "project": f"proj-{n % 3}", "timestamp": f"2026-{month}-{day:02d}T{n % 24:02d}:15:00Z",
            "source_key": f"k{n}",
        })  # fmt: skip
    return rows


def scenario(run, ledger: str, tree: Path) -> None:
    lines = "".join(json.dumps(c) + "\n" for c in calls())
    for user in ("ana", "ben"):
        os.environ["TOKENROUTE_USER"] = user
        mine = "".join(line.replace('"k', f'"{user}-k') for line in lines.splitlines(keepends=True))
        assert run("record", "--ledger", ledger, input=mine).exit_code == 0
    os.environ.pop("TOKENROUTE_USER")
    for n, outcome in ((1, "--success"), (2, "--failure"), (4, "--success")):
        assert run("mark", f"task-{n}", outcome, "--ledger", ledger).exit_code == 0
    out = run("import", "claude-code", "--path", str(tree / "projects"), "--ledger", ledger)
    assert out.exit_code == 0, out.stderr
    assert run("budget", "set", "--daily", "5", "--monthly", "50").exit_code == 0


REPORTS = (
    ("report", "--last", "30d", "--json"),
    ("report", "--last", "30d", "--by", "model,task-type", "--json"),
    ("report", "--last", "90d", "--by", "day", "--json"),
    ("report", "--last", "90d", "--by", "week", "--json"),
    ("report", "--last", "90d", "--by", "month,provider", "--json"),
    ("report", "--last", "30d", "--by", "user,host", "--json"),
    ("report", "--last", "30d", "--by", "tag", "--json"),
    ("report", "--last", "30d", "--by", "tier,project", "--csv"),
    ("report", "--last", "30d", "--by", "task", "--json"),
    ("report", "--last", "7d", "--by", "block", "--json"),
    ("report", "--last", "30d", "--by", "day", "--breakdown", "model", "--json"),
    ("report", "--top", "5", "--last", "30d", "--json"),
    ("report", "--since", "2026-11-05T06:30:00Z", "--until", "2026-11-20T18:00:00Z", "--json"),
    ("report", "--last", "30d", "--task-type", "test", "--tag", "sprint-1", "--json"),
    ("log", "-n", "500", "--json"),
    ("budget", "list", "--json"),
    ("pick", "write unit tests for the parser", "--json", "--no-log"),
)


def test_every_report_figure_is_the_same_on_both_backends(run, tmp_path, pg_server):
    """One scenario, both backends: every number of every report, log and pick equal."""
    tree = tmp_path / "claude"
    write_tree(tree, end=END, sessions=6)
    file_ledger = str(tmp_path / "ledger.db")
    schema = pg_server.new_schema()
    server_ledger = pg_server.url("suite", schema=schema)
    for ledger in (file_ledger, server_ledger):
        scenario(run, ledger, tree)
    for command in REPORTS:
        on_file = run(*command, "--ledger", file_ledger)
        on_server = run(*command, "--ledger", server_ledger)
        assert on_file.exit_code == on_server.exit_code == 0, (command, on_server.stderr)
        assert on_server.stdout == on_file.stdout, command
        assert on_server.stderr.replace(server_ledger, file_ledger) == on_file.stderr, command
    totals = json.loads(run(*REPORTS[0], "--ledger", server_ledger).stdout)["total"]
    assert totals["attempts"] > 120 and totals["tasks"] > 20  # the scenario is all there
    pg_server.drop_schema(schema)


def test_a_database_of_its_own_is_made_into_a_ledger_once(run, pg_server):
    """A plain database URL (no schema): several first commands at once make one ledger."""
    name = pg_server.new_database()
    url = pg_server.url(name, user=TEAMMATE, password=TEAMMATE_PASSWORD)
    env = {**os.environ, "TOKENROUTE_LEDGER": url}
    line = json.dumps({"model": "gpt-5-mini", "input_tokens": 10, "output_tokens": 1})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tokenroute", "record"], stdin=subprocess.PIPE,
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
        )
        for _ in range(4)
    ]  # fmt: skip
    results = [p.communicate(line + "\n", timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, results
    store = open_ledger(ServerLedger(url), create=False)
    assert store.count_attempts() == 4
    assert store.query("SELECT version FROM tokenroute_schema") == [(SCHEMA_VERSION,)]
    store.close()
    pg_server.drop_database(name)


def test_the_password_comes_from_pgpassword_pgpass_or_a_passfile(run, pg_server, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    name = pg_server.new_database()
    bare = pg_server.url(name, user=TEAMMATE)  # no password in the URL
    out = run("report", "--ledger", bare)
    assert_one_line_error(out, ExitCode.LEDGER, "password", "PGPASSWORD")
    monkeypatch.setenv("PGPASSWORD", TEAMMATE_PASSWORD)
    assert run("report", "--ledger", bare).exit_code == 0
    monkeypatch.delenv("PGPASSWORD")
    home = tmp_path / "user-home"
    pgpass = write(home / ".pgpass", f"127.0.0.1:{pg_server.port}:{name}:{TEAMMATE}:"
                                     f"{TEAMMATE_PASSWORD}\n")  # fmt: skip
    pgpass.chmod(0o600)  # libpq ignores a .pgpass others may read
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PGPASSFILE", raising=False)
    assert run("report", "--ledger", bare).exit_code == 0
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    assert run("report", "--ledger", bare).exit_code == ExitCode.LEDGER
    assert run("report", "--ledger", f"{bare}?passfile={pgpass}").exit_code == 0
    pg_server.drop_database(name)


def test_no_password_is_ever_shown_or_stored(run, pg_server, isolated_home):
    name = pg_server.new_database()
    url = pg_server.url(name, user=TEAMMATE, password=TEAMMATE_PASSWORD)
    line = json.dumps({"model": "gpt-5-mini", "input_tokens": 10, "output_tokens": 1})
    write(isolated_home / "config.yaml", f"ledger: {url}\n")
    outputs = [
        run("record", input=line + "\n"),
        run("report", "--json"),
        run("log", "--json"),
        run("config", "show"),
        run("doctor"),
        run("report", "--ledger", url.replace(TEAMMATE_PASSWORD, TEAMMATE_PASSWORD + "x")),
        run("report", "--ledger", url.replace(f"/{name}", "/no_such_db")),
        run("report", "--ledger", url.replace(str(pg_server.port), "1")),
    ]
    assert outputs[0].exit_code == 0 and "***" in outputs[3].stdout
    for out in outputs:
        assert TEAMMATE_PASSWORD not in out.stdout + out.stderr
    with pg_server.admin() as admin:
        admin.execute(f"ALTER DATABASE {name} OWNER TO postgres")  # read it all as admin
    import psycopg

    with psycopg.connect(pg_server.url(name)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        dump = "".join(str(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)
    assert "attempts" in tables and TEAMMATE_PASSWORD not in dump
    pg_server.drop_database(name)


def test_a_server_that_is_down_or_refuses_is_one_line_and_exit_5(run, pg_server):
    name = pg_server.new_database()
    cases = [
        (pg_server.url(name).replace(str(pg_server.port), str(_closed_port())),
         "check that the server is running"),
        (pg_server.url(name, user=TEAMMATE, password="wrong"), "check the user and its password"),
        (pg_server.url("no_such_database"), "create the database"),
    ]  # fmt: skip
    for url, fix in cases:
        for command in (("report",), ("record", "-m", "gpt-5", "--input-tokens", "1"), ("log",)):
            out = run(*command, "--ledger", url)
            assert_one_line_error(out, ExitCode.LEDGER, shown_database_url(url), fix)
            assert "wrong" not in out.stderr
    pg_server.drop_database(name)


def test_bad_ledger_urls_are_usage_errors(run):
    for value, fragment in (
        ("postgresql://host:notaport/db", "not a usable database URL"),
        ("mysql://u@h/db", "'mysql://' ledgers are not supported"),
        ("   ", "is empty"),
    ):
        assert_one_line_error(run("report", "--ledger", value), ExitCode.USAGE, fragment)
    assert ledger_location("postgres://u:p@h/db") == ServerLedger("postgres://u:p@h/db")
    assert str(ServerLedger("postgresql://u:pw@h:5/db?password=x&sslmode=require")) == (
        "postgresql://u:***@h:5/db?password=***&sslmode=require"
    )


def test_a_schema_holding_other_tables_is_not_made_into_a_ledger(run, pg_server):
    name = pg_server.new_database()
    import psycopg

    with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--ledger", pg_server.url(name))
    assert_one_line_error(out, ExitCode.LEDGER, "already holds other tables (invoices)")
    assert run("report", "--ledger", pg_server.url(name)).exit_code == 0  # reading: nothing yet
    pg_server.drop_database(name)


def test_a_team_budget_counts_everyone_s_spend(run, pg_server, tmp_path, monkeypatch):
    """Ana's spend on the shared ledger is in Ben's budget: his run is refused."""
    schema = pg_server.new_schema()
    url = pg_server.url("suite", schema=schema)
    spend = json.dumps({"model": "claude-opus-4-6", "input_tokens": 199_000, "output_tokens": 0})
    monkeypatch.setenv("TOKENROUTE_HOME", str(tmp_path / "ana"))
    assert run("--user", "ana", "record", "--ledger", url, input=spend + "\n").exit_code == 0
    monkeypatch.setenv("TOKENROUTE_HOME", str(tmp_path / "ben"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    assert run("budget", "set", "--daily", "1").exit_code == 0
    listed = json.loads(run("budget", "list", "--json", "--ledger", url).stdout)
    assert listed["budgets"][0]["cost_usd"] == 0.995  # Ana's spend, in Ben's budget
    out = run("run", "-m", "claude-opus-4-6", "hi", "--ledger", url)
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "over budget", "$0.9950 of $1")
    pg_server.drop_schema(schema)


def test_two_exports_of_one_server_ledger_at_once_do_not_both_send(run, pg_server):
    schema = pg_server.new_schema()
    url = pg_server.url("suite", schema=schema)
    line = json.dumps({"model": "gpt-5-mini", "input_tokens": 10, "output_tokens": 1})
    assert run("record", "--ledger", url, input=line + "\n").exit_code == 0
    import psycopg

    holder = psycopg.connect(url, autocommit=True)  # another export, as the lock sees it
    holder.execute("SELECT pg_advisory_lock(hashtext('tokenroute-export:' || current_schema()))")
    out = run("export", "otlp", "--endpoint", f"http://127.0.0.1:{_closed_port()}", "--ledger", url)
    assert_one_line_error(out, ExitCode.EXPORT, "another export of", "is running")
    holder.close()  # a connection that ends lets go of its lock
    out = run("export", "otlp", "--endpoint", f"http://127.0.0.1:{_closed_port()}", "--ledger", url)
    assert out.exit_code == ExitCode.EXPORT and "another export" not in out.stderr
    pg_server.drop_schema(schema)


def test_a_server_stopped_mid_import_loses_nothing_and_the_rerun_adds_the_rest(tmp_path):
    """Its own server, stopped (immediate: as a crash) while an import commits group after
    group: one line, exit 5; restarted, the rerun adds exactly what a clean import adds."""
    server, why = start_server(durable=True)
    if server is None:
        pytest.skip(why)
    try:
        tree = tmp_path / "claude"
        write_tree(tree, end=END, sessions=40, days=10)
        clean, interrupted = server.new_database("clean"), server.new_database("cut")
        args = ["import", "claude-code", "--path", str(tree / "projects")]
        env = {**os.environ, "TOKENROUTE_IMPORT_WORKERS": "1"}
        tokenroute = [sys.executable, "-c", SMALL_GROUPS]
        subprocess.run([*tokenroute, *args, "--ledger", server.url(clean)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        importing = subprocess.Popen(
            [*tokenroute, *args, "--ledger", server.url(interrupted)],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert _wait_for_rows(server, interrupted), "the import never committed"
        server.stop("immediate")
        _, err = importing.communicate(timeout=60)
        server.start()
        if importing.returncode == 0:
            pytest.skip("the import finished before the server stopped")
        assert importing.returncode == ExitCode.LEDGER, err
        lines = [line for line in err.splitlines() if line.startswith("tokenroute: error: ")]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert "the PostgreSQL server" in lines[0] and "run the command again" in lines[0], err
        committed = _count(server, interrupted)
        assert committed > 0
        again = subprocess.run([*tokenroute, *args, "--ledger", server.url(interrupted)],
                               env=env, capture_output=True, text=True)  # fmt: skip
        assert again.returncode == 0, again.stderr

        def calls(name: str) -> list[tuple]:
            store = open_ledger(ServerLedger(server.url(name)), create=False)
            found = store.query(
                "SELECT source_key, model, input_tokens, output_tokens, cache_read_tokens, "
                "cost_micros FROM attempts ORDER BY source_key"
            )
            daily = store.query("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4, 5, 6, 7, 8")
            store.close()
            return found + daily

        assert calls(interrupted) == calls(clean)
    finally:
        from pg_server import remove

        remove(server)


def _wait_for_rows(server, name: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _count(server, name) > 0:
            return True
        time.sleep(0.005)
    return False


def _count(server, name: str) -> int:
    import psycopg

    try:
        with psycopg.connect(server.url(name)) as conn:
            return conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    except psycopg.Error:
        return 0


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
