"""The committed completion scripts are what the CLI generates, and they parse."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import typer
from conftest import ROOT

from tokenroute.cli.app import app
from tokenroute.cli.completion import SHELLS, generate, walk

COMMITTED = ROOT / "completions"


@pytest.mark.parametrize("shell", SHELLS)
def test_committed_script_matches_the_cli(run, shell):
    generated = run("completions", shell).stdout
    committed = (COMMITTED / f"tokenroute.{shell}").read_text()
    assert committed == generated, (
        f"completions/tokenroute.{shell} is out of date: "
        f"run 'tokenroute completions {shell} > completions/tokenroute.{shell}'"
    )


def test_every_command_and_option_is_completed():
    root = typer.main.get_command(app)
    script = generate("bash", root)
    for node in walk(root):
        for option in node.options:
            assert option.names[0] in script
        for sub in node.subcommands:
            assert sub in script
    assert "local economy small mid frontier" in script


def test_bash_script_completes_subcommands_and_choices():
    script = COMMITTED / "tokenroute.bash"

    def complete(*words: str) -> list[str]:
        line = " ".join(["tokenroute", *words])
        program = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; "
            '_tokenroute; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("pr") == ["prices"]
    assert complete("prices", "s") == ["show"]
    assert complete("prices", "--tier", "f") == ["frontier"]
    assert "--output-tokens" in complete("estimate", "--")


@pytest.mark.parametrize(("shell", "check"), [("zsh", ["zsh", "-n"]), ("fish", ["fish", "-n"])])
def test_other_shells_parse_their_script(shell, check):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{shell} is not installed")
    subprocess.run([*check, str(COMMITTED / f"tokenroute.{shell}")], check=True)


def test_fish_script_completes_subcommands_and_choices():
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = COMMITTED / "tokenroute.fish"

    def complete(line: str) -> list[str]:
        program = f"source {script}; complete -C '{line}'"
        done = subprocess.run(["fish", "-c", program], capture_output=True, text=True, check=True)
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert complete("tokenroute pr") == ["prices"]
    assert complete("tokenroute prices --tier f") == ["frontier"]
    assert "show" in complete("tokenroute prices ")
