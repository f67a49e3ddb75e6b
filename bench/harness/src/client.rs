//! The load generator: `concurrency` workers, each on its own keep-alive
//! HTTP/1.1 connection (hyper client), sending chat-completion requests back
//! to back until a request count or a duration is reached. Non-streaming
//! requests are timed from send to the last body byte; streams record the
//! time to the first content delta and every gap between SSE events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// Path of the chat endpoint, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Extra headers (a peer's routing headers, an API key).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The client protocol spoken to it.
    pub wire: Wire,
}

/// The client protocol a load speaks: its request body, what an answer
/// must contain, what a content event and the end of a stream look like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wire {
    /// Chat completions: `"choices"`, content deltas, `[DONE]`.
    #[default]
    Chat,
    /// Anthropic Messages: `"content"` blocks, `text_delta`s, `message_stop`.
    Messages,
    /// OpenAI Responses: `"output"` items, `response.output_text.delta`s,
    /// `response.completed`.
    Responses,
}

impl Wire {
    /// `chat`, `messages` or `responses`.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "chat" => Self::Chat,
            "messages" => Self::Messages,
            "responses" => Self::Responses,
            other => anyhow::bail!("unknown wire {other:?} (chat, messages, responses)"),
        })
    }

    /// The gateway path a client of this protocol posts to.
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Messages => "/v1/messages",
            Self::Responses => "/v1/responses",
        }
    }

    /// Bytes every whole answer contains.
    fn answer_marker(self) -> &'static [u8] {
        match self {
            Self::Chat => b"\"choices\"",
            Self::Messages => b"\"content\"",
            Self::Responses => b"\"output\"",
        }
    }

    /// Bytes of the event that ends a stream.
    fn end_marker(self) -> &'static [u8] {
        match self {
            Self::Chat => b"[DONE]",
            Self::Messages => b"message_stop",
            Self::Responses => b"response.completed",
        }
    }

    fn is_content(self, event: &[u8]) -> bool {
        let has = |needle: &[u8]| event.windows(needle.len()).any(|w| w == needle);
        match self {
            Self::Chat => has_content(event),
            Self::Messages => has(b"\"text_delta\""),
            Self::Responses => has(b"\"response.output_text.delta\""),
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct Load {
    pub model: String,
    pub stream: bool,
    pub concurrency: usize,
    /// Stop after this many requests (in all) …
    pub requests: Option<u64>,
    /// … or after this long, whichever comes first.
    pub duration: Duration,
    /// Per request.
    pub timeout: Duration,
    /// Bytes of prompt text in each request body.
    pub prompt_bytes: usize,
}

/// What one request measured.
#[derive(Debug, Clone, Default)]
struct Sample {
    latency_us: u64,
    /// Streams: to the first content delta.
    ttft_us: Option<u64>,
    /// Streams: the longest silence between SSE events (after the first).
    max_gap_us: u64,
    /// Streams: the longest silence anywhere from send to the end.
    max_silence_us: u64,
    frames: u32,
}

/// Percentiles in microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dist {
    pub n: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: u64,
}

impl Dist {
    pub fn of(mut v: Vec<u64>) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        v.sort_unstable();
        let at = |q: f64| {
            let i = ((v.len() as f64) * q).ceil() as usize;
            v[i.saturating_sub(1).min(v.len() - 1)]
        };
        let sum: u128 = v.iter().map(|&x| u128::from(x)).sum();
        Self {
            n: v.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: v[v.len() - 1],
            mean: (sum / v.len() as u128) as u64,
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadResult {
    pub ok: u64,
    pub errors: u64,
    /// The first error seen, verbatim (status and body start, or I/O error).
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub rps: f64,
    pub latency: Dist,
    /// Streams only.
    pub ttft: Option<Dist>,
    /// Streams only: the largest gap between two events of one stream.
    pub max_gap_us: Option<u64>,
    /// Streams only: the largest silence, send → first event included.
    pub max_silence_us: Option<u64>,
    /// Streams only: SSE events received per stream (mean).
    pub frames_per_stream: Option<f64>,
    #[serde(skip)]
    samples: Vec<Sample>,
}

impl LoadResult {
    /// Joins two runs of the same scenario (alternating rounds).
    pub fn merge(mut self, other: LoadResult) -> LoadResult {
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.elapsed_s += other.elapsed_s;
        self.samples.extend(other.samples);
        self.finish()
    }

    /// Streams whose longest silence exceeded `limit`, plus failed ones.
    pub fn stalled(&self, limit: Duration) -> u64 {
        let limit = limit.as_micros() as u64;
        self.samples
            .iter()
            .filter(|s| s.max_silence_us > limit)
            .count() as u64
            + self.errors
    }

    fn finish(mut self) -> Self {
        self.rps = if self.elapsed_s > 0.0 {
            self.ok as f64 / self.elapsed_s
        } else {
            0.0
        };
        self.latency = Dist::of(self.samples.iter().map(|s| s.latency_us).collect());
        let ttfts: Vec<u64> = self.samples.iter().filter_map(|s| s.ttft_us).collect();
        if !ttfts.is_empty() {
            self.ttft = Some(Dist::of(ttfts));
            self.max_gap_us = self.samples.iter().map(|s| s.max_gap_us).max();
            self.max_silence_us = self.samples.iter().map(|s| s.max_silence_us).max();
            let frames: u64 = self.samples.iter().map(|s| u64::from(s.frames)).sum();
            self.frames_per_stream = Some(frames as f64 / self.samples.len() as f64);
        }
        self
    }
}

pub fn request_body(wire: Wire, model: &str, stream: bool, prompt_bytes: usize) -> Bytes {
    let words = "Summarise the benchmark results in one short sentence. ";
    let prompt: String = words.chars().cycle().take(prompt_bytes.max(8)).collect();
    if wire == Wire::Responses {
        let body = serde_json::json!({
            "model": model,
            "instructions": "You are a terse assistant.",
            "input": prompt,
            "max_output_tokens": 64,
            "temperature": 0.2,
            "stream": stream,
        });
        return Bytes::from(body.to_string());
    }
    if wire == Wire::Messages {
        let body = serde_json::json!({
            "model": model,
            "system": "You are a terse assistant.",
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 64,
            "temperature": 0.2,
            "stream": stream,
        });
        return Bytes::from(body.to_string());
    }
    let body = serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": prompt},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": stream,
    });
    Bytes::from(body.to_string())
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Whether an SSE event carries generated content (a non-empty
/// `"content"` string), checked without a JSON parser.
fn has_content(event: &[u8]) -> bool {
    let key = b"\"content\"";
    let mut from = 0;
    while let Some(at) = event[from..].windows(key.len()).position(|w| w == key) {
        let mut i = from + at + key.len();
        while i < event.len() && (event[i] == b' ' || event[i] == b':') {
            i += 1;
        }
        if event.get(i) == Some(&b'"') && event.get(i + 1).is_some_and(|&b| b != b'"') {
            return true;
        }
        from = i;
    }
    false
}

/// Sends one request; `Err` carries a printable reason.
async fn one(
    sender: &mut Sender,
    ep: &Endpoint,
    body: &Bytes,
    stream: bool,
) -> Result<Sample, String> {
    let mut req = Request::post(ep.path.as_str())
        .header(http::header::HOST, ep.addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::AUTHORIZATION, "Bearer sk-bench")
        .body(Full::new(body.clone()))
        .map_err(|e| e.to_string())?;
    for (k, v) in &ep.headers {
        req.headers_mut().insert(k.clone(), v.clone());
    }
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let t0 = Instant::now();
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let b = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&b[..b.len().min(300)]).to_string();
        return Err(format!("HTTP {status}: {text}"));
    }
    let mut s = Sample::default();
    if !stream {
        let b = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        s.latency_us = t0.elapsed().as_micros() as u64;
        let marker = ep.wire.answer_marker();
        if !b.windows(marker.len()).any(|w| w == marker) {
            let text = String::from_utf8_lossy(&b[..b.len().min(300)]).to_string();
            return Err(format!("not an answer ({:?}): {text}", ep.wire));
        }
        return Ok(s);
    }
    // SSE: split events on a blank line, time each one.
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut last = t0;
    let mut done = false;
    let mut seen_event = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("stream: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        buf.extend_from_slice(&data);
        let mut got = false;
        while let Some(end) = buf
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|p| (p, 2))
            .or_else(|| {
                buf.windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|p| (p, 4))
            })
        {
            let ev: Vec<u8> = buf.drain(..end.0 + end.1).collect();
            if !ev.windows(5).any(|w| w == b"data:") {
                continue;
            }
            got = true;
            s.frames += 1;
            let end = ep.wire.end_marker();
            if ev.windows(end.len()).any(|w| w == end) {
                done = true;
            }
            if s.ttft_us.is_none() && ep.wire.is_content(&ev) {
                s.ttft_us = Some(now.duration_since(t0).as_micros() as u64);
            }
        }
        if got {
            let gap = now.duration_since(last).as_micros() as u64;
            s.max_silence_us = s.max_silence_us.max(gap);
            if seen_event {
                s.max_gap_us = s.max_gap_us.max(gap);
            }
            seen_event = true;
            last = now;
        }
    }
    s.latency_us = t0.elapsed().as_micros() as u64;
    if !done {
        return Err(format!(
            "stream ended without its last event ({:?}) after {} event(s)",
            ep.wire, s.frames
        ));
    }
    if s.ttft_us.is_none() {
        return Err("stream carried no content delta".into());
    }
    Ok(s)
}

/// Runs `load` against `ep`.
pub async fn run(ep: &Endpoint, load: &Load) -> LoadResult {
    let body = request_body(ep.wire, &load.model, load.stream, load.prompt_bytes);
    let budget = Arc::new(AtomicI64::new(
        load.requests
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
    ));
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut workers = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency {
        let ep = ep.clone();
        let body = body.clone();
        let budget = budget.clone();
        let stream = load.stream;
        let timeout = load.timeout;
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut sender: Option<Sender> = None;
            // Bounded: by the request budget, the deadline, and errors.
            while Instant::now() < deadline && budget.fetch_sub(1, Ordering::Relaxed) > 0 {
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match tokio::time::timeout(timeout, connect(ep.addr)).await {
                        Ok(Ok(s)) => sender.insert(s),
                        Ok(Err(e)) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("connect: {e}"));
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        Err(_) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| "connect: timed out".to_string());
                            continue;
                        }
                    },
                };
                match tokio::time::timeout(timeout, one(s, &ep, &body, stream)).await {
                    Ok(Ok(sample)) => samples.push(sample),
                    Ok(Err(e)) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        sender = None;
                    }
                    Err(_) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("timed out after {}s", timeout.as_secs_f64())
                        });
                        sender = None;
                    }
                }
            }
            (samples, errors, first_error)
        }));
    }
    let mut result = LoadResult::default();
    for w in workers {
        match w.await {
            Ok((samples, errors, first_error)) => {
                result.samples.extend(samples);
                result.errors += errors;
                if result.first_error.is_none() {
                    result.first_error = first_error;
                }
            }
            Err(e) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert_with(|| format!("worker: {e}"));
            }
        }
    }
    result.elapsed_s = start.elapsed().as_secs_f64();
    result.ok = result.samples.len() as u64;
    result.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_detection() {
        assert!(has_content(
            br#"data: {"choices":[{"delta":{"content":"hi"}}]}"#
        ));
        assert!(has_content(
            br#"data: {"choices":[{"delta":{"content": "hi"}}]}"#
        ));
        assert!(!has_content(
            br#"data: {"choices":[{"delta":{"role":"assistant","content":""}}]}"#
        ));
        assert!(!has_content(
            br#"data: {"choices":[{"delta":{"content":null}}]}"#
        ));
    }

    #[test]
    fn percentiles() {
        let d = Dist::of((1..=100).collect());
        assert_eq!((d.p50, d.p99, d.max, d.n), (50, 99, 100, 100));
    }
}
