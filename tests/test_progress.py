"""The import progress bar: on a terminal once work outlasts its threshold, never in a pipe."""

from __future__ import annotations

import io
import sys

from tokenroute.cli import render


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_once_work_outlasts_the_threshold(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with render.progress(4, "importing logs", after=0) as advance:
        advance(1)
        advance(3)
    assert "importing logs" in screen.getvalue() and "100%" in screen.getvalue()


def test_quick_work_draws_nothing(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with render.progress(4, "importing logs", after=60) as advance:
        advance(4)
    assert screen.getvalue() == ""


def test_nothing_in_a_pipe(capsys):
    with render.progress(4, "importing logs", after=0) as advance:
        advance(4)
    assert capsys.readouterr().err == ""
