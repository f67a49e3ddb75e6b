//! The Gemini ingress (`/v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent`, `:countTokens`, `GET /v1beta/models`, and the
//! POST paths under `/v1/models/…`) against real fake upstreams of every
//! kind: translated to chat (OpenAI kind) and to Messages (Anthropic kind),
//! passed through to a fake Gemini API, fallback across kinds, errors in
//! Gemini's shape, the key in `x-goog-api-key`, `?key=` or a bearer token.
//! Gemini keys live in the test's private Secret Service (run through
//! rt.sh: AIGW_TEST_KEYRING=1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use testkit::{Behavior, FakeGemini, FakeUpstream, GeminiReply, Reply};

use crate::common::{KeychainEntry, TestGateway, header, provider, route};
use crate::wire::anthropic_provider;

const KEY: &str = "AIza-fake-gemini-key-0002";

type Key = KeychainEntry;

fn stored_key(tag: &str) -> Option<Key> {
    KeychainEntry::set(&format!("aigw-gemini-ingress-{tag}"), KEY)
}

fn gemini_provider(g: &FakeGemini, key: &Key) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key = \"keyring:{}\"\ntimeout_s = 5\n",
        g.name(),
        g.base_url(),
        key.0
    )
}

/// A Gemini request body: a system instruction, one user turn.
fn generate_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 50, "temperature": 0.2}
    })
}

/// A tool as Gemini CLI declares it (JSON Schema) and one as the Python
/// SDK does (Gemini's OpenAPI subset, upper-case types).
fn tools() -> Value {
    json!([{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather now",
         "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"},
            "days": {"type": "INTEGER", "nullable": true}}, "required": ["city"]}},
        {"name": "read_file",
         "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}}}}
    ]}])
}

async fn post(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(format!("{}{path}", gw.url))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

/// The data of each event of a Gemini SSE body, which must end every event
/// with CRLF CRLF.
fn gemini_events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");
    body.split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data: ").unwrap_or_else(|| panic!("{e:?}"));
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

fn streamed_text(events: &[Value]) -> String {
    events
        .iter()
        .flat_map(|e| {
            e["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn gemini_client_reaches_an_openai_upstream() {
    let up = FakeUpstream::start("oa").await;
    up.set_default(Behavior::Auto);
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("gemini-2.5-flash", "", &[("oa", Some("gpt-4o-mini"))])
    );
    let gw = TestGateway::start(&toml).await;

    // Plain: the answer in Gemini's shape, the request as chat.
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &generate_body(),
    )
    .await;
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    let c = &v["candidates"][0];
    assert_eq!(c["content"]["role"], "model");
    assert_eq!(c["content"]["parts"][0]["text"], "Hello from oa");
    assert_eq!(c["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 10);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 13);
    assert_eq!(v["modelVersion"], "gpt-4o-mini");
    let sent = up.requests()[0].json();
    assert_eq!(up.requests()[0].path, "/v1/chat/completions");
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    );
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["temperature"], 0.2);
    assert!(sent.get("stream").is_none());

    // The same POST under /v1/models/… (the Python SDK's default path).
    let (s, v) = json_of(
        post(
            &gw,
            "/v1/models/gemini-2.5-flash:generateContent",
            &generate_body(),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from oa"
    );

    // Streamed: Gemini SSE events, the last with finishReason and usage.
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &generate_body(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let events = gemini_events(&r.text().await.unwrap());
    assert_eq!(streamed_text(&events), "Hello from oa");
    let last = events.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 10);
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e["candidates"][0].get("finishReason").is_none())
    );
    let sent = up.requests()[2].json();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);

    // Tools: declarations become chat tools (upper-case OpenAPI types
    // lower-cased), the call comes back as a functionCall with its id.
    let mut body = generate_body();
    body["tools"] = tools();
    body["toolConfig"] = json!({"functionCallingConfig": {"mode": "ANY"}});
    let (s, v) = json_of(
        post(
            &gw,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            &body,
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(
        call,
        &json!({"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}})
    );
    let sent = up.requests()[3].json();
    assert_eq!(
        sent["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {"city": {"type": "string"},
            "days": {"type": ["integer", "null"]}}, "required": ["city"]})
    );
    assert_eq!(
        sent["tools"][1]["function"]["parameters"]["properties"]["path"]["type"],
        "string"
    );
    assert_eq!(sent["tool_choice"], "required");

    // Streamed tool call: whole in the last event.
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &body,
    )
    .await;
    let events = gemini_events(&r.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}})
    );

    // The tool round: the call and its result (by id, as Gemini CLI sends
    // it) become an assistant tool call and a tool message.
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"output": "sunny"}}}]}
    ]});
    let (s, v) = json_of(
        post(
            &gw,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            &body,
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let sent = up.requests()[5].json();
    let m = &sent["messages"];
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "content": "sunny", "tool_call_id": "call_1"})
    );
}

#[tokio::test]
async fn gemini_client_reaches_an_anthropic_upstream() {
    let up = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&up, ""),
        route(
            "gemini-2.5-pro",
            "",
            &[("claude", Some("claude-sonnet-4-5"))]
        )
    );
    let gw = TestGateway::start(&toml).await;
    up.push(Behavior::Reply(
        Reply::text("Checking.")
            .with_thinking("need the tool")
            .tool_call("toolu_1", "get_weather", &json!({"city": "Paris"})),
    ));
    let mut body = generate_body();
    body["tools"] = tools();
    let (s, v) =
        json_of(post(&gw, "/v1beta/models/gemini-2.5-pro:generateContent", &body).await).await;
    assert_eq!(s, 200, "{v}");
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({"text": "need the tool", "thought": true}));
    assert_eq!(parts[1], json!({"text": "Checking."}));
    assert_eq!(
        parts[2]["functionCall"],
        json!({"id": "toolu_1", "name": "get_weather", "args": {"city": "Paris"}})
    );
    let r = &up.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    let sent = r.json();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(
        sent["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );

    // Streamed through Anthropic's events.
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        &generate_body(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let events = gemini_events(&r.text().await.unwrap());
    assert_eq!(streamed_text(&events), "Hello from claude");
    let last = events.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(last["usageMetadata"]["promptTokenCount"].as_u64().is_some());
    assert_eq!(up.requests()[1].json()["stream"], true);

    // An Anthropic error reaches the client in Gemini's shape.
    up.push(Behavior::status(400));
    let (s, v) = json_of(
        post(
            &gw,
            "/v1beta/models/gemini-2.5-pro:generateContent",
            &generate_body(),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn gemini_client_passes_through_to_gemini() {
    let Some(key) = stored_key("pass") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-pro"))])
    );
    let gw = TestGateway::start(&toml).await;
    // The body is forwarded byte for byte; the client's own `?key=` never
    // goes upstream (the provider's key does, in x-goog-api-key).
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"safetySettings":[],  "generationConfig":{"thinkingConfig":{"includeThoughts":true}}}"#;
    let r = gw
        .http
        .post(format!(
            "{}/v1beta/models/fast:generateContent?key=client-own-key",
            gw.url
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from Gemini"
    );
    assert_eq!(v["responseId"], "fake-gemini-response");
    let rec = &g.requests()[0];
    assert_eq!(rec.path, "/v1beta/models/gemini-2.5-pro:generateContent");
    assert_eq!(rec.query, None);
    assert_eq!(rec.header("x-goog-api-key").as_deref(), Some(KEY));
    assert_eq!(rec.body.as_ref(), body.as_bytes());

    // Streamed, as Gemini CLI asks: `?alt=sse` once, the events as they came.
    g.push(GeminiReply::Text("one two three".into()));
    let r = gw
        .http
        .post(format!(
            "{}/v1beta/models/fast:streamGenerateContent?alt=sse",
            gw.url
        ))
        .header("x-goog-api-key", "client-own-key")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = gemini_events(&r.text().await.unwrap());
    assert_eq!(streamed_text(&events), "one two three");
    let rec = &g.requests()[1];
    assert_eq!(
        rec.path,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    );
    assert_eq!(rec.query.as_deref(), Some("alt=sse"));
    assert_eq!(rec.header("x-goog-api-key").as_deref(), Some(KEY));

    // A Gemini error passes through as Gemini sent it.
    g.push(GeminiReply::Error {
        code: 400,
        status: "INVALID_ARGUMENT".into(),
        message: "Request contains an invalid argument.".into(),
    });
    let (s, v) =
        json_of(post(&gw, "/v1beta/models/fast:generateContent", &generate_body()).await).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"],
        json!({"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"})
    );

    // countTokens goes to Gemini's own countTokens.
    let r = post(&gw, "/v1beta/models/fast:countTokens", &generate_body()).await;
    assert_eq!(header(&r, "x-aigw-token-count"), "upstream");
    let (s, v) = json_of(r).await;
    assert_eq!((s, v), (200, json!({"totalTokens": 7})));
    let rec = g.requests().last().cloned().unwrap();
    assert_eq!(rec.path, "/v1beta/models/gemini-2.5-pro:countTokens");
    assert_eq!(rec.header("x-goog-api-key").as_deref(), Some(KEY));
}

#[tokio::test]
async fn gemini_clients_fall_back_across_kinds() {
    let Some(key) = stored_key("fallback") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, ""),
        route(
            "gemini-2.5-flash",
            "",
            &[("gem", None), ("oa", Some("gpt-4o-mini"))]
        )
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::Error {
        code: 503,
        status: "UNAVAILABLE".into(),
        message: "The model is overloaded.".into(),
    });
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &generate_body(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-route-mode"), "model_fallback");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    let events = gemini_events(&r.text().await.unwrap());
    assert_eq!(streamed_text(&events), "Hello from oa");
    assert_eq!(
        g.requests()[0].path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(oa.requests()[0].json()["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn openai_failure_falls_back_to_anthropic_for_a_gemini_client() {
    let oa = FakeUpstream::start("oa").await;
    let claude = FakeUpstream::start("claude").await;
    oa.push(Behavior::status(500));
    let toml = format!(
        "{}{}{}",
        provider(&oa, ""),
        anthropic_provider(&claude, ""),
        route(
            "gemini-2.5-flash",
            "",
            &[
                ("oa", Some("gpt-4o-mini")),
                ("claude", Some("claude-haiku-4-5"))
            ]
        )
    );
    let gw = TestGateway::start(&toml).await;
    let r = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &generate_body(),
    )
    .await;
    assert_eq!(header(&r, "x-aigw-provider"), "claude");
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from claude"
    );
}

#[tokio::test]
async fn errors_are_in_gemini_s_shape() {
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "[server]\nclient_keys = [\"env:PATH\"]\n{}{}",
        provider(&oa, ""),
        route("gemini-2.5-flash", "", &[("oa", Some("gpt-4o-mini"))])
    );
    let gw = TestGateway::start(&toml).await;
    let key = std::env::var("PATH").unwrap();
    let url = |p: &str| format!("{}{p}", gw.url);
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";

    // No key: 401 UNAUTHENTICATED.
    let r = gw
        .http
        .post(url(path))
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    assert!(v["error"]["message"].is_string());

    // The gateway key in each of the places Gemini clients put it.
    let key_q = format!("{path}?key={key}");
    for rb in [
        gw.http.post(url(path)).header("x-goog-api-key", &key),
        gw.http.post(url(&key_q)),
        gw.http.post(url(path)).bearer_auth(&key),
    ] {
        let r = rb.json(&generate_body()).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // The key from the query string went nowhere upstream.
    assert!(oa.requests().iter().all(|r| r.query.is_none()));

    let with_key = |p: &str| gw.http.post(url(p)).header("x-goog-api-key", &key);
    // Not JSON: 400 INVALID_ARGUMENT.
    let r = with_key(path).body("{nope").send().await.unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(
        (s, v["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    // An unknown model: 404 NOT_FOUND.
    let r = with_key("/v1beta/models/nope:generateContent")
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!((s, v["error"]["status"].as_str()), (404, Some("NOT_FOUND")));
    // A method the gateway does not serve.
    let r = with_key("/v1beta/models/gemini-2.5-flash:embedContent")
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!((s, v["error"]["code"].as_u64()), (404, Some(404)));
    // No contents: the translation refuses it, in Gemini's shape.
    let r = with_key(path)
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    // An upstream error, translated.
    oa.push(Behavior::status(429));
    let r = with_key(path).json(&generate_body()).send().await.unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[tokio::test]
async fn count_tokens_and_the_model_list() {
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        provider(&oa, ""),
        route("gemini-2.5-flash", "", &[("oa", Some("gpt-4o-mini"))]),
        route("gemini-2.5-pro", "", &[("oa", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;

    // countTokens without a Gemini upstream: the local estimate, growing
    // with the prompt; `contents` or a whole generateContentRequest.
    let small = post(
        &gw,
        "/v1beta/models/gemini-2.5-flash:countTokens",
        &json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    )
    .await;
    assert_eq!(header(&small, "x-aigw-token-count"), "estimate");
    let (s, v) = json_of(small).await;
    assert_eq!(s, 200, "{v}");
    let small = v["totalTokens"].as_u64().unwrap();
    let big = json!({"generateContentRequest": {"model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "x".repeat(4000)}]}], "tools": tools()}});
    let (_, v) = json_of(post(&gw, "/v1/models/gemini-2.5-flash:countTokens", &big).await).await;
    let big = v["totalTokens"].as_u64().unwrap();
    assert!(small >= 1 && big > small + 1000, "{small} {big}");
    assert!(oa.requests().is_empty(), "an estimate calls no upstream");
    let (s, v) = json_of(
        post(
            &gw,
            "/v1beta/models/gemini-2.5-flash:countTokens",
            &json!([1]),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );

    // The model list in Gemini's shape, paged.
    let get = |p: &str| gw.http.get(format!("{}{p}", gw.url)).send();
    let (s, v) = json_of(get("/v1beta/models").await.unwrap()).await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"models/gemini-2.5-flash"), "{names:?}");
    assert!(names.contains(&"models/gemini-2.5-pro"), "{names:?}");
    assert!(
        v["models"][0]["supportedGenerationMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("generateContent"))
    );
    let (_, p1) = json_of(get("/v1beta/models?pageSize=1").await.unwrap()).await;
    assert_eq!(p1["models"].as_array().unwrap().len(), 1);
    let token = p1["nextPageToken"].as_str().unwrap().to_string();
    let (_, p2) = json_of(
        get(&format!("/v1beta/models?pageSize=1&pageToken={token}"))
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(p1["models"][0]["name"], p2["models"][0]["name"]);
    let (s, v) = json_of(get("/v1beta/models/gemini-2.5-pro").await.unwrap()).await;
    assert_eq!(
        (s, v["name"].as_str()),
        (200, Some("models/gemini-2.5-pro"))
    );
    let (s, v) = json_of(get("/v1beta/models/nope").await.unwrap()).await;
    assert_eq!((s, v["error"]["status"].as_str()), (404, Some("NOT_FOUND")));
}
