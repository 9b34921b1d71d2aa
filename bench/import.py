"""Importing Claude Code's logs: a first import, a second with nothing new, one after a 1%
append, and a report afterwards; and ccusage on the same tree when Node.js is here.

Usage: python bench/import.py [--lines 1000000] [--files 2000] [--keep DIR] [--no-floor]
Targets: no-op import <= 0.5 s, report --last 30d <= 0.5 s, the append in time proportional
to the 1% (issue 6); the first import, as a whole process beside `ccusage daily --json
--offline` on the same tree, at most 1.0x ccusage's wall time, and at 200,000 lines its CPU
time too (issue 19). ccusage is run as the issue runs it, `npx -y ccusage@20.0.24`, and, when
TOKENROUTE_CCUSAGE names an installed copy, without npx too (the stricter peer). Then each
step of the import against the floor of that step (bench/import_floor.py), both measured in
one process on the same tree.
The tree comes from ../shared/tools/gen_claude_logs.py (1,000,000 lines is ~1.5 GB, 200,000
lines in 400 files is the issue's smaller tree); --keep DIR keeps it (and reuses one there).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_floor

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "gen_claude_logs.py"
CCUSAGE = "ccusage@20.0.24"  # issue 19's peer: a native binary behind a Node.js wrapper


def generate(root: Path, lines: int, files: int, seed: int) -> None:
    subprocess.run(
        [
            *(sys.executable, str(GENERATOR), "--root", str(root), "--lines", str(lines)),
            *("--files", str(files), "--seed", str(seed), "--days", "25"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


class Run(NamedTuple):
    wall: float
    cpu: float  # user + system, of the process and every child it waited for
    stdout: str
    stderr: str
    returncode: int


def run(command: list[str], env: dict[str, str]) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, done.stdout, done.stderr, done.returncode)


def timed(command: list[str], env: dict[str, str]) -> Run:
    done = run(command, env)
    if done.returncode not in (0, 3):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def append_one_percent(tree: Path, scratch: Path, lines: int) -> int:
    """New calls (another seed) appended to the tree's files, 1% of its lines in all."""
    extra = scratch / "extra"
    generate(extra, max(lines // 100, 100), 20, seed=99)
    targets = sorted((tree / "projects").rglob("*.jsonl"))
    added = 0
    for index, source in enumerate(sorted((extra / "projects").rglob("*.jsonl"))):
        text = source.read_bytes()
        added += text.count(b"\n")
        with targets[index * 7 % len(targets)].open("ab") as handle:
            handle.write(text)
    shutil.rmtree(extra)
    return added


def ledger_totals(path: Path) -> tuple[int, int, int, int, int]:
    conn = sqlite3.connect(path)
    row = conn.execute(
        "SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), "
        "SUM(cache_write_tokens + cache_write_1h_tokens), SUM(cache_read_tokens) FROM attempts"
    ).fetchone()
    conn.close()
    return tuple(row)  # type: ignore[return-value]


def ccusage_runners() -> list[tuple[str, list[str]]]:
    """The ways to run ccusage here: the issue's `npx -y ccusage@20.0.24` (npx's own start
    included, as a user runs it), and the package installed beforehand (TOKENROUTE_CCUSAGE,
    as CI installs it): the same binary without npx, the stricter peer."""
    runners = []
    if shutil.which("npx"):
        runners.append((f"npx -y {CCUSAGE}", ["npx", "-y", CCUSAGE]))
    installed = os.environ.get("TOKENROUTE_CCUSAGE")
    if installed:
        runners.append(("installed, without npx", [installed]))
    return runners


def ccusage(tree: Path, runner: list[str]) -> tuple[Run, tuple[int, int, int, int]] | None:
    """ccusage's times for one daily report and its token totals."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"}
    command = [*runner, "daily", "--json", "--offline"]
    subprocess.run(command, capture_output=True, env=env)  # fetch and warm it once
    done = run(command, env)
    if done.returncode != 0:
        print(f"ccusage failed: {done.stderr.strip()[:200]}")
        return None
    totals = json.loads(done.stdout)["totals"]
    return done, (
        totals["inputTokens"],
        totals["outputTokens"],
        totals["cacheCreationTokens"],
        totals["cacheReadTokens"],
    )


def first_import(command: list[str], env: dict[str, str], home: Path) -> Run:
    shutil.rmtree(home, ignore_errors=True)
    return timed(command, env)


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def ratio_line(name: str, ours: float, theirs: float, target: float | None) -> str:
    verdict = "" if target is None else (" meets" if ours / theirs <= target else " MISSES")
    goal = "" if target is None else f" (target <= {target:.1f}x:{verdict})"
    return f"    {name:<5} {ours:6.2f} s against {theirs:6.2f} s: {ours / theirs:.2f}x{goal}"


def print_steps(steps: dict[str, float], least: dict[str, float]) -> None:
    """The importer's steps (one process) and their floor, on the same tree."""
    total = sum(steps.values())
    pairs = [
        ("read", steps["read"], least["read"]),
        ("parse and price", steps["parse and price"], least["json"]),
        ("store", steps["store"], least["insert"] + least["summaries"]),
    ]
    print(f"steps in one process, CPU ({total:.2f} s in all) against each step's floor:")
    for name, ours, floor in pairs:
        share = f"{ours:6.2f} s  {ours / total:4.0%}"
        print(f"  {name:<16} {share}   floor {floor:5.2f} s  {ours / floor:4.1f}x")
    print(
        f"  floor: read {least['read']:.2f} s, orjson over every line {least['json']:.2f} s, "
        f"insert {least['insert']:.2f} s ({least['insert, no index']:.2f} s without an index), "
        f"summaries rebuilt once {least['summaries']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--keep", type=Path, help="keep the tree here (reused if present)")
    parser.add_argument("--runs", type=int, default=1, help="first imports and ccusage runs")
    parser.add_argument("--no-ccusage", action="store_true")
    parser.add_argument("--no-floor", action="store_true", help="skip the per-step figures")
    args = parser.parse_args()
    if not GENERATOR.exists():
        sys.exit(f"needs {GENERATOR} (../shared beside the project)")
    script = Path(sys.executable).with_name("tokenroute")
    tokenroute = str(script) if script.exists() else "tokenroute"
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        tree = args.keep or scratch / "claude"
        if not (tree / "manifest.json").exists():
            print(f"generating {args.lines:,} lines in {args.files:,} files ...", flush=True)
            generate(tree, args.lines, args.files, seed=1)
        manifest = json.loads((tree / "manifest.json").read_text())
        truth = manifest["dedup_max_output_wins"]
        print(f"tree: {manifest['lines']:,} lines, {manifest['bytes'] / 1e9:.2f} GB")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        home = scratch / "home"
        env["TOKENROUTE_HOME"] = str(home)
        command = [tokenroute, "import", "claude-code", "--path", str(tree / "projects")]
        runners = [] if args.no_ccusage else ccusage_runners()
        peers: dict[str, list[tuple[Run, tuple[int, int, int, int]]]] = {}
        firsts = []
        for _ in range(args.runs):  # side by side: one of each, in turn
            for name, runner in runners:
                peer = ccusage(tree, runner)
                if peer is not None:
                    peers.setdefault(name, []).append(peer)
            firsts.append(first_import(command, env, home))  # each makes the same ledger
        first = median(firsts)
        got = ledger_totals(home / "ledger.db")
        noop = timed(command, env)
        report = timed([tokenroute, "report", "--last", "30d", "--json"], env)
        steps = least = None
        if not args.no_floor:
            steps, least = import_floor.importer_steps(tree), import_floor.floor(tree)
        appended = append_one_percent(tree, scratch, manifest["lines"])
        append = timed(command, env)
        report_after = timed([tokenroute, "report", "--last", "30d", "--json"], env)
        if args.keep:  # the tree grew: the next run must generate it afresh
            (tree / "manifest.json").unlink()
    expected = (
        truth["input_tokens"],
        truth["output_tokens"],
        truth["cache_creation_input_tokens"],
        truth["cache_read_input_tokens"],
    )
    lines = manifest["lines"]
    print(first.stderr.strip().splitlines()[0])
    print(
        f"first import            {first.wall:7.2f} s wall, {first.cpu:.2f} s CPU  "
        f"({lines / first.wall:,.0f} lines/s; median of {args.runs})"
    )
    print(f"second, nothing new     {noop.wall:7.2f} s  (target <= 0.5 s)")
    print(f"after a 1% append       {append.wall:7.2f} s  ({appended:,} lines appended)")
    print(f"  {append.stderr.strip().splitlines()[0]}")
    print(
        f"report --last 30d       {report.wall:7.2f} s, {report_after.wall:.2f} s after the append"
    )
    print(f"tokens in the ledger:   {got[1:]} (input, output, cache writes, cache reads)")
    print(f"generator's truth:      {expected} -> {'equal' if got[1:] == expected else 'DIFFER'}")
    for name, runs in peers.items():
        theirs, totals = median([run for run, _ in runs]), runs[0][1]
        print(f"ccusage daily --offline ({name}): {theirs.wall:.2f} s wall, {theirs.cpu:.2f} s CPU")
        print(f"  totals {totals}: {'equal' if totals == expected else 'DIFFER'}")
        print(f"  first import against it, as whole processes (medians of {len(runs)}):")
        print(ratio_line("wall", first.wall, theirs.wall, 1.0))
        print(ratio_line("CPU", first.cpu, theirs.cpu, 1.0 if lines <= 200_000 else None))
    if not peers and not args.no_ccusage:
        print("ccusage: neither npx nor TOKENROUTE_CCUSAGE here, comparison skipped")
    if steps and least:
        print_steps(steps, least)


if __name__ == "__main__":
    main()
