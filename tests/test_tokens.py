"""Offline token counting: tiktoken from a shipped encoding, never the network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import write

from tokenroute.prices.tokens import ENCODING_LABEL, HEURISTIC_LABEL, count_tokens


def test_counts_with_the_offline_encoding():
    counted = count_tokens("hello world")
    assert (counted.tokens, counted.method) == (2, ENCODING_LABEL)


def test_special_token_text_is_counted_as_text():
    assert count_tokens("<|endoftext|>").tokens > 1


def test_heuristic_is_ceil_chars_over_four():
    counted = count_tokens("x" * 9, use_tiktoken=False)
    assert (counted.tokens, counted.method) == (3, HEURISTIC_LABEL)


def _estimate_in_subprocess(tmp_path: Path, extra_env: dict[str, str]) -> dict:
    env = {
        **os.environ,
        "TOKENROUTE_HOME": str(tmp_path / "home"),
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"),
        # Any attempt to reach the network goes to a closed port and fails at once.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        **extra_env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tokenroute", "estimate", "--models", "gpt-5", "--json"],
        input="hello world",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_no_network_and_no_cache_still_uses_tiktoken(tmp_path):
    body = _estimate_in_subprocess(tmp_path, {})
    assert body["token_method"] == ENCODING_LABEL
    assert body["input_tokens"] == 2


def test_falls_back_to_the_heuristic_when_no_encoding_loads(tmp_path):
    # A tiktoken that cannot be imported, placed first on the path of a real process.
    write(tmp_path / "shadow" / "tiktoken" / "__init__.py", "raise ImportError('no encodings')\n")
    body = _estimate_in_subprocess(tmp_path, {"PYTHONPATH": str(tmp_path / "shadow")})
    assert body["token_method"] == HEURISTIC_LABEL
    assert body["input_tokens"] == 3  # ceil(11 / 4)
