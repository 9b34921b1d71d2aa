"""The fast path for `tokenroute pick`: same answers as the full command line, no typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import assert_one_line_error, ledger_db, write

from tokenroute.cli.app import app
from tokenroute.cli.entry import (
    ESTIMATE_FLAGS,
    ESTIMATE_VALUES,
    PICK_FLAGS,
    PICK_PATHS,
    plain_estimate,
    plain_pick,
)
from tokenroute.cli.fast_estimate import EstimateOptions
from tokenroute.cli.fast_pick import PickOptions
from tokenroute.errors import ExitCode


def command_params(name: str) -> dict[str, object]:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def pick_params() -> dict[str, object]:
    return command_params("pick")


def test_every_fast_flag_is_a_pick_flag_setting_the_same_field():
    params = pick_params()
    for flag, (field, value) in PICK_FLAGS.items():
        param = params[field]
        if flag in param.opts:
            assert param.is_flag and value is True, flag
        else:
            assert flag in param.secondary_opts and value is False, flag
    for option, field in PICK_PATHS.items():
        assert option in params[field].opts and not params[field].is_flag


def test_pick_options_are_the_commands_parameters_with_its_defaults():
    params = pick_params()
    assert list(PickOptions._fields) == list(params)
    for name, default in PickOptions._field_defaults.items():
        assert params[name].default == default, name


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["pick", "refactor auth"], {"description": "refactor auth"}),
        (
            ["pick", "--json", "write tests", "--no-log", "--no-explore"],
            {"description": "write tests", "as_json": True, "no_log": True, "no_explore": True},
        ),
        (
            ["pick", "fix it", "--deep", "--must-be-best", "--convenience", "--local"],
            {
                "description": "fix it",
                "deep": True,
                "good_enough": False,
                "need": False,
                "local": True,
            },
        ),
        (["pick", "--explain-policy", "--json"], {"explain_policy": True, "as_json": True}),
        (["pick", "x", "--ledger", "l.db"], {"description": "x", "ledger": "l.db"}),
    ],
)
def test_plain_arguments_take_the_fast_path(argv, expected):
    assert plain_pick(argv) == PickOptions(**expected)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--debug", "pick", "x"],
        ["pick", "--help"],
        ["pick", "x", "--quality-target", "0.5"],  # a value click checks
        ["pick", "x", "--ledger"],
        ["pick", "x", "--ledger=/tmp/l.db"],
        ["pick", "one", "two"],
        ["pick", "x", "--jsn"],
        ["pick", "--", "-x"],
        ["run", "x"],
    ],
)
def test_anything_else_goes_to_the_full_command_line(argv):
    assert plain_pick(argv) is None


def run_entry(args: list[str], home: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENROUTE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "tokenroute", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_fast_path_answers_as_the_full_command_line_does(run, isolated_home):
    args = ["pick", "write unit tests for the parser", "--json", "--no-log", "--no-explore"]
    fast = run_entry(args, isolated_home)
    full = run(*args)
    assert fast.returncode == full.exit_code == 0, fast.stderr
    assert json.loads(fast.stdout) == json.loads(full.stdout)


def test_the_fast_path_starts_a_task_in_the_ledger(isolated_home):
    done = run_entry(["pick", "refactor the auth module"], isolated_home)
    assert done.returncode == 0, done.stderr
    task_id = done.stderr.split("started task ")[1].split()[0]

    with ledger_db(isolated_home) as conn:
        assert conn.execute("SELECT id, type FROM tasks").fetchall() == [(task_id, "refactor")]


def test_the_fast_path_never_imports_typer(isolated_home):
    program = (
        "import sys\n"
        "sys.argv = ['tokenroute', 'pick', 'refactor auth', '--no-log', '--json']\n"
        "from tokenroute.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('typer' in sys.modules, code, file=sys.stderr)\n"
    )
    env = {**os.environ, "TOKENROUTE_HOME": str(isolated_home)}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "False 0", done.stderr
    assert json.loads(done.stdout)["task_type"] == "refactor"


def test_bad_input_on_the_fast_path_is_one_line_and_logs_nothing(isolated_home):
    done = run_entry(["pick", ""], isolated_home)
    assert_one_line_error(_outcome(done), ExitCode.BAD_INPUT, "description is empty")
    assert not (isolated_home / "ledger.db").exists()


def test_a_bad_policy_on_the_fast_path_names_the_file(isolated_home):
    policy = write(isolated_home / "policy.yaml", "types: {refactor: {tier: mid}}")
    done = run_entry(["pick", "refactor auth", "--no-log"], isolated_home)
    assert_one_line_error(_outcome(done), ExitCode.BAD_INPUT, str(policy))


def test_a_typo_still_gets_the_full_command_lines_message(isolated_home):
    done = run_entry(["pick", "refactor auth", "--jsn"], isolated_home)
    assert_one_line_error(_outcome(done), ExitCode.USAGE, "No such option: --jsn")


def _outcome(done: subprocess.CompletedProcess):
    from conftest import Outcome

    return Outcome(done.returncode, done.stdout, done.stderr)


def test_every_fast_estimate_option_is_an_estimate_option_setting_the_same_field():
    params = command_params("estimate")
    for flag, (field, value) in ESTIMATE_FLAGS.items():
        assert flag in params[field].opts and params[field].is_flag and value is True
    for option, field in ESTIMATE_VALUES.items():
        assert option in params[field].opts and not params[field].is_flag


def test_estimate_options_are_the_commands_parameters_with_its_defaults():
    params = command_params("estimate")
    assert list(EstimateOptions._fields) == list(params)
    for name, default in EstimateOptions._field_defaults.items():
        assert params[name].default == default, name


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["estimate", "prompt.txt"], {"file": "prompt.txt"}),
        (["estimate", "-", "--json"], {"file": "-", "as_json": True}),
        (["estimate"], {}),
        (
            ["estimate", "p.txt", "--output-tokens", "20", "--models", "a,b", "--at", "2026-01-02"],
            {"file": "p.txt", "output_tokens": 20, "models": "a,b", "at": "2026-01-02"},
        ),
        (["estimate", "--tier", "mid", "p.txt"], {"file": "p.txt", "tier": "mid"}),
    ],
)
def test_plain_estimate_arguments_take_the_fast_path(argv, expected):
    assert plain_estimate(argv) == EstimateOptions(**expected)


@pytest.mark.parametrize(
    "argv",
    [
        ["estimate", "--help"],
        ["estimate", "p.txt", "--output-tokens", "-1"],  # click says what the range is
        ["estimate", "p.txt", "--output-tokens", "ten"],
        ["estimate", "p.txt", "--output-tokens", "\u0661"],  # a digit, but not ASCII
        ["estimate", "p.txt", "--models"],
        ["estimate", "a.txt", "b.txt"],
        ["estimate", "p.txt", "--jsn"],
        ["prices", "p.txt"],
    ],
)
def test_other_estimate_arguments_go_to_the_full_command_line(argv):
    assert plain_estimate(argv) is None


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "-", "--json", "--output-tokens", "20", "--tier", "mid"],
        ["estimate", "-", "--models", "gpt-4o-mini", "--at", "2026-01-15"],
        ["estimate", "-", "--tier", "bogus"],
        ["estimate", "-", "--models", " , "],
        ["estimate", "-", "--at", "yesterday-ish"],
        ["estimate", "no-such-prompt.txt"],
    ],
)
def test_the_fast_estimate_answers_as_the_full_command_line_does(run, isolated_home, args):
    prompt = "Summarise the incident report and list three follow-ups.\n" * 40
    fast = run_entry(args, isolated_home, stdin=prompt)
    full = run(*args, input=prompt)
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.exit_code, full.stdout, full.stderr)


def test_the_fast_estimate_never_imports_typer(isolated_home):
    program = (
        "import sys\n"
        "sys.argv = ['tokenroute', 'estimate', '-', '--json']\n"
        "from tokenroute.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('typer' in sys.modules, code, file=sys.stderr)\n"
    )
    env = {**os.environ, "TOKENROUTE_HOME": str(isolated_home)}
    done = subprocess.run(
        [sys.executable, "-c", program],
        input="count these words",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.stderr.strip().splitlines()[-1] == "False 0", done.stderr
    assert json.loads(done.stdout)["input_tokens"] == 3
