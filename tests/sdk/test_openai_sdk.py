"""The official OpenAI Python SDK pointed at aigw, with a route whose first target answers 429,
gets the second target's answer with `x-aigw-route-mode: model_fallback`, streaming and tool calls
included.

Route under test (see conftest.py): model `gpt-4o-mini` -> primary (always 429, Retry-After: 30)
then backup (rewritten to `llama-3.1-8b`). The first request puts primary in cooldown for 30 s,
so every later request in this session goes straight to backup — still a model fallback.
The last test checks what each upstream actually received; keep it last in this file.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from conftest import BACKUP_MODEL, ROUTE_MODEL, FakeUpstreams, Gateway

MESSAGES = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]

# Requests this session expects the gateway to route to the backup (checked by the last test).
_routed: list[str] = []


def assert_fallback_headers(headers: httpx.Headers) -> None:
    assert headers.get("x-aigw-route-mode") == "model_fallback", dict(headers)
    assert headers.get("x-aigw-provider") == "backup", dict(headers)
    assert headers.get("x-aigw-model") == BACKUP_MODEL, dict(headers)
    assert headers.get("x-aigw-request-id"), dict(headers)


def test_chat_non_stream_falls_back(client: openai.OpenAI) -> None:
    _routed.append("chat")
    raw = client.chat.completions.with_raw_response.create(
        model=ROUTE_MODEL, messages=MESSAGES
    )
    assert raw.status_code == 200
    assert_fallback_headers(raw.headers)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from backup"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_chat_stream_falls_back(client: openai.OpenAI) -> None:
    _routed.append("chat stream")
    raw = client.chat.completions.with_raw_response.create(
        model=ROUTE_MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.status_code == 200
    assert_fallback_headers(raw.headers)
    assert raw.headers.get("content-type", "").startswith("text/event-stream")
    text = ""
    finish_reasons = []
    usage = None
    for chunk in raw.parse():
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.finish_reason is not None:
                finish_reasons.append(choice.finish_reason)
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
    assert text == "Hello from backup"
    assert finish_reasons == ["stop"]
    assert usage is not None, "no usage chunk although stream_options.include_usage was set"
    assert usage.prompt_tokens == 10 and usage.completion_tokens == 3


def test_tool_call_non_stream_falls_back(client: openai.OpenAI) -> None:
    _routed.append("tool call")
    raw = client.chat.completions.with_raw_response.create(
        model=ROUTE_MODEL, messages=TOOL_MESSAGES, tools=[WEATHER_TOOL]
    )
    assert raw.status_code == 200
    assert_fallback_headers(raw.headers)
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id == "call_1"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}


def test_tool_call_stream_falls_back(client: openai.OpenAI) -> None:
    _routed.append("tool call stream")
    raw = client.chat.completions.with_raw_response.create(
        model=ROUTE_MODEL,
        messages=TOOL_MESSAGES,
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.status_code == 200
    assert_fallback_headers(raw.headers)
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    usage = None
    for chunk in raw.parse():
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                acc = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    acc["id"] = tc.id
                if tc.function is not None:
                    acc["name"] += tc.function.name or ""
                    acc["arguments"] += tc.function.arguments or ""
            if choice.finish_reason is not None:
                finish_reasons.append(choice.finish_reason)
        if chunk.usage is not None:
            usage = chunk.usage
    assert list(calls) == [0], calls
    assert calls[0]["id"] == "call_1"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert finish_reasons == ["tool_calls"]
    assert usage is not None


def test_unknown_model_is_openai_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
    err = info.value
    assert err.status_code == 404
    assert err.code == "model_not_found", err.body
    assert isinstance(err.message, str) and err.message
    assert isinstance(err.body, dict) and isinstance(err.body.get("type"), str), err.body


def test_malformed_request_is_openai_400(gateway: Gateway) -> None:
    resp = httpx.post(
        f"{gateway.base_url}/chat/completions",
        content=b'{"model": ',
        headers={"content-type": "application/json", "authorization": "Bearer sk-local-unused"},
        timeout=10.0,
        trust_env=False,
    )
    assert resp.status_code == 400, resp.text
    assert resp.headers.get("content-type", "").startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("message"), str) and error["message"], body
    assert isinstance(error.get("type"), str) and error["type"], body
    assert "code" in error, body


def test_upstream_traffic(client: openai.OpenAI, fake_upstreams: FakeUpstreams) -> None:
    """Runs last: primary was tried exactly once (then cooled down), backup served the rest."""
    # One more routed request, so this test also stands alone (e.g. with -k).
    _routed.append("final chat")
    completion = client.chat.completions.create(model=ROUTE_MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello from backup"

    dump = fake_upstreams.dump()
    # GET /v1/models (unrouted-model lookups) is not proxied traffic.
    primary = [r for r in dump["primary"] if r["method"] == "POST"]
    backup = [r for r in dump["backup"] if r["method"] == "POST"]
    assert len(primary) == 1, dump
    assert primary[0]["path"] == "/v1/chat/completions"
    assert primary[0]["model"] == ROUTE_MODEL  # the primary target forwards the requested name
    assert len(backup) == len(_routed), (_routed, dump)
    assert all(r["path"] == "/v1/chat/completions" for r in backup), dump
    assert all(r["model"] == BACKUP_MODEL for r in backup), dump
