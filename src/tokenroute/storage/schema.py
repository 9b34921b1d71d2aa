"""The ledger's schema: its migrations (each moves the version in `PRAGMA user_version` one
up, and only ever adds), and the SQL that (re)builds the report's summaries."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

# A migration is SQL both engines run, or a function of the connection (a change that is
# SQLite's alone).
Migration = str | Callable[[sqlite3.Connection], None]

# attempts.status's rule as first written, and the same rule as comparisons (migration 10)
STATUS_CHECK_AS_LIST = "CHECK (status IN ('ok', 'error', 'invalid', 'cancelled'))"
STATUS_CHECK_AS_COMPARISONS = (
    "CHECK (status = 'ok' OR status = 'error' OR status = 'invalid' OR status = 'cancelled')"
)


def _status_check_as_comparisons(conn: sqlite3.Connection) -> None:
    """10: attempts.status's CHECK as four comparisons, not an IN list of four. SQLite
    builds a lookup table for an IN list of more than two values once per run of a
    statement, and an import runs its INSERT once per row: at a million lines that was
    0.5 s of the storing process's 6.5 s. The rule is the same, so no row reads otherwise,
    and only the table's text in the schema changes: SQLite's documented way to change a
    CHECK (writable_schema, then a new schema_version so every connection reads it again).
    PostgreSQL checks an IN list without that cost: its schema is left as it is. A SQLite
    built to refuse schema edits (SQLITE_DBCONFIG_DEFENSIVE) keeps the list, and is slower."""
    if not isinstance(conn, sqlite3.Connection):
        return
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        edited = conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
            "WHERE type = 'table' AND name = 'attempts' AND instr(sql, ?) > 0",
            (STATUS_CHECK_AS_LIST, STATUS_CHECK_AS_COMPARISONS, STATUS_CHECK_AS_LIST),
        ).rowcount
    except sqlite3.DatabaseError:  # defensive: schema edits refused
        edited = 0
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
    if edited:
        conn.execute(f"PRAGMA schema_version = {version + 1}")


# Each entry moves the schema one version up. Never edit one that has shipped: add another.
MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        ended_at TEXT,
        type TEXT,
        description TEXT,
        project TEXT,
        outcome TEXT NOT NULL DEFAULT 'unknown'
            CHECK (outcome IN ('success', 'failure', 'unknown')),
        outcome_by TEXT
    );
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        attempt INTEGER NOT NULL,
        task_type TEXT,
        tier TEXT,
        provider TEXT,
        model TEXT NOT NULL,
        model_requested TEXT,
        model_answered TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        input_estimated INTEGER NOT NULL DEFAULT 0,
        batch INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER,
        price_revision TEXT,
        latency_ms INTEGER,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'invalid', 'cancelled')),
        error_kind TEXT,
        source TEXT NOT NULL,
        source_key TEXT,
        project TEXT,
        prompt_hash TEXT,
        context_hash TEXT
    );
    CREATE UNIQUE INDEX attempts_source_key ON attempts (source, source_key)
        WHERE source_key IS NOT NULL;
    CREATE INDEX attempts_started_at ON attempts (started_at);
    CREATE INDEX attempts_task ON attempts (task_id, attempt);
    CREATE TABLE attempt_tags (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        tag TEXT NOT NULL,
        PRIMARY KEY (attempt_id, tag)
    );
    CREATE INDEX attempt_tags_tag ON attempt_tags (tag);
    """,
    # 2: summaries kept up to date on every write, so reports never scan every attempt.
    """
    ALTER TABLE tasks ADD COLUMN first_at TEXT;
    ALTER TABLE tasks ADD COLUMN last_at TEXT;
    ALTER TABLE tasks ADD COLUMN source TEXT;
    ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN last_model TEXT;
    ALTER TABLE tasks ADD COLUMN last_tier TEXT;
    ALTER TABLE tasks ADD COLUMN last_provider TEXT;
    ALTER TABLE tasks ADD COLUMN last_task_type TEXT;
    ALTER TABLE tasks ADD COLUMN sample INTEGER NOT NULL DEFAULT 0;
    UPDATE tasks SET sample = abs(random()) % 1000;
    CREATE INDEX tasks_by_first_at ON tasks (
        first_at, cost_micros, last_model, last_tier, last_provider, last_task_type, type,
        project, source);
    CREATE INDEX tasks_by_sample ON tasks (
        sample, first_at, cost_micros, last_model, last_tier, last_provider, last_task_type,
        type, project, source);
    CREATE TABLE usage_daily (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        task_type TEXT NOT NULL,
        tier TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT NOT NULL,
        source TEXT NOT NULL,
        ok INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        unpriced INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, model, task_type, tier, provider, project, source, ok)
    ) WITHOUT ROWID;
    CREATE TABLE tasks_daily (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        task_type TEXT NOT NULL,
        tier TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT NOT NULL,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        tasks INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        PRIMARY KEY (day, model, task_type, tier, provider, project, source, outcome)
    ) WITHOUT ROWID;
    CREATE TABLE context_daily (
        day TEXT NOT NULL,
        context_hash TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        other_input_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, context_hash)
    ) WITHOUT ROWID
    """,
    # 3: conversations. `run -c` resends the history, so the turns are kept; each attempt
    # says which conversation it belongs to and how many of its input tokens were history.
    """
    ALTER TABLE attempts ADD COLUMN conversation_id TEXT;
    ALTER TABLE attempts ADD COLUMN history_tokens INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX attempts_conversation ON attempts (conversation_id, started_at)
        WHERE conversation_id IS NOT NULL;
    CREATE TABLE messages (
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (conversation_id, turn, role)
    ) WITHOUT ROWID
    """,
    # 4: where each imported log file was read up to, so the next import reads only the rest.
    """
    CREATE TABLE import_files (
        source TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        head TEXT NOT NULL,
        PRIMARY KEY (source, path)
    ) WITHOUT ROWID
    """,
    # 5: Claude Code calls are keyed by message id alone (gateways send no request id, and
    # older fork copies drop it); stored 'msg:req' keys lose the request id.
    # Each task's first tier, and tasks by type: pick learns from first tries, per task.
    """
    UPDATE OR IGNORE attempts SET source_key = substr(source_key, 1, instr(source_key, ':') - 1)
    WHERE source = 'claude-code' AND source_key LIKE 'msg%:%';
    ALTER TABLE tasks ADD COLUMN first_tier TEXT;
    UPDATE tasks SET first_tier = (
        SELECT tier FROM attempts WHERE attempts.task_id = tasks.id
        ORDER BY started_at, attempt LIMIT 1);
    CREATE INDEX tasks_by_type ON tasks (COALESCE(type, last_task_type), first_at)
        WHERE first_tier IS NOT NULL AND COALESCE(type, last_task_type) IS NOT NULL;
    CREATE INDEX tasks_escalated ON tasks (first_at)
        WHERE first_tier IS NOT last_tier AND outcome != 'unknown'
    """,
    # 6: reasoning tokens in the daily summary, so a report shows every bucket at any size.
    """
    ALTER TABLE usage_daily ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
    UPDATE usage_daily SET reasoning_tokens = s.reasoning FROM (
        SELECT substr(started_at, 1, 10) AS day, model, COALESCE(task_type, '') AS task_type,
            COALESCE(tier, '') AS tier, COALESCE(provider, '') AS provider,
            COALESCE(project, '') AS project, source,
            CASE WHEN status = 'ok' THEN 1 ELSE 0 END AS ok,
            SUM(reasoning_tokens) AS reasoning
        FROM attempts WHERE reasoning_tokens > 0 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ) AS s
    WHERE usage_daily.day = s.day AND usage_daily.model = s.model
        AND usage_daily.task_type = s.task_type AND usage_daily.tier = s.tier
        AND usage_daily.provider = s.provider AND usage_daily.project = s.project
        AND usage_daily.source = s.source AND usage_daily.ok = s.ok
    """,
    # 7: how far each export destination (an OTLP collector) has been sent: attempts up to
    # last_id are there, so the next export sends only what came after.
    """
    CREATE TABLE export_marks (
        destination TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        metrics_until_ns INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID
    """,
    # 8: who made each call, for a ledger several people write to (report --by user,host).
    """
    ALTER TABLE attempts ADD COLUMN user_name TEXT;
    ALTER TABLE attempts ADD COLUMN host_name TEXT
    """,
    # 9: the tasks with an attempt of unknown price, by window: report --top marks their
    # groups' cost as a floor, and --html leaves those with no known price out of the cost
    # per task, without reading every task of the window (0.9 s at a million attempts).
    # Partial: a priced task, nearly all of them, is not in it and costs no index write.
    """
    CREATE INDEX tasks_unpriced ON tasks (first_at) WHERE unpriced > 0
    """,
    _status_check_as_comparisons,
)
# Each task's totals and newest attempt, recomputed from its attempts ({which} picks them).
TASK_TOTALS = """
    UPDATE tasks SET
        first_at = s.first_at, last_at = s.last_at, attempts = s.attempts,
        cost_micros = s.cost, unpriced = s.unpriced, source = l.source,
        last_model = l.model, last_tier = l.tier, last_provider = l.provider,
        last_task_type = l.task_type, project = COALESCE(tasks.project, l.project),
        first_tier = l.first_tier
    FROM (
        SELECT task_id, MIN(started_at) AS first_at, MAX(started_at) AS last_at,
            COUNT(*) AS attempts, COALESCE(SUM(cost_micros), 0) AS cost,
            COUNT(*) FILTER (WHERE cost_micros IS NULL) AS unpriced
        FROM attempts WHERE {which} GROUP BY task_id
    ) AS s
    JOIN (
        SELECT task_id, source, model, tier, provider, task_type, project, first_tier FROM (
            SELECT task_id, source, model, tier, provider, task_type, project,
                ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY started_at DESC, attempt DESC)
                    AS newest,
                FIRST_VALUE(tier) OVER (PARTITION BY task_id ORDER BY started_at, attempt)
                    AS first_tier
            FROM attempts WHERE {which}) AS n
        WHERE newest = 1
    ) AS l ON l.task_id = s.task_id
    WHERE tasks.id = s.task_id
"""
# What each task of a type says about the tier it started at (its first try): a success
# there, or a failure there (an answer came back there and it escalated or ended as a
# failure, or an invalid answer on a task with no outcome yet, or the user said so). Not
# evidence: no answer at that tier at all (transport errors only, escalated or not), and a
# task with neither outcome nor invalid answer.
# A task left with no attempts (its only call moved to another task) has no totals.
EMPTIED_TASKS = """
    UPDATE tasks SET first_at = NULL, last_at = NULL, attempts = 0, cost_micros = 0,
        unpriced = 0
    WHERE {which} AND first_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM attempts WHERE attempts.task_id = tasks.id)
"""
# The summary rows of the attempts or tasks that {where} picks (all of them: "1").
USAGE_DAILY_ROWS = """
    INSERT INTO usage_daily
    SELECT substr(started_at, 1, 10), model, COALESCE(task_type, ''), COALESCE(tier, ''),
        COALESCE(provider, ''), COALESCE(project, ''), source,
        CASE WHEN status = 'ok' THEN 1 ELSE 0 END, COUNT(*),
        COUNT(*) FILTER (WHERE cost_micros IS NULL), COALESCE(SUM(cost_micros), 0),
        SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
        SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens)
    FROM attempts WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
TASKS_DAILY_ROWS = """
    INSERT INTO tasks_daily
    SELECT substr(first_at, 1, 10), COALESCE(last_model, ''), COALESCE(type, last_task_type, ''),
        COALESCE(last_tier, ''), COALESCE(last_provider, ''), COALESCE(project, ''),
        COALESCE(source, ''), outcome, COUNT(*), SUM(cost_micros)
    FROM tasks WHERE first_at IS NOT NULL AND {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
# Rebuilds every summary from the attempts: after migration 2, and after bulk loads.
REBUILD_SUMMARIES = f"""
    DELETE FROM usage_daily;
    {USAGE_DAILY_ROWS.format(where="1 = 1")};
    DELETE FROM context_daily;
    INSERT INTO context_daily
    SELECT substr(started_at, 1, 10), context_hash, COUNT(*), SUM(cache_read_tokens),
        SUM(input_tokens + cache_write_tokens + cache_write_1h_tokens)
    FROM attempts WHERE context_hash IS NOT NULL GROUP BY 1, 2;
    {TASK_TOTALS.format(which="1 = 1")};
    {EMPTIED_TASKS.format(which="1 = 1")};
    DELETE FROM tasks_daily;
    {TASKS_DAILY_ROWS.format(where="1 = 1")}
"""
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply every migration after `version`, each in its own transaction with its version."""
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current >= number:  # another process migrated while we waited for the lock
                conn.execute("COMMIT")
                continue
            if callable(script):
                script(conn)
            else:
                for statement in statements(script):
                    conn.execute(statement)
            if number == len(MIGRATIONS) and version < 2:
                # the summaries came with migration 2; they are built with the last schema
                for statement in statements(REBUILD_SUMMARIES):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def statements(script: str) -> Iterable[str]:
    return (s.strip() for s in script.split(";") if s.strip())
