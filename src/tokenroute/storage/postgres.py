"""A ledger in PostgreSQL, for a team: the same tables, migrations and summaries as the
SQLite file, in a database everyone's tokenroute points at.

The storage modules speak to a connection as they speak to sqlite3's; `PgConnection` is
that connection over psycopg. It translates each statement (dialect.py) and keeps the few
behaviours of SQLite the ledger relies on:

- `BEGIN IMMEDIATE`: a writer takes the ledger's write lock when it begins, so writers
  queue rather than interleave. Here it is a transaction-level advisory lock, per ledger
  (database and schema). Readers never wait: PostgreSQL's snapshots keep them apart.
  Writers in turn also keep ids in commit order, which the bulk writer's "rows above the
  largest id" and the export's marks count on.
- `PRAGMA user_version` is a one-row table, `tokenroute_schema`.
- `lastrowid` comes from `RETURNING id`.
- sums come back as int, as SQLite's do (PostgreSQL widens SUM(bigint) to numeric).

psycopg (version 3) is imported only here: only a command that opens a PostgreSQL ledger
pays for it. libpq reads PGPASSWORD, ~/.pgpass and a `passfile=` in the URL itself; the
password is never shown, whichever of them gave it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tokenroute.errors import LedgerError
from tokenroute.storage import dialect
from tokenroute.storage.location import ServerLedger
from tokenroute.storage.schema import SCHEMA_VERSION, migrate

CONNECT_TIMEOUT_S = 10
_WRITE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tokenroute:' || current_schema()))"
_VERSION_TABLE = "tokenroute_schema"
# What a PRAGMA the storage modules send means here (None: nothing to do).
_PRAGMAS: dict[str, str | None] = {
    "PRAGMA user_version": f"SELECT version FROM {_VERSION_TABLE}",
    "PRAGMA page_size": "SELECT current_setting('block_size')::int",
    "PRAGMA secure_delete = ON": None,
    # an import's batches: the server checks its references as it always does
    "PRAGMA foreign_keys = OFF": None,
    "PRAGMA foreign_keys = ON": None,
    # forget: rewrite the tables that held the text, so its old rows leave the data files
    "PRAGMA wal_checkpoint(TRUNCATE)": "VACUUM FULL messages, tasks",
}


class PgCursor:
    """What the storage modules read off a sqlite3 cursor, from a psycopg one."""

    def __init__(self, cursor: Any = None, lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount if cursor is not None else -1

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cursor is None or self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cursor is None or self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection that takes the storage modules' SQLite-dialect statements."""

    def __init__(self, raw: Any, where: ServerLedger) -> None:
        self.raw = raw
        self.where = where

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        statement = sql.strip()
        if statement == "BEGIN IMMEDIATE":
            self._run("BEGIN")
            return self._run(_WRITE_LOCK)
        if statement in ("COMMIT", "ROLLBACK"):
            return self._finish(statement)
        if statement.startswith("PRAGMA"):
            return self._pragma(statement)
        text = dialect.postgres(sql)
        if _INSERTS_ATTEMPT.match(text):
            cursor = self._run(dialect.returns_id(text), params)
            row = cursor.fetchone()
            return PgCursor(cursor._cursor, row[0] if row else None)
        return self._run(text, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        rows = list(rows)
        if not rows:
            return PgCursor()
        try:
            cursor = self.raw.cursor()
            cursor.executemany(dialect.postgres(sql), rows)
        except Exception as exc:
            raise self.failure(exc) from None
        return PgCursor(cursor)

    def close(self) -> None:
        self.raw.close()

    def commit(self) -> None:
        """Outside BEGIN every statement commits on its own (sqlite3's isolation_level=None)."""

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def only_one(self, job: str) -> Iterator[bool]:
        """A session advisory lock named for `job` and this ledger: held until released or
        the connection ends (a killed process never leaves it behind)."""
        key = f"hashtext('tokenroute-{job}:' || current_schema())"
        alone = self._run(f"SELECT pg_try_advisory_lock({key})").fetchone()[0]
        try:
            yield alone
        finally:
            if alone and not self.raw.closed:
                self._run(f"SELECT pg_advisory_unlock({key})")

    def _run(self, text: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        try:
            cursor = self.raw.cursor()
            cursor.execute(text, params)
        except Exception as exc:
            raise self.failure(exc) from None
        return PgCursor(cursor)

    def _finish(self, statement: str) -> PgCursor:
        if statement == "ROLLBACK":
            # after a lost connection there is nothing to roll back, and no error to add
            with contextlib.suppress(Exception):
                self.raw.execute("ROLLBACK")
            return PgCursor()
        return self._run("COMMIT")

    def _pragma(self, statement: str) -> PgCursor:
        setting = re.fullmatch(r"PRAGMA user_version = (\d+)", statement)
        if setting:
            return self._run(f"UPDATE {_VERSION_TABLE} SET version = {int(setting.group(1))}")
        if statement.startswith(("PRAGMA cache_size", "PRAGMA wal_autocheckpoint")):
            return PgCursor()  # SQLite's own memory and log: the server keeps its own
        if statement not in _PRAGMAS:
            raise ValueError(f"{statement}: no PostgreSQL form")
        meaning = _PRAGMAS[statement]
        return PgCursor() if meaning is None else self._run(meaning)

    def failure(self, exc: Exception) -> Exception:
        """A psycopg error as the one line a user reads; a bug of ours stays a bug."""
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return exc
        reason = _reason(exc, self.where)
        if isinstance(exc, psycopg.OperationalError) and self.raw.closed:
            return LedgerError(
                f"{self.where}: lost the connection to the PostgreSQL server ({reason}); "
                "the unfinished write was not kept: run the command again once it is back"
            )
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return LedgerError(
                f"{self.where}: the database user may not do this ({reason}): "
                "ask for the ledger's tables to be granted to it"
            )
        if isinstance(exc, psycopg.errors.SyntaxError | psycopg.errors.UndefinedColumn):
            return exc  # our SQL is wrong: an internal error, with --debug's traceback
        return LedgerError(f"{self.where}: the database refused a statement ({reason})")


_INSERTS_ATTEMPT = re.compile(r"\s*INSERT INTO attempts \(")


def open_postgres(where: ServerLedger, *, create: bool) -> PgConnection | None:
    """Connect to the team's ledger (and migrate it); None when it has no ledger yet and
    `create` is off (reading must not create one)."""
    conn = PgConnection(_connect(where), where)
    try:
        if not _has_version_table(conn):
            if not create:
                conn.close()
                return None
            _create_version_table(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{where}: ledger schema version {version} is newer than this tokenroute "
                f"understands ({SCHEMA_VERSION}): upgrade tokenroute, or use another --ledger"
            )
        if version < SCHEMA_VERSION:
            migrate(conn, version)  # type: ignore[arg-type]
    except BaseException:
        conn.close()
        raise
    return conn


def _has_version_table(conn: PgConnection) -> bool:
    """Read from the catalog, not its cache: a table another process has just made shows."""
    return bool(
        conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relname = '{_VERSION_TABLE}' AND n.nspname = current_schema()"
        ).fetchone()
    )


def _connect(where: ServerLedger) -> Any:
    try:
        import psycopg
    except ImportError:
        raise LedgerError(
            f"{where}: a PostgreSQL ledger needs psycopg: pip install 'tokenroute[postgresql]'"
        ) from None
    try:
        raw = psycopg.connect(
            where.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="tokenroute",
        )
    except psycopg.Error as exc:
        raise LedgerError(_refused(exc, where)) from None
    # a report is a few dozen short queries: compiling one with JIT costs more (50 ms) than
    # running it
    raw.execute("SET jit = off")
    raw.adapters.register_loader("numeric", _numeric_loader())
    raw.adapters.register_dumper(str, _text_dumper())
    return raw


def _refused(exc: Exception, where: ServerLedger) -> str:
    """Why a connection failed, and what to check."""
    reason = _reason(exc, where)
    lowered = reason.lower()
    if "password" in lowered or "authentication" in lowered:
        fix = "check the user and its password (PGPASSWORD, ~/.pgpass, or passfile= in the URL)"
    elif "does not exist" in lowered:
        fix = "create the database (createdb), or name another one in the URL"
    elif "invalid" in lowered or "missing" in lowered:
        fix = "write it as postgresql://USER@HOST:PORT/DATABASE"
    else:
        fix = "check that the server is running and the URL's host and port"
    return f"{where}: cannot open the PostgreSQL ledger ({reason}): {fix}"


def _reason(exc: Exception, where: ServerLedger) -> str:
    """The server's or libpq's own words, on one line, with no password in them."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r"connection to server at \S+ \(([\d.:a-f]+)\), port (\d+) failed: ", "", text)
    text = re.sub(r"connection to server at \"?([^\"]+)\"?, port (\d+) failed: ", "", text)
    text = re.sub(r"^FATAL: +", "", text)
    text = re.sub(r" This probably means the server terminated abnormally.*$", "", text)
    if where.password:
        text = text.replace(where.password, "***")
    return str(ServerLedger(text)) if "://" in text else text or type(exc).__name__


def _create_version_table(conn: PgConnection) -> None:
    """A new ledger: the version table, made once even when several people start at once.
    A schema that holds another program's tables is not made into a ledger."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _has_version_table(conn):
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY 1"
                )
            ]
            if tables:
                shown = ", ".join(tables[:3])
                raise LedgerError(
                    f"{conn.where}: the database's schema already holds other tables "
                    f"({shown}): give tokenroute a database of its own, or a schema of its "
                    "own with ?options=-csearch_path%3Dtokenroute"
                )
            conn.execute(f"CREATE TABLE {_VERSION_TABLE} (version INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO {_VERSION_TABLE} VALUES (0)")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _text_dumper() -> type:
    """PostgreSQL's text cannot hold NUL, which SQLite's can (a log may carry one): it is
    stored as U+2400 (the symbol for NUL) rather than losing the call it came with."""
    from psycopg.types.string import StrDumperUnknown

    class Text(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", "\u2400") if "\x00" in obj else obj)

    return Text


def _numeric_loader() -> type:
    """numeric as int when whole (what SUM gives), float otherwise (an average)."""
    from psycopg.adapt import Loader

    class Numbers(Loader):
        def load(self, data: Any) -> Any:
            text = bytes(data)
            return float(text) if b"." in text or b"e" in text.lower() else int(text)

    return Numbers
