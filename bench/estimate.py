"""`tokenroute estimate FILE` as a whole process, against the Python floor and genai-prices.

Usage: python bench/estimate.py [--runs N] [--genai-prices PATH]
Targets (issue 19): a 2 KB prompt within 8x `python -c pass`, and at least 2x faster than
the genai-prices CLI pricing the same token counts (`genai-prices calc MODEL -i N -o 500`).
Without --genai-prices the peer is taken from PATH, else installed into a throwaway venv.
The prompts are this repository's README, cut to 2 KB and repeated to 200 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import median_seconds

README = Path(__file__).resolve().parents[1] / "README.md"
PEER_MODEL = "gpt-4o"


def genai_prices_cli(explicit: str | None, scratch: Path) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("genai-prices")
    if found:
        return found
    venv = scratch / "peer-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "genai-prices[cli]"]
    if subprocess.run(pip, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        return None
    return str(venv / "bin" / "genai-prices")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--genai-prices", help="the peer's CLI (default: PATH, else installed)")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tokenroute")
    tokenroute = [str(script)] if script.exists() else [shutil.which("tokenroute") or "tokenroute"]
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        text = README.read_text(encoding="utf-8")
        small, large = scratch / "prompt-2k.txt", scratch / "prompt-200k.txt"
        small.write_text(text[:2048], encoding="utf-8")
        large.write_text((text * (204_800 // len(text) + 1))[:204_800], encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["TOKENROUTE_HOME"] = str(scratch / "home")
        counted = subprocess.run(
            [*tokenroute, "estimate", str(small), "--json"], capture_output=True, env=env
        )
        tokens = json.loads(counted.stdout)["input_tokens"]
        floor = median_seconds([sys.executable, "-c", "pass"], args.runs, env)
        cases = {
            "python -c pass": floor,
            "estimate 2 KB": median_seconds([*tokenroute, "estimate", str(small)], args.runs, env),
            "estimate 200 KB": median_seconds(
                [*tokenroute, "estimate", str(large)], args.runs, env
            ),
        }
        peer = genai_prices_cli(args.genai_prices, scratch)
        if peer:
            command = [peer, "--plain", "calc", PEER_MODEL, "-i", str(tokens), "-o", "500"]
            cases["genai-prices calc"] = median_seconds(command, args.runs, env)
    print(f"median of {args.runs} runs, whole processes; the 2 KB prompt is {tokens} tokens")
    for name, seconds in cases.items():
        print(f"{name:<20} {seconds * 1000:7.1f} ms  {seconds / floor:5.1f}x floor")
    ratio = cases["estimate 2 KB"] / floor
    print(
        f"estimate 2 KB is {ratio:.1f}x the python floor: "
        f"{'meets' if ratio <= 8 else 'MISSES'} the 8x target"
    )
    if "genai-prices calc" in cases:
        speedup = cases["genai-prices calc"] / cases["estimate 2 KB"]
        print(
            f"estimate 2 KB is {speedup:.1f}x faster than genai-prices: "
            f"{'meets' if speedup >= 2 else 'MISSES'} the 2x target"
        )
    else:
        print("genai-prices could not be installed: no peer figure")


if __name__ == "__main__":
    main()
