//! Streams: hold the upstream response until its first content frame (so a
//! failure before it can still fall back invisibly), then relay frames as
//! they arrive. Bytes are forwarded as received, cut only at event
//! boundaries; after content has reached the client, an upstream failure
//! ends the stream with an OpenAI-style error event, never a silent cut.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::time::Instant;

use super::engine::Failure;
use super::health::{FailureClass, TargetHealth};
use super::runtime::ProviderRuntime;
use crate::providers::Endpoint;
use crate::sse::{SseEvent, SseSplitter};

pub(crate) type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Token usage as reported by the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: Option<u64>,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens.unwrap_or(0) + self.completion_tokens.unwrap_or(0)
    }

    /// `usage` of a non-streamed response body.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct B {
            usage: Option<Usage>,
        }
        serde_json::from_slice::<B>(body).ok()?.usage
    }
}

#[derive(Deserialize)]
struct Frame {
    choices: Option<Vec<FrameChoice>>,
    usage: Option<Usage>,
    error: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind: Option<String>,
    response: Option<FrameResponse>,
}

#[derive(Deserialize)]
struct FrameResponse {
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct FrameChoice {
    delta: Option<Delta>,
    text: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    tool_calls: Option<Vec<IgnoredAny>>,
    function_call: Option<IgnoredAny>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    audio: Option<IgnoredAny>,
}

impl Delta {
    fn has_content(&self) -> bool {
        let s = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        s(&self.content)
            || s(&self.reasoning_content)
            || s(&self.reasoning)
            || s(&self.refusal)
            || self.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
            || self.function_call.is_some()
            || self.audio.is_some()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// Role-only deltas, `response.created`…: held before commit.
    Preamble,
    Content,
    /// An error frame from upstream.
    Error,
}

/// What one event tells us.
struct Seen {
    kind: Kind,
    usage: Option<Usage>,
    /// The upstream said the answer is complete.
    terminal: bool,
}

fn classify(endpoint: Endpoint, ev: &SseEvent) -> Seen {
    let seen = |kind, usage, terminal| Seen {
        kind,
        usage,
        terminal,
    };
    if ev.is_done() {
        return seen(Kind::Content, None, true);
    }
    if ev.event.as_deref() == Some("error") {
        return seen(Kind::Error, None, true);
    }
    let Ok(f) = serde_json::from_str::<Frame>(&ev.data) else {
        // Not JSON: nothing to learn, but it is data the client should get.
        return seen(Kind::Content, None, false);
    };
    if f.error.is_some() {
        return seen(Kind::Error, None, true);
    }
    if endpoint == Endpoint::Responses {
        let usage = f.response.and_then(|r| r.usage).or(f.usage);
        return match f.kind.as_deref() {
            Some("response.created" | "response.in_progress" | "response.queued") => {
                seen(Kind::Preamble, None, false)
            }
            Some("error" | "response.failed") => seen(Kind::Error, usage, true),
            Some("response.completed" | "response.incomplete") => seen(Kind::Content, usage, true),
            _ => seen(Kind::Content, None, false),
        };
    }
    let choices = f.choices.unwrap_or_default();
    let finished = choices.iter().any(|c| c.finish_reason.is_some());
    let content = finished
        || choices.iter().any(|c| {
            c.delta.as_ref().is_some_and(Delta::has_content)
                || c.text.as_deref().is_some_and(|t| !t.is_empty())
        });
    if content || f.usage.is_some() {
        seen(Kind::Content, f.usage, finished)
    } else {
        seen(Kind::Preamble, None, false)
    }
}

/// Progress of a stream, carried from peek into the relay.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StreamState {
    pub usage: Option<Usage>,
    pub terminal: bool,
    pub upstream_error: bool,
}

impl StreamState {
    fn observe(&mut self, endpoint: Endpoint, ev: &SseEvent) -> Kind {
        let s = classify(endpoint, ev);
        if let Some(u) = s.usage {
            self.usage = Some(u);
        }
        self.terminal |= s.terminal;
        if s.kind == Kind::Error {
            self.upstream_error = true;
        }
        s.kind
    }
}

pub(crate) enum Peeked {
    Committed {
        held: Bytes,
        upstream: Upstream,
        splitter: SseSplitter,
        state: StreamState,
    },
    Failed(Failure),
}

/// Reads the upstream stream until its first content frame (commit) or a
/// failure before it (fallback), by `deadline`.
pub(crate) async fn peek(
    resp: reqwest::Response,
    endpoint: Endpoint,
    deadline: Instant,
    provider: &str,
) -> Peeked {
    let mut upstream: Upstream = Box::pin(resp.bytes_stream());
    let mut splitter = SseSplitter::new();
    let mut held = BytesMut::new();
    let mut state = StreamState::default();
    loop {
        let next = match tokio::time::timeout_at(deadline, upstream.next()).await {
            Err(_) => {
                return Peeked::Failed(Failure::new(
                    "timeout",
                    format!("{provider}: no content from the stream in time"),
                ));
            }
            Ok(n) => n,
        };
        let chunk = match next {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                return Peeked::Failed(Failure::new(
                    "stream_broken",
                    format!("{provider}: stream failed before its first content frame"),
                ));
            }
            None if state.terminal => {
                held.extend_from_slice(&splitter.finish());
                return Peeked::Committed {
                    held: held.freeze(),
                    upstream,
                    splitter,
                    state,
                };
            }
            None => {
                return Peeked::Failed(Failure::new(
                    "stream_broken",
                    format!("{provider}: stream ended before its first content frame"),
                ));
            }
        };
        let split = match splitter.push(&chunk) {
            Ok(s) => s,
            Err(e) => {
                return Peeked::Failed(Failure::new("stream_broken", format!("{provider}: {e}")));
            }
        };
        let mut commit = false;
        for ev in &split.events {
            match state.observe(endpoint, ev) {
                Kind::Preamble => {}
                Kind::Content => commit = true,
                Kind::Error if !commit => {
                    let mut f = Failure::new(
                        "stream_error",
                        format!("{provider}: upstream sent an error event before content"),
                    );
                    f.body = Some(Bytes::from(ev.data.clone()));
                    return Peeked::Failed(f);
                }
                Kind::Error => {}
            }
        }
        held.extend_from_slice(&split.bytes);
        if commit {
            return Peeked::Committed {
                held: held.freeze(),
                upstream,
                splitter,
                state,
            };
        }
    }
}

/// How a relayed stream ended.
#[derive(Debug, Clone, Default)]
pub struct StreamOutcome {
    pub completed: bool,
    pub cancelled: bool,
    /// Error class when the stream broke (or the upstream sent an error).
    pub error: Option<String>,
    pub usage: Option<Usage>,
    /// From commit to the end.
    pub duration: Duration,
}

type Finisher = Box<dyn FnOnce(StreamOutcome) + Send>;

/// A committed stream, ready to become the response body.
pub struct StreamRelay {
    held: Option<Bytes>,
    upstream: Upstream,
    splitter: SseSplitter,
    state: StreamState,
    endpoint: Endpoint,
    idle: Duration,
    health: Arc<TargetHealth>,
    cooldown: Duration,
    failure_threshold: u32,
    provider: Arc<ProviderRuntime>,
    est_tokens: u64,
    started: Instant,
    finisher: Option<Finisher>,
    done: bool,
}

impl StreamRelay {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        held: Bytes,
        upstream: Upstream,
        splitter: SseSplitter,
        state: StreamState,
        endpoint: Endpoint,
        idle: Duration,
        health: Arc<TargetHealth>,
        cooldown: Duration,
        failure_threshold: u32,
        provider: Arc<ProviderRuntime>,
        est_tokens: u64,
    ) -> Self {
        Self {
            held: Some(held),
            upstream,
            splitter,
            state,
            endpoint,
            idle,
            health,
            cooldown,
            failure_threshold,
            provider,
            est_tokens,
            started: Instant::now(),
            finisher: None,
            done: false,
        }
    }

    /// The response body; `finish` runs once when the stream ends, breaks or
    /// the client goes away.
    pub fn into_body(
        mut self,
        finish: impl FnOnce(StreamOutcome) + Send + 'static,
    ) -> axum::body::Body {
        self.finisher = Some(Box::new(finish));
        let s = futures_util::stream::unfold(self, |mut r| async move {
            let chunk = r.next_chunk().await?;
            Some((Ok::<_, Infallible>(chunk), r))
        });
        axum::body::Body::from_stream(s)
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(h) = self.held.take()
            && !h.is_empty()
        {
            return Some(h);
        }
        while !self.done {
            let next = tokio::time::timeout(self.idle, self.upstream.next()).await;
            match next {
                Ok(Some(Ok(chunk))) => {
                    let split = match self.splitter.push(&chunk) {
                        Ok(s) => s,
                        Err(e) => return Some(self.fail("stream_broken", &e.to_string())),
                    };
                    for ev in &split.events {
                        self.state.observe(self.endpoint, ev);
                    }
                    if !split.bytes.is_empty() {
                        return Some(split.bytes);
                    }
                }
                Ok(Some(Err(_))) => {
                    return Some(
                        self.fail("stream_broken", "upstream stream broke off mid-answer"),
                    );
                }
                Ok(None) => {
                    let rest = self.splitter.finish();
                    if self.state.terminal {
                        self.end(None);
                        return (!rest.is_empty()).then_some(rest);
                    }
                    return Some(self.fail(
                        "stream_broken",
                        "upstream stream ended before the answer was complete",
                    ));
                }
                Err(_) => {
                    let msg = format!(
                        "upstream stream stalled: no data for {}s",
                        self.idle.as_secs()
                    );
                    return Some(self.fail("stream_idle_timeout", &msg));
                }
            }
        }
        None
    }

    /// Ends the stream with an error event the client's SDK will raise.
    fn fail(&mut self, class: &'static str, message: &str) -> Bytes {
        self.health.on_failure(
            FailureClass::Error,
            Instant::now(),
            self.cooldown,
            None,
            self.failure_threshold,
            u32::MAX,
            &format!("{}: {message}", self.provider.spec.name),
        );
        self.end(Some(class));
        error_event(message, class)
    }

    fn end(&mut self, error: Option<&'static str>) {
        self.done = true;
        let actual = self.state.usage.map_or(0, |u| u.total());
        self.provider.limiter.settle(self.est_tokens, actual);
        let error = error.map(str::to_string).or_else(|| {
            self.state
                .upstream_error
                .then(|| "upstream_error_event".to_string())
        });
        if let Some(f) = self.finisher.take() {
            f(StreamOutcome {
                completed: error.is_none(),
                cancelled: false,
                error,
                usage: self.state.usage,
                duration: self.started.elapsed(),
            });
        }
    }
}

impl Drop for StreamRelay {
    fn drop(&mut self) {
        if let Some(f) = self.finisher.take() {
            // The client went away mid-stream; dropping `upstream` closes the
            // upstream connection, cancelling the generation.
            self.provider
                .limiter
                .settle(self.est_tokens, self.state.usage.map_or(0, |u| u.total()));
            f(StreamOutcome {
                completed: false,
                cancelled: true,
                error: Some("client_cancelled".into()),
                usage: self.state.usage,
                duration: self.started.elapsed(),
            });
        }
    }
}

/// `data: {"error":{…}}` — what OpenAI sends and its SDKs raise on.
pub fn error_event(message: &str, code: &str) -> Bytes {
    let v = serde_json::json!({
        "error": { "message": message, "type": "upstream_error", "code": code }
    });
    Bytes::from(format!("data: {v}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }

    #[test]
    fn classifies_chat_frames() {
        let c = |d| classify(Endpoint::ChatCompletions, &ev(d)).kind;
        assert_eq!(
            c(
                r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
            ),
            Kind::Preamble
        );
        assert_eq!(
            c(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#),
            Kind::Content
        );
        assert_eq!(
            c(
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]}"#
            ),
            Kind::Content
        );
        assert_eq!(
            c(r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#),
            Kind::Content
        );
        assert_eq!(
            c(r#"{"choices":[{"delta":{"tool_calls":null,"content":null}}]}"#),
            Kind::Preamble
        );
        assert_eq!(c(r#"{"error":{"message":"overloaded"}}"#), Kind::Error);
        let s = classify(
            Endpoint::ChatCompletions,
            &ev(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#),
        );
        assert_eq!(s.kind, Kind::Content);
        assert_eq!(s.usage.unwrap().total(), 7);
        assert!(classify(Endpoint::ChatCompletions, &ev("[DONE]")).terminal);
        assert!(
            classify(
                Endpoint::ChatCompletions,
                &ev(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#)
            )
            .terminal
        );
    }

    #[test]
    fn classifies_responses_frames() {
        let c = |d| classify(Endpoint::Responses, &ev(d));
        assert_eq!(
            c(r#"{"type":"response.created","response":{}}"#).kind,
            Kind::Preamble
        );
        assert_eq!(
            c(r#"{"type":"response.output_text.delta","delta":"x"}"#).kind,
            Kind::Content
        );
        let done = c(
            r#"{"type":"response.completed","response":{"usage":{"input_tokens":5,"output_tokens":2}}}"#,
        );
        assert!(done.terminal);
        assert_eq!(done.usage.unwrap().total(), 7);
        assert_eq!(
            c(r#"{"type":"response.failed","response":{}}"#).kind,
            Kind::Error
        );
    }

    #[test]
    fn completions_text_is_content() {
        let s = classify(
            Endpoint::Completions,
            &ev(r#"{"choices":[{"text":"Hel","finish_reason":null}]}"#),
        );
        assert_eq!(s.kind, Kind::Content);
    }
}
