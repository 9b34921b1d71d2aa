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


def test_day_bars_scale_to_the_dearest_day_in_eighths():
    from datetime import date
    from decimal import Decimal

    daily = [(date(2026, 11, 1), Decimal("2")), (date(2026, 11, 2), Decimal("1")),
             (date(2026, 11, 3), Decimal("0"))]  # fmt: skip
    first, second, third = render.day_bars(daily, columns=40)
    assert first.startswith("2026-11-01  ") and first.endswith("$2.00")
    assert (
        first.count("█") == 2 * second.count("█")
        or abs(first.count("█") - 2 * second.count("█")) <= 1
    )
    assert "█" not in third and third.endswith("$0")
    assert len({len(line) for line in (first, second, third)}) == 1  # the amounts line up
    assert len(render.day_bars([(date(2026, 1, 1), Decimal(1))] * 100, 80)) == render.MAX_BAR_DAYS
