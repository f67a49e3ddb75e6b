"""The official Google GenAI Python SDK (`google-genai`) pointed at aigw's Gemini ingress, served
by an OpenAI-compatible upstream (Gemini requests translated to chat and back): generate, stream,
tool calls (the SDK's upper-case OpenAPI schemas), count_tokens, the model list, a wrong key.

It has its own `fake-upstream` and gateway (module fixtures below), so the OpenAI SDK suite's
traffic counts stay its own. The gateway has a client key: the SDK sends it in `x-goog-api-key`.
With only a base URL the SDK uses `/v1/models/…`; `api_version="v1beta"` gives `/v1beta/…`.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from google import genai
from google.genai import errors, types

from conftest import (
    FAKE_START_TIMEOUT_S,
    FakeUpstreams,
    Gateway,
    _binary,
    _child_env,
    _free_port,
    _stop,
    _wait_healthy,
)

MODEL = "gemini-2.5-flash"
UPSTREAM_MODEL = "gpt-4o-mini"
KEY_ENV = "GENAI_SDK_TEST_GATEWAY_KEY"
KEY = "aigw-genai-sdk-test-key"

WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="Current weather for a city.",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"city": types.Schema(type=types.Type.STRING)},
                required=["city"],
            ),
        )
    ]
)


@pytest.fixture(scope="module")
def genai_upstream(tmp_path_factory: pytest.TempPathFactory):
    binary = _binary("FAKE_UPSTREAM_BIN", "fake-upstream")
    tmp = tmp_path_factory.mktemp("genai-upstream")
    stderr_path = tmp / "fake-upstream.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [str(binary), "--upstream", "oa=auto"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
            bufsize=0,
        )
    fake = FakeUpstreams(proc=proc, stderr_path=stderr_path)
    try:
        fake.urls = fake._read_line(timeout=FAKE_START_TIMEOUT_S)
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="module")
def genai_gateway(genai_upstream: FakeUpstreams, tmp_path_factory: pytest.TempPathFactory):
    binary = _binary("AIGW_BIN", "aigw")
    tmp = tmp_path_factory.mktemp("genai-aigw")
    port = _free_port()
    config_path = tmp / "aigw.toml"
    q = json.dumps
    config_path.write_text(
        f"""\
[server]
listen = {q(f"127.0.0.1:{port}")}
client_keys = ["env:{KEY_ENV}"]
shutdown_grace_s = 2

[[providers]]
name = "oa"
kind = "openai"
base_url = {q(genai_upstream.urls["oa"])}
timeout_s = 30

[[routes]]
model = {q(MODEL)}
[[routes.targets]]
provider = "oa"
model = {q(UPSTREAM_MODEL)}

[limits]
ingress_rpm = 0
"""
    )
    env = _child_env()
    env[KEY_ENV] = KEY
    stderr_path = tmp / "aigw.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(config_path), "--data-dir", str(tmp / "data"),
             "--listen", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=env,
        )
    gw = Gateway(proc=proc, port=port, config_path=config_path, stderr_path=stderr_path)
    try:
        _wait_healthy(gw)
        yield gw
    finally:
        _stop(proc)


def _client(gw: Gateway, api_version: str | None = None, key: str = KEY) -> genai.Client:
    options: dict = {"base_url": f"http://127.0.0.1:{gw.port}", "timeout": 30_000}
    if api_version:
        options["api_version"] = api_version
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture(scope="module")
def client(genai_gateway: Gateway):
    return _client(genai_gateway)


def test_generate(client: genai.Client) -> None:
    resp = client.models.generate_content(
        model=MODEL,
        contents="Say hello.",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=50),
    )
    assert resp.text == "Hello from oa"
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.usage_metadata.prompt_token_count == 10
    assert resp.usage_metadata.candidates_token_count == 3
    assert resp.usage_metadata.total_token_count == 13


def test_stream(client: genai.Client) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Say hello."))
    assert "".join(c.text or "" for c in chunks) == "Hello from oa"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.prompt_token_count == 10


def test_tool_call(client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=[WEATHER],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    contents = "What is the weather in Paris?"
    resp = client.models.generate_content(model=MODEL, contents=contents, config=config)
    calls = resp.function_calls
    assert calls and calls[0].name == "get_weather" and calls[0].args == {"city": "Paris"}
    assert calls[0].id == "call_1"

    streamed = [
        call
        for chunk in client.models.generate_content_stream(
            model=MODEL, contents=contents, config=config
        )
        for call in (chunk.function_calls or [])
    ]
    assert [(c.name, c.args) for c in streamed] == [("get_weather", {"city": "Paris"})]

    # The tool round: the SDK sends the call and its result back.
    history = [
        types.Content(role="user", parts=[types.Part.from_text(text=contents)]),
        resp.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"output": "sunny"})],
        ),
    ]
    final = client.models.generate_content(model=MODEL, contents=history)
    assert final.text == "Hello from oa"


def test_count_tokens(client: genai.Client) -> None:
    small = client.models.count_tokens(model=MODEL, contents="hi").total_tokens
    big = client.models.count_tokens(model=MODEL, contents="x" * 4000).total_tokens
    assert small and big and big > small + 500


def test_v1beta_and_the_model_list(genai_gateway: Gateway) -> None:
    beta = _client(genai_gateway, api_version="v1beta")
    assert beta.models.generate_content(model=MODEL, contents="Say hello.").text == "Hello from oa"
    names = [m.name for m in beta.models.list()]
    assert f"models/{MODEL}" in names, names
    assert beta.models.get(model=MODEL).name == f"models/{MODEL}"


def test_wrong_key_is_a_gemini_401(genai_gateway: Gateway) -> None:
    bad = _client(genai_gateway, key="wrong-key")
    with pytest.raises(errors.ClientError) as e:
        bad.models.generate_content(model=MODEL, contents="hi")
    assert e.value.code == 401
    assert e.value.status == "UNAUTHENTICATED"


def test_unknown_model_is_a_gemini_404(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="no-such-model", contents="hi")
    assert e.value.code == 404
    assert e.value.status == "NOT_FOUND"


def test_upstream_traffic(client: genai.Client, genai_upstream: FakeUpstreams) -> None:
    """Every routed request reached the chat upstream as chat, with the route's model."""
    dump = genai_upstream.dump()
    posts = [r for r in dump["oa"] if r["method"] == "POST"]
    # generate, stream, 2 tool calls + the round, v1beta generate
    assert len(posts) == 6, dump
    assert all(r["path"] == "/v1/chat/completions" for r in posts), dump
    assert all(r["model"] == UPSTREAM_MODEL for r in posts), dump
