"""report --html FILE: one self-contained page of charts. Rendered in headless Chromium (the
distribution's package; skipped where it is missing): every chart draws, the screenshot is
not blank, and no request leaves the page. Without Chromium the page is still checked for
what it holds and for anything it could fetch."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading
import zlib
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from tokenroute.errors import ExitCode

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHARTS = 6


def seed(run) -> None:
    calls = [
        {"model": "claude-sonnet-4-6", "input_tokens": 9000, "output_tokens": 700,
         "task_type": "code", "task_id": "T1", "timestamp": "2026-11-20T10:00:00Z"},
        {"model": "gpt-5-mini", "input_tokens": 3000, "output_tokens": 300, "status": "error",
         "error_kind": "timeout", "task_type": "code", "task_id": "T2",
         "timestamp": "2026-11-21T10:00:00Z"},
        {"model": "gpt-5", "input_tokens": 3000, "output_tokens": 900, "task_type": "code",
         "task_id": "T2", "timestamp": "2026-11-21T10:01:00Z"},
        {"model": "gpt-5-nano", "input_tokens": 20000, "output_tokens": 200,
         "task_type": "extract", "task_id": "T3", "timestamp": "2026-11-22T09:00:00Z"},
    ]  # fmt: skip
    out = run("record", input="".join(json.dumps(c) + "\n" for c in calls))
    assert out.exit_code == 0, out.stderr


def test_the_page_holds_every_chart_and_fetches_nothing(run, tmp_path):
    seed(run)
    page = tmp_path / "report.html"
    out = run("report", "--html", str(page), "--last", "30d")
    assert out.exit_code == 0 and out.stdout == ""
    assert f"{CHARTS} charts" in out.stderr
    text = page.read_text()
    assert text.count(".dataset.drawn = ") == CHARTS
    for title in ("Daily spend by model", "Cost per task by task type", "output ratio by task type",
                  "Retry tax by task type", "Spent against all on the frontier model", "Top tasks by spend"):  # fmt: skip
        assert title in text
    assert 'http-equiv="Content-Security-Policy"' in text and "default-src 'none'" in text
    # nothing to fetch: no tag loads anything from an address
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", text)
    assert "claude-sonnet-4-6" in text and "T2" in text


def chart_data(text: str, number: int) -> list[dict]:
    """The traces plotly was given for chart `number` of the page."""
    marker = f'"chart-{number}",'
    at = text.index(marker, text.index("Plotly.newPlot")) + len(marker)
    traces, _ = json.JSONDecoder().raw_decode(text[at:].lstrip())
    return traces


def test_the_charts_hold_the_reports_numbers(run, tmp_path):
    seed(run)
    page = tmp_path / "report.html"
    assert run("report", "--html", str(page)).exit_code == 0
    text = page.read_text()
    body = json.loads(run("report", "--by", "day,model", "--json").stdout)
    daily = chart_data(text, 1)  # daily spend, a trace per model
    assert {t["name"] for t in daily} == {g["key"]["model"] for g in body["groups"]}
    drawn = sum(sum(t["y"]) for t in daily)
    assert abs(drawn - body["total"]["cost_usd"]) < 1e-9
    by_type = json.loads(run("report", "--by", "task-type", "--json").stdout)["groups"]
    retry = chart_data(text, 4)[0]  # retry tax per task type
    assert dict(zip(retry["x"], retry["y"], strict=True)) == {
        g["key"]["task-type"]: g["retry_tax"] for g in by_type if g["retry_tax"] is not None
    }
    top = chart_data(text, 6)[0]
    assert top["y"][-1].startswith("T1")  # the dearest task (Sonnet), drawn at the top


def test_a_link_is_written_through_and_a_pages_mode_is_kept(run, tmp_path):
    import os

    real = tmp_path / "real.html"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.html"
    link.symlink_to(real)
    assert run("report", "--html", str(link)).exit_code == 0
    assert link.is_symlink() and real.read_text().startswith("<!DOCTYPE html>")
    assert os.stat(real).st_mode & 0o777 == 0o600


def test_bad_places_and_combinations_are_one_line_errors(run, tmp_path):
    seed(run)
    assert_one_line_error(
        run("report", "--html", str(tmp_path / "no" / "such" / "r.html")),
        ExitCode.BAD_INPUT, "does not exist",
    )  # fmt: skip
    assert_one_line_error(run("report", "--html", str(tmp_path)), ExitCode.USAGE, "is a folder")
    for extra in (["--json"], ["--by", "model"], ["--top", "3"], ["--watch"]):
        assert_one_line_error(run("report", "--html", str(tmp_path / "r.html"), *extra), 2)
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*tmp"))


def test_a_page_to_a_pipe_or_device_is_written_into_it_not_renamed_over_it(run, tmp_path):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
    reader.start()
    assert run("report", "--html", str(fifo)).exit_code == 0
    reader.join(timeout=30)
    assert fifo.exists() and not fifo.is_file()  # still the pipe, not a file put in its place
    assert read and read[0].startswith(b"<!DOCTYPE html>")


def test_an_empty_ledger_still_gives_a_page(run, tmp_path):
    page = tmp_path / "r.html"
    assert run("report", "--html", str(page)).exit_code == 0
    assert page.read_text().count(".dataset.drawn = ") == CHARTS


class Recorder(http.server.ThreadingHTTPServer):
    """A loopback server for the page: every path asked of it is kept."""

    def __init__(self, folder: Path) -> None:
        self.asked: list[str] = []
        recorder = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                recorder.asked.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium as the distribution ships it, kept from its own background calls."""
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
        "--window-size=1200,2900", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]  # fmt: skip
    return subprocess.run(
        [CHROMIUM, *flags, *args, url], capture_output=True, text=True, timeout=120
    )


def page_requests(net_log: Path, origin: str) -> list[str]:
    """Every request the page itself made (its origin started it), from Chromium's net log;
    Chromium's own calls (no origin) are not the page's."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start and e.get("params", {}).get("initiator") == origin
    ]


def not_blank(png: Path) -> bool:
    """A screenshot with something drawn: its pixel rows vary (a blank page compresses to
    a few repeated bytes)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return len(set(pixels)) > 64


@pytest.fixture
def served(tmp_path):
    server = Recorder(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_every_chart_draws_in_chromium_and_no_request_leaves_the_page(run, tmp_path, served):
    server, origin = served
    seed(run)
    assert run("report", "--html", str(tmp_path / "report.html")).exit_code == 0
    url = f"{origin}/report.html"
    dom = chromium(url, tmp_path / "profile-1", "--dump-dom").stdout
    assert dom.count('data-drawn="yes"') == CHARTS
    assert dom.count('class="main-svg"') >= CHARTS  # plotly drew an svg for each
    shot, net_log = tmp_path / "shot.png", tmp_path / "net.json"
    chromium(url, tmp_path / "profile-2", f"--screenshot={shot}", f"--log-net-log={net_log}")
    assert not_blank(shot)
    assert page_requests(net_log, origin) == []
    assert server.asked == ["/report.html", "/report.html"]  # the page, and nothing from it
    # and opened as a file, offline, as a user opens it
    offline = chromium((tmp_path / "report.html").as_uri(), tmp_path / "profile-3", "--dump-dom")
    assert offline.stdout.count('data-drawn="yes"') == CHARTS


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_request_check_catches_a_page_that_fetches(tmp_path, served):
    """The check above can fail: a page that loads an image is caught, by both witnesses."""
    server, origin = served
    (tmp_path / "leaky.html").write_text(
        '<html><body><img src="/pixel.png"><img src="https://example.com/x.png"></body></html>'
    )
    net_log = tmp_path / "net.json"
    chromium(f"{origin}/leaky.html", tmp_path / "profile", f"--log-net-log={net_log}")
    asked = page_requests(net_log, origin)
    assert f"{origin}/pixel.png" in asked and "https://example.com/x.png" in asked
    assert "/pixel.png" in server.asked


def test_the_cost_per_task_draws_every_task_with_a_known_price_and_no_other(tmp_path):
    """A task none of whose attempts has a known price has no cost to draw (never $0); one
    with a known price among them is drawn at what is known. Sampled or not."""
    from tokenroute.models import Attempt, AttemptFilter, Task, Usage
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.storage.task_costs import cost_sample_by_type

    at = "2026-11-20T10:00:00.000Z"
    costs = {"known": [700], "partly": [300, None], "unknown": [None, None]}
    batch = [
        (Attempt(started_at=at, task_id=task, model="m", usage=Usage(input=1, output=1),
                 cost_micros=cost, task_type="code"), Task(id=task, created_at=at))
        for task, attempts in costs.items()
        for cost in attempts
    ]  # fmt: skip
    ledger = open_ledger(tmp_path / "ledger.db")
    ledger.add_attempts(batch)
    ledger.conn.execute("UPDATE tasks SET sample = 0")  # every task in any sample
    where = AttemptFilter(start="2026-11-01T00:00:00.000Z")
    for target, sampled in ((10, False), (2, True)):
        drawn, estimated = cost_sample_by_type(ledger.conn, where, 3, target)
        assert (sorted(drawn["code"]), estimated) == ([300, 700], sampled)
