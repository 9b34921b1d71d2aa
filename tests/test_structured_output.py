"""--schema and --expect json ask each provider for JSON the way it takes it, over real HTTP
to the loopback server; the answer is still validated once it arrives."""

from __future__ import annotations

import json

import pytest
from conftest import write
from fakeprovider import FakeProvider, Reply, point_clients_at

from tokenroute.dispatch.providers.openai import strict_ready

SCHEMA = {
    "type": "object",
    "properties": {"sum": {"type": "integer"}},
    "required": ["sum"],
    "additionalProperties": False,
}


@pytest.fixture
def provider(isolated_home, monkeypatch):
    server = FakeProvider()
    point_clients_at(server, monkeypatch)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-DEEPSEEK-0123456789")
    write(
        isolated_home / "config.yaml",
        f"retries: 0\nretry_base: 0.01\ntimeout: 5\nendpoints:\n"
        f"  google: {{base_url: '{server.url}'}}\n"
        f"  deepseek: {{base_url: '{server.url}/v1'}}\n"
        f"  homebox: {{base_url: '{server.url}/v1', local: true}}\n"
        f"  tuned: {{base_url: '{server.url}/v1', local: true, structured: json_schema}}\n",
    )
    yield server
    server.close()


@pytest.fixture
def schema(tmp_path):
    return str(write(tmp_path / "schema.json", json.dumps(SCHEMA)))


def sent(provider: FakeProvider) -> dict:
    return provider.requests[-1]["body"]


def test_openai_gets_a_strict_json_schema(run, provider, schema):
    provider.queue(Reply(text=('{"sum": ', "4}")))
    outcome = run("run", "-m", "gpt-5-mini", "--schema", schema, "2+2 as JSON")
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == {"sum": 4}
    assert sent(provider)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }


def test_a_schema_strict_mode_cannot_take_is_sent_not_strict(run, provider, tmp_path):
    loose = {"type": "object", "properties": {"sum": {"type": "integer"}}}
    path = write(tmp_path / "loose.json", json.dumps(loose))
    provider.queue(Reply(text=('{"sum": 4}',)))
    assert run("run", "-m", "gpt-5-mini", "--schema", str(path), "2+2").exit_code == 0
    assert sent(provider)["response_format"]["json_schema"]["strict"] is False
    assert not strict_ready(loose) and strict_ready(SCHEMA)


def test_expect_json_asks_openai_for_json_mode_with_the_word_json(run, provider):
    provider.queue(Reply(text=("[1, 2]",)))
    assert run("run", "-m", "gpt-5-mini", "--expect", "json", "list").exit_code == 0
    body = sent(provider)
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON" in body["messages"][0]["content"] and body["messages"][0]["role"] == "system"


def test_anthropic_is_made_to_call_a_tool_whose_input_is_the_answer(run, provider, schema):
    provider.queue(Reply(text=('{"sum"', ": 4}")))
    outcome = run("run", "-m", "claude-haiku-4-5", "--schema", schema, "2+2", "-s", "be terse")
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == {"sum": 4}  # read from input_json_delta
    body = sent(provider)
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert body["system"] == "be terse"


def test_anthropic_without_a_schema_is_told_to_answer_json(run, provider):
    provider.queue(Reply(text=('{"a": 1}',)))
    assert run("run", "-m", "claude-haiku-4-5", "--expect", "json", "x").exit_code == 0
    assert "JSON" in sent(provider)["system"] and "tools" not in sent(provider)


def test_gemini_gets_a_mime_type_and_a_schema_it_accepts(run, provider, schema):
    provider.queue(Reply(text=('{"sum": 4}',)))
    assert run("run", "-m", "gemini-2.5-flash", "--schema", schema, "2+2").exit_code == 0
    settings = sent(provider)["generationConfig"]
    assert settings["responseMimeType"] == "application/json"
    assert settings["responseSchema"] == {
        "type": "object",
        "properties": {"sum": {"type": "integer"}},
        "required": ["sum"],
    }  # additionalProperties, which Gemini refuses, left out


def test_a_server_with_json_mode_only_and_one_with_nothing_known(run, provider, schema):
    provider.queue(Reply(text=('{"sum": 4}',)), Reply(text=('{"sum": 4}',)))
    assert run("run", "-m", "deepseek/deepseek-chat", "--schema", schema, "2+2").exit_code == 0
    body = sent(provider)
    assert body["response_format"] == {"type": "json_object"}
    assert '"sum"' in body["messages"][0]["content"]  # the schema, in the instruction
    assert run("run", "-m", "homebox/qwen3", "--schema", schema, "2+2").exit_code == 0
    assert "response_format" not in sent(provider)
    assert "JSON Schema" in sent(provider)["messages"][0]["content"]


def test_the_config_says_what_a_server_takes_and_dry_run_says_which(run, provider, schema):
    outcome = run("run", "-m", "tuned/qwen3", "--schema", schema, "2+2", "--dry-run", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    request = json.loads(outcome.stdout)["request"]
    assert request["structured_output"] == "json_schema"
    assert request["body"]["response_format"]["type"] == "json_schema"
    human = run("run", "-m", "homebox/qwen3", "--expect", "json", "2+2", "--dry-run")
    assert "structured output: instruction" in human.stdout
    assert provider.requests == []


def test_an_answer_that_breaks_the_schema_is_still_invalid(run, provider, schema):
    provider.queue(Reply(text=('{"sum": "four"}',)))
    outcome = run("run", "-m", "gpt-5-mini", "--schema", schema, "2+2")
    assert outcome.exit_code == 7
    assert "breaks the schema" in outcome.stderr


def test_a_bad_structured_setting_in_the_config_is_named(run, isolated_home):
    write(
        isolated_home / "config.yaml",
        "endpoints:\n  box: {base_url: 'http://h/v1', structured: xml}\n",
    )
    outcome = run("run", "-m", "box/m", "hi", "--dry-run")
    assert outcome.exit_code == 3
    assert "endpoints: box: structured must be one of" in outcome.stderr


def test_a_schema_of_an_array_is_asked_in_words(run, provider, tmp_path):
    array = {"type": "array", "items": {"type": "integer"}}
    path = str(write(tmp_path / "array.json", json.dumps(array)))
    provider.queue(Reply(text=("[1, 2]",)), Reply(text=("[1, 2]",)))
    assert run("run", "-m", "claude-haiku-4-5", "--schema", path, "list").exit_code == 0
    assert "tools" not in sent(provider) and '"array"' in sent(provider)["system"]
    assert run("run", "-m", "gpt-5-mini", "--schema", path, "list").exit_code == 0
    assert "response_format" not in sent(provider)


def test_a_cached_system_prompt_stays_cached_when_json_is_asked(run, provider):
    provider.queue(Reply(text=('{"a": 1}',)))
    outcome = run(
        "run", "-m", "claude-haiku-4-5", "--expect", "json", "--cache", "-s", "rules", "x"
    )
    assert outcome.exit_code == 0, outcome.stderr
    system = sent(provider)["system"]
    assert system[0] == {"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}
    assert "JSON" in system[1]["text"]
