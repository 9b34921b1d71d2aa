"""`tokenroute run` against a minimal httpx script making the same streamed request.

Usage: python bench/dispatch.py [--runs N]
Starts the tests' local OpenAI-compatible server (tests/fakeprovider.py) and times whole
processes: the median wall time of each, and the time to the first streamed byte on stdout.
Target (issue 5): tokenroute run within 1.3x the script's median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeprovider import FakeProvider  # noqa: E402

SCRIPT = """
import json, os, sys, httpx
url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"
body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "say hello"}],
        "stream": True, "stream_options": {"include_usage": True}}
headers = {"authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}
with httpx.Client() as client, client.stream("POST", url, json=body, headers=headers) as r:
    for line in r.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices") or ():
                sys.stdout.write(choice["delta"].get("content") or "")
                sys.stdout.flush()
print()
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(whole process seconds, seconds to the first byte on stdout)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    process.stdout.read(1)
    first = time.perf_counter() - start
    process.stdout.read()
    process.wait()
    if process.returncode:
        raise SystemExit(f"{command[:3]} failed with exit code {process.returncode}")
    return time.perf_counter() - start, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    server = FakeProvider()
    script = Path(sys.executable).with_name("tokenroute")
    tokenroute = str(script) if script.exists() else "tokenroute"
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(
                TOKENROUTE_HOME=home,
                OPENAI_BASE_URL=server.url + "/v1",
                OPENAI_API_KEY="sk-bench-0123456789",
            )
            cases = {
                "httpx script": [sys.executable, "-c", SCRIPT],
                "tokenroute run": [tokenroute, "run", "-q", "-m", "gpt-5-mini", "say hello"],
            }
            results = {}
            for name, command in cases.items():
                timed(command, env)  # warm: bytecode, price and classifier caches
                runs = [timed(command, env) for _ in range(args.runs)]
                results[name] = (
                    statistics.median(r[0] for r in runs),
                    statistics.median(r[1] for r in runs),
                )
    finally:
        server.close()
    print(f"median of {args.runs} runs, whole processes, local OpenAI-compatible server")
    for name, (whole, first) in results.items():
        print(f"{name:<16} {whole * 1000:7.1f} ms   first byte {first * 1000:7.1f} ms")
    ratio = results["tokenroute run"][0] / results["httpx script"][0]
    verdict = "meets" if ratio <= 1.3 else "MISSES"
    print(f"tokenroute run is {ratio:.2f}x the httpx script: {verdict} the 1.3x target")


if __name__ == "__main__":
    main()
