"""The README stays true: its two opening commands, every command, every exit code."""

from __future__ import annotations

import re

import typer
from conftest import ROOT

from tokenroute.cli.app import app
from tokenroute.cli.completion import walk
from tokenroute.errors import ExitCode

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2
    install_and_pick, install_and_test = blocks[0].strip(), blocks[1].strip()
    assert "pip install -e ." in install_and_pick
    assert install_and_pick.endswith(
        ("tokenroute prices", 'tokenroute pick "refactor auth module"')
    )
    assert "pytest" in install_and_test and "[test]" in install_and_test
    assert not re.search(r"pip install +tokenroute([^-_a-z]|$)", README)


def test_ci_runs_the_readme_test_command_verbatim():
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, flags=re.S)
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text()


def test_every_command_has_help_and_is_in_the_readme():
    for node in walk(typer.main.get_command(app)):
        if node.path:
            assert node.help, f"'{node.path}' has no help text"
            assert f"tokenroute {node.path}" in README, f"README does not mention '{node.path}'"


def test_every_exit_code_is_documented():
    for code in ExitCode:
        assert re.search(rf"^\| *{code.value} *\|", README, flags=re.M), f"exit code {code.value}"
