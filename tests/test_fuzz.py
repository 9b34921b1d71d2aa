"""Property tests: no input makes the CLI crash, hang, break its error contract or lose data.

Every example drives the real typer app (error boundary included) under a watchdog. Run the
long version with TOKENROUTE_FUZZ=1 (at least 1,000 cases per parser); the default "ci"
profile is small and derandomized so CI stays fast and deterministic.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, PINNED_NOW, ROOT, Run
from fuzzing import (
    HUGE_DIGITS,
    LONE_SURROGATES,
    RAW_BAD_LINES,
    cli,
    dumps,
    duration_texts,
    ledger_keys,
    moment_texts,
    nasty_values,
    raw_bad_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_import import assistant

FUZZ = os.environ.get("TOKENROUTE_FUZZ") == "1"
FUZZ_EXAMPLES = 1000
_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "database": None,
}
settings.register_profile("ci", max_examples=15, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, print_blob=True, **_COMMON)
PROFILE = settings.get_profile("fuzz" if FUZZ else "ci")


def budget(ci: int) -> settings:
    """This test's examples: a third of `ci` in the suite (at least 5; the fuzz profile is
    the deep run), at least FUZZ_EXAMPLES under TOKENROUTE_FUZZ=1."""
    return settings(PROFILE, max_examples=max(ci, FUZZ_EXAMPLES) if FUZZ else max(5, ci // 3))


SHIPPED_TABLES = sorted((ROOT / "pricing").glob("*.yaml"))
SHIPPED_POLICY = ROOT / "src" / "tokenroute" / "advisor" / "data" / "policy.yaml"
LITELLM = FIXTURES / "litellm_prices.json"
CONFIG_TEXT = """\
retries: 2
timeout: 60
retry_base: 0.5
max_wait: 60
endpoints:
  ollama: {base_url: "http://gpu-box:11434/v1"}
  work-vllm: {protocol: openai, base_url: "http://10.0.0.5:8000/v1", local: true}
"""
CODEX_SESSION = "0d1f6f9f-a73c-4445-aa0c-480e21772c2d"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fuzz case must never reach the network, whatever a bug makes the CLI try."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network disabled in the fuzz tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def scratch(tmp_path: Path) -> Callable[[], contextlib.AbstractContextManager[Path]]:
    """A fresh folder per example, so examples never see each other's files or ledgers."""
    root = tmp_path / "examples"
    root.mkdir()

    @contextlib.contextmanager
    def fresh() -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(dir=root))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return fresh


@contextlib.contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """Set one variable for one example (monkeypatch lasts the whole test, not an example)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


# ------------------------------------------------------------------ structured mutations

HOLE = "FUZZHOLEFUZZ"
RAW_YAML = [
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "2026-11-23T25:00:00Z",
    "9999-12-31",
    "[a, b]",
    "[]",
    "{}",
    "{a: 1}",
    "12345",
    "-1",
    "0x1F",
    "0o17",
    ".nan",
    ".inf",
    "-.inf",
    "1e999",
    HUGE_DIGITS,
    "~",
    "''",
    "yes",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system [ls]",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!timestamp 2026-02-30",
    "!!int x",
    "!!float 1x",
    "!!str 2026-11-23",
    "*undefined_anchor",
    "&anchor 1",
    '"\\ud800"',
    '"\\x00"',
    "[" * 2000,
    "[" * 20_000 + "]" * 20_000,
    "{a: " * 5_000 + "1" + "}" * 5_000,
    "'unterminated",
    "!!merge x",
]


def alias_bomb(levels: int = 9, fan: int = 10) -> str:
    """The 'billion laughs' document: `fan ** levels` strings out of a few lines of YAML."""
    lines = ['lollollollollol_0: &lollollollollol_0 "lollollollollollollollollollol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*lollollollollol_{level - 1}"] * fan)
        lines.append(f"lollollollollol_{level}: &lollollollollol_{level} [{refs}]")
    return "\n".join(lines) + "\n"


BOMB = alias_bomb()
BOMB_TOP = f"*lollollollollol_{9}"


@st.composite
def tree_path(draw: st.DrawFn, tree: Any) -> list[Any]:
    """A path to some node of a parsed YAML/JSON tree (keys and indexes)."""
    path: list[Any] = []
    node = tree
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    return path


def _set(tree: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return value
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return tree


def _delete(tree: Any, path: list[Any]) -> Any:
    if not path:
        return tree
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return tree


@st.composite
def mutated_tree(draw: st.DrawFn, tree: Any, *, raw: bool) -> tuple[Any, str | None]:
    """The tree with one to three nodes replaced, deleted or given a wrong-typed sibling;
    with `raw`, possibly one node left as a hole for raw text (a YAML snippet)."""
    tree = copy.deepcopy(tree)
    snippet = None
    for _ in range(draw(st.integers(1, 3))):
        path = draw(tree_path(tree))
        action = draw(
            st.sampled_from(
                ["replace", "delete", "add", "raw"] if raw else ["replace", "delete", "add"]
            )
        )
        if action == "replace":
            tree = _set(tree, path, draw(nasty_values()))
        elif action == "delete":
            tree = _delete(tree, path)
        elif action == "add":
            node = tree
            for key in path:
                node = node[key]
            if isinstance(node, dict):
                node[draw(st.sampled_from(["extra", "id", "from", "tier", "0"]))] = draw(
                    nasty_values()
                )
            elif isinstance(node, list):
                node.append(draw(nasty_values()))
        elif snippet is None and path:
            snippet = draw(st.sampled_from([*RAW_YAML, BOMB_TOP]))
            tree = _set(tree, path, HOLE)
    return tree, snippet


def yaml_bytes(tree: Any, snippet: str | None) -> bytes:
    """Dump a tree as YAML (lone surrogates stay, as invalid UTF-8), filling the hole."""
    try:
        text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False, width=10**6)
    except (yaml.YAMLError, ValueError, RecursionError):
        text = json.dumps(tree, allow_nan=True, default=str)
    if snippet is not None:
        text = text.replace(f"'{HOLE}'", snippet).replace(HOLE, snippet)
        if BOMB_TOP in snippet:
            text = BOMB + text
    return text.encode("utf-8", "surrogatepass")


WHOLE_FILE_YAML: list[bytes] = [
    b"",
    b"---\n",
    b"~\n",
    b"[]\n",
    b"- a\n- b\n",
    b"just text\n",
    b"42\n",
    b"a: 1\n---\nb: 2\n",
    b"\xff\xfe\x00a\x00:\x00",
    b"\xef\xbb\xbfprovider: x\n",
    b"provider: \xff\n",
    b"[" * 100_000,
    ("- " * 5000 + "x\n").encode(),
    ("a:\n" + "".join(" " * i + "a:\n" for i in range(1, 2000))).encode(),
    BOMB.encode() + b"models: " + BOMB_TOP.encode() + b"\n",
    BOMB.encode(),
    b"models: &m [*m]\n",
    b"&a [*a]\n",
    b"!!python/name:os.system\n",
]


def yaml_documents(base: Any) -> st.SearchStrategy[bytes]:
    """A shipped YAML file mutated in its tree or as a whole."""
    return st.one_of(
        mutated_tree(base, raw=True).map(lambda pair: yaml_bytes(*pair)),
        st.sampled_from(WHOLE_FILE_YAML),
        st.sampled_from(RAW_YAML).map(lambda s: f"{s}\n".encode()),
    )


def load_yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ 1. durations and dates

REPORT_LEDGER_LINES = "".join(
    json.dumps(
        {
            "model": model,
            "input_tokens": 100 * (i + 1),
            "output_tokens": 10,
            "timestamp": day,
            "task_type": "code",
        }
    )
    + "\n"
    for i, (model, day) in enumerate(
        [
            ("gpt-5", "2026-11-20T10:00:00Z"),
            ("claude-sonnet-4-5", "2026-11-01T00:00:00Z"),
            ("no-such-model", "2026-06-30T23:59:59Z"),
            ("gemini-2.5-flash", "2025-01-15"),
        ]
    )
)


@pytest.fixture
def report_ledger(tmp_path: Path, run: Run) -> Path:
    """A small ledger to report on; reports only read it, so examples can share it."""
    ledger = tmp_path / "report.db"
    out = run("record", "--ledger", str(ledger), input=REPORT_LEDGER_LINES)
    assert out.exit_code == 0, out.stderr
    return ledger


def window_args() -> st.SearchStrategy[list[str]]:
    moment = moment_texts()
    return st.one_of(
        st.builds(lambda d: [f"--last={d}"], duration_texts()),
        st.builds(lambda m: [f"--since={m}"], moment),
        st.builds(lambda m: [f"--until={m}"], moment),
        st.builds(lambda a, b: [f"--since={a}", f"--until={b}"], moment, moment),
        st.builds(lambda d, m: [f"--last={d}", f"--since={m}"], duration_texts(), moment),
    )


@budget(25)
@given(
    command=st.sampled_from(["report", "log"]),
    window=window_args(),
    extra=st.sampled_from([[], ["--json"], ["--by", "day"], ["--by", "week,month"]]),
)
def test_report_windows_never_crash(
    run: Run, report_ledger: Path, command: str, window: list[str], extra: list[str]
) -> None:
    """`--last/--since/--until` turn any text into a window or a usage error (exit 2)."""
    out = cli(run, command, *window, *extra, "--ledger", str(report_ledger))
    assert out.exit_code in (0, 2), out.stderr


@budget(20)
@given(moment=moment_texts(), where=st.sampled_from(["record", "prices", "reprice"]))
def test_at_options_never_crash(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    moment: str,
    where: str,
) -> None:
    """`record --at`, `prices --at` and `reprice --since` take a date or say it is not one."""
    with scratch() as folder:
        ledger = str(folder / "ledger.db")
        if where == "record":
            args = ["record", "-m", "gpt-5", "--input-tokens", "1", "--output-tokens", "1"]
            out = cli(run, *args, f"--at={moment}", "--ledger", ledger)
            if out.exit_code == 0:
                assert sum(ledger_keys(folder / "ledger.db").values()) == 0  # no key, one row
                conn = sqlite3.connect(ledger)
                assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
                conn.close()
        elif where == "prices":
            out = cli(run, "prices", f"--at={moment}", "--json")
        else:
            out = cli(
                run, "prices", "reprice", f"--since={moment}", "--dry-run", "--ledger", ledger
            )
        assert out.exit_code in (0, 2, 4), out.stderr


@budget(20)
@given(
    now=moment_texts().filter(lambda text: "\x00" not in text),  # no NUL in an environment
    command=st.sampled_from(
        [
            ["report", "--last", "7d"],
            ["log"],
            ["prices"],
            ["pick", "refactor auth", "--no-log"],
            ["budget", "list"],
            ["record", "-m", "gpt-5", "--input-tokens", "1", "--output-tokens", "1"],
        ]
    ),
)
def test_clock_variable_never_crashes(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    now: str,
    command: list[str],
) -> None:
    """TOKENROUTE_NOW of any value is a moment or a one-line error, never a crash."""
    with scratch() as folder, environment("TOKENROUTE_NOW", now):
        ledger = (
            ["--ledger", str(folder / "ledger.db")]
            if command[0] in ("report", "log", "record")
            else []
        )
        out = cli(run, *command, *ledger)
    assert out.exit_code in (0, 2, 3, 4), out.stderr
    assert os.environ["TOKENROUTE_NOW"] == PINNED_NOW


# ------------------------------------------------------------------ 2. record's JSON lines

GOOD_USAGES: list[dict[str, Any]] = [
    {"prompt_tokens": 120, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 20}},
    {"input_tokens": 50, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 10}},
    {
        "input_tokens": 10,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
        "output_tokens": 7,
    },
    {
        "promptTokenCount": 300,
        "candidatesTokenCount": 40,
        "cachedContentTokenCount": 100,
        "thoughtsTokenCount": 12,
    },
]
GOOD_MODELS = ["gpt-5", "gpt-4.1", "claude-sonnet-4-5", "gemini-2.5-flash", "unknown-model-x"]


def good_record(index: int, variant: int) -> dict[str, Any]:
    """A line that must be stored: fields or a provider's usage object, a unique key."""
    line: dict[str, Any] = {
        "model": GOOD_MODELS[variant % len(GOOD_MODELS)],
        "source_key": f"good-{index}",
        "timestamp": f"2026-11-{10 + index % 10:02d}T10:00:00Z",
    }
    if variant % 5 == 4:
        line.update(input_tokens=1000 + index, output_tokens=10, tags=["fuzz"])
    else:
        line["usage"] = GOOD_USAGES[variant % len(GOOD_USAGES)]
    return line


BAD_RECORD_FIELDS = [
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning_tokens",
    "timestamp",
    "status",
    "latency_ms",
    "tags",
    "tag",
    "estimated",
    "batch",
    "task_id",
    "task_type",
    "project",
    "usage",
    "model_answered",
    "unknown_field",
]


@st.composite
def bad_record_line(draw: st.DrawFn, index: int) -> bytes:
    """A line to reject (or at most store under its own key): mutated fields, mutated usage
    objects, hostile timestamps, or byte-level junk."""
    kind = draw(st.sampled_from(["field", "usage", "timestamp", "tree", "raw"]))
    base = good_record(index, draw(st.integers(0, 9)))
    base["source_key"] = f"bad-{index}"
    if kind == "raw":
        return draw(raw_bad_lines())
    if kind == "field":
        base[draw(st.sampled_from(BAD_RECORD_FIELDS))] = draw(nasty_values())
    elif kind == "usage":
        usage, _ = draw(mutated_tree(draw(st.sampled_from(GOOD_USAGES)), raw=False))
        base["usage"] = usage
    elif kind == "timestamp":
        base["timestamp"] = draw(moment_texts())
    else:
        base, _ = draw(mutated_tree(base, raw=False))
        if isinstance(base, dict) and str(base.get("source_key", "")).startswith("good-"):
            base["source_key"] = f"bad-{index}"
    return dumps(base, ascii_only=draw(st.booleans())).replace(b"\n", b" ")


@st.composite
def record_stdin(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """Good and bad lines shuffled together; the good lines' keys."""
    goods = [dumps(good_record(i, draw(st.integers(0, 9)))) for i in range(draw(st.integers(0, 4)))]
    bads = [draw(bad_record_line(i)) for i in range(draw(st.integers(1, 4)))]
    lines = draw(st.permutations([*goods, *bads]))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + ending, [f"good-{i}" for i in range(len(goods))]


@budget(15)
@given(case=record_stdin(), defaults=st.sampled_from([[], ["--task-type", "code"], ["--json"]]))
def test_record_lines_keep_every_good_line(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    case: tuple[bytes, list[str]],
    defaults: list[str],
) -> None:
    """A malformed line is rejected alone: every good line beside it is stored exactly once."""
    stdin, good_keys = case
    with scratch() as folder:
        ledger = folder / "ledger.db"
        out = cli(run, "record", "--ledger", str(ledger), *defaults, stdin=stdin)
        assert out.exit_code in (0, 3), out.stderr
        stored = ledger_keys(ledger)
    lost = {key: stored.get(key, 0) for key in good_keys if stored.get(key, 0) != 1}
    assert not lost, f"good lines not stored exactly once: {lost}\nstderr: {out.stderr[-1500:]}"


@budget(20)
@given(line=st.one_of(st.sampled_from(RAW_BAD_LINES), bad_record_line(0)))
def test_record_one_hostile_line(
    run: Run, scratch: Callable[[], contextlib.AbstractContextManager[Path]], line: bytes
) -> None:
    """One hostile line alone: stored (exit 0) or rejected with exit 3, never a crash."""
    with scratch() as folder:
        out = cli(run, "record", "--ledger", str(folder / "ledger.db"), stdin=line + b"\n")
    assert out.exit_code in (0, 3), out.stderr


# ------------------------------------------------------------------ 3. price tables


def _shipped_trees() -> list[tuple[str, Any]]:
    return [(path.name, load_yaml_file(path)) for path in SHIPPED_TABLES]


SHIPPED_TREES = _shipped_trees()
TABLE_DOCUMENTS = st.sampled_from(SHIPPED_TREES).flatmap(
    lambda named: st.tuples(st.just(named[0]), yaml_documents(named[1]))
)


@budget(10)
@given(
    document=TABLE_DOCUMENTS,
    then=st.sampled_from(
        [
            ["pick", "refactor auth", "--no-log"],
            ["report"],
            ["prices", "--json"],
            ["prices", "show", "grok-4"],
            ["estimate", "-"],
        ]
    ),
)
def test_bad_user_price_table_is_one_line_error(
    run: Run,
    isolated_home: Path,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    document: tuple[str, bytes],
    then: list[str],
) -> None:
    """A bad table in the user's price folder: `prices check` names it, other commands fail
    with one line (exit 3) or work; a table `prices check` passes is usable."""
    name, blob = document
    prices = isolated_home / "prices"
    shutil.rmtree(prices, ignore_errors=True)
    prices.mkdir(parents=True)
    (prices / name).write_bytes(blob)
    checked = cli(run, "prices", "check", checker=True)
    assert checked.exit_code in (0, 3), checked.stdout
    with scratch() as folder:
        ledger = ["--ledger", str(folder / "ledger.db")] if then[0] == "report" else []
        out = cli(run, *then, *ledger, stdin="hello world" if then[0] == "estimate" else None)
    if checked.exit_code == 0:
        assert out.exit_code in (0, 4), f"check passed but {then} failed: {out.stderr}"
    else:
        assert out.exit_code in (0, 3, 4), out.stderr


@budget(15)
@given(document=TABLE_DOCUMENTS)
def test_prices_check_of_a_named_file(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    document: tuple[str, bytes],
) -> None:
    """`prices check FILE` lists a bad file's problems (exit 3) without crashing."""
    name, blob = document
    with scratch() as folder:
        path = folder / name
        path.write_bytes(blob)
        out = cli(run, "prices", "check", str(path), checker=True)
    assert out.exit_code in (0, 3), out.stdout


# ------------------------------------------------------------------ 4. policy, 5. config

POLICY_TREE = load_yaml_file(SHIPPED_POLICY)
CONFIG_TREE = yaml.safe_load(CONFIG_TEXT)


@budget(15)
@given(document=yaml_documents(POLICY_TREE))
def test_bad_policy_is_one_line_error(run: Run, isolated_home: Path, document: bytes) -> None:
    """A broken user policy makes `pick` fail with one line naming it (exit 3), not crash."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "policy.yaml").write_bytes(document)
    out = cli(run, "pick", "refactor auth", "--no-log")
    assert out.exit_code in (0, 3), out.stderr


@budget(15)
@given(
    document=yaml_documents(CONFIG_TREE),
    command=st.sampled_from(
        [
            ["config", "show", "--json"],
            ["config", "show"],
            ["run", "-m", "gpt-5-mini", "--dry-run", "hello"],
            ["doctor"],
        ]
    ),
)
def test_bad_config_is_one_line_error(
    run: Run, isolated_home: Path, document: bytes, command: list[str]
) -> None:
    """A broken config file is a one-line error (exit 3) for every command that reads it."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.yaml").write_bytes(document)
    out = cli(run, *command, checker=command == ["doctor"])
    assert out.exit_code in (0, 2, 3, 4, 9), out.stderr


# ------------------------------------------------------------------ 6. agent logs


def claude_line(message_id: str, uuid: str, output: int) -> dict[str, Any]:
    return assistant(message_id, f"req-{uuid}", output, uuid=uuid)


def string_paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[list[Any]]:
    """The paths of every text leaf of a tree: where a lone surrogate can hide."""
    if isinstance(tree, str):
        return [list(prefix)]
    items = (
        tree.items()
        if isinstance(tree, dict)
        else enumerate(tree)
        if isinstance(tree, list)
        else []
    )
    return [path for key, value in items for path in string_paths(value, (*prefix, key))]


@st.composite
def bad_log_line(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    """A log line mutated in its tree (never reusing a good key), a text field holding a lone
    surrogate, or byte-level junk."""
    kind = draw(st.sampled_from(["raw", "surrogate", "tree"]))
    if kind == "raw":
        return draw(raw_bad_lines())
    if kind == "surrogate":
        tree = _set(
            copy.deepcopy(template),
            draw(st.sampled_from(string_paths(template))),
            draw(st.sampled_from(LONE_SURROGATES)),
        )
        return dumps(tree)
    tree, _ = draw(mutated_tree(template, raw=False))
    return dumps(tree, ascii_only=draw(st.booleans())).replace(b"\n", b" ")


@st.composite
def claude_file(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    goods = [
        dumps(claude_line(f"msg_good_{i}", f"u-good-{i}", 5 + i))
        for i in range(draw(st.integers(1, 4)))
    ]
    bads = [
        draw(bad_log_line(claude_line(f"msg_bad_{i}", f"u-bad-{i}", 3)))
        for i in range(draw(st.integers(1, 4)))
    ]
    lines = draw(st.permutations([*goods, *bads]))
    return b"\n".join(lines) + b"\n", [f"msg_good_{i}" for i in range(len(goods))]


@budget(10)
@given(case=claude_file())
def test_claude_code_import_keeps_good_lines(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    case: tuple[bytes, list[str]],
) -> None:
    """Bad Claude Code lines are named and skipped; each good call is stored once, also after
    a second import."""
    blob, good_keys = case
    with scratch() as folder:
        session = folder / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
        session.parent.mkdir(parents=True)
        session.write_bytes(blob)
        ledger = folder / "ledger.db"
        args = (
            "import",
            "claude-code",
            "--path",
            str(folder / "projects"),
            "--ledger",
            str(ledger),
        )
        first = cli(run, *args, checker=True)
        assert first.exit_code in (0, 3), first.stderr
        second = cli(run, *args, checker=True)
        assert second.exit_code in (0, 3), second.stderr
        stored = ledger_keys(ledger, "claude-code")
    lost = {key: stored.get(key, 0) for key in good_keys if stored.get(key, 0) != 1}
    assert not lost, f"good calls not stored exactly once: {lost}\n{first.stderr[-1500:]}"


def codex_event(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": "2026-11-20T10:00:00Z", "type": kind, "payload": payload}


def codex_count(total: tuple[int, int], last: tuple[int, int]) -> dict[str, Any]:
    def counts(pair: tuple[int, int]) -> dict[str, int]:
        return {
            "input_tokens": pair[0],
            "cached_input_tokens": 0,
            "output_tokens": pair[1],
            "reasoning_output_tokens": 0,
        }

    info = {"total_token_usage": counts(total), "last_token_usage": counts(last)}
    return codex_event("event_msg", {"type": "token_count", "info": info})


@st.composite
def codex_file(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    head = [
        dumps(codex_event("session_meta", {"id": CODEX_SESSION, "cwd": "/home/dev/w"})),
        dumps(codex_event("turn_context", {"model": "gpt-5", "cwd": "/home/dev/w"})),
    ]
    turns = draw(st.integers(1, 4))
    totals = [(1_000_003 * (i + 1), 70_001 * (i + 1)) for i in range(turns)]
    goods = [dumps(codex_count(total, (1_000_003, 70_001))) for total in totals]
    template = codex_count((3, 1), (3, 1))
    bads = [draw(bad_log_line(template)) for _ in range(draw(st.integers(1, 4)))]
    # the good turns stay in order (running totals); bad lines go anywhere between them
    body: list[bytes] = list(goods)
    for bad in bads:
        body.insert(draw(st.integers(0, len(body))), bad)
    keys = [f"{CODEX_SESSION}:{t[0]}:{t[1]}" for t in totals]
    return b"\n".join(head + body) + b"\n", keys


@budget(10)
@given(case=codex_file())
def test_codex_import_keeps_good_lines(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    case: tuple[bytes, list[str]],
) -> None:
    """Bad Codex lines are named and skipped; each good turn is stored once."""
    blob, good_keys = case
    with scratch() as folder:
        day = folder / "sessions" / "2026" / "11" / "20"
        day.mkdir(parents=True)
        (day / f"rollout-2026-11-20T10-00-00-{CODEX_SESSION}.jsonl").write_bytes(blob)
        ledger = folder / "ledger.db"
        args = ("import", "codex", "--path", str(folder / "sessions"), "--ledger", str(ledger))
        first = cli(run, *args, checker=True)
        assert first.exit_code in (0, 3), first.stderr
        second = cli(run, *args, checker=True)
        assert second.exit_code in (0, 3), second.stderr
        stored = ledger_keys(ledger, "codex")
    lost = {key: stored.get(key, 0) for key in good_keys if stored.get(key, 0) != 1}
    assert not lost, f"good turns not stored exactly once: {lost}\n{first.stderr[-1500:]}"


LLM_RESPONSES = """CREATE TABLE responses (id TEXT PRIMARY KEY, model TEXT, prompt TEXT,
    system TEXT, prompt_json TEXT, options_json TEXT, response TEXT, response_json TEXT,
    conversation_id TEXT, duration_ms INTEGER, datetime_utc TEXT, input_tokens INTEGER,
    output_tokens INTEGER, token_details TEXT, schema_id TEXT, resolved_model TEXT)"""
LLM_COLUMNS = [
    "model",
    "conversation_id",
    "duration_ms",
    "datetime_utc",
    "input_tokens",
    "output_tokens",
    "token_details",
    "resolved_model",
    "response_json",
]
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def column_values() -> st.SearchStrategy[Any]:
    """What a corrupted or foreign logs.db can hold in a column: any SQLite type."""
    return st.one_of(
        st.none(),
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from([2**63 - 1, -(2**63), -1, 0]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.binary(max_size=20),
        st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"\xc3("]),
        st.text(max_size=20),
        st.sampled_from(
            [
                DEEP_JSON,
                "{" * 50_000,
                '{"prompt_tokens_details": {"cached_tokens": "x"}}',
                '{"prompt_tokens_details": [1, 2]}',
                '{"cache_read_input_tokens": -5}',
                '{"cache_read_input_tokens": 1e400}',
                '{"cache_read_input_tokens": ' + HUGE_DIGITS + "}",
                '{"usage": {"prompt_tokens": NaN}}',
                "[]",
                "null",
                "not json",
                "2026-02-30T10:00:00",
                "9999-12-31T23:59:59",
                "0001-01-01T00:00:00",
                *LONE_SURROGATES,
            ]
        ),
    )


@st.composite
def llm_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Good rows and rows with one to three hostile columns, in any order."""
    rows: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 3))):
        rows.append(
            {
                "id": f"good-{i}",
                "model": "gpt-4.1",
                "conversation_id": "c1",
                "duration_ms": 900,
                "datetime_utc": "2026-11-20T10:00:00.123456",
                "input_tokens": 1200,
                "output_tokens": 80,
                "token_details": json.dumps({"prompt_tokens_details": {"cached_tokens": 1000}}),
            }
        )
    for i in range(draw(st.integers(1, 3))):
        row = {**rows[0], "id": f"bad-{i}"}
        for column in draw(st.lists(st.sampled_from(LLM_COLUMNS), min_size=1, max_size=3)):
            row[column] = draw(column_values())
        rows.append(row)
    return draw(st.permutations(rows))


def _sqlite_value(value: Any) -> Any:
    """Text stays text unless it holds a lone surrogate, which only a blob can carry."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value


def write_logs_db(path: Path, rows: list[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(LLM_RESPONSES)
        for row in rows:
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            values = [_sqlite_value(value) for value in row.values()]
            conn.execute(f"INSERT INTO responses ({columns}) VALUES ({marks})", values)
    conn.close()


@budget(10)
@given(
    rows=llm_rows(), folder_name=st.sampled_from(["plain", "a#b", "what?", "100%", "%41", "sp ace"])
)
def test_llm_import_keeps_good_rows(
    run: Run,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    rows: list[dict[str, Any]],
    folder_name: str,
) -> None:
    """Hostile column values are rejected row by row; every good row is stored once, wherever
    the logs.db lives."""
    with scratch() as folder:
        db = folder / folder_name / "logs.db"
        db.parent.mkdir()
        write_logs_db(db, rows)
        ledger = folder / "ledger.db"
        out = cli(run, "import", "llm", "--path", str(db), "--ledger", str(ledger), checker=True)
        assert out.exit_code in (0, 3), out.stderr
        stored = ledger_keys(ledger, "llm")
    good = [row["id"] for row in rows if str(row["id"]).startswith("good-")]
    lost = {k: stored.get(f"llm-{k}", 0) for k in good if stored.get(f"llm-{k}", 0) != 1}
    assert not lost, f"good rows not stored exactly once: {lost}\n{out.stderr[-1500:]}"


LITELLM_TREE = json.loads(LITELLM.read_text(encoding="utf-8"))


def litellm_documents() -> st.SearchStrategy[bytes]:
    tree = mutated_tree(LITELLM_TREE, raw=False).map(lambda pair: dumps(pair[0], ascii_only=True))
    raw = st.sampled_from(
        [
            b"[" * 100_000,
            b'{"m": {"input_cost_per_token": ' + HUGE_DIGITS.encode() + b"}}",
            b'{"m": {"input_cost_per_token": NaN, "output_cost_per_token": Infinity, "mode": "chat"}}',
            b'{"m": {"input_cost_per_token": 1e-400, "output_cost_per_token": 1e400, "mode": "chat"}}',
            b'{"\\ud800": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "mode": "chat", "litellm_provider": "openai"}}',
            b'{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "mode": "chat", "litellm_provider": "\\udfff"}}',
            b"\xff\xfe",
            b"",
            b"[]",
            b"null",
        ]
    )
    return st.one_of(tree, raw)


@budget(10)
@given(document=litellm_documents(), day=st.sampled_from(["2026-11-01", "2026-11-23"]))
def test_litellm_import_never_writes_an_unusable_table(
    run: Run,
    isolated_home: Path,
    scratch: Callable[[], contextlib.AbstractContextManager[Path]],
    document: bytes,
    day: str,
) -> None:
    """A mangled LiteLLM file is refused with one line (exit 3) or imported into a table the
    next command can read."""
    shutil.rmtree(isolated_home / "prices", ignore_errors=True)
    with scratch() as folder:
        source = folder / "model_prices_and_context_window.json"
        source.write_bytes(document)
        out = cli(run, "prices", "import", str(source), "--from", day)
    assert out.exit_code in (0, 3), out.stderr
    after = cli(run, "prices", "--json")
    if out.exit_code == 0:
        assert after.exit_code == 0, f"import succeeded but the table is unusable: {after.stderr}"


@budget(20)
@given(
    headers=st.text(max_size=60).filter(lambda text: "\x00" not in text),
    flag=st.text(max_size=30).filter(lambda text: "\x00" not in text),
    endpoint=st.one_of(
        st.text(max_size=40).filter(lambda text: "\x00" not in text),
        st.builds(lambda rest: f"http://{rest}", st.text(max_size=30)),
    ),
)
def test_export_options_never_crash(run: Run, headers: str, flag: str, endpoint: str) -> None:
    """Any OTEL_EXPORTER_OTLP_HEADERS, --header and --endpoint text is a dry run or a
    one-line usage error; a dry run never prints a header's value."""
    with environment("OTEL_EXPORTER_OTLP_HEADERS", headers):
        args = ["export", "otlp", "--endpoint", endpoint, "--header", flag, "--dry-run"]
        out = cli(run, *args)
    assert out.exit_code in (0, 2), out.stderr
    value = flag.partition("=")[2].strip()
    if out.exit_code == 0 and len(value) > 3:
        assert value not in out.stdout


@budget(20)
@given(value=nasty_values())
def test_config_team_settings_are_a_value_or_one_line(
    run: Run, isolated_home: Path, value: Any
) -> None:
    """`user`, `otlp_endpoint` and `otlp_headers` of any shape in the config: used, or one
    line saying which setting is wrong (exit 3), never a crash."""
    for key in ("user", "otlp_endpoint", "otlp_headers"):
        isolated_home.mkdir(exist_ok=True)
        (isolated_home / "config.yaml").write_text(yaml.safe_dump({key: value}))
        out = cli(run, "config", "show", "--json")
        assert out.exit_code in (0, 3), out.stderr
