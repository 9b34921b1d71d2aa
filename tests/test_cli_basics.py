"""Version, help, paths, `python -m`, and the error boundary."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import assert_one_line_error

from tokenroute import __version__
from tokenroute.errors import ExitCode


def test_version(run):
    out = run("--version")
    assert (out.exit_code, out.stdout) == (0, f"tokenroute {__version__}\n")


def test_help_lists_every_command(run):
    out = run("--help")
    assert out.exit_code == 0
    for command in ("prices", "estimate", "paths", "completions"):
        assert f"  {command} " in out.stdout


def entry_output(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """What the installed `tokenroute` command prints, run in this process."""
    from tokenroute.cli.entry import main

    monkeypatch.setattr(sys, "argv", ["tokenroute", *argv])
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = 0
    return code, capsys.readouterr().out


def test_the_quick_help_screen_is_the_full_apps(capsys, monkeypatch):
    """`tokenroute --help` builds commands without their options; the screen must not change."""
    import typer

    from tokenroute.cli.app import PROG, app

    full_app = typer.main.get_command(app)
    with full_app.make_context(PROG, ["--help"], resilient_parsing=True) as ctx:
        full = ctx.get_help() + "\n"
    assert entry_output(["--help"], capsys, monkeypatch) == (0, full)
    assert entry_output([], capsys, monkeypatch) == (0, full)
    assert entry_output(["--version"], capsys, monkeypatch) == (0, f"tokenroute {__version__}\n")


def test_help_creates_nothing(run, isolated_home):
    run("--help")
    run("prices", "--help")
    run("paths")
    assert not isolated_home.exists()


def test_paths_follow_tokenroute_home(run, isolated_home):
    body = json.loads(run("paths", "--json").stdout)
    assert body["paths"] == {
        "ledger": str(isolated_home / "ledger.db"),
        "config": str(isolated_home / "config.yaml"),
        "keys": str(isolated_home / "keys.json"),
        "prices": str(isolated_home / "prices"),
        "policy": str(isolated_home / "policy.yaml"),
        "cache": str(isolated_home / "cache"),
        "budgets": str(isolated_home / "budgets.json"),
    }
    lines = run("paths").stdout.splitlines()
    assert lines[0].split() == ["ledger", str(isolated_home / "ledger.db")]


def test_paths_without_tokenroute_home_use_the_platform_dirs(run, monkeypatch, tmp_path):
    monkeypatch.delenv("TOKENROUTE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    body = json.loads(run("paths", "--json").stdout)["paths"]
    assert body["ledger"] == str(tmp_path / "data" / "tokenroute" / "ledger.db")
    assert body["keys"] == str(tmp_path / "config" / "tokenroute" / "keys.json")


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "tokenroute", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == f"tokenroute {__version__}\n"


def test_unknown_command_is_a_usage_error(run):
    assert_one_line_error(run("frobnicate"), ExitCode.USAGE, "No such command")


def test_unknown_option_is_a_usage_error(run):
    assert_one_line_error(run("prices", "--colour"), ExitCode.USAGE, "--colour")


def test_completions_for_an_unknown_shell(run):
    assert_one_line_error(run("completions", "tcsh"), ExitCode.USAGE, "bash, zsh, fish")


def test_debug_shows_the_traceback(run):
    out = run("--debug", "prices", "--at", "nope")
    assert out.exit_code == ExitCode.USAGE
    assert "Traceback" in out.stderr
    assert out.stderr.rstrip().splitlines()[-1].startswith("tokenroute: error: --at")


def test_bare_command_prints_help_and_succeeds(run):
    out = run()
    assert out.exit_code == 0 and out.stdout.startswith("Usage: tokenroute")
    assert out.stderr == ""


def test_debug_after_the_command_is_an_unknown_option_not_a_traceback(run):
    out = run("prices", "show", "gpt-5", "--debug")
    assert_one_line_error(out, ExitCode.USAGE, "--debug")


def test_an_editor_that_does_not_exist_is_named(run, monkeypatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "no-such-editor-here --wait")
    out = run("config", "edit")
    assert_one_line_error(out, ExitCode.USAGE, "'no-such-editor-here --wait' ($EDITOR)")
