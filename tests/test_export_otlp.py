"""export otlp: the ledger's attempts to a real OTLP/HTTP receiver on 127.0.0.1, decoded
with opentelemetry-proto: GenAI convention names and values, incremental, resumed after a
refusal with nothing twice, and never a password or header value in what it prints."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import assert_one_line_error, ledger_at, ledger_db
from otlp_receiver import Receiver, attributes

from tokenroute.errors import ExitCode, ExportError

CALLS = [
    {"model": "claude-sonnet-4-6", "input_tokens": 100, "cache_read": 5000, "cache_write": 300,
     "cache_write_1h": 20, "output_tokens": 400, "task_id": "T1", "task_type": "code",
     "provider": "anthropic", "timestamp": "2026-11-22T10:00:00Z", "latency_ms": 1500},
    {"model": "gpt-5-mini", "input_tokens": 900, "output_tokens": 90, "reasoning_tokens": 60,
     "status": "error", "error_kind": "timeout", "task_id": "T2", "provider": "openai",
     "timestamp": "2026-11-22T11:00:00Z"},
    {"model": "gpt-5", "input_tokens": 900, "output_tokens": 300, "reasoning_tokens": 200,
     "task_id": "T2", "provider": "openai", "timestamp": "2026-11-22T11:01:00Z"},
    {"model": "mystery-model-9", "input_tokens": 10, "output_tokens": 5, "task_id": "T3",
     "timestamp": "2026-11-23T09:00:00Z"},
]  # fmt: skip


def record(run, calls=CALLS) -> None:
    out = run("record", input="".join(json.dumps(c) + "\n" for c in calls))
    assert out.exit_code in (0,), out.stderr


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def by_model(spans) -> dict[str, dict]:
    return {attributes(s)["tokenroute.model"]: (s, attributes(s)) for s in spans}


def test_spans_carry_the_genai_names_and_every_bucket(run, receiver):
    record(run)
    out = run("export", "otlp", "--endpoint", receiver.url)
    assert out.exit_code == 0, out.stderr
    assert "sent 4 attempts" in out.stderr
    spans = receiver.spans()
    assert len(spans) == 4 and len({s.span_id for s in spans}) == 4
    found = by_model(spans)
    span, sonnet = found["claude-sonnet-4-6"]
    assert span.name == "chat claude-sonnet-4-6" and span.kind == 3  # CLIENT
    assert sonnet["gen_ai.operation.name"] == "chat"
    assert sonnet["gen_ai.provider.name"] == "anthropic"
    assert sonnet["gen_ai.request.model"] == "claude-sonnet-4-6"
    assert sonnet["gen_ai.usage.input_tokens"] == 100 + 5000 + 300 + 20  # cache counted in
    assert sonnet["gen_ai.usage.cache_read.input_tokens"] == 5000
    assert sonnet["gen_ai.usage.cache_creation.input_tokens"] == 320
    assert sonnet["gen_ai.usage.output_tokens"] == 400
    assert sonnet["tokenroute.task.id"] == "T1" and sonnet["tokenroute.task.type"] == "code"
    assert span.end_time_unix_nano - span.start_time_unix_nano == 1_500_000_000
    costs = json.loads(run("log", "--json").stdout)["attempts"]
    cost_of = {a["model"]: a["cost_usd"] for a in costs}
    assert sonnet["tokenroute.cost.usd"] == pytest.approx(cost_of["claude-sonnet-4-6"])
    failed, mini = found["gpt-5-mini"]
    assert failed.status.code == 2 and mini["error.type"] == "timeout"
    assert mini["gen_ai.usage.reasoning.output_tokens"] == 60
    assert found["gpt-5"][0].trace_id == failed.trace_id  # one task, one trace
    assert found["gpt-5"][0].trace_id != span.trace_id
    assert "tokenroute.cost.usd" not in found["mystery-model-9"][1]  # unknown, never 0


def test_the_token_histogram_and_cost_sum_add_up_to_the_ledger(run, receiver):
    record(run)
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    (usage,) = receiver.metric("gen_ai.client.token.usage")
    assert usage.unit == "{token}" and usage.histogram.aggregation_temporality == 1  # delta
    sums = {"input": 0, "output": 0}
    for point in usage.histogram.data_points:
        labels = attributes(point)
        sums[labels["gen_ai.token.type"]] += point.sum
        assert sum(point.bucket_counts) == point.count
        assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
    total = json.loads(run("report", "--json").stdout)["total"]
    assert sums == {"input": total["total_input_tokens"], "output": total["output_tokens"]}
    (cost,) = receiver.metric("tokenroute.cost")
    assert sum(p.as_double for p in cost.sum.data_points) == pytest.approx(total["cost_usd"])


def test_the_next_export_sends_only_what_came_after(run, receiver):
    record(run, CALLS[:2])
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    again = run("export", "otlp", "--endpoint", receiver.url)
    assert again.exit_code == 0 and "nothing new to send" in again.stderr
    record(run, CALLS[2:])
    out = run("export", "otlp", "--endpoint", receiver.url, "--json")
    assert json.loads(out.stdout)["sent"] == 2 and json.loads(out.stdout)["sent_in_all"] == 4
    assert len({s.span_id for s in receiver.spans()}) == len(receiver.spans()) == 4


@pytest.mark.parametrize(("refused", "nth"), [("/v1/traces", 2), ("/v1/metrics", 1)])
def test_a_refused_batch_is_resumed_with_nothing_sent_twice(
    isolated_home, run, receiver, refused, nth
):
    from tokenroute.export.sending import export_otlp

    calls = [{**CALLS[0], "task_id": f"T{n}", "timestamp": f"2026-11-22T10:0{n}:00Z"}
             for n in range(5)]  # fmt: skip
    record(run, calls)
    ledger = ledger_at(isolated_home)
    now = "2026-11-23T12:00:00.000Z"
    receiver.refuse_nth = {refused: (nth, 503)}  # spans: the first batch of two goes in
    with pytest.raises(ExportError, match="HTTP 503"):
        export_otlp(ledger, receiver.url, {}, since=None, dry_run=False, now=now, batch=2)
    assert len(receiver.spans()) == (2 if refused == "/v1/traces" else 5)
    done = export_otlp(ledger, receiver.url, {}, since=None, dry_run=False, now=now, batch=2)
    assert done.total == 5
    spans = receiver.spans()
    assert len(spans) == 5 and len({s.span_id for s in spans}) == 5
    (usage,) = receiver.metric("gen_ai.client.token.usage")  # one request: all five
    assert sum(p.count for p in usage.histogram.data_points) == 5 * 2  # input and output


def test_metric_intervals_follow_one_another(run, receiver):
    record(run, CALLS[:2])
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    record(run, CALLS[2:])
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    first, second = receiver.metric("gen_ai.client.token.usage")
    a, b = first.histogram.data_points[0], second.histogram.data_points[0]
    assert a.start_time_unix_nano < a.time_unix_nano <= b.start_time_unix_nano < b.time_unix_nano
    assert a.start_time_unix_nano == min(s.start_time_unix_nano for s in receiver.spans())


def test_a_collector_that_answers_503_exits_10_and_the_retry_sends_the_rest(run, receiver):
    record(run)
    receiver.refuse = [("/v1/metrics", 503)]
    out = run("export", "otlp", "--endpoint", receiver.url)
    assert_one_line_error(out, ExitCode.EXPORT, "HTTP 503", "run the export again")
    assert len(receiver.spans()) == 4 and receiver.metrics == []
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    assert len(receiver.spans()) == 4 and len(receiver.metrics) == 1


def test_a_collector_that_is_not_there_is_one_line_and_exit_10(run):
    record(run)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = run("export", "otlp", "--endpoint", f"http://127.0.0.1:{port}")
    assert_one_line_error(out, ExitCode.EXPORT, "could not be reached")


def test_no_password_or_header_value_is_ever_shown_or_stored(run, receiver, isolated_home):
    record(run)
    url = receiver.url.replace("http://", "http://team:hunter2-secret@")
    for args in ([], ["--json"], ["--dry-run"]):
        out = run("export", "otlp", "--endpoint", url, "--header", "x-api-key=tok-123456", *args)
        assert out.exit_code == 0, out.stderr
        assert (
            "hunter2" not in out.stdout + out.stderr and "tok-123456" not in out.stdout + out.stderr
        )
    assert receiver.headers[0]["x-api-key"] == "tok-123456"  # it did reach the collector
    marks = ledger_db(isolated_home).execute("SELECT * FROM export_marks")
    assert "hunter2" not in repr(marks.fetchall())
    receiver.refuse = [("/v1/traces", 401)]
    record(run, [{**CALLS[0], "task_id": "T9"}])
    refused = run("export", "otlp", "--endpoint", url)
    assert refused.exit_code == ExitCode.EXPORT and "hunter2" not in refused.stderr


def test_dry_run_prints_otlp_json_and_sends_nothing(run, receiver):
    record(run)
    out = run("export", "otlp", "--endpoint", receiver.url, "--dry-run")
    body = json.loads(out.stdout)
    assert body["dry_run"] is True and body["attempts"] == 4
    spans = body["payloads"][0]["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert {s["name"] for s in spans} >= {"chat gpt-5", "chat claude-sonnet-4-6"}
    assert receiver.traces == [] and receiver.metrics == []
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    assert len(receiver.spans()) == 4  # the dry run marked nothing as sent


def test_since_sends_only_calls_from_that_day(run, receiver):
    record(run)
    assert run("export", "otlp", "--endpoint", receiver.url, "--since", "2026-11-23").exit_code == 0
    assert [attributes(s)["tokenroute.model"] for s in receiver.spans()] == ["mystery-model-9"]


@pytest.mark.parametrize(
    "args, env, fragment",
    [
        ([], {}, "give the collector"),
        (["--endpoint", "ftp://x"], {}, "http:// or https://"),
        (["--endpoint", "http://127.0.0.1:9", "--header", "novalue"], {}, "KEY=VALUE"),
        (
            ["--endpoint", "http://127.0.0.1:9"],
            {"OTEL_EXPORTER_OTLP_HEADERS": "a=1,=2"},
            "KEY=VALUE",
        ),
        (["--endpoint", "http://127.0.0.1:9", "--since", "yesterday"], {}, "--since"),
    ],
)
def test_bad_options_are_one_line_errors(run, monkeypatch, args, env, fragment):
    record(run)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert_one_line_error(run("export", "otlp", *args), ExitCode.USAGE, fragment)


def test_the_endpoint_and_headers_come_from_the_otel_environment(run, receiver, monkeypatch):
    record(run)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + "/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc")
    assert run("export", "otlp").exit_code == 0
    assert receiver.headers[0]["authorization"] == "Bearer abc"
    assert len(receiver.spans()) == 4


def test_run_exports_as_it_goes_when_the_config_names_a_collector(
    run, receiver, isolated_home, monkeypatch
):
    from conftest import write
    from fakeprovider import FakeProvider, Reply, point_clients_at

    provider = FakeProvider()
    try:
        point_clients_at(provider, monkeypatch)
        write(
            isolated_home / "config.yaml",
            f"retries: 0\notlp_endpoint: '{receiver.url}'\notlp_headers: {{x-team: blue}}\n",
        )
        provider.queue(Reply(input=1000, output=50))
        out = run("run", "-m", "gpt-5-mini", "say hello")
        assert out.exit_code == 0, out.stderr
        (span,) = receiver.spans()
        assert attributes(span)["gen_ai.request.model"] == "gpt-5-mini"
        assert attributes(span)["tokenroute.source"] == "run"
        assert receiver.headers[0]["x-team"] == "blue"
        receiver.refuse = [("/v1/traces", 503)]
        provider.queue(Reply(input=10, output=5))
        late = run("run", "-m", "gpt-5-mini", "again")
        assert late.exit_code == 0  # a collector that is down costs a warning, not the run
        assert "not exported yet" in late.stderr and "HTTP 503" in late.stderr
        assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
        assert len(receiver.spans()) == 2
    finally:
        provider.close()


def test_config_show_names_the_collector_without_its_secrets(run, isolated_home):
    from conftest import write

    write(
        isolated_home / "config.yaml",
        "user: alice\notlp_endpoint: 'https://team:pw-hunter2@otel.example:4318'\n"
        "otlp_headers: {x-api-key: key-hunter3}\n",
    )
    for args in ([], ["--json"]):
        out = run("config", "show", *args)
        assert out.exit_code == 0 and "hunter" not in out.stdout + out.stderr
    shown = json.loads(run("config", "show", "--json").stdout)["config"]
    assert shown["user"] == "alice" and shown["otlp_headers"] == {"x-api-key": "<hidden>"}
    assert shown["otlp_endpoint"].endswith("@otel.example:4318")


def test_a_config_collector_that_is_not_a_url_is_one_line(run, isolated_home):
    from conftest import write

    write(isolated_home / "config.yaml", "otlp_endpoint: 4318\n")
    assert_one_line_error(run("config", "show"), ExitCode.BAD_INPUT, "otlp_endpoint")


def test_a_call_reimported_with_more_output_is_sent_again_under_its_own_span_id(
    run, receiver, tmp_path
):
    """The newest row replaced: its new copy must not reuse the old row id (at or below the
    mark, it would never be sent); its span keeps the call's id, so a collector sees the
    same span updated."""
    log = tmp_path / "calls.jsonl"
    line = {"model": "gpt-5", "input_tokens": 10, "output_tokens": 10, "source_key": "k1",
            "timestamp": "2026-11-22T10:00:00Z"}  # fmt: skip
    log.write_text(json.dumps(line) + "\n")
    assert run("import", "jsonl", str(log)).exit_code == 0
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    log.write_text(json.dumps({**line, "output_tokens": 900}) + "\n")
    assert run("import", "jsonl", str(log)).exit_code == 0
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0
    first, second = receiver.spans()
    assert first.span_id == second.span_id
    assert attributes(second)["gen_ai.usage.output_tokens"] == 900


def test_a_trailing_slash_is_the_same_collector(run, receiver):
    record(run)
    assert run("export", "otlp", "--endpoint", receiver.url + "/").exit_code == 0
    again = run("export", "otlp", "--endpoint", receiver.url)
    assert "nothing new to send" in again.stderr and len(receiver.spans()) == 4


@pytest.mark.parametrize(
    "endpoint, headers, fragment",
    [
        ("http://127.0.0.1:99999", [], "not a URL"),
        ("http://[::1", [], "not a URL"),
        ("http://127.0.0.1:4318/?team=a", [], "no ?query"),
        ("http://", [], "names no host"),
        ("http://127.0.0.1:4318", ["x-key=caf\u00e9"], "must be ASCII"),
        ("http://127.0.0.1:4318", ["Authorization: Bearer sk-live-SECRET123"], "KEY=VALUE"),
    ],
)
def test_bad_endpoints_and_headers_are_usage_errors_that_show_no_secret(
    run, endpoint, headers, fragment
):
    record(run)
    args = [arg for h in headers for arg in ("--header", h)]
    out = run("export", "otlp", "--endpoint", endpoint, *args)
    assert_one_line_error(out, ExitCode.USAGE, fragment)
    assert "SECRET123" not in out.stderr and "caf" not in out.stderr


@pytest.mark.sqlite_only
def test_two_exports_of_one_ledger_at_once_do_not_both_send(run, receiver, isolated_home):
    import fcntl

    record(run)
    with open(f"{isolated_home / 'ledger.db'}.export-lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        out = run("export", "otlp", "--endpoint", receiver.url)
        assert_one_line_error(out, ExitCode.EXPORT, "another export")
    assert receiver.spans() == []
    assert run("export", "otlp", "--endpoint", receiver.url).exit_code == 0


@pytest.mark.parametrize(
    "config, fragment",
    [
        ("user: [a, b]\n", "user must be a name"),
        ("otlp_headers: {x-n: 5}\notlp_endpoint: http://127.0.0.1:4318\n", "otlp_headers"),
        ("otlp_endpoint: 'http://127.0.0.1:99999'\n", "not a URL"),
    ],
)
def test_a_wrong_team_setting_stops_run_before_anything_is_paid(
    run, isolated_home, monkeypatch, config, fragment
):
    from conftest import write
    from fakeprovider import FakeProvider, Reply, point_clients_at

    monkeypatch.delenv("TOKENROUTE_USER", raising=False)
    provider = FakeProvider()
    try:
        point_clients_at(provider, monkeypatch)
        write(isolated_home / "config.yaml", "retries: 0\n" + config)
        provider.queue(Reply(input=10, output=5))
        out = run("run", "-m", "gpt-5-mini", "hello")
        assert out.exit_code in (ExitCode.USAGE, ExitCode.BAD_INPUT), out.stderr
        assert fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert provider.requests == []  # nothing was sent, nothing paid
    finally:
        provider.close()


def test_dry_run_json_is_otlp_json(run):
    record(run)
    body = json.loads(run("export", "otlp", "--endpoint", "http://127.0.0.1:9", "--dry-run").stdout)
    span = body["payloads"][0]["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16) >= 0  # hex, not base64
    assert len(span["spanId"]) == 16 and span["kind"] == 3  # enums as integers
    text = run("export", "otlp", "--endpoint", "http://127.0.0.1:9", "--dry-run").stdout
    assert "e-0" not in text  # doubles as plain digits


def test_export_takes_the_collector_from_the_config(run, receiver, isolated_home):
    from conftest import write

    record(run)
    write(
        isolated_home / "config.yaml",
        f"otlp_endpoint: '{receiver.url}'\notlp_headers: {{x-team: red}}\n",
    )
    assert run("export", "otlp").exit_code == 0
    assert len(receiver.spans()) == 4 and receiver.headers[0]["x-team"] == "red"


def test_after_refused_metrics_the_rerun_says_it_sent_them(run, receiver):
    record(run)
    receiver.refuse = [("/v1/metrics", 400)]
    out = run("export", "otlp", "--endpoint", receiver.url)
    assert_one_line_error(out, ExitCode.EXPORT, "HTTP 400", "what it took before is marked")
    again = run("export", "otlp", "--endpoint", receiver.url)
    assert "sent the metrics of 4 attempts" in again.stderr and len(receiver.metrics) == 1


def test_a_dry_run_of_many_batches_shows_the_first_and_counts_them_all(isolated_home, run):
    from tokenroute.export.sending import export_otlp

    calls = [{**CALLS[0], "task_id": f"T{n}", "timestamp": f"2026-11-22T10:{n:02d}:00Z"}
             for n in range(7)]  # fmt: skip
    record(run, calls)
    done = export_otlp(ledger_at(isolated_home), "http://127.0.0.1:9", {}, since=None,
                       dry_run=True, now="2026-11-23T12:00:00.000Z", batch=3)  # fmt: skip
    assert done.sent == 7 and done.batches == 3 and done.metrics_of == 7
    traces, metrics = done.payloads
    spans = traces["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 3 and "metrics" in metrics
