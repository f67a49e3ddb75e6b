//! # Provider fallback demo
//!
//! Two fake OpenAI-compatible upstreams and one gateway in front of them:
//!
//! * `primary` answers every request with `429 Too Many Requests` and
//!   `Retry-After: 30`;
//! * `backup` answers normally (`"Hello from backup"`);
//! * the gateway routes `gpt-4o-mini` to `primary` first (model forwarded as
//!   is), then to `backup` with the model rewritten to `llama-3.1-8b`.
//!
//! [`run`] sends one plain and one streaming chat completion through the
//! gateway and reports what the client saw (status, `x-aigw-*` headers, text)
//! next to what each upstream really received, so the two can be compared.
//! The binary narrates it; `tests/demo.rs` asserts it.

use std::fmt::Display;

use anyhow::{Context, Result};
use gateway_core::{Config, GatewayHandle, GatewayOptions};
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

/// The model clients ask for.
pub const REQUESTED_MODEL: &str = "gpt-4o-mini";
/// What the backup target rewrites it to.
pub const BACKUP_MODEL: &str = "llama-3.1-8b";
/// The `Retry-After` the primary sends with its 429s.
pub const PRIMARY_RETRY_AFTER_S: u64 = 30;

/// The gateway config for the two upstreams (TOML, as a user would write it).
pub fn config_toml(primary_base_url: &str, backup_base_url: &str) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[[providers]]
name = "primary"
kind = "openai"
base_url = "{primary_base_url}"

[[providers]]
name = "backup"
kind = "openai"
base_url = "{backup_base_url}"

[[routes]]
model = "{REQUESTED_MODEL}"
strategy = "priority"
cooldown_s = 30
[[routes.targets]]
provider = "primary"
[[routes.targets]]
provider = "backup"
model = "{BACKUP_MODEL}"
"#
    )
}

/// The running pieces: two fake upstreams, the gateway in front of them and
/// an HTTP client that talks to the gateway.
pub struct Setup {
    pub primary: FakeUpstream,
    pub backup: FakeUpstream,
    pub gateway: GatewayHandle,
    pub client: reqwest::Client,
    /// The config the gateway was started with.
    pub config_toml: String,
}

impl Setup {
    /// Starts the upstreams (primary always 429 + `Retry-After: 30`, backup
    /// OK) and a gateway on `127.0.0.1:0` routing between them.
    pub async fn start() -> Result<Self> {
        let primary = FakeUpstream::start("primary").await;
        primary.set_default(Behavior::Status {
            status: 429,
            retry_after: Some(PRIMARY_RETRY_AFTER_S),
            body: None,
        });
        let backup = FakeUpstream::start("backup").await;
        let config_toml = config_toml(&primary.base_url(), &backup.base_url());
        let config =
            Config::parse(&config_toml, "provider-fallback demo").context("demo config")?;
        let gateway = gateway_core::start(GatewayOptions {
            listen: Some("127.0.0.1:0".parse()?),
            ..GatewayOptions::new(config)
        })
        .await
        .context("starting the gateway")?;
        // Loopback only: never route the demo through an HTTP proxy from the environment.
        let client = reqwest::Client::builder().no_proxy().build()?;
        Ok(Self {
            primary,
            backup,
            gateway,
            client,
            config_toml,
        })
    }

    /// `http://127.0.0.1:PORT/v1/chat/completions` on the gateway.
    pub fn chat_url(&self) -> String {
        format!("{}/v1/chat/completions", self.gateway.base_url())
    }

    /// What each upstream has received so far (proxied requests only).
    pub fn seen(&self) -> UpstreamSeen {
        UpstreamSeen {
            primary: models_of(&self.primary),
            backup: models_of(&self.backup),
        }
    }

    /// Seconds left in the primary target's cooldown, as the gateway's own
    /// health registry reports it (`None` when it is not cooling down).
    pub fn primary_cooldown_remaining_s(&self) -> Option<f64> {
        let now = tokio::time::Instant::now();
        self.gateway
            .state()
            .health
            .snapshot(now)
            .into_iter()
            .find(|(provider, model, _)| provider == "primary" && model == REQUESTED_MODEL)
            .and_then(|(_, _, snap)| snap.cooldown_remaining_ms)
            .map(|ms| ms as f64 / 1000.0)
    }

    /// Stops the gateway (waiting for it) and the upstreams.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.primary.shutdown();
        self.backup.shutdown();
    }
}

fn models_of(up: &FakeUpstream) -> Vec<String> {
    up.proxied_requests()
        .iter()
        .map(|r| r.model().unwrap_or_else(|| "(no model)".to_owned()))
        .collect()
}

/// The `model` field of every proxied request each upstream received, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSeen {
    pub primary: Vec<String>,
    pub backup: Vec<String>,
}

/// The `x-aigw-*` response headers (`None` when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayHeaders {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub route_mode: Option<String>,
    pub request_id: Option<String>,
    pub attempts: Option<String>,
}

impl GatewayHeaders {
    pub fn from_response(resp: &reqwest::Response) -> Self {
        let get = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            provider: get("x-aigw-provider"),
            model: get("x-aigw-model"),
            route_mode: get("x-aigw-route-mode"),
            request_id: get("x-aigw-request-id"),
            attempts: get("x-aigw-attempts"),
        }
    }

    /// `provider=… model=… route_mode=… attempts=…`
    pub fn summary(&self) -> String {
        format!(
            "provider={} model={} route_mode={} attempts={}",
            or_dash(&self.provider),
            or_dash(&self.model),
            or_dash(&self.route_mode),
            or_dash(&self.attempts),
        )
    }
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// One non-streaming exchange as the client saw it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub headers: GatewayHeaders,
    /// `choices[0].message.content`.
    pub text: String,
}

/// One streaming exchange as the client saw it.
#[derive(Debug, Clone)]
pub struct StreamExchange {
    pub status: u16,
    pub headers: GatewayHeaders,
    /// The `data:` payload of every SSE event, in order (the last one should be `[DONE]`).
    pub frames: Vec<String>,
    /// The content deltas concatenated.
    pub text: String,
}

/// Everything the demo observed.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub gateway_url: String,
    pub primary_url: String,
    pub backup_url: String,
    /// The non-streaming request.
    pub first: Exchange,
    /// What the upstreams had received after it.
    pub after_first: UpstreamSeen,
    /// The primary's remaining cooldown right after the first request.
    pub primary_cooldown_s: Option<f64>,
    /// The streaming request.
    pub stream: StreamExchange,
    /// What the upstreams had received after it.
    pub after_stream: UpstreamSeen,
}

impl DemoReport {
    /// Both requests were served by the backup with the rewritten model.
    pub fn showed_model_fallback(&self) -> bool {
        let ok = |h: &GatewayHeaders| {
            h.provider.as_deref() == Some("backup")
                && h.model.as_deref() == Some(BACKUP_MODEL)
                && h.route_mode.as_deref() == Some("model_fallback")
        };
        self.first.status == 200
            && self.stream.status == 200
            && ok(&self.first.headers)
            && ok(&self.stream.headers)
    }
}

/// Prints the demo's narration when enabled.
#[derive(Clone, Copy)]
struct Narrator(bool);

impl Narrator {
    fn say(self, line: impl Display) {
        if self.0 {
            println!("{line}");
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "1 request (model gpt-4o-mini)" / "2 requests (models llama-3.1-8b, llama-3.1-8b)"
fn describe_seen(models: &[String]) -> String {
    match models.len() {
        0 => "0 requests".to_owned(),
        1 => format!("1 request (model {})", models.join(", ")),
        n => format!("{n} requests (models {})", models.join(", ")),
    }
}

/// Runs the whole demo and reports what happened; prints each step when `narrate`.
pub async fn run(narrate: bool) -> Result<DemoReport> {
    let n = Narrator(narrate);
    let setup = Setup::start().await?;
    let result = drive(&setup, n).await;
    setup.shutdown().await;
    n.say("7. gateway shut down.");
    result
}

async fn drive(setup: &Setup, n: Narrator) -> Result<DemoReport> {
    n.say(format_args!(
        "1. primary upstream listening on {} — answers every request with 429 Too Many Requests (Retry-After: {PRIMARY_RETRY_AFTER_S})",
        setup.primary.base_url()
    ));
    n.say(format_args!(
        "2. backup upstream listening on {} — answers normally (\"Hello from backup\")",
        setup.backup.base_url()
    ));
    n.say(format_args!(
        "3. gateway listening on {} with route {REQUESTED_MODEL} → primary (model as requested), then backup (model rewritten to {BACKUP_MODEL}). Config:",
        setup.gateway.base_url()
    ));
    for line in setup.config_toml.lines() {
        n.say(format_args!("     | {line}"));
    }

    // --- 4. plain chat completion ---------------------------------------------------------
    n.say(format_args!(
        "4. POST /v1/chat/completions model={REQUESTED_MODEL} (not streaming)"
    ));
    let body = json!({
        "model": REQUESTED_MODEL,
        "messages": [{"role": "user", "content": "Say hello."}],
    });
    let resp = setup
        .client
        .post(setup.chat_url())
        .json(&body)
        .send()
        .await
        .context("first request to the gateway")?;
    let status = resp.status().as_u16();
    let headers = GatewayHeaders::from_response(&resp);
    let answer: Value = resp.json().await.context("first response body")?;
    let text = answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    n.say(format_args!("   → {status} from {}", headers.summary()));
    n.say(format_args!(
        "     request id {}; answer: {text:?}",
        or_dash(&headers.request_id)
    ));
    let after_first = setup.seen();
    n.say(format_args!(
        "   upstreams: primary received {} and answered 429, so the gateway fell back; backup received {}",
        describe_seen(&after_first.primary),
        describe_seen(&after_first.backup)
    ));
    let primary_cooldown_s = setup.primary_cooldown_remaining_s();
    match primary_cooldown_s {
        Some(s) => n.say(format_args!(
            "   the primary's Retry-After put it in a cooldown: the gateway will skip it for another {s:.0} s"
        )),
        None => n.say("   the primary is not cooling down (unexpected: it sent Retry-After)"),
    }
    let first = Exchange {
        status,
        headers,
        text,
    };

    // --- 5. streaming chat completion -----------------------------------------------------
    n.say(format_args!(
        "5. POST /v1/chat/completions model={REQUESTED_MODEL} stream=true"
    ));
    let body = json!({
        "model": REQUESTED_MODEL,
        "messages": [{"role": "user", "content": "Say hello, slowly."}],
        "stream": true,
    });
    let mut resp = setup
        .client
        .post(setup.chat_url())
        .json(&body)
        .send()
        .await
        .context("streaming request to the gateway")?;
    let status = resp.status().as_u16();
    let headers = GatewayHeaders::from_response(&resp);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    n.say(format_args!(
        "   → {status} ({content_type}) from {}",
        headers.summary()
    ));
    let mut frames = Vec::new();
    let mut text = String::new();
    let mut buf: Vec<u8> = Vec::new();
    let on_event = |block: &[u8], frames: &mut Vec<String>, text: &mut String| {
        for data in testkit::parse_sse(&String::from_utf8_lossy(block)) {
            let what = describe_frame(&data, text);
            n.say(format_args!("     frame {}: {what}", frames.len() + 1));
            frames.push(data);
        }
    };
    while let Some(chunk) = resp.chunk().await.context("reading the stream")? {
        buf.extend_from_slice(&chunk);
        while let Some(block) = take_event(&mut buf) {
            on_event(&block, &mut frames, &mut text);
        }
    }
    if !buf.is_empty() {
        let rest = std::mem::take(&mut buf);
        on_event(&rest, &mut frames, &mut text);
    }
    n.say(format_args!("   streamed text: {text:?}"));
    let after_stream = setup.seen();
    let primary_new = after_stream
        .primary
        .len()
        .saturating_sub(after_first.primary.len());
    if primary_new == 0 {
        n.say(format_args!(
            "   the primary was still cooling down, so the gateway went straight to the backup without calling it ({} on this request)",
            plural(
                headers.attempts.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0),
                "attempt",
                "attempts"
            )
        ));
    } else {
        n.say(format_args!(
            "   the primary was called again ({}) although it should be cooling down",
            plural(primary_new, "more request", "more requests")
        ));
    }
    n.say(format_args!(
        "6. in total: primary received {}, backup received {}",
        describe_seen(&after_stream.primary),
        describe_seen(&after_stream.backup)
    ));
    let stream = StreamExchange {
        status,
        headers,
        frames,
        text,
    };
    Ok(DemoReport {
        gateway_url: setup.gateway.base_url(),
        primary_url: setup.primary.base_url(),
        backup_url: setup.backup.base_url(),
        first,
        after_first,
        primary_cooldown_s,
        stream,
        after_stream,
    })
}

/// Removes and returns the first complete SSE event (up to a blank line) from `buf`.
fn take_event(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let lf = find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = find(buf, b"\r\n\r\n").map(|i| (i, 4));
    let (at, len) = match (lf, crlf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    let block = buf[..at + len].to_vec();
    buf.drain(..at + len);
    Some(block)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A one-line description of an SSE data payload; appends content deltas to `text`.
fn describe_frame(data: &str, text: &mut String) -> String {
    if data == "[DONE]" {
        return "[DONE]".to_owned();
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return format!("(not JSON) {data}");
    };
    if let Some(err) = v.get("error") {
        return format!("error event: {err}");
    }
    let choice = v.pointer("/choices/0");
    let delta = choice.and_then(|c| c.get("delta"));
    let mut parts = Vec::new();
    if let Some(role) = delta.and_then(|d| d.get("role")).and_then(Value::as_str) {
        parts.push(format!("role={role}"));
    }
    if let Some(content) = delta
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        text.push_str(content);
        parts.push(format!("content {content:?}"));
    }
    if let Some(reason) = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
    {
        parts.push(format!("finish_reason={reason}"));
    }
    if v.get("usage").is_some_and(|u| !u.is_null()) {
        parts.push("usage".to_owned());
    }
    if parts.is_empty() {
        parts.push("(empty delta)".to_owned());
    }
    let model = v.get("model").and_then(Value::as_str).unwrap_or("-");
    format!("{} [model {model}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::{describe_frame, take_event};

    #[test]
    fn take_event_splits_on_blank_lines() {
        let mut buf = b"data: a\n\ndata: b\r\n\r\ndata: c".to_vec();
        assert_eq!(take_event(&mut buf).as_deref(), Some(&b"data: a\n\n"[..]));
        assert_eq!(
            take_event(&mut buf).as_deref(),
            Some(&b"data: b\r\n\r\n"[..])
        );
        assert_eq!(take_event(&mut buf), None);
        assert_eq!(buf, b"data: c");
    }

    #[test]
    fn describe_frame_collects_content() {
        let mut text = String::new();
        let d = describe_frame(
            r#"{"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            &mut text,
        );
        assert_eq!(d, "content \"Hi\" [model m]");
        assert_eq!(describe_frame("[DONE]", &mut text), "[DONE]");
        assert_eq!(text, "Hi");
    }
}
