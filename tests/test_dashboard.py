"""The full-screen `report --watch`: drawn from a real ledger at 80x24, and driven in a real
terminal (tmux) with its keys: p pauses, q quits; colour for errors, none under NO_COLOR."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PINNED_NOW, ledger_at

from tokenroute.cli import render

NOW = datetime.fromisoformat(PINNED_NOW.replace("Z", "+00:00")).astimezone(UTC)


def record(run, *args: str) -> None:
    assert run("record", *args).exit_code == 0


def seed(run) -> None:
    record(run, "-m", "claude-sonnet-4-6", "--input-tokens", "2000", "--output-tokens", "500",
           "--at", "2026-11-23T11:30:00Z")  # fmt: skip
    record(run, "-m", "gpt-5-mini", "--input-tokens", "900", "--output-tokens", "90",
           "--status", "error", "--error-kind", "timeout", "--at", "2026-11-23T11:40:00Z")  # fmt: skip
    record(run, "-m", "gpt-5", "--input-tokens", "4000", "--output-tokens", "100",
           "--at", "2026-11-03T09:00:00Z")  # fmt: skip
    assert run("budget", "set", "--daily", "0.01").exit_code == 0


def screen_of(isolated_home: Path, *, paused: bool = False) -> list[str]:
    from rich.console import Console

    from tokenroute.cli.views.dashboard import dashboard
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.queries import today_figures
    from tokenroute.models import AttemptFilter
    from tokenroute.prices.table import load_price_table, shipped_dir
    from tokenroute.settings import resolve_paths

    where = AttemptFilter(start="2026-11-23T00:00:00.000Z")
    budgets = read_budgets(resolve_paths().budgets)
    figures = today_figures(
        ledger_at(isolated_home), load_price_table(shipped_dir()), where, budgets, NOW, 60
    )
    console = Console(width=80, height=24, record=True, file=io.StringIO())
    console.print(dashboard(figures, NOW, paused=paused, width=80, height=24))
    return console.export_text().splitlines()


def test_the_dashboard_fits_80_by_24_and_shows_every_part(run, isolated_home):
    seed(run)
    lines = screen_of(isolated_home)
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    spend = next(line for line in lines if line.startswith("today ")).split()
    # today: the two calls of 2026-11-23; this month: with the one of 2026-11-03
    for since, shown in (("2026-11-23", spend[1]), ("2026-11-01", spend[4])):
        total = json.loads(run("report", "--since", since, "--json").stdout)["total"]
        assert shown == render.usd_amount(Decimal(str(total["cost_usd"])))
    assert "burn rate" in text and "by midnight" in text and "(last hour)" in text
    assert "claude-sonnet-4-6" in text and "gpt-5-mini" in text
    assert "all spend /day" in text and "of $0.0100" in text  # the budget, over its limit
    assert "error:timeout" in text
    assert "p pauses" in text
    assert "paused: p resumes" in "\n".join(screen_of(isolated_home, paused=True))


def test_the_pace_projects_the_last_hour_to_midnight(run, isolated_home):
    from tokenroute.cli.views.dashboard import pace
    from tokenroute.ledger.queries import Today, today_figures
    from tokenroute.models import AttemptFilter
    from tokenroute.prices.table import load_price_table, shipped_dir

    seed(run)
    where = AttemptFilter(start="2026-11-23T00:00:00.000Z")
    figures = today_figures(
        ledger_at(isolated_home), load_price_table(shipped_dir()), where, [], NOW
    )
    assert isinstance(figures, Today)
    today = figures.by_model.total.spend
    assert figures.last_hour_spend == today  # both calls fell in the last hour (11:30, 11:40)
    assert figures.month_spend > today
    per_hour, by_midnight = pace(figures, NOW)
    assert per_hour == today and by_midnight == today + today * Decimal(12)


def test_nothing_recorded_yet_is_said(isolated_home):
    from rich.console import Console

    from tokenroute.cli.views.dashboard import dashboard

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(dashboard(None, NOW, paused=False, width=80, height=24))
    assert "nothing recorded yet" in console.export_text()


TMUX = shutil.which("tmux")


class Terminal:
    """tokenroute in a real 80x24 terminal (a tmux session on a socket of its own)."""

    def __init__(self, home: Path, env: dict[str, str], *args: str) -> None:
        self.socket = f"tokenroute-test-{os.getpid()}-{id(self)}"
        command = " ".join(
            [sys.executable, "-m", "tokenroute", *args, "; echo EXITED $?; sleep 60"]
        )
        environment = {
            **os.environ, "TOKENROUTE_HOME": str(home), "TOKENROUTE_NOW": PINNED_NOW,
            "TERM": "xterm-256color", **env,
        }  # fmt: skip
        subprocess.run(
            [TMUX, "-L", self.socket, "-f", os.devnull, "new-session", "-d", "-x", "80",
             "-y", "24", command],
            check=True, env=environment,
        )  # fmt: skip

    def screen(self, *, escapes: bool = False) -> str:
        args = ["-e"] if escapes else []
        done = subprocess.run(
            [TMUX, "-L", self.socket, "capture-pane", "-p", *args],
            capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout

    def wait_for(self, text: str, seconds: float = 20) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen()}")

    def press(self, key: str) -> None:
        subprocess.run([TMUX, "-L", self.socket, "send-keys", key], check=True)

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(isolated_home):
    opened: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Terminal:
        opened.append(Terminal(isolated_home, env or {}, *args))
        return opened[-1]

    yield start
    for each in opened:
        each.close()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_in_a_real_terminal_p_pauses_and_q_quits(run, terminal):
    seed(run)
    screen = terminal("report", "--watch", "--interval", "0.3")
    shown = screen.wait_for("last attempts")
    lines = shown.splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
    assert "tokenroute  today 2026-11-23 12:00:00 UTC" in shown
    assert "error:timeout" in shown and "claude-sonnet-4-6" in shown
    screen.press("p")
    screen.wait_for("paused: p resumes")
    record(run, "-m", "claude-haiku-4-5", "--input-tokens", "10", "--output-tokens", "1",
           "--at", "2026-11-23T11:50:00Z")  # fmt: skip
    time.sleep(1)  # three intervals: a running view would have drawn it
    assert "claude-haiku-4-5" not in screen.screen()
    screen.press("p")
    screen.wait_for("claude-haiku-4-5")
    screen.press("q")
    assert "EXITED 0" in screen.wait_for("EXITED")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("no_color", [False, True])
def test_errors_are_in_colour_unless_no_color(run, terminal, no_color):
    seed(run)
    env = {"NO_COLOR": "1"} if no_color else {}
    screen = terminal("report", "--watch", "--interval", "0.3", env=env)
    screen.wait_for("error:timeout")
    coloured = screen.screen(escapes=True)
    row = next(line for line in coloured.splitlines() if "error:timeout" in line)
    colours = ("\x1b[31m", "\x1b[1;31m", "\x1b[91m", ";31m")
    assert any(c in row for c in colours) is not no_color
    screen.press("q")
    screen.wait_for("EXITED")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("no_color", [False, True])
def test_a_report_table_on_a_terminal_has_colour_only_without_no_color(run, terminal, no_color):
    seed(run)
    env = {"NO_COLOR": "1"} if no_color else {}
    screen = terminal("report", "--by", "model", env=env)
    shown = screen.wait_for("EXITED")
    assert "claude-sonnet-4-6" in shown and "EXITED 0" in shown
    styled = screen.screen(escapes=True)
    assert ("\x1b[1m" in styled) is not no_color  # rich's bold header


def test_long_names_and_big_amounts_still_fit_80_columns(run, isolated_home):
    long_model = "vendor/some-extremely-long-fine-tuned-model-name-v2-preview-2026"
    lines = [
        {"model": "claude-opus-4-1", "input_tokens": 90_000_000, "output_tokens": 9_000_000,
         "timestamp": "2026-11-23T11:00:00Z", "task_type": "architecture-and-design-review"},
        {"model": long_model, "input_tokens": 10, "output_tokens": 10, "status": "error",
         "error_kind": "server_error", "timestamp": "2026-11-23T11:10:00Z"},
    ]  # fmt: skip
    assert run("record", input="".join(json.dumps(x) + "\n" for x in lines)).exit_code == 0
    assert (
        run("budget", "set", "--monthly", "2000", "--project", "a-very-long-project").exit_code == 0
    )
    assert run("budget", "set", "--daily", "1000").exit_code == 0
    screen = screen_of(isolated_home)
    assert max(len(line) for line in screen) <= 80 and len(screen) <= 24
    opus = next(line for line in screen if line.startswith("11:00:00"))
    assert opus.split()[-1].startswith("$") and "claude-opus-4-1" in opus  # cost kept whole
    error = next(line for line in screen if line.startswith("11:10:00"))
    assert "…" in error and error.split()[-1] == "unknown"  # the long name is cut, not the cost
    budget = next(line for line in screen if line.startswith("all spend /day"))
    assert budget.endswith(")") and "of $1,000.00" in budget


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_closed_stdin_still_draws_and_count_leaves_the_last_frame(run, terminal):
    seed(run)
    screen = terminal("report", "--watch", "--interval", "0.2", "--count", "2", "<&-")
    shown = screen.wait_for("EXITED")
    assert "EXITED 0" in shown and "last attempts" in shown  # the frame stays on screen
    assert "Traceback" not in shown and "internal error" not in shown


def test_pipe_frames_keep_each_title_above_its_table(run):
    seed(run)
    frame = run("report", "--watch", "--count", "1").stdout
    assert frame.index("Tokens by bucket") > frame.index("cheapest $")  # below the spend table
