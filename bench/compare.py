"""`tokenroute compare` on 100 examples across 3 models of the loopback server, each call
with a realistic wait for its first byte, against the same requests one after another.

Usage: python bench/compare.py [--examples 100] [--latency 0.25] [--concurrency 4]
Prints the wall time of `--concurrency 1` (the requests one after another) and of
`--concurrency N`, their ratio, and checks both found the same successes. The loopback server
(tests/fakeprovider.py) speaks each provider's wire format; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeprovider import FakeProvider, Reply  # noqa: E402

MODELS = "claude-haiku-4-5,gpt-5-mini,gemini-2.5-flash"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.25, help="median first-byte wait, s")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    server = FakeProvider()
    rng = random.Random(7)
    # first-byte waits: log-normal around the median, as real APIs' are (a few are slow)
    waits = {i: args.latency * rng.lognormvariate(0, 0.5) for i in range(args.examples)}

    def respond(model: str, body: dict) -> Reply:
        prompt = json.dumps(body)
        number = int(prompt.split("What is ")[1].split(" ")[0])
        wrong = model == "gemini-2.5-flash" and number % 4 == 0
        words = ("the answer is ", "unknown" if wrong else str(2 * number))
        return Reply(text=words, delay=waits[number], input=40, output=12)

    server.respond = respond
    home = Path(tempfile.mkdtemp(prefix="tokenroute-bench-compare-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        TOKENROUTE_HOME=str(home),
        OPENAI_BASE_URL=server.url + "/v1",
        OPENAI_API_KEY="sk-bench",
        ANTHROPIC_BASE_URL=server.url,
        ANTHROPIC_API_KEY="sk-ant-bench",
        GEMINI_API_KEY="bench",
    )
    (home / "config.yaml").write_text(
        f"retries: 1\nretry_base: 0.05\nendpoints:\n  google: {{base_url: '{server.url}'}}\n"
    )
    examples = home / "sums.jsonl"
    examples.write_text(
        "".join(
            json.dumps({"id": i, "prompt": f"What is {i} + {i}?", "expected": str(2 * i)}) + "\n"
            for i in range(args.examples)
        )
    )
    tokenroute = Path(sys.executable).with_name("tokenroute")
    command = [str(tokenroute), "compare", "--models", MODELS, str(examples), "--json"]
    command += ["--match-regex", r"\d+$", "--yes"]
    try:
        one = timed([*command, "--concurrency", "1", "--name", "serial"], env)
        many = timed([*command, "--concurrency", str(args.concurrency), "--name", "parallel"], env)
    finally:
        server.close()
        shutil.rmtree(home, ignore_errors=True)
    calls = 3 * args.examples
    print(f"compare: {args.examples} examples x 3 models = {calls} calls on the loopback server")
    print(f"first-byte wait: median {args.latency:g} s (log-normal)")
    print(f"one after another (--concurrency 1): {one[0]:6.1f} s")
    print(f"--concurrency {args.concurrency}:{'':18}{many[0]:6.1f} s")
    print(f"ratio: {one[0] / many[0]:.1f}x faster with --concurrency {args.concurrency}")
    same = one[1] == many[1]
    print(f"same successes per model both ways: {'yes' if same else 'NO'} {many[1]}")
    if not same:
        sys.exit(1)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compare failed ({done.returncode}): {done.stderr.strip()}")
    body = json.loads(done.stdout)["comparison"]
    return elapsed, {r["model"]: r["successes"] for r in body["results"]}


if __name__ == "__main__":
    main()
