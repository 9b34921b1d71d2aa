"""Start-up time of whole `tokenroute` processes against the Python floor.

Usage: python bench/startup.py [--runs N]
Prints the median wall time of each command and its ratio to `python -c pass`.
Targets: `tokenroute --help` (issue 2) and `tokenroute pick` (issue 4) within 8x the floor,
pick with a ledger of 1,000,000 attempts present: pass one with --ledger (bench/ledger.py
--keep DIR builds it as DIR/ledger.db).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(command: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--ledger", help="also time pick with this (large) ledger present")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tokenroute")
    tokenroute = [str(script)] if script.exists() else [shutil.which("tokenroute") or "tokenroute"]
    with tempfile.TemporaryDirectory() as home:
        # Time what a user runs: Python writes and reuses bytecode caches (unless told not to).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["TOKENROUTE_HOME"] = home
        floor = median_seconds([sys.executable, "-c", "pass"], args.runs, env)
        cases = {
            "python -c pass": floor,
            "tokenroute --help": median_seconds([*tokenroute, "--help"], args.runs, env),
            "tokenroute --version": median_seconds([*tokenroute, "--version"], args.runs, env),
            "tokenroute prices": median_seconds([*tokenroute, "prices"], args.runs, env),
            "tokenroute pick (no log)": median_seconds(
                [*tokenroute, "pick", "refactor auth module", "--no-log"], args.runs, env
            ),
        }
        if args.ledger:
            command = [*tokenroute, "pick", "refactor auth module", "--no-log"]
            cases["pick, --ledger given"] = median_seconds(
                [*command, "--ledger", args.ledger], args.runs, env
            )
    print(f"median of {args.runs} runs, whole processes")
    for name, seconds in cases.items():
        print(f"{name:<24} {seconds * 1000:7.1f} ms  {seconds / floor:5.1f}x floor")
    for name in ("tokenroute --help", "tokenroute pick (no log)", "pick, --ledger given"):
        if name in cases:
            ratio = cases[name] / floor
            verdict = "meets" if ratio <= 8 else "MISSES"
            print(f"{name} is {ratio:.1f}x the python floor: {verdict} the 8x target")


if __name__ == "__main__":
    main()
