//! Streams: hold the upstream response until its first content frame (so a
//! failure before it can still fall back invisibly), then relay frames as
//! they arrive. When the upstream speaks the client's protocol, bytes are
//! forwarded as received, cut only at event boundaries; otherwise each
//! event goes through a [`StreamTranslator`] and the client gets its own
//! protocol's events; such an event is parsed once, and classified
//! (`frames.rs`) from what the translator parsed. After content has
//! reached the client, an upstream failure ends the stream with an error
//! event in the client's protocol, never a silent cut.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use super::engine::Failure;
use super::frames::{Kind, StreamState};
use super::health::{FailureClass, TargetHealth};
use super::runtime::ProviderRuntime;
use crate::eventstream::EventStreamSplitter;
use crate::secrets::scrub::Scrubber;
use crate::sse::{EventTooLarge, SseSplitter};
use crate::translate::StreamTranslator;
use crate::translate::errors::client_stream_error;
use crate::vocab::{Endpoint, ErrorClass, Usage};

pub(crate) type Upstream =
    Pin<Box<dyn Stream<Item = Result<Bytes, crate::upstream::BodyError>> + Send>>;

/// Where a stream's events come from: SSE, or the AWS event stream of a
/// Bedrock upstream (always translated: its bytes never reach a client).
enum Splitter {
    Sse(SseSplitter),
    Aws(EventStreamSplitter),
}

impl Splitter {
    fn push(&mut self, chunk: &[u8]) -> Result<crate::sse::Split, EventTooLarge> {
        match self {
            Self::Sse(s) => s.push(chunk),
            Self::Aws(s) => Ok(crate::sse::Split {
                bytes: Bytes::new(),
                events: s.push(chunk)?,
            }),
        }
    }

    fn pending(&self) -> usize {
        match self {
            Self::Sse(s) => s.pending(),
            Self::Aws(s) => s.pending(),
        }
    }

    fn finish(&mut self) -> Bytes {
        match self {
            Self::Sse(s) => s.finish(),
            Self::Aws(s) => {
                s.finish();
                Bytes::new()
            }
        }
    }
}

/// How upstream bytes become client bytes for one stream.
pub(crate) struct Framing {
    splitter: Splitter,
    /// The upstream's protocol: how its events are classified.
    upstream: Endpoint,
    /// The client's protocol: the shape of gateway-made error events.
    client: Endpoint,
    /// `None`: passthrough, the upstream's bytes as they are.
    translator: Option<Box<StreamTranslator>>,
    /// The provider's secrets, scrubbed out of what the client gets.
    scrub: Scrubber,
}

/// Why [`Framing::feed`] stopped before the first content frame.
pub(crate) enum Halt {
    TooLarge(EventTooLarge),
    /// An error event; its data.
    ErrorEvent(String),
    /// Data that is not an event of the upstream's protocol.
    Garbage,
}

/// What a stream may send before its first content frame, held in memory
/// meanwhile: past either cap the attempt fails (`upstream_body_too_large`,
/// a fallback signal: nothing has reached the client yet).
pub const PREAMBLE_MAX_BYTES: usize = 1024 * 1024;
pub const PREAMBLE_MAX_EVENTS: u32 = 1000;

impl Framing {
    pub(crate) fn new(
        upstream: Endpoint,
        client: Endpoint,
        translator: Option<StreamTranslator>,
        scrub: Scrubber,
    ) -> Self {
        let splitter = if upstream == Endpoint::Converse {
            Splitter::Aws(EventStreamSplitter::new())
        } else {
            Splitter::Sse(SseSplitter::new())
        };
        Self {
            splitter,
            upstream,
            client,
            translator: translator.map(Box::new),
            scrub,
        }
    }

    /// Feeds one upstream chunk: every completed event is observed into
    /// `state` and what the client gets (raw bytes, or translated events) is
    /// appended to `out`, scrubbed of the provider's secrets. Stops early at
    /// an error event or garbage seen before any content when `commit` is
    /// false.
    fn feed(
        &mut self,
        chunk: &[u8],
        state: &mut StreamState,
        commit: &mut bool,
        out: &mut BytesMut,
    ) -> Result<(), Halt> {
        let from = out.len();
        let split = self.splitter.push(chunk).map_err(Halt::TooLarge)?;
        for ev in &split.events {
            // A translated event is parsed once: classified from what the
            // translator reads, then translated.
            let parsed = self.translator.as_ref().map(|t| t.parse(ev));
            let kind = match &parsed {
                None => state.observe(self.upstream, ev),
                Some(p) => state.observe_parsed(self.upstream, ev, p),
            };
            match kind {
                Kind::Preamble => {}
                Kind::Content => *commit = true,
                Kind::Error if !*commit => {
                    return Err(Halt::ErrorEvent(self.scrub.scrub_str(&ev.data)));
                }
                Kind::Garbage if !*commit => return Err(Halt::Garbage),
                Kind::Error | Kind::Garbage => {}
            }
            if let (Some(t), Some(p)) = (&mut self.translator, parsed) {
                t.translate(p, ev, out);
            }
        }
        if self.translator.is_none() {
            out.extend_from_slice(&split.bytes);
        }
        self.scrub.scrub_tail(out, from);
        Ok(())
    }

    /// The next `sequence_number` of a Responses stream the client gets:
    /// the translator's count, or after the upstream's last one.
    fn next_seq(&self, state: &StreamState) -> Option<u64> {
        match &self.translator {
            Some(t) => t.next_seq(),
            None => state.last_seq.map(|n| n + 1),
        }
    }

    /// The upstream ended after a complete answer: what is left to send.
    fn finish(&mut self, out: &mut BytesMut) {
        let from = out.len();
        let rest = self.splitter.finish();
        match &mut self.translator {
            None => out.extend_from_slice(&rest),
            // An unterminated trailing event is not worth translating.
            Some(t) => t.finish(out),
        }
        self.scrub.scrub_tail(out, from);
    }
}

pub(crate) enum Peeked {
    Committed(Committed),
    Failed(Failure),
}

/// A stream past its commit point: what was held until the first content
/// frame, and the rest still to come.
pub(crate) struct Committed {
    held: Bytes,
    upstream: Upstream,
    framing: Framing,
    state: StreamState,
}

impl Committed {
    /// The upstream's filter withheld the answer before any of it came: a
    /// choice ended with `finish_reason = "content_filter"` and no text
    /// was generated (Azure OpenAI).
    pub(crate) fn withheld_by_filter(&self) -> bool {
        self.state.filtered && self.state.text_bytes == 0
    }
}

/// The circuit breaker a stream that breaks after its commit point counts
/// against: the target's health, under its route's settings.
pub(crate) struct Breaker {
    pub health: Arc<TargetHealth>,
    pub cooldown: Duration,
    pub failure_threshold: u32,
}

/// Reads the upstream stream until its first content frame (commit) or a
/// failure before it (fallback), by `deadline`, holding at most
/// `max_held` bytes (and [`PREAMBLE_MAX_EVENTS`] events) meanwhile.
pub(crate) async fn peek(
    resp: http::Response<crate::upstream::UpstreamBody>,
    mut framing: Framing,
    deadline: Instant,
    provider: &str,
    max_held: usize,
) -> Peeked {
    let mut upstream: Upstream = Box::pin(resp.into_body().into_stream());
    let mut held = BytesMut::new();
    let mut state = StreamState::default();
    loop {
        let next = match tokio::time::timeout_at(deadline, upstream.next()).await {
            Err(_) => {
                return Peeked::Failed(Failure::new(
                    ErrorClass::Timeout,
                    format!("{provider}: no content from the stream in time"),
                ));
            }
            Ok(n) => n,
        };
        let chunk = match next {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                return Peeked::Failed(Failure::new(
                    ErrorClass::StreamBroken,
                    format!("{provider}: stream failed before its first content frame"),
                ));
            }
            None if state.terminal => {
                framing.finish(&mut held);
                return Peeked::Committed(Committed {
                    held: held.freeze(),
                    upstream,
                    framing,
                    state,
                });
            }
            None => {
                return Peeked::Failed(Failure::new(
                    ErrorClass::StreamBroken,
                    format!("{provider}: stream ended before its first content frame"),
                ));
            }
        };
        let mut commit = false;
        match framing.feed(&chunk, &mut state, &mut commit, &mut held) {
            Ok(()) => {}
            Err(Halt::ErrorEvent(data)) => {
                let mut f = Failure::new(
                    ErrorClass::StreamError,
                    format!("{provider}: upstream sent an error event before content"),
                );
                f.body = Some(Bytes::from(data));
                return Peeked::Failed(f);
            }
            Err(Halt::Garbage) => {
                return Peeked::Failed(Failure::new(
                    ErrorClass::BadUpstreamBody,
                    format!("{provider}: stream data that is not an event of its protocol"),
                ));
            }
            Err(Halt::TooLarge(e)) => {
                return Peeked::Failed(Failure::new(
                    ErrorClass::UpstreamBodyTooLarge,
                    format!("{provider}: {e}"),
                ));
            }
        }
        if !commit
            && (held.len() + framing.splitter.pending() > max_held
                || state.events > PREAMBLE_MAX_EVENTS)
        {
            return Peeked::Failed(Failure::new(
                ErrorClass::UpstreamBodyTooLarge,
                format!(
                    "{provider}: stream sent {} bytes in {} events without content \
                     (limits: {max_held} bytes, {PREAMBLE_MAX_EVENTS} events)",
                    held.len() + framing.splitter.pending(),
                    state.events
                ),
            ));
        }
        if commit {
            return Peeked::Committed(Committed {
                held: held.freeze(),
                upstream,
                framing,
                state,
            });
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
    /// Bytes of generated text relayed (content, reasoning, tool arguments),
    /// for estimating output tokens when the upstream reports no usage.
    pub text_bytes: u64,
    /// What was relayed, when [`StreamRelay::capture_body`] asked for it.
    pub body: Option<Bytes>,
}

type Finisher = Box<dyn FnOnce(StreamOutcome) + Send>;

/// A copy of the relayed bytes for the response cache, up to a cap, given
/// to its store only when the stream completes cleanly.
struct Tee {
    buf: BytesMut,
    cap: usize,
    store: Box<dyn FnOnce(Bytes) + Send>,
}

/// A committed stream, ready to become the response body.
pub struct StreamRelay {
    held: Option<Bytes>,
    upstream: Upstream,
    framing: Framing,
    state: StreamState,
    idle: Duration,
    breaker: Breaker,
    provider: Arc<ProviderRuntime>,
    est_tokens: u64,
    started: Instant,
    finisher: Option<Finisher>,
    done: bool,
    /// The relayed bytes, up to a cap (only for `telemetry.store_bodies`).
    capture: Option<(BytesMut, usize)>,
    /// For the response cache: dropped once over its cap.
    tee: Option<Tee>,
}

impl StreamRelay {
    /// Relays `stream` for `provider`, whose local limits were charged
    /// `est_tokens` for it (settled on the real usage when it ends).
    pub(crate) fn new(
        stream: Committed,
        breaker: Breaker,
        provider: Arc<ProviderRuntime>,
        est_tokens: u64,
    ) -> Self {
        let Committed {
            held,
            upstream,
            framing,
            state,
        } = stream;
        Self {
            held: Some(held),
            upstream,
            framing,
            state,
            idle: provider.spec.stream_idle_timeout,
            breaker,
            provider,
            est_tokens,
            started: Instant::now(),
            finisher: None,
            done: false,
            capture: None,
            tee: None,
        }
    }

    /// Keeps a copy of up to `cap` relayed bytes for the request log.
    pub fn capture_body(mut self, cap: usize) -> Self {
        self.capture = Some((BytesMut::new(), cap));
        self
    }

    /// Hands what the client got to `store` if the stream completes
    /// without an error and within `cap` bytes (the response cache).
    pub fn tee(&mut self, cap: usize, store: impl FnOnce(Bytes) + Send + 'static) {
        self.tee = Some(Tee {
            buf: BytesMut::new(),
            cap,
            store: Box::new(store),
        });
    }

    fn captured(&mut self, chunk: &[u8]) {
        if let Some((buf, cap)) = &mut self.capture {
            let room = cap.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if let Some(t) = &mut self.tee {
            if t.buf.len() + chunk.len() > t.cap {
                self.tee = None;
            } else {
                t.buf.extend_from_slice(chunk);
            }
        }
    }

    fn take_capture(&mut self) -> Option<Bytes> {
        self.capture.take().map(|(b, _)| b.freeze())
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
            self.captured(&h);
            return Some(h);
        }
        while !self.done {
            let next = tokio::time::timeout(self.idle, self.upstream.next()).await;
            match next {
                Ok(Some(Ok(chunk))) => {
                    let mut out = BytesMut::new();
                    let mut commit = true;
                    if let Err(Halt::TooLarge(e)) =
                        self.framing
                            .feed(&chunk, &mut self.state, &mut commit, &mut out)
                    {
                        return Some(self.fail(ErrorClass::StreamBroken, &e.to_string()));
                    }
                    if !out.is_empty() {
                        self.captured(&out);
                        return Some(out.freeze());
                    }
                }
                Ok(Some(Err(_))) => {
                    return Some(self.fail(
                        ErrorClass::StreamBroken,
                        "upstream stream broke off mid-answer",
                    ));
                }
                Ok(None) => {
                    if self.state.terminal {
                        let mut rest = BytesMut::new();
                        self.framing.finish(&mut rest);
                        let rest = rest.freeze();
                        self.captured(&rest);
                        self.end(None);
                        return (!rest.is_empty()).then_some(rest);
                    }
                    return Some(self.fail(
                        ErrorClass::StreamBroken,
                        "upstream stream ended before the answer was complete",
                    ));
                }
                Err(_) => {
                    let msg = format!(
                        "upstream stream stalled: no data for {}s",
                        self.idle.as_secs()
                    );
                    return Some(self.fail(ErrorClass::StreamIdleTimeout, &msg));
                }
            }
        }
        None
    }

    /// Ends the stream with an error event the client's SDK will raise.
    fn fail(&mut self, class: ErrorClass, message: &str) -> Bytes {
        self.breaker.health.on_failure(
            FailureClass::Error,
            Instant::now(),
            self.breaker.cooldown,
            None,
            self.breaker.failure_threshold,
            u32::MAX,
            &format!("{}: {message}", self.provider.spec.name),
        );
        let seq = self.framing.next_seq(&self.state);
        let ev = client_stream_error(self.framing.client, message, class.as_str(), seq);
        self.captured(&ev);
        self.end(Some(class));
        ev
    }

    fn end(&mut self, error: Option<ErrorClass>) {
        self.done = true;
        let actual = self.state.usage.map_or(0, |u| u.total());
        self.provider.limiter.settle(self.est_tokens, actual);
        if error.is_none()
            && let Some(u) = self.state.usage
        {
            self.breaker.health.on_usage(u.input(), u.cache_read());
        }
        let error = error
            .or_else(|| {
                self.state
                    .upstream_error
                    .then_some(ErrorClass::UpstreamErrorEvent)
            })
            .map(|c| c.to_string());
        if let Some(t) = self.tee.take()
            && error.is_none()
        {
            (t.store)(t.buf.freeze());
        }
        if let Some(f) = self.finisher.take() {
            f(StreamOutcome {
                completed: error.is_none(),
                cancelled: false,
                error,
                usage: self.state.usage,
                duration: self.started.elapsed(),
                text_bytes: self.state.text_bytes,
                body: self.take_capture(),
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
                error: Some(ErrorClass::ClientCancelled.to_string()),
                usage: self.state.usage,
                duration: self.started.elapsed(),
                text_bytes: self.state.text_bytes,
                body: self.take_capture(),
            });
        }
    }
}
