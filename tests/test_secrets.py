"""No API key, URL password or header value leaves tokenroute, by any command or file.

Every command runs with distinctive secrets in force: keys in the environment, in a custom
endpoint's `key_env` and in the keys file; passwords in OPENAI_BASE_URL, ANTHROPIC_BASE_URL
and every `base_url` of the config, all pointing at the local fake provider. stdout, stderr
and every file tokenroute keeps besides the config and the keys file (the ledger, its WAL,
the cache) are searched for any 8 characters of a secret in a row. The keys file itself
must be a plain file of mode 0600 that is never followed through a link or waited on.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Outcome, assert_one_line_error, write
from fakeprovider import FakeProvider, Reply

from tokenroute.errors import ExitCode

ENV_KEYS = {
    "OPENAI_API_KEY": "sk-SECRETKEY-7f3a9c",
    "ANTHROPIC_API_KEY": "sk-ant-ANTKEYSEC-2b8e4d",
    "GEMINI_API_KEY": "AIzaGEMKEYSEC-5c1f0a",
    "WORK_API_TOKEN": "wk-WORKTOKEN-b5c8e1",  # a custom endpoint's key_env, in no key shape
}
STORED_KEY = "kf-STOREDKEY-3e9a17"  # xai's key, in the keys file
NEW_KEY = "kn-NEWKEYSET-4d7e2a"  # given to `keys set`
USER = "user"
ENV_PASSWORD = "PW-q7Zx3Kd9"  # in OPENAI_BASE_URL and ANTHROPIC_BASE_URL
CONFIG_PASSWORD = "CFGPW-m4Rt8Wv2"  # in every base_url of the config
HEADER_VALUE = "HDR-j6Ny2Pq5w"
ELSEWHERE_KEY = "ke-ELSEWHERE-8c2f5b"  # in a file a planted link points at
SECRETS = {
    **ENV_KEYS,
    "keys file key": STORED_KEY,
    "key given to keys set": NEW_KEY,
    "URL password (environment)": ENV_PASSWORD,
    "URL password (config)": CONFIG_PASSWORD,
    "header value": HEADER_VALUE,
    "key in a linked file": ELSEWHERE_KEY,
}
WINDOW = 8  # this many characters of a secret in a row is a leak


def _needles() -> dict[str, str]:
    """Every run of WINDOW characters of each secret, and the Basic auth header httpx builds
    from a URL's user and password."""
    found = {}
    for name, secret in SECRETS.items():
        for i in range(len(secret) - WINDOW + 1):
            found.setdefault(secret[i : i + WINDOW], name)
    for password in (ENV_PASSWORD, CONFIG_PASSWORD):
        found[base64.b64encode(f"{USER}:{password}".encode()).decode()] = "Basic auth header"
    return found


NEEDLES = _needles()
ANY_NEEDLE = re.compile("|".join(re.escape(n) for n in sorted(NEEDLES, key=len, reverse=True)))


def leaks(text: str) -> list[str]:
    """Each leaking line, the secret shown as <SECRET>, and which secret it is."""
    if not ANY_NEEDLE.search(text):  # one pass over the text; lines only when it leaks
        return []
    found = []
    for line in text.splitlines():
        names = {name for needle, name in NEEDLES.items() if needle in line}
        if names:
            masked = line
            for secret in SECRETS.values():
                masked = masked.replace(secret, "<SECRET>")
            found.append(f"{', '.join(sorted(names))}: {masked.strip()[:300]}")
    return found


def assert_clean(where: str, text: str | bytes) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1").replace("\x00", "\n")
    found = leaks(text)
    assert not found, f"secret in {where}:\n" + "\n".join(found)


def _closed_port() -> socket.socket:
    """A port bound but never listening: connections are refused, and for as long as the
    socket is held no other test's server can take the port (a closed one could be)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class World:
    server: FakeProvider
    home: Path
    dead: socket.socket

    @property
    def host(self) -> str:
        return self.server.url.removeprefix("http://")

    def url(self, password: str, path: str = "", host: str | None = None) -> str:
        return f"http://{USER}:{password}@{host or self.host}{path}"

    def dead_url(self, password: str, path: str = "") -> str:
        return self.url(password, path, f"127.0.0.1:{self.dead.getsockname()[1]}")

    def configure(self, **extra: dict) -> None:
        """Every built-in endpoint and one custom one behind a password in the config."""
        v1 = self.url(CONFIG_PASSWORD, "/v1")
        endpoints = {
            "google": {"base_url": self.url(CONFIG_PASSWORD)},
            **{name: {"base_url": v1} for name in ("xai", "deepseek", "mistral", "openrouter")},
            **{name: {"base_url": v1} for name in ("ollama", "llamacpp", "vllm", "lmstudio")},
            "work": {"protocol": "openai", "base_url": v1, "key_env": "WORK_API_TOKEN"},
            **extra,
        }
        settings = {"retries": 0, "retry_base": 0.01, "max_wait": 1, "timeout": 5}
        write(self.home / "config.yaml", json.dumps({**settings, "endpoints": endpoints}))

    @property
    def keys(self) -> Path:
        return self.home / "keys.json"


def write_keys_file(path: Path, keys: dict[str, str], mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(keys, handle)
    os.chmod(path, mode)


@pytest.fixture
def world(isolated_home, monkeypatch):
    server = FakeProvider()
    state = World(server, isolated_home, _closed_port())
    monkeypatch.setenv("OPENAI_BASE_URL", state.url(ENV_PASSWORD, "/v1"))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", state.url(ENV_PASSWORD))
    for name, value in ENV_KEYS.items():
        monkeypatch.setenv(name, value)
    state.configure()
    write_keys_file(state.keys, {"xai": STORED_KEY})
    yield state
    server.close()
    state.dead.close()


def assert_home_clean(home: Path) -> None:
    """Every file tokenroute keeps, bar the two that hold secrets on purpose; the ledger also
    column by column, so text SQLite stores out of line or compressed is seen too."""
    kept = {home / "config.yaml", home / "keys.json"}
    files = sorted(p for p in home.rglob("*") if p.is_file() and not p.is_symlink())
    for path in files:  # raw bytes first: opening the ledger may checkpoint its WAL
        if path not in kept:
            assert_clean(str(path.relative_to(home)), path.read_bytes())
    ledger = home / "ledger.db"
    if ledger.exists():
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        if isinstance(value, str | bytes):
                            assert_clean(f"ledger table {table}", value)
        finally:
            conn.close()


def assert_no_leak(world: World, *outcomes: Outcome) -> None:
    for outcome in outcomes:
        assert_clean("stdout", outcome.stdout)
        assert_clean("stderr", outcome.stderr)
    assert_home_clean(world.home)


def process(*args: str, input: str | None = None, timeout: float = 30) -> Outcome:
    """The CLI as its own process: whatever reaches the real stdout and stderr, and a hang
    fails the test instead of blocking the suite."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tokenroute", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"'tokenroute {' '.join(args)}' hung for {timeout:g} s")
    return Outcome(done.returncode, done.stdout, done.stderr)


# ---------------------------------------------------------------- run


MODELS = {
    "openai (OPENAI_BASE_URL)": "gpt-5-mini",
    "anthropic (ANTHROPIC_BASE_URL)": "claude-haiku-4-5",
    "google (config)": "gemini-2.5-flash",
    "xai (config, keys file)": "grok-4",
    "custom endpoint (config, key_env)": "work/some-model",
    "local server (config)": "ollama/some-model",
}


@pytest.mark.parametrize("flags", [(), ("--json",)], ids=["plain", "json"])
@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS.keys())
def test_a_run_shows_no_secret(run, world, model, flags):
    out = run("run", "-m", model, "say hello", *flags)
    assert out.exit_code == 0, out.stderr
    assert len(world.server.requests) == 1  # it really went through the passworded address
    assert_no_leak(world, out)


@pytest.mark.parametrize("flags", [(), ("--json",)], ids=["plain", "json"])
@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS.keys())
def test_a_dry_run_shows_no_secret(run, world, model, flags):
    out = run("run", "-m", model, "say hello", "--dry-run", *flags)
    assert out.exit_code == 0, out.stderr
    assert world.server.requests == []
    assert_no_leak(world, out)


def test_a_local_first_run_shows_no_secret(run, world):
    out = run("run", "--local", "--task", "format", "sort these lines")
    assert out.exit_code == 0, out.stderr
    assert_no_leak(world, out)


def _echo(status: int, message: str) -> Reply:
    return Reply(kind="status", status=status, message=message)


FAILURES = {
    "500 echoing the address": (
        "gpt-5-mini",
        lambda w: _echo(500, f"upstream {w.url(ENV_PASSWORD, '/v1')} failed"),
    ),
    "502 echoing the config address": (
        "work/some-model",
        lambda w: _echo(502, f"bad gateway to {w.url(CONFIG_PASSWORD, '/v1')}"),
    ),
    "401 echoing the env key": (
        "gpt-5-mini",
        lambda w: _echo(401, f"Incorrect API key provided: {ENV_KEYS['OPENAI_API_KEY']}"),
    ),
    "401 echoing a key_env key": (
        "work/some-model",
        lambda w: _echo(401, f"invalid token {ENV_KEYS['WORK_API_TOKEN']}"),
    ),
    "401 echoing the keys file key": (
        "grok-4",
        lambda w: _echo(401, f"Incorrect API key provided: {STORED_KEY}"),
    ),
    "403 echoing the anthropic key": (
        "claude-haiku-4-5",
        lambda w: _echo(403, f"key {ENV_KEYS['ANTHROPIC_API_KEY']} may not use this model"),
    ),
    "400 echoing the gemini key": (
        "gemini-2.5-flash",
        lambda w: _echo(400, f"API key not valid: {ENV_KEYS['GEMINI_API_KEY']}"),
    ),
    "dropped connection": ("claude-haiku-4-5", lambda w: Reply(kind="reset")),
    "error event in the stream": ("gemini-2.5-flash", lambda w: Reply(kind="stream_error")),
    "timeout": ("gpt-5-mini", lambda w: Reply(delay=2)),
}


@pytest.mark.parametrize("flags", [(), ("--json",)], ids=["plain", "json"])
@pytest.mark.parametrize("case", FAILURES, ids=FAILURES.keys())
def test_a_failed_run_shows_no_secret(run, world, case, flags):
    model, reply = FAILURES[case]
    world.server.queue(reply(world))
    out = run("run", "-m", model, "say hello", "--timeout", "0.5", *flags)
    assert out.exit_code == ExitCode.PROVIDER, out.stderr
    assert_no_leak(world, out)


def test_connection_refused_at_the_environment_address_shows_no_secret(run, world, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", world.dead_url(ENV_PASSWORD, "/v1"))
    out = run("run", "-m", "gpt-5-mini", "say hello")
    assert out.exit_code == ExitCode.PROVIDER, out.stderr
    assert_no_leak(world, out)


def test_connection_refused_at_a_config_address_shows_no_secret(run, world):
    dead = world.dead_url(CONFIG_PASSWORD, "/v1")
    world.configure(work={"protocol": "openai", "base_url": dead, "key_env": "WORK_API_TOKEN"})
    out = run("run", "-m", "work/some-model", "say hello")
    assert out.exit_code == ExitCode.PROVIDER, out.stderr
    assert_no_leak(world, out)


def test_an_escalation_shows_no_secret(run, world, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", world.dead_url(ENV_PASSWORD, "/v1"))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", world.dead_url(ENV_PASSWORD))
    world.configure(
        **{
            name: {"base_url": world.dead_url(CONFIG_PASSWORD, "/v1")}
            for name in ("xai", "deepseek", "mistral", "openrouter")
        },
        google={"base_url": world.dead_url(CONFIG_PASSWORD)},
    )
    out = run("run", "--tier", "small", "--escalate", "say hello")
    assert out.exit_code == ExitCode.PROVIDER, out.stderr
    assert "escalating" in out.stderr
    assert_no_leak(world, out)


DEBUG_CASES = {
    "success": ("gpt-5-mini", None),
    "dry run": ("work/some-model", None),
    "401 echoing a key_env key": (
        "work/some-model",
        _echo(401, f"invalid token {ENV_KEYS['WORK_API_TOKEN']}"),
    ),
    "connection refused": ("gpt-5-mini", "dead"),
}


@pytest.mark.parametrize("case", DEBUG_CASES, ids=DEBUG_CASES.keys())
def test_debug_shows_no_secret(world, monkeypatch, case):
    """--debug prints tracebacks: their messages must be as clean as the one-line errors.
    A process of its own, so anything logged to the real stderr is seen."""
    model, reply = DEBUG_CASES[case]
    extra = ["--dry-run"] if case == "dry run" else []
    if reply == "dead":
        monkeypatch.setenv("OPENAI_BASE_URL", world.dead_url(ENV_PASSWORD, "/v1"))
    elif reply is not None:
        world.server.queue(reply)
    out = process("--debug", "run", "-m", model, "say hello", *extra)
    assert out.exit_code in (0, ExitCode.PROVIDER), out.stderr
    assert_no_leak(world, out)


# ---------------------------------------------------------------- every other command


def _fill_ledger(run, world: World) -> None:
    """A success and a failure on record, so report and log have rows to show."""
    assert run("run", "-m", "gpt-5-mini", "say hello").exit_code == 0
    world.server.queue(_echo(401, f"Incorrect API key provided: {ENV_KEYS['OPENAI_API_KEY']}"))
    assert run("run", "-m", "work/some-model", "say hello").exit_code == ExitCode.PROVIDER


COMMANDS = [
    ("config", "show"),
    ("config", "show", "--json"),
    ("config", "path"),
    ("keys", "list"),
    ("keys", "list", "--json"),
    ("doctor",),
    ("doctor", "--json"),
    ("doctor", "--local"),
    ("doctor", "--network"),
    ("doctor", "--network", "--local", "--json"),
    ("pick", "refactor auth module"),
    ("pick", "refactor auth module", "--json"),
    ("estimate", "-"),
    ("report",),
    ("report", "--json"),
    ("report", "--csv"),
    ("log",),
    ("log", "--json"),
    ("prices",),
    ("prices", "--json"),
    ("paths",),
    ("paths", "--json"),
    ("budget", "list"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_command_shows_no_secret(run, world, args):
    if args[0] in ("report", "log", "budget"):
        _fill_ledger(run, world)
    out = run(*args, input="the prompt to estimate\n" if args[0] == "estimate" else None)
    assert out.exit_code == 0, (out.stdout, out.stderr)
    assert_no_leak(world, out)


DOCTOR_FAILURES = {
    "local server refuses (config address)": ("--local", None),
    "paid endpoint refuses (environment address)": ("--network", None),
    "401 echoing the key": (
        "--network",
        _echo(401, f"bad key {ENV_KEYS['ANTHROPIC_API_KEY']}"),
    ),
    "500 echoing the address": (
        "--network",
        _echo(500, f"proxy for http://{USER}:{ENV_PASSWORD}@example.com failed"),
    ),
}


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["plain", "json"])
@pytest.mark.parametrize("case", DOCTOR_FAILURES, ids=DOCTOR_FAILURES.keys())
def test_a_failing_doctor_check_shows_no_secret(run, world, monkeypatch, case, json_flag):
    flag, reply = DOCTOR_FAILURES[case]
    if case.startswith("local"):
        world.configure(
            **{"dead-local": {"base_url": world.dead_url(CONFIG_PASSWORD, "/v1"), "local": True}}
        )
    elif case.startswith("paid"):
        monkeypatch.setenv("OPENAI_BASE_URL", world.dead_url(ENV_PASSWORD, "/v1"))
    else:
        world.server.queue(reply)
    out = run("doctor", flag, *json_flag)
    # one local server down is a warning while others answer; a paid one failing fails
    expected = ExitCode.OK if case.startswith("local") else ExitCode.CHECK_FAILED
    assert out.exit_code == expected, out.stdout
    assert_no_leak(world, out)


def test_a_bad_config_value_is_not_echoed(run, world):
    """A base_url the config refuses is named, not quoted: it may hold a password."""
    world.configure(work={"base_url": f"ftp://{USER}:{CONFIG_PASSWORD}@{world.host}"})
    for args in (("config", "show"), ("keys", "list"), ("run", "-m", "work/x", "hi")):
        out = run(*args)
        assert out.exit_code == ExitCode.BAD_INPUT, out.stderr
        assert_no_leak(world, out)
    out = run("doctor")
    assert out.exit_code == ExitCode.CHECK_FAILED
    assert_no_leak(world, out)


def test_a_custom_header_value_is_never_shown(run, world):
    """Endpoints take no custom headers today; whether refused or (later) honoured, the value
    of one must not be printed."""
    world.configure(
        work={
            "base_url": world.url(CONFIG_PASSWORD, "/v1"),
            "headers": {"X-Api-Secret": HEADER_VALUE},
        }
    )
    for args in (
        ("config", "show"),
        ("config", "show", "--json"),
        ("keys", "list"),
        ("doctor", "--local"),
        ("run", "-m", "work/some-model", "hi", "--dry-run"),
        ("run", "-m", "work/some-model", "hi", "--dry-run", "--json"),
        ("run", "-m", "work/some-model", "hi"),
    ):
        assert_no_leak(world, run(*args))


# ---------------------------------------------------------------- keys set / remove


def test_keys_set_and_remove_show_no_secret_and_keep_the_file_0600(run, world):
    out = run("keys", "set", "openrouter", input=NEW_KEY + "\n")
    assert out.exit_code == 0, out.stderr
    assert json.loads(world.keys.read_text())["openrouter"] == NEW_KEY
    assert stat.S_IMODE(world.keys.stat().st_mode) == 0o600
    listed = run("keys", "list")
    removed = run("keys", "remove", "openrouter")
    assert removed.exit_code == 0, removed.stderr
    assert stat.S_IMODE(world.keys.stat().st_mode) == 0o600
    assert_no_leak(world, out, listed, removed)
    assert not (world.home / "keys.json.tmp").exists()


@pytest.mark.parametrize(
    "given", [NEW_KEY + " trailing words", NEW_KEY + "\u201d"], ids=["space", "smart quote"]
)
def test_a_key_keys_set_refuses_is_not_echoed(run, world, given):
    out = run("keys", "set", "openrouter", input=given + "\n")
    assert_one_line_error(out, ExitCode.BAD_INPUT)
    assert_no_leak(world, out)


# ---------------------------------------------------------------- the keys file itself


def _refused(out: Outcome, world: World, command: tuple[str, ...]) -> None:
    """A keys file tokenroute will not trust: one line naming it (exit 3), or for doctor a
    failing check (exit 9); nothing sent, nothing shown."""
    if command[0] == "doctor":
        assert out.exit_code == ExitCode.CHECK_FAILED, out.stdout
        failed = [c for c in json.loads(out.stdout)["checks"] if c["status"] == "fail"]
        assert [c["area"] for c in failed] == ["keys"], failed
        assert "Traceback" not in out.stderr
    else:
        assert_one_line_error(out, ExitCode.BAD_INPUT, "keys.json")
    assert world.server.requests == []
    assert_clean("stdout", out.stdout)
    assert_clean("stderr", out.stderr)


KEY_COMMANDS = {
    "keys list": (("keys", "list"), None),
    "keys set": (("keys", "set", "openrouter"), NEW_KEY + "\n"),
    "keys remove": (("keys", "remove", "xai"), None),
    "run": (("run", "-m", "grok-4", "say hello"), None),
    "doctor": (("doctor", "--json"), None),
}


@pytest.mark.parametrize("name", KEY_COMMANDS, ids=KEY_COMMANDS.keys())
def test_the_keys_file_is_not_followed_through_a_symlink(run, world, tmp_path, name):
    """A link planted at the keys path could send a key to, or read one from, a file the
    user never chose."""
    target = tmp_path / "elsewhere" / "keys.json"
    write_keys_file(target, {"xai": ELSEWHERE_KEY})
    before = target.read_bytes()
    world.keys.unlink()
    world.keys.symlink_to(target)
    args, given = KEY_COMMANDS[name]
    out = run(*args, input=given)
    _refused(out, world, args)
    assert target.read_bytes() == before
    assert world.keys.is_symlink()  # left as it was found


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666], ids=oct)
def test_keys_list_refuses_a_keys_file_others_can_read_or_write(run, world, mode):
    os.chmod(world.keys, mode)
    _refused(run("keys", "list"), world, ("keys", "list"))
    assert stat.S_IMODE(world.keys.stat().st_mode) == mode


@pytest.mark.parametrize("name", KEY_COMMANDS, ids=KEY_COMMANDS.keys())
def test_every_reader_refuses_a_keys_file_of_mode_0644(run, world, name):
    os.chmod(world.keys, 0o644)
    before = world.keys.read_bytes()
    args, given = KEY_COMMANDS[name]
    _refused(run(*args, input=given), world, args)
    assert world.keys.read_bytes() == before


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
@pytest.mark.parametrize("name", ["keys set", "keys remove"])
def test_writing_the_keys_file_does_not_follow_a_link_at_its_temporary_path(
    run, world, tmp_path, name, dangling
):
    """keys.py writes keys.json.tmp and renames it: a link planted there must not receive
    the keys, be given mode 0600, nor become the keys file."""
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("not yours\n")
        os.chmod(victim, 0o644)
    (world.home / "keys.json.tmp").symlink_to(victim)
    args, given = KEY_COMMANDS[name]
    out = run(*args, input=given)
    if dangling:
        assert not victim.exists(), victim.read_text()
    else:
        assert victim.read_text() == "not yours\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not world.keys.is_symlink()
    assert stat.S_IMODE(world.keys.stat().st_mode) == 0o600
    if out.exit_code:
        assert_one_line_error(out, ExitCode.BAD_INPUT)
    else:
        assert (name == "keys set") == (NEW_KEY in world.keys.read_text())
    assert_clean("stderr", out.stderr)


FIFO_COMMANDS = {
    "keys list": (("keys", "list"), None),
    "keys set": (("keys", "set", "openrouter"), NEW_KEY + "\n"),
    "run": (("run", "-m", "gpt-5-mini", "say hello"), None),
    "doctor": (("doctor", "--json"), None),
}


@pytest.mark.parametrize("name", FIFO_COMMANDS, ids=FIFO_COMMANDS.keys())
def test_a_fifo_at_the_keys_path_is_refused_without_hanging(world, name):
    """Opening a FIFO blocks until someone writes to it: the check must come first."""
    world.keys.unlink()
    os.mkfifo(world.keys, 0o600)
    args, given = FIFO_COMMANDS[name]
    _refused(process(*args, input=given, timeout=5), world, args)


def test_keys_set_does_not_hang_on_a_fifo_at_the_temporary_path(world):
    os.mkfifo(world.home / "keys.json.tmp", 0o600)
    out = process("keys", "set", "openrouter", input=NEW_KEY + "\n", timeout=5)
    if out.exit_code:
        assert_one_line_error(out, ExitCode.BAD_INPUT)
    assert not world.keys.is_symlink() and stat.S_ISREG(world.keys.stat().st_mode)
