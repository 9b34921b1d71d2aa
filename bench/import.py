"""Importing Claude Code's logs: a first import, a second with nothing new, one after a 1%
append, and a report afterwards; and ccusage on the same tree when Node.js is here.

Usage: python bench/import.py [--lines 1000000] [--files 2000] [--keep DIR]
Targets (issue 6): no-op import <= 0.5 s, report --last 30d <= 0.5 s, the append in time
proportional to the 1%, the first import within 1.5x ccusage's time for one report.
The tree comes from ../shared/tools/gen_claude_logs.py (1,000,000 lines is ~1.5 GB);
--keep DIR keeps it (and reuses one already there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "gen_claude_logs.py"
CCUSAGE = "ccusage@20.0.11"  # the newest that runs on Node.js 20 without a native binary


def generate(root: Path, lines: int, files: int, seed: int) -> None:
    subprocess.run(
        [
            *(sys.executable, str(GENERATOR), "--root", str(root), "--lines", str(lines)),
            *("--files", str(files), "--seed", str(seed), "--days", "25"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout, done.stderr


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


def ccusage(tree: Path) -> tuple[float, tuple[int, int, int, int]] | None:
    """ccusage's time for one daily report and its token totals, if npx can run it."""
    installed = os.environ.get("TOKENROUTE_CCUSAGE")  # as CI installs it
    if not installed and not shutil.which("npx"):
        return None
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"}
    runner = [installed] if installed else ["npx", "-y", CCUSAGE]
    command = [*runner, "claude", "daily", "--json", "--offline"]
    subprocess.run(command, capture_output=True, env=env)  # fetch and warm it once
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"ccusage failed: {done.stderr.strip()[:200]}")
        return None
    totals = json.loads(done.stdout)["totals"]
    return seconds, (
        totals["inputTokens"],
        totals["outputTokens"],
        totals["cacheCreationTokens"],
        totals["cacheReadTokens"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--keep", type=Path, help="keep the tree here (reused if present)")
    parser.add_argument("--no-ccusage", action="store_true")
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
        peer = None if args.no_ccusage else ccusage(tree)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["TOKENROUTE_HOME"] = str(scratch / "home")
        command = [tokenroute, "import", "claude-code", "--path", str(tree / "projects")]
        first, _, said = timed(command, env)
        got = ledger_totals(scratch / "home" / "ledger.db")
        noop, _, _ = timed(command, env)
        report, _, _ = timed([tokenroute, "report", "--last", "30d", "--json"], env)
        appended = append_one_percent(tree, scratch, manifest["lines"])
        append, _, said_append = timed(command, env)
        report_after, _, _ = timed([tokenroute, "report", "--last", "30d", "--json"], env)
        if args.keep:  # the tree grew: the next run must generate it afresh
            (tree / "manifest.json").unlink()
    expected = (
        truth["input_tokens"],
        truth["output_tokens"],
        truth["cache_creation_input_tokens"],
        truth["cache_read_input_tokens"],
    )
    print(said.strip().splitlines()[0])
    print(f"first import            {first:7.2f} s  ({manifest['lines'] / first:,.0f} lines/s)")
    print(f"second, nothing new     {noop:7.2f} s  (target <= 0.5 s)")
    print(f"after a 1% append       {append:7.2f} s  ({appended:,} lines appended)")
    print(f"  {said_append.strip().splitlines()[0]}")
    print(f"report --last 30d       {report:7.2f} s, {report_after:.2f} s after the append")
    print(f"tokens in the ledger:   {got[1:]} (input, output, cache writes, cache reads)")
    print(f"generator's truth:      {expected} -> {'equal' if got[1:] == expected else 'DIFFER'}")
    if peer is not None:
        seconds, totals = peer
        print(f"ccusage daily --offline {seconds:7.2f} s; totals {totals}")
        print(
            f"  -> {'equal' if totals == expected else 'DIFFER'}; first import is "
            f"{first / seconds:.2f}x ccusage's time (target 1.5x)"
        )
    elif not args.no_ccusage:
        print("ccusage: npx not found, comparison skipped")


if __name__ == "__main__":
    main()
