//! Shared test helpers: start the gateway on 127.0.0.1:0 with a config
//! written against real fake upstreams, and capture telemetry events.
#![allow(dead_code)]

pub mod aigw;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::config::Config;
use gateway_core::telemetry::{RequestEvent, TelemetrySink};
use gateway_core::{GatewayHandle, GatewayOptions};
use serde_json::{Value, json};
use testkit::FakeUpstream;

#[derive(Debug, Default)]
pub struct Capture(pub Mutex<Vec<RequestEvent>>);

impl TelemetrySink for Capture {
    fn record(&self, e: RequestEvent) {
        self.0.lock().unwrap().push(e);
    }
}

impl Capture {
    pub fn events(&self) -> Vec<RequestEvent> {
        self.0.lock().unwrap().clone()
    }
    /// Waits for `n` events (streams record theirs when they end).
    pub async fn wait(&self, n: usize) -> Vec<RequestEvent> {
        for _ in 0..500 {
            let ev = self.events();
            if ev.len() >= n {
                return ev;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} telemetry events, got {:?}", self.events());
    }
}

pub struct Gw {
    pub handle: GatewayHandle,
    pub url: String,
    pub http: reqwest::Client,
    pub capture: Arc<Capture>,
}

impl Gw {
    pub async fn start(toml: &str) -> Gw {
        let config = Config::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let capture = Arc::new(Capture::default());
        let mut opts = GatewayOptions::new(config);
        opts.listen = Some("127.0.0.1:0".parse().unwrap());
        opts.telemetry = Some(capture.clone());
        let handle = gateway_core::start(opts).await.unwrap();
        let url = handle.base_url();
        Gw {
            handle,
            url,
            http: reqwest::Client::new(),
            capture,
        }
    }

    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// A `[[providers]]` table for a fake upstream.
pub fn provider(up: &FakeUpstream, extra: &str) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"openai\"\nbase_url = \"{}\"\n{extra}\n",
        up.name(),
        up.base_url()
    )
}

/// A route over `targets`: `(provider, Some(model))`.
pub fn route(model: &str, extra: &str, targets: &[(&str, Option<&str>)]) -> String {
    let mut s = format!("[[routes]]\nmodel = \"{model}\"\n{extra}\n");
    for (p, m) in targets {
        s.push_str(&format!("[[routes.targets]]\nprovider = \"{p}\"\n"));
        if let Some(m) = m {
            s.push_str(&format!("model = \"{m}\"\n"));
        }
    }
    s
}

pub fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    })
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("missing header {name}: {:?}", resp.headers()))
}

/// Concatenated `choices[0].delta.content` of an SSE body.
pub fn streamed_text(body: &str) -> String {
    testkit::parse_sse(body)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Two upstreams and a gateway routing `gpt-4o-mini` to primary, then to
/// backup with the model rewritten.
pub async fn pair(route_extra: &str) -> (FakeUpstream, FakeUpstream, Gw) {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let toml = format!(
        "{}{}{}",
        provider(&primary, "timeout_s = 2"),
        provider(&backup, "timeout_s = 2"),
        route(
            "gpt-4o-mini",
            route_extra,
            &[("primary", None), ("backup", Some("llama-3.1-8b"))]
        )
    );
    let gw = Gw::start(&toml).await;
    (primary, backup, gw)
}
