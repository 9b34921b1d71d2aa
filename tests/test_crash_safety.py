"""`kill -9` at chosen moments, then the same command run again to completion: the ledger must
end as one clean run leaves it (each attempt once, the same tokens and cost) and no worker
process may outlive the kill.

Each command runs as a real process (`python -m tokenroute`) on its own TOKENROUTE_HOME with
the clock pinned. Where it is killed is drawn from a seeded random, so every run of the suite
tries the same delays; what differs from run to run is only how far the process got by then.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FIXTURES, PINNED_DAY, PINNED_NOW, ROOT
from test_import import assistant, lines

# kills watch the SQLite file grow
pytestmark = pytest.mark.sqlite_only

SEED = 20261123
GENERATOR = Path("../shared/tools/gen_claude_logs.py")  # from the project root, when beside it
PROBE = "TOKENROUTE_CRASH_PROBE"  # inherited by every process a run starts: found in /proc
RECORDED_DAY = "2026-12-02"  # the real-client fixtures' day: after the pinned clock
SHIFTED_DAY = "2026-11-20"
# The same CLI with a few hundred attempts per import transaction instead of 50,000, so that
# a kill can fall between two committed groups of files, as it does in a big first import.
SMALL_GROUPS = (
    "import sys; from tokenroute.ledger.importers import load; load.GROUP_ROWS = 150; "
    "from tokenroute.cli.entry import main; main()"
)
RECORD_LINES = 1400  # `record` commits 500 lines at a time: three commits
SETTLE_SECONDS = 2.0  # how long the processes of a killed run may take to go


# ------------------------------------------------------------------ logs to import


def shifted(text: str) -> str:
    """A fixture's text moved to a day before the pinned clock (else it is 'in the future')."""
    return text.replace(RECORDED_DAY, SHIFTED_DAY)


def claude_tree(root: Path) -> Path:
    """The real clients' Claude Code fixtures, synthetic sessions with copies of calls inside
    a file and across files, and the shared generator's tree when it is beside this clone."""
    projects = root / "projects"
    for log in sorted((FIXTURES / "real_clients" / "claude_code").glob("*/*/projects/*/*.jsonl")):
        version, scenario = log.parts[-5], log.parts[-4]
        target = projects / f"-fixture-{version}-{scenario}" / log.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(shifted(log.read_text(encoding="utf-8")), encoding="utf-8")
    rng = random.Random(f"{SEED}:claude")
    for number in range(12):
        session = f"s-{number}"
        calls = []
        for turn in range(30):
            when = f"2026-11-{10 + number % 9:02d}T{turn // 4:02d}:{turn % 4 * 15:02d}:00Z"
            ids = (f"msg_{number}_{turn}", f"req_{number}_{turn}")
            # a response logged once per content block: 1 output token while it streamed
            calls.append(
                assistant(*ids, 1, uuid=f"u{number}-{turn}a", when=when, sessionId=session)
            )
            output = rng.randint(2, 900)
            calls.append(
                assistant(*ids, output, uuid=f"u{number}-{turn}b", when=when, sessionId=session)
            )
        if number % 5 == 4:  # resumed: the previous session's first call again, bigger
            calls.append(
                assistant(
                    f"msg_{number - 1}_0",
                    f"req_{number - 1}_0",
                    5000,
                    uuid=f"r{number}",
                    when="2026-11-19T10:00:00Z",
                    sessionId=session,
                )
            )
        folder = projects / f"-home-dev-src-app{number % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{session}.jsonl").write_text(lines(*calls), encoding="utf-8")
    if (ROOT / GENERATOR).exists():
        generated = root.parent / f"{root.name}-generated"
        subprocess.run(
            [
                *(sys.executable, str(GENERATOR), "--root", str(generated)),
                *("--lines", "2000", "--files", "6", "--seed", "7", "--end-date", PINNED_DAY),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
        for folder in (generated / "projects").iterdir():
            shutil.move(str(folder), str(projects / f"gen{folder.name}"))
    return projects


def codex_tree(root: Path) -> Path:
    """The real Codex CLI fixture's rollouts and synthetic ones: running totals, the turn's
    own counts, repeats of a total without new usage, one model the price table lacks."""
    sessions = root / "sessions"
    recorded = FIXTURES / "real_clients" / "codex" / "0.171.0" / "responses" / "sessions"
    for log in sorted(recorded.rglob("*.jsonl")):
        target = sessions / "2026" / "11" / "20" / shifted(log.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(shifted(log.read_text(encoding="utf-8")), encoding="utf-8")
    rng = random.Random(f"{SEED}:codex")
    models = ["gpt-5-codex", "gpt-5", "gpt-5-mini", "codex-mystery-1"]
    for number in range(12):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        day = 10 + number % 9
        stamp = f"2026-11-{day:02d}T08:00:00.000Z"
        cwd = f"/home/dev/src/app{number % 3}"
        out = [
            {"timestamp": stamp, "type": "session_meta", "payload": {"id": sid, "cwd": cwd}},
            {
                "timestamp": stamp,
                "type": "turn_context",
                "payload": {"cwd": cwd, "model": models[number % len(models)]},
            },
        ]
        total = dict.fromkeys(
            (
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
                "reasoning_output_tokens",
                "total_tokens",
            ),
            0,
        )
        for turn in range(40):
            when = f"2026-11-{day:02d}T{9 + turn // 30:02d}:{turn % 30 * 2:02d}:00.000Z"
            given = rng.randint(2000, 60000)
            made = rng.randint(20, 2000)
            last = {
                "input_tokens": given,
                "cached_input_tokens": int(given * rng.uniform(0.3, 0.9)),
                "output_tokens": made,
                "reasoning_output_tokens": rng.randint(0, made),
                "total_tokens": given + made,
            }
            total = {k: total[k] + last[k] for k in total}
            info = {"total_token_usage": dict(total), "last_token_usage": last}
            out.append(
                {
                    "timestamp": when,
                    "type": "response_item",
                    "payload": {"type": "message", "text": "x" * rng.randint(50, 400)},
                }
            )
            out.append(
                {
                    "timestamp": when,
                    "type": "event_msg",
                    "payload": {"type": "token_count", "info": info},
                }
            )
            if turn % 7 == 3:  # the same total again: no new call
                out.append(out[-1])
        name = f"rollout-2026-11-{day:02d}T08-00-00-{sid}.jsonl"
        target = sessions / "2026" / "11" / f"{day:02d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(lines(*out), encoding="utf-8")
    return sessions


def record_lines(path: Path) -> Path:
    """JSON lines for `record`: every other line with a source_key, a third with a timestamp
    (a line with one and no key is keyed by its bytes), the rest with neither; every line
    different, so a line stored twice shows. Enough for several write batches."""
    rng = random.Random(f"{SEED}:record")
    models = ["gpt-4.1", "claude-sonnet-4-5", "gpt-5-mini", "gemini-2.5-flash"]
    with path.open("w", encoding="utf-8") as handle:
        for number in range(RECORD_LINES):
            line = {
                "model": models[number % len(models)],
                "input_tokens": 1000 + number,
                "output_tokens": rng.randint(1, 3000),
                "cache_read": rng.choice([0, 0, rng.randint(1, 50000)]),
            }
            if number % 2:
                line["source_key"] = f"call-{number}"
            if number % 3 == 0:
                line["timestamp"] = f"2026-11-{1 + number % 20:02d}T10:00:00Z"
            handle.write(json.dumps(line) + "\n")
    return path


# ------------------------------------------------------------------ what the ledger holds

ROWS = (
    "SELECT source, source_key, model, started_at, status, project, input_tokens, "
    "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, "
    "reasoning_tokens, cost_micros, CASE WHEN source = 'record' THEN NULL ELSE task_id END "
    "FROM attempts"
)
SUMS = (
    "SELECT COUNT(*), COUNT(DISTINCT source_key), SUM(input_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(cache_write_1h_tokens), SUM(output_tokens), "
    "SUM(reasoning_tokens), SUM(cost_micros), COUNT(*) - COUNT(cost_micros) FROM attempts "
    "WHERE (source_key IS NULL) = ?"
)
SUM_NAMES = (
    "attempts", "distinct keys", "input", "cache read", "cache write", "cache write 1h",
    "output", "reasoning", "cost micros", "unpriced",
)  # fmt: skip


@dataclass
class Facts:
    """A ledger's attempts (row ids and numbering aside) and the totals a report reads,
    apart for attempts stored with a source key (given, or made from a timestamped line's
    bytes) and without one."""

    rows: Counter
    totals: dict[str, object]
    positions: list[tuple]


def facts(ledger: Path) -> Facts:
    if not ledger.exists():
        return Facts(Counter(), {}, [])
    conn = sqlite3.connect(ledger)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not {"attempts", "usage_daily", "import_files"} <= tables:  # killed mid-migration
            rows = conn.execute(ROWS).fetchall() if "attempts" in tables else []
            return Facts(Counter(rows), {}, [])
        totals: dict[str, object] = {}
        for label, keyless in (("keyed", 0), ("unkeyed", 1)):
            sums = conn.execute(SUMS, (keyless,)).fetchone()
            if sums[0]:
                totals.update({f"{label} {n}": v for n, v in zip(SUM_NAMES, sums, strict=True)})
        summary = conn.execute(
            "SELECT SUM(attempts), SUM(cost_micros), SUM(input_tokens), SUM(output_tokens) "
            "FROM usage_daily"
        ).fetchone()
        totals["usage_daily attempts/cost/input/output"] = summary
        totals["tasks with attempts/their attempts/cost"] = conn.execute(
            "SELECT COUNT(*), SUM(attempts), SUM(cost_micros) FROM tasks WHERE attempts > 0"
        ).fetchone()
        rows = Counter(conn.execute(ROWS).fetchall())
        positions = sorted(conn.execute("SELECT path, size, offset FROM import_files"))
        return Facts(rows, totals, positions)
    finally:
        conn.close()


def differences(clean: Facts, found: Facts) -> list[str]:
    """What separates a ledger from the clean one, in words a finding can quote."""
    problems = [
        f"{name}: expected {clean.totals.get(name)}, found {found.totals.get(name)}"
        for name in sorted(set(clean.totals) | set(found.totals))
        if clean.totals.get(name) != found.totals.get(name)
    ]
    lost, extra = clean.rows - found.rows, found.rows - clean.rows
    if lost:
        problems.append(f"{sum(lost.values())} attempts lost, e.g. {min(lost, key=repr)}")
    if extra:
        problems.append(f"{sum(extra.values())} attempts too many, e.g. {min(extra, key=repr)}")
    if clean.positions != found.positions:
        problems.append("the read positions differ from a clean import's")
    return problems


# ------------------------------------------------------------------ processes


def living() -> dict[int, int]:
    """pid -> parent pid of every process that has not exited (zombies left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        if state not in "ZX":
            found[int(entry)] = int(parent)
    return found


def descendants(pid: int) -> set[int]:
    tree, found, todo = living(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in tree.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def workers_of(pid: int) -> list[int]:
    """The import's worker processes (spawned ones; not the resource tracker, which comes
    first and would start the clock before any worker is there)."""
    found = []
    for child in descendants(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def probed(marker: str) -> dict[int, str]:
    """Every live process started by one run (it carries the run's marker), with its command."""
    wanted = f"{PROBE}={marker}".encode()
    found = {}
    for pid in living():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found[pid] = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


@dataclass(frozen=True)
class KillPoint:
    """`after`: seconds after the start; `grown`: the moment the ledger's files first grow;
    `stored`: seconds after the first attempts are committed; `workers`: seconds after the
    first child process appears."""

    kind: str
    value: float = 0

    def __str__(self) -> str:
        if self.kind == "grown":
            return "when the ledger file first grows"
        since = {"after": "start", "stored": "the first commit", "workers": "the first worker"}
        return f"{self.value:.3f} s after {since[self.kind]}"


def ledger_size(ledger: Path) -> int:
    size = 0
    for path in (ledger, ledger.with_name(ledger.name + "-wal")):
        with contextlib.suppress(OSError):
            size += path.stat().st_size
    return size


def committed(ledger: Path) -> bool:
    if not ledger.with_name(ledger.name + "-wal").exists():  # not yet in WAL mode: hands off
        return False
    try:
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.05)
    except sqlite3.Error:
        return False
    with contextlib.closing(conn):
        try:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM attempts)").fetchone()[0] == 1
        except sqlite3.Error:
            return False


def wait_for(point: KillPoint, process: subprocess.Popen, ledger: Path) -> None:
    """Return at the kill point, or when the process ended before it."""
    pid = process.pid
    deadline = time.monotonic() + 30
    if point.kind == "after":
        deadline = time.monotonic() + point.value
    start_size = ledger_size(ledger)
    while process.poll() is None and time.monotonic() < deadline:
        if point.kind == "grown" and ledger_size(ledger) > start_size:
            return
        started = {"stored": lambda: committed(ledger), "workers": lambda: workers_of(pid)}
        if point.kind in started and started[point.kind]():
            deadline = min(deadline, time.monotonic() + point.value)
            point = KillPoint("after", point.value)
        time.sleep(0.001 if point.kind == "grown" else 0.005)


@dataclass
class Trial:
    command: str
    point: KillPoint
    exited_first: bool  # the command ended before the kill point
    workers_at_kill: int  # worker processes (the resource tracker aside) alive at the kill
    attempts_at_kill: int
    survivors: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        what = [f"{self.command}, killed {self.point}"]
        what.append("(it had already exited)" if self.exited_first else "")
        what.append(f"with {self.workers_at_kill} workers alive")
        what.append(f"and {self.attempts_at_kill} attempts committed:")
        return " ".join(part for part in what if part)


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    stdin: Path | None = None
    workers: int = 1
    small_groups: bool = False
    keyless_is_new: bool = False  # `record`: a line without a source_key is a new call

    def launch(self, home: Path, marker: str, **kwargs) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.pop("TOKENROUTE_TASK", None)
        env.pop("TOKENROUTE_PRICING_DIR", None)
        env.update(
            TOKENROUTE_HOME=str(home),
            TOKENROUTE_NOW=PINNED_NOW,
            TOKENROUTE_IMPORT_WORKERS=str(self.workers),
            NO_COLOR="1",
            **{PROBE: marker},
        )
        program = ["-c", SMALL_GROUPS] if self.small_groups else ["-m", "tokenroute"]
        stdin = self.stdin.open("rb") if self.stdin else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                [sys.executable, *program, *self.argv],
                cwd=ROOT,
                env=env,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                **kwargs,
            )
        finally:
            if self.stdin:
                stdin.close()

    def finish(self, home: Path) -> int:
        marker = uuid.uuid4().hex
        process = self.launch(home, marker, stderr=subprocess.PIPE)
        _, err = process.communicate(timeout=120)
        assert b"Traceback" not in err, err.decode()
        return process.returncode

    def __str__(self) -> str:
        if self.argv[0] != "import":
            return f"`{self.name}`"
        groups = ", 150 attempts per import transaction" if self.small_groups else ""
        return f"`{self.name}` (TOKENROUTE_IMPORT_WORKERS={self.workers}{groups})"


def clean_run(command: Command, home: Path) -> tuple[int, Facts]:
    code = command.finish(home)
    return code, facts(home / "ledger.db")


def kill_and_rerun(command: Command, home: Path, point: KillPoint, clean: tuple[int, Facts]):
    """One trial: start, SIGKILL at the point, run it again, and find which of the killed
    run's processes are still alive two seconds after the kill (workers never touch the
    ledger, so the run again need not wait for them)."""
    marker = uuid.uuid4().hex
    ledger = home / "ledger.db"
    process = command.launch(home, marker, stderr=subprocess.DEVNULL)
    wait_for(point, process, ledger)
    exited = process.poll() is not None
    workers = [c for p, c in probed(marker).items() if p != process.pid and "spawn_main" in c]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + SETTLE_SECONDS
    after_kill = facts(ledger)
    trial = Trial(str(command), point, exited, len(workers), sum(after_kill.rows.values()))
    clean_code, clean_facts = clean
    # killed after its last commit, `record` is done: a second run would be a second call
    done = command.keyless_is_new and not differences(clean_facts, after_kill)
    if not done:
        code = command.finish(home)
        if code != clean_code:
            trial.problems.append(f"the run again exited {code}, a clean run {clean_code}")
        trial.problems += differences(clean_facts, facts(ledger))
    while (survivors := probed(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    trial.survivors = survivors
    for pid in survivors:  # our own leftovers: they must not outlive the test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while probed(marker) and time.monotonic() < deadline + 10:
        time.sleep(0.05)
    return trial


def report(trials: list[Trial], pick) -> str:
    return "\n".join(
        f"{trial}\n    " + "\n    ".join(pick(trial)) for trial in trials if pick(trial)
    )


def survivors_of(trial: Trial) -> list[str]:
    return [f"pid {pid} still alive: {command}" for pid, command in trial.survivors.items()]


def points(name: str, *kinds: tuple[str, float, float]) -> list[KillPoint]:
    """Kill points of one command, drawn from a random seeded by its name."""
    rng = random.Random(f"{SEED}:{name}")
    return [KillPoint(kind, round(rng.uniform(low, high), 3)) for kind, low, high in kinds]


# ------------------------------------------------------------------ the trials


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    """Trials of both importers, workers off and on, cached for the tests that read them."""
    base = tmp_path_factory.mktemp("crash")
    trees = {
        "claude-code": claude_tree(base / "claude"),
        "codex": codex_tree(base / "codex"),
    }
    cleans = {}
    for source, tree in trees.items():
        command = Command(f"import {source}", ["import", source, "--path", str(tree)])
        cleans[source] = clean_run(command, base / f"clean-{source}")
        code, clean = cleans[source]
        assert sum(clean.rows.values()) > 300, (source, code, clean.totals)  # a few groups
    found: dict[tuple[str, int], list[Trial]] = {}

    def trials(source: str, workers: int) -> list[Trial]:
        if (source, workers) in found:
            return found[source, workers]
        argv = ["import", source, "--path", str(trees[source])]
        name = f"import {source}"
        plain = Command(name, argv, workers=workers)
        grouped = Command(name, argv, workers=workers, small_groups=True)
        # the kill points: while it migrates a new ledger, between two groups of files,
        # and while workers parse
        if workers == 1:
            plan = [(plain, KillPoint("grown"))] if source == "claude-code" else []
            plan += [(grouped, p) for p in points(name, ("stored", 0.0, 0.15))]
        elif source == "claude-code":
            plan = [(grouped, p) for p in points(f"{name} 2", ("stored", 0.0, 0.1))]
            # a kill at once too: on a loaded machine (the whole suite on two cores) the
            # later ones may all miss the workers
            plan += [
                (plain, p)
                for p in points(f"{name} 2", ("workers", 0.05, 0.25), ("workers", 0.0, 0.02))
            ]
        else:  # a kill at once, too: on a loaded machine the later one may miss the workers
            plan = [
                (grouped, p)
                for p in points(f"{name} 2", ("workers", 0.05, 0.25), ("workers", 0.0, 0.02))
            ]
        results = []
        for number, (command, point) in enumerate(plan):
            home = base / f"{source}-{workers}-{number}"
            results.append(kill_and_rerun(command, home, point, cleans[source]))
        found[source, workers] = results
        return results

    return trials


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("source", ["claude-code", "codex"])
def test_a_killed_import_run_again_stores_what_a_clean_import_does(imports, source, workers):
    """Groups of files are committed with their read positions: whatever a kill leaves,
    the next import must add exactly the rest."""
    trials = imports(source, workers)
    assert not any(t.problems for t in trials), report(trials, lambda t: t.problems)


@pytest.mark.parametrize("source", ["claude-code", "codex"])
def test_no_worker_outlives_a_killed_import(imports, source):
    """A worker or resource tracker left behind by `kill -9` keeps CPU, memory and open
    files of an import that no one waits for any more."""
    trials = imports(source, 2)
    assert any(t.workers_at_kill for t in trials), "no kill fell while workers were running"
    assert not any(t.survivors for t in trials), report(trials, survivors_of)


def test_a_killed_record_run_again_stores_each_line_once(tmp_path):
    """A pipeline that dies and is run again must not double the lines that were stored,
    whether they carry a source_key or not: `record` stores its lines in several commits,
    and a killed run's stored lines cannot be told from its lost ones by whoever runs it
    again. Killed after its last commit, it is not run again (that would be a new call)."""
    stdin = record_lines(tmp_path / "calls.jsonl")
    command = Command("record", ["record"], stdin=stdin, keyless_is_new=True)
    clean = clean_run(command, tmp_path / "clean")
    assert clean[0] == 0 and sum(clean[1].rows.values()) == RECORD_LINES
    plan = points("record", ("stored", 0.0, 0.1), ("after", 0.3, 0.9))
    trials = [
        kill_and_rerun(command, tmp_path / f"killed-{n}", point, clean)
        for n, point in enumerate(plan)
    ]
    assert not any(t.problems for t in trials), report(trials, lambda t: t.problems)
