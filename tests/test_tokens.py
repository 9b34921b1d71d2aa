"""Offline token counting: tiktoken from a shipped encoding, never the network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
from conftest import write
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenroute.prices import encoding_cache, tokens
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


# --- the ASCII counter and the cached table ------------------------------------------------

NATIVE = tiktoken.get_encoding(tokens.OFFLINE_ENCODING)
ASCII_TEXT = st.text(alphabet=st.characters(max_codepoint=127), max_size=300)
TRICKY = [
    "",
    "don't I'LL we've THEY'RE it's",
    "    indented\n\n\n\tand  tabs\r\n\x0b\x0c end   ",
    "12345678901 3.14159 1e-10 0x1F",
    "def f(x):\n    return x ** 2  # comment\n",
    "\x1c\x1d\x1e\x1f file separators are not white space",
    "trailing newline\n",
    "!!!???... ---- ____ ~~~~",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "https://example.com/path?query=1&b=2#frag",
]


def native_count(text: str) -> int:
    return len(NATIVE.encode(text, disallowed_special=()))


def test_the_ascii_counter_matches_tiktoken_on_tricky_text():
    for text in TRICKY:
        assert tokens.count_tokens(text).tokens == native_count(text), repr(text)


@settings(max_examples=400, deadline=None)
@given(ASCII_TEXT)
def test_the_ascii_counter_matches_tiktoken_on_any_ascii(text):
    assert tokens.count_tokens(text).tokens == native_count(text)


def test_the_ascii_counter_matches_tiktoken_on_this_projects_source():
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "src" / "tokenroute" / "prices").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.isascii() and len(text) <= tokens.PURE_PYTHON_LIMIT, path
        assert tokens.count_tokens(text).tokens == native_count(text), path


def test_other_text_is_counted_by_tiktoken_itself():
    for text in [
        "héllo wörld",
        "数据 and 文字",
        "emoji 🎉🎉",
        "x" * (tokens.PURE_PYTHON_LIMIT + 1),
    ]:
        counted = tokens.count_tokens(text)
        assert (counted.tokens, counted.method) == (native_count(text), ENCODING_LABEL)


def test_the_decoded_table_is_cached_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENROUTE_HOME", str(tmp_path))
    tokens._cached_table.cache_clear()
    stale = write(tmp_path / "cache" / "cl100k_base-1-10-20.marshal", "an older version's table")
    try:
        first = tokens._encoding_spec()
        [cached] = (tmp_path / "cache").glob("cl100k_base-*.marshal")
        assert not stale.exists()  # replaced, not left to pile up
        assert len(first["mergeable_ranks"]) == 100_256  # cl100k_base's ordinary tokens
        for damage in (b"", b"not a cache", cached.read_bytes()[:-10]):
            cached.write_bytes(damage)
            tokens._cached_table.cache_clear()
            assert tokens._encoding_spec() == first
            assert cached.read_bytes() != damage  # rewritten whole
    finally:
        tokens._cached_table.cache_clear()


def fresh_ranks(home: Path):
    """The cached table as a new process reads it: no shard read but the short tokens'."""
    [cached] = (home / "cache").glob("cl100k_base-*.marshal")
    header, ranks = encoding_cache.read_cache(cached)
    assert header["pat_str"] == tokens.CL100K_PATTERN
    return ranks


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cache-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENROUTE_HOME", str(home))
        tokens._cached_table.cache_clear()
        try:
            tokens._cached_table()
        finally:
            tokens._cached_table.cache_clear()
    return home


def count_fresh(text: str, home: Path) -> tuple[int, int]:
    """(tokens, ranks read) for `text` counted on a table nothing else has read from."""
    import re

    ranks = fresh_ranks(home)
    count = tokens._count_ascii(text, re.compile(tokens.ASCII_PATTERN).findall, ranks)
    return count, len(ranks.ranks)


def test_a_short_prompt_reads_only_the_ranks_its_pieces_can_reach(cache_home):
    count, read = count_fresh("Summarise the incident report in three bullet points.", cache_home)
    assert count == native_count("Summarise the incident report in three bullet points.")
    assert read < 100_256 // 4
    assert len(fresh_ranks(cache_home).every()) == 100_256


@settings(max_examples=150, deadline=None)
@given(ASCII_TEXT)
def test_counting_on_a_fresh_table_reads_every_rank_it_needs(cache_home, text):
    assert count_fresh(text, cache_home)[0] == native_count(text)


def test_tricky_text_on_a_fresh_table(cache_home):
    for text in TRICKY:
        assert count_fresh(text, cache_home)[0] == native_count(text), repr(text)


def test_an_unwritable_cache_folder_still_counts(tmp_path, monkeypatch):
    blocker = tmp_path / "home"
    write(blocker, "a file where the folder should be")
    monkeypatch.setenv("TOKENROUTE_HOME", str(blocker))
    tokens._cached_table.cache_clear()
    tokens._ascii_splitter.cache_clear()
    try:
        assert tokens.count_tokens("hello world").tokens == 2
        assert tokens.count_tokens("数据 hello").tokens == native_count("数据 hello")
        assert list(tmp_path.glob("**/*.partial")) == []
    finally:
        tokens._cached_table.cache_clear()
        tokens._ascii_splitter.cache_clear()
