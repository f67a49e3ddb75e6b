//! What an upstream stream event means, per upstream protocol: preamble
//! (held before commit), content (commits the stream), an error, the end of
//! the answer; plus the usage and generated-text size it reports. The
//! stream relay observes every upstream event through [`StreamState`]:
//! passthrough events parsed here ([`StreamState::observe`]), translated
//! ones from the translator's one parse ([`StreamState::observe_parsed`],
//! the same answer: the tests run both over every golden event).

use crate::sse::SseEvent;
use crate::translate::Parsed;
use crate::translate::frame::{ChunkFrame, DeltaFrame, EventFrame, Field};
use crate::vocab::{Endpoint, Usage};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Frame {
    choices: Option<Vec<FrameChoice>>,
    usage: Option<Usage>,
    error: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind: Option<String>,
    response: Option<FrameResponse>,
    /// Responses API text and argument deltas.
    delta: Option<Box<RawValue>>,
    /// Responses API: each event's running number.
    sequence_number: Option<u64>,
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
    tool_calls: Option<Vec<Box<RawValue>>>,
    function_call: Option<IgnoredAny>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    audio: Option<IgnoredAny>,
}

/// Length of a JSON string's value (0 for anything else).
fn str_len(raw: &RawValue) -> u64 {
    serde_json::from_str::<&str>(raw.get())
        .map(str::len)
        .or_else(|_| serde_json::from_str::<String>(raw.get()).map(|s| s.len()))
        .unwrap_or(0) as u64
}

impl Delta {
    /// Bytes of generated text, for estimating tokens when no usage comes.
    fn text_bytes(&self) -> u64 {
        #[derive(Deserialize)]
        struct Call<'a> {
            #[serde(borrow)]
            function: Option<Func<'a>>,
        }
        #[derive(Deserialize)]
        struct Func<'a> {
            #[serde(borrow)]
            arguments: Option<&'a RawValue>,
        }
        let s = |o: &Option<String>| o.as_deref().map_or(0, |s| s.len() as u64);
        let calls: u64 = self
            .tool_calls
            .iter()
            .flatten()
            .map(|c| {
                serde_json::from_str::<Call<'_>>(c.get())
                    .ok()
                    .and_then(|c| c.function?.arguments)
                    .map_or(0, str_len)
            })
            .sum();
        s(&self.content)
            + s(&self.reasoning_content)
            + s(&self.reasoning)
            + s(&self.refusal)
            + calls
    }

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Role-only deltas, `response.created`…: held before commit.
    Preamble,
    Content,
    /// An error frame from upstream.
    Error,
    /// Data that is not an event of the protocol (not JSON): before the
    /// first content frame the answer is bad (`bad_upstream_body`); after
    /// it, relayed as it is (passthrough) or skipped (translated).
    Garbage,
}

/// What one event tells us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    kind: Kind,
    usage: Option<Usage>,
    /// The upstream said the answer is complete.
    terminal: bool,
    /// Bytes of generated text in it.
    text_bytes: u64,
    /// A Responses event's `sequence_number`.
    seq: Option<u64>,
    /// A chat choice ended with `finish_reason = "content_filter"`.
    filtered: bool,
}

fn classify(endpoint: Endpoint, ev: &SseEvent) -> Seen {
    let seen = |kind, usage, terminal| Seen {
        kind,
        usage,
        terminal,
        text_bytes: 0,
        seq: None,
        filtered: false,
    };
    if ev.is_done() {
        return seen(Kind::Content, None, true);
    }
    if ev.event.as_deref() == Some("error") {
        return seen(Kind::Error, None, true);
    }
    if ev.data.trim().is_empty() {
        // An `event:` line alone, say: nothing to commit on.
        return seen(Kind::Preamble, None, false);
    }
    if endpoint == Endpoint::Messages {
        return classify_messages(ev);
    }
    if endpoint == Endpoint::GenerateContent {
        return classify_gemini(ev);
    }
    if endpoint == Endpoint::Converse {
        return classify_converse(ev);
    }
    let Ok(f) = serde_json::from_str::<Frame>(&ev.data) else {
        return seen(Kind::Garbage, None, false);
    };
    if f.error.is_some() {
        return seen(Kind::Error, None, true);
    }
    if endpoint == Endpoint::Responses {
        let usage = f.response.and_then(|r| r.usage).or(f.usage);
        let seq = f.sequence_number;
        let s = match f.kind.as_deref() {
            Some("response.created" | "response.in_progress" | "response.queued") => {
                seen(Kind::Preamble, None, false)
            }
            Some("error" | "response.failed") => seen(Kind::Error, usage, true),
            Some("response.completed" | "response.incomplete") => seen(Kind::Content, usage, true),
            // A delta with text in it, or a part or item completed, is
            // content; items and parts being opened, and event types this
            // gateway does not know, are held like the rest of the preamble.
            Some(t) if t.ends_with(".delta") => {
                let text_bytes = f.delta.as_deref().map_or(0, str_len);
                Seen {
                    text_bytes,
                    ..seen(
                        if text_bytes > 0 {
                            Kind::Content
                        } else {
                            Kind::Preamble
                        },
                        None,
                        false,
                    )
                }
            }
            Some(t) if t.ends_with(".done") => seen(Kind::Content, None, false),
            _ => seen(Kind::Preamble, None, false),
        };
        return Seen { seq, ..s };
    }
    let choices = f.choices.unwrap_or_default();
    chat_seen(
        &choices,
        |c| c.finish_reason.is_some(),
        |c| c.finish_reason.as_deref() == Some("content_filter"),
        |c| {
            c.delta.as_ref().is_some_and(Delta::has_content)
                || c.text.as_deref().is_some_and(|t| !t.is_empty())
        },
        |c| {
            c.delta.as_ref().map_or(0, Delta::text_bytes)
                + c.text.as_deref().map_or(0, |t| t.len() as u64)
        },
        f.usage,
    )
}

/// The chat arm of classification over a chunk's choices, as routing's
/// frame or the translator's one pass read them: content when a choice
/// finished or has content, or the chunk reports usage (then its text is
/// measured); else preamble.
fn chat_seen<C>(
    choices: &[C],
    finished: impl Fn(&C) -> bool,
    filtered: impl Fn(&C) -> bool,
    content: impl Fn(&C) -> bool,
    text_bytes: impl Fn(&C) -> u64,
    usage: Option<Usage>,
) -> Seen {
    let finished = choices.iter().any(finished);
    if finished || choices.iter().any(content) || usage.is_some() {
        Seen {
            kind: Kind::Content,
            usage,
            terminal: finished,
            text_bytes: choices.iter().map(text_bytes).sum(),
            seq: None,
            filtered: choices.iter().any(filtered),
        }
    } else {
        Seen {
            kind: Kind::Preamble,
            usage: None,
            terminal: false,
            text_bytes: 0,
            seq: None,
            filtered: false,
        }
    }
}

/// An Anthropic Messages stream event, as far as routing cares.
#[derive(Deserialize)]
struct MessagesFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<MessagesFrameMessage>,
    usage: Option<Usage>,
    content_block: Option<MessagesFrameBlock>,
    delta: Option<MessagesFrameDelta>,
}

#[derive(Deserialize)]
struct MessagesFrameMessage {
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct MessagesFrameBlock {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct MessagesFrameDelta {
    text: Option<String>,
    thinking: Option<String>,
    partial_json: Option<String>,
    signature: Option<String>,
}

/// `message_start`, `ping`, text and thinking block starts (always empty),
/// empty deltas and event types this gateway does not know: preamble;
/// non-empty block deltas, other block starts (tool use, redacted thinking,
/// server tool results: they carry content), `message_delta`: content;
/// `message_stop`: the end; `error`: an error; data that is not JSON:
/// garbage.
fn classify_messages(ev: &SseEvent) -> Seen {
    let seen = |kind, usage, terminal, text_bytes| Seen {
        kind,
        usage,
        terminal,
        text_bytes,
        seq: None,
        filtered: false,
    };
    let Ok(f) = serde_json::from_str::<MessagesFrame>(&ev.data) else {
        return seen(Kind::Garbage, None, false, 0);
    };
    match f.kind.as_deref() {
        Some("message_start") => seen(
            Kind::Preamble,
            f.message.and_then(|m| m.usage).map(Usage::anthropic),
            false,
            0,
        ),
        Some("ping" | "content_block_stop") => seen(Kind::Preamble, None, false, 0),
        Some("content_block_start") => {
            let carries = f
                .content_block
                .and_then(|b| b.kind)
                .is_some_and(|k| k != "text" && k != "thinking");
            seen(
                if carries {
                    Kind::Content
                } else {
                    Kind::Preamble
                },
                None,
                false,
                0,
            )
        }
        Some("content_block_delta") => {
            let d = f.delta;
            let len = |o: Option<&String>| o.map_or(0, |s| s.len() as u64);
            let bytes = d.as_ref().map_or(0, |d| {
                len(d.text.as_ref()) + len(d.thinking.as_ref()) + len(d.partial_json.as_ref())
            });
            let signed = d.as_ref().is_some_and(|d| d.signature.is_some());
            let kind = if bytes > 0 || signed {
                Kind::Content
            } else {
                Kind::Preamble
            };
            seen(kind, None, false, bytes)
        }
        Some("message_delta") => seen(Kind::Content, f.usage.map(Usage::anthropic), false, 0),
        Some("message_stop") => seen(Kind::Content, None, true, 0),
        Some("error") => seen(Kind::Error, None, true, 0),
        _ => seen(Kind::Preamble, None, false, 0),
    }
}

/// A Gemini `streamGenerateContent?alt=sse` event, as far as routing cares.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiFrame {
    candidates: Option<Vec<crate::translate::wire::gemini::Candidate>>,
    prompt_feedback: Option<crate::translate::wire::gemini::PromptFeedback>,
    usage_metadata: Option<crate::translate::wire::gemini::UsageMetadata>,
    error: Option<IgnoredAny>,
}

/// A candidate with parts: content (its text and arguments measured); a
/// `finishReason` or a refused prompt (`promptFeedback.blockReason`, which
/// the translator ends with `content_filter`): the end; an `error` object:
/// an error; usage alone: content; anything else: preamble; data that is
/// not JSON: garbage.
fn classify_gemini(ev: &SseEvent) -> Seen {
    let Ok(f) = serde_json::from_str::<GeminiFrame>(&ev.data) else {
        return Seen {
            kind: Kind::Garbage,
            usage: None,
            terminal: false,
            text_bytes: 0,
            seq: None,
            filtered: false,
        };
    };
    let usage = f.usage_metadata.as_ref().map(super::answer::gemini_usage);
    if f.error.is_some() {
        return Seen {
            kind: Kind::Error,
            usage,
            terminal: true,
            text_bytes: 0,
            seq: None,
            filtered: false,
        };
    }
    let blocked = f.prompt_feedback.is_some_and(|p| p.block_reason.is_some());
    let first = f.candidates.and_then(|c| c.into_iter().next());
    let finished = first.as_ref().is_some_and(|c| c.finish_reason.is_some());
    let text_bytes: u64 = first
        .and_then(|c| c.content)
        .map(|c| c.parts)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let text = p.text.as_deref().map_or(0, str::len);
            let args = p
                .function_call
                .as_ref()
                .map_or(0, |f| f.args.to_string().len().max(1));
            (text + args) as u64
        })
        .sum();
    let content = text_bytes > 0 || finished || blocked || usage.is_some();
    Seen {
        kind: if content {
            Kind::Content
        } else {
            Kind::Preamble
        },
        usage,
        terminal: finished || blocked,
        text_bytes,
        seq: None,
        filtered: false,
    }
}

/// A ConverseStream event (`eventstream.rs` made it: its `:event-type` in
/// `event`, exceptions as `error` events, handled before): a delta with
/// text, reasoning or tool input, or a tool call's start, is content;
/// `messageStop` the end; `metadata` carries the usage; `messageStart`,
/// `contentBlockStop` and unknown types are preamble; data that is not
/// JSON (a frame that did not decode) is garbage.
fn classify_converse(ev: &SseEvent) -> Seen {
    let seen = |kind, usage, terminal, text_bytes| Seen {
        kind,
        usage,
        terminal,
        text_bytes,
        seq: None,
        filtered: false,
    };
    let Ok(p) = serde_json::from_str::<crate::translate::wire::bedrock::StreamPayload>(&ev.data)
    else {
        return seen(Kind::Garbage, None, false, 0);
    };
    match ev.event.as_deref() {
        Some("contentBlockStart") if p.start.is_some_and(|s| s.tool_use.is_some()) => {
            seen(Kind::Content, None, false, 0)
        }
        Some("contentBlockDelta") => {
            let d = p.delta.unwrap_or_default();
            let bytes = d.text.as_deref().map_or(0, str::len)
                + d.tool_use.as_ref().map_or(0, |t| t.input.len())
                + d.reasoning_content
                    .as_ref()
                    .and_then(|r| r.text.as_deref())
                    .map_or(0, str::len);
            let kind = if bytes > 0 {
                Kind::Content
            } else {
                Kind::Preamble
            };
            seen(kind, None, false, bytes as u64)
        }
        Some("messageStop") => seen(Kind::Content, None, true, 0),
        Some("metadata") => {
            let usage = p
                .usage
                .as_ref()
                .map(crate::translate::chat_via_converse::routing_usage);
            seen(Kind::Content, usage, false, 0)
        }
        _ => seen(Kind::Preamble, None, false, 0),
    }
}

/// Progress of a stream, carried from peek into the relay.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StreamState {
    pub usage: Option<Usage>,
    pub terminal: bool,
    pub upstream_error: bool,
    /// Bytes of generated text seen so far.
    pub text_bytes: u64,
    /// Events seen so far.
    pub events: u32,
    /// The last `sequence_number` of a Responses upstream.
    pub last_seq: Option<u64>,
    /// A chat choice ended with `finish_reason = "content_filter"`.
    pub filtered: bool,
}

impl StreamState {
    pub(crate) fn observe(&mut self, endpoint: Endpoint, ev: &SseEvent) -> Kind {
        self.record(classify(endpoint, ev))
    }

    /// [`observe`](Self::observe) for a translated stream: the same answer,
    /// from the event the translator parsed (`p`, of `ev`), so it is
    /// parsed once.
    pub(crate) fn observe_parsed(&mut self, endpoint: Endpoint, ev: &SseEvent, p: &Parsed) -> Kind {
        self.record(classify_parsed(endpoint, ev, p))
    }

    fn record(&mut self, s: Seen) -> Kind {
        self.events = self.events.saturating_add(1);
        if let Some(u) = s.usage {
            // Anthropic reports input tokens first and output tokens last.
            self.usage = Some(self.usage.map_or(u, |old| old.merged(u)));
        }
        self.terminal |= s.terminal;
        self.filtered |= s.filtered;
        self.text_bytes += s.text_bytes;
        if s.seq.is_some() {
            self.last_seq = s.seq;
        }
        if s.kind == Kind::Error {
            self.upstream_error = true;
        }
        s.kind
    }
}

/// [`classify`] from what one pass read (`translate/frame.rs`): a chat
/// chunk is read only from a chat upstream's plain chunks (not `[DONE]`, not
/// an error), an Anthropic event only from an object that routing's frame
/// would read too; the rest is classified raw.
fn classify_parsed(endpoint: Endpoint, ev: &SseEvent, p: &Parsed) -> Seen {
    match p {
        Parsed::Chunk(f) if endpoint == Endpoint::ChatCompletions => classify_chunk(f),
        Parsed::Event(f) if endpoint == Endpoint::Messages => {
            classify_event(f).unwrap_or_else(|| classify(endpoint, ev))
        }
        _ => classify(endpoint, ev),
    }
}

/// The chat arm of [`classify`], over a [`ChunkFrame`].
fn classify_chunk(f: &ChunkFrame) -> Seen {
    fn has_content(d: &DeltaFrame) -> bool {
        let s = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        s(&d.content)
            || s(&d.reasoning_content)
            || s(&d.reasoning)
            || s(&d.refusal)
            || d.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
            || d.function_call
            || d.audio
    }
    fn text_bytes(d: &DeltaFrame) -> u64 {
        let s = |o: &Option<String>| o.as_deref().map_or(0, |s| s.len() as u64);
        let calls: u64 = d
            .tool_calls
            .iter()
            .flatten()
            .map(|c| {
                c.function
                    .as_ref()
                    .and_then(|f| f.arguments.as_deref())
                    .map_or(0, |a| a.len() as u64)
            })
            .sum();
        s(&d.content) + s(&d.reasoning_content) + s(&d.reasoning) + s(&d.refusal) + calls
    }
    chat_seen(
        &f.choices,
        |c| c.finish_reason.is_some(),
        |c| c.finish_reason.as_deref() == Some("content_filter"),
        |c| has_content(&c.delta) || c.text.as_deref().is_some_and(|t| !t.is_empty()),
        |c| text_bytes(&c.delta) + c.text.as_deref().map_or(0, |t| t.len() as u64),
        f.usage.as_ref().map(|u| u.routing()),
    )
}

/// [`classify_messages`] over an [`EventFrame`]; `None` where routing's
/// frame would fail on the content block (classified raw then).
fn classify_event(f: &EventFrame) -> Option<Seen> {
    let seen = |kind, usage, terminal, text_bytes| Seen {
        kind,
        usage,
        terminal,
        text_bytes,
        seq: None,
        filtered: false,
    };
    let block = f.block_kind().ok()?;
    Some(match f.kind.as_deref() {
        Some("message_start") => {
            let usage = f.message.as_ref().and_then(|m| match &m.usage {
                Field::Is(u) => Some(u.routing().anthropic()),
                Field::Absent | Field::Null => None,
            });
            seen(Kind::Preamble, usage, false, 0)
        }
        Some("ping" | "content_block_stop") => seen(Kind::Preamble, None, false, 0),
        Some("content_block_start") => {
            let carries = block.is_some_and(|k| k != "text" && k != "thinking");
            let kind = if carries {
                Kind::Content
            } else {
                Kind::Preamble
            };
            seen(kind, None, false, 0)
        }
        Some("content_block_delta") => {
            let d = f.delta.as_ref();
            let len = |o: Option<&String>| o.map_or(0, |s| s.len() as u64);
            let bytes = d.map_or(0, |d| {
                len(d.text.as_ref()) + len(d.thinking.as_ref()) + len(d.partial_json.as_ref())
            });
            let signed = d.is_some_and(|d| d.signature.is_some());
            let kind = if bytes > 0 || signed {
                Kind::Content
            } else {
                Kind::Preamble
            };
            seen(kind, None, false, bytes)
        }
        Some("message_delta") => seen(
            Kind::Content,
            f.usage.as_ref().map(|u| u.routing().anthropic()),
            false,
            0,
        ),
        Some("message_stop") => seen(Kind::Content, None, true, 0),
        Some("error") => seen(Kind::Error, None, true, 0),
        _ => seen(Kind::Preamble, None, false, 0),
    })
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
        ); // the last sequence_number is kept, for a gateway-made ending
        let mut st = StreamState::default();
        for d in [
            r#"{"type":"response.created","sequence_number":0,"response":{}}"#,
            r#"{"type":"response.output_text.delta","sequence_number":1,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","delta":"y"}"#,
        ] {
            st.observe(Endpoint::Responses, &ev(d));
        }
        assert_eq!(st.last_seq, Some(1));
    }

    #[test]
    fn counts_generated_text() {
        let b = |e, d| classify(e, &ev(d)).text_bytes;
        let chat = Endpoint::ChatCompletions;
        assert_eq!(b(chat, r#"{"choices":[{"delta":{"content":"Hello"}}]}"#), 5);
        assert_eq!(
            b(
                chat,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}"#
            ),
            4
        );
        assert_eq!(
            b(Endpoint::Completions, r#"{"choices":[{"text":"abc"}]}"#),
            3
        );
        assert_eq!(
            b(
                Endpoint::Responses,
                r#"{"type":"response.output_text.delta","delta":"xyz"}"#
            ),
            3
        );
    }

    /// Usage over whole streams, both providers: Anthropic's input excludes
    /// its cache reads and writes (so the total adds them), OpenAI's prompt
    /// tokens include the cached ones.
    #[test]
    fn streamed_usage_of_both_providers() {
        let run = |endpoint, events: &[&str]| {
            let mut s = StreamState::default();
            for e in events {
                s.observe(endpoint, &ev(e));
            }
            s.usage.unwrap()
        };
        let a = run(
            Endpoint::Messages,
            &[
                r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":12,"cache_creation_input_tokens":2000,"cache_read_input_tokens":30000,"output_tokens":1}}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        assert_eq!(a.input(), Some(32_012));
        assert_eq!(
            (a.cache_read(), a.cache_write()),
            (Some(30_000), Some(2000))
        );
        assert_eq!(a.output(), Some(42));
        // The translator's one-pass reader gives the same usage.
        let mut one = StreamState::default();
        for e in [
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":12,"cache_creation_input_tokens":2000,"cache_read_input_tokens":30000,"output_tokens":1}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#,
        ] {
            let p = parsed(Endpoint::Messages, &ev(e));
            assert!(matches!(p, Parsed::Event(_)));
            one.observe_parsed(Endpoint::Messages, &ev(e), &p);
        }
        assert_eq!(one.usage.unwrap().input(), Some(32_012));
        assert_eq!(one.usage.unwrap().cache_read(), Some(30_000));

        let c = run(
            Endpoint::ChatCompletions,
            &[
                r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920}}}"#,
            ],
        );
        assert_eq!(c.input(), Some(2006));
        assert_eq!((c.cache_read(), c.cache_write()), (Some(1920), None));
        let r = run(
            Endpoint::Responses,
            &[
                r#"{"type":"response.output_text.delta","delta":"Hi","sequence_number":1}"#,
                r#"{"type":"response.completed","sequence_number":2,"response":{"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":7}}}"#,
            ],
        );
        assert_eq!(r.input(), Some(5000));
        assert_eq!(r.cache_read(), Some(4096));
        // odd cache values are absent, not a broken frame
        let odd = c_seen(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":"x"}}}"#,
        );
        assert_eq!(odd.kind, Kind::Content);
        assert_eq!(odd.usage.unwrap().cache_read(), None);
    }

    fn c_seen(d: &str) -> Seen {
        classify(Endpoint::ChatCompletions, &ev(d))
    }

    #[test]
    fn classifies_anthropic_events() {
        let c = |d| classify(Endpoint::Messages, &ev(d));
        let start = c(
            r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,"output_tokens":1}}}"#,
        );
        assert_eq!(start.kind, Kind::Preamble);
        assert_eq!(start.usage.unwrap().prompt_tokens, Some(25));
        assert_eq!(c(r#"{"type":"ping"}"#).kind, Kind::Preamble);
        assert_eq!(
            c(r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#).kind,
            Kind::Preamble
        );
        assert_eq!(
            c(r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#).kind,
            Kind::Content
        );
        let d = c(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        );
        assert_eq!((d.kind, d.text_bytes), (Kind::Content, 2));
        let md = c(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#,
        );
        assert_eq!(md.usage.unwrap().completion_tokens, Some(15));
        assert!(c(r#"{"type":"message_stop"}"#).terminal);
        assert_eq!(
            c(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
                .kind,
            Kind::Error
        );
        // input tokens from message_start, output tokens from message_delta
        let mut st = StreamState::default();
        st.observe(Endpoint::Messages, &ev(r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}"#));
        st.observe(
            Endpoint::Messages,
            &ev(r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":15}}"#),
        );
        assert_eq!(st.usage.unwrap().total(), 40);
    }

    #[test]
    fn completions_text_is_content() {
        let s = classify(
            Endpoint::Completions,
            &ev(r#"{"choices":[{"text":"Hel","finish_reason":null}]}"#),
        );
        assert_eq!(s.kind, Kind::Content);
    }

    /// What one pass reads, as the stream relay does for the upstream's
    /// protocol.
    fn parsed(endpoint: Endpoint, ev: &SseEvent) -> Parsed {
        use crate::translate::frame::{ChunkFrame, EventFrame};
        let p = match endpoint {
            Endpoint::Messages => EventFrame::read(ev).map(|f| Parsed::Event(Box::new(f))),
            _ => ChunkFrame::read(ev).map(|f| Parsed::Chunk(Box::new(f))),
        };
        p.unwrap_or(Parsed::Raw)
    }

    fn golden_events() -> Vec<SseEvent> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sse"))
            .collect();
        files.sort();
        assert!(files.len() >= 8, "golden .sse files: {files:?}");
        let mut evs = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_default();
            let mut sp = crate::sse::SseSplitter::new();
            let split = sp.push(&bytes).map(|s| s.events).unwrap_or_default();
            assert!(!split.is_empty(), "{f:?}");
            evs.extend(split);
        }
        evs
    }

    /// Odd and ordinary events beside the golden transcripts: each is run
    /// as data alone and with `event: error`.
    const EDGE: &[&str] = &[
        // chat
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":""}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"h\u00e9\n"}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":null}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[5]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":5}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":null,"content":null}}]}"#,
        r#"{"choices":[{"delta":{"function_call":{"name":"f","arguments":""}}}]}"#,
        r#"{"choices":[{"delta":{"function_call":null}}]}"#,
        r#"{"choices":[{"delta":{"audio":{"id":"a","data":"AAA"}}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#,
        r#"{"choices":[{"delta":{"reasoning":"hmm","refusal":"no"}}]}"#,
        r#"{"choices":[{"delta":{"content":"hi","reasoning":{"text":"x"}}}]}"#,
        r#"{"choices":[{"delta":{"refusal":5}}]}"#,
        r#"{"choices":[{"delta":{"role":5,"content":"x"}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"choices":[{"delta":null,"finish_reason":"length"}]}"#,
        r#"{"choices":[{"finish_reason":"stop","stop_reason":"</s>"}]}"#,
        r#"{"choices":[{"text":"abc"}]}"#,
        r#"{"choices":[{"text":5}]}"#,
        r#"{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}"#,
        r#"{"choices":[],"usage":{"input_tokens":3,"output_tokens":4}}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"input_tokens":4}}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":4}}"#,
        r#"{"choices":[],"usage":{"completion_tokens":4}}"#,
        r#"{"choices":[],"usage":{"total_tokens":null}}"#,
        r#"{"choices":[],"usage":{}}"#,
        r#"{"choices":[],"usage":null}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":"3"}}"#,
        r#"{"choices":[]}"#,
        r#"{}"#,
        r#"{"id":null,"created":null,"model":5,"choices":[{"index":null,"delta":{"content":"x"}}]}"#,
        r#"{"object":null,"choices":[{"delta":{"content":"x"}}]}"#,
        r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
        r#"{"choices":[{"delta":{"content":"a"}}],"type":5}"#,
        r#"{"choices":[{"delta":{"content":"a"}}],"response":"x"}"#,
        r#"{"choices":[{"delta":{"content":"a"}}],"delta":[1]}"#,
        r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        r#"{"error":"boom"}"#,
        r#"{"error":null,"choices":[{"delta":{"content":"a"}}]}"#,
        r#"{"type":"response.output_text.delta","delta":"x"}"#,
        // anthropic
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
        r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,"cache_read_input_tokens":3}}}"#,
        r#"{"type":"message_start","message":{"id":"msg_1"}}"#,
        r#"{"type":"message_start","message":{"usage":null}}"#,
        r#"{"type":"message_start","message":{"usage":{"input_tokens":null}}}"#,
        r#"{"type":"message_start","message":{"usage":{"prompt_tokens":2,"input_tokens":3}}}"#,
        r#"{"type":"message_start","message":null}"#,
        r#"{"type":"message_start"}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"x"}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"s"}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"text"}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":0,"text":""}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{}}"#,
        r#"{"type":"content_block_start","content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"text":"x"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":5}}"#,
        r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_stop"}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":3,"output_tokens":15,"cache_read_input_tokens":2}}"#,
        r#"{"type":"message_delta","delta":{}}"#,
        r#"{"type":"message_delta","delta":{},"usage":null}"#,
        r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":null}}"#,
        r#"{"type":"message_delta","usage":{"output_tokens":1}}"#,
        r#"{"type":"message_stop"}"#,
        r#"{"type":"message_stop","delta":5}"#,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        r#"{"type":"error"}"#,
        r#"{"type":"something_new","foo":1}"#,
        r#"{"type":5}"#,
        r#"{"type":null}"#,
        r#"{"type":"ping","type":"ping"}"#,
        // neither
        "[DONE]",
        "",
        "  ",
        "not json",
        "{",
        "[1,2]",
        "[null,null,null,null,null,null]",
        "5",
        "null",
        " {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
    ];

    fn all_events() -> Vec<SseEvent> {
        let mut evs = golden_events();
        for d in EDGE {
            evs.push(ev(d));
            evs.push(SseEvent {
                event: Some("error".into()),
                data: (*d).into(),
            });
            evs.push(SseEvent {
                event: Some("message".into()),
                data: (*d).into(),
            });
        }
        evs
    }

    /// The one-pass classification is routing's own, for every event, for
    /// both upstream protocols a translated stream can have.
    #[test]
    fn one_pass_classifies_as_routing_does() {
        let evs = all_events();
        let mut one_pass = [0usize; 2];
        for (i, endpoint) in [Endpoint::ChatCompletions, Endpoint::Messages]
            .into_iter()
            .enumerate()
        {
            let (mut a, mut b) = (StreamState::default(), StreamState::default());
            for e in &evs {
                let p = parsed(endpoint, e);
                if !matches!(p, Parsed::Raw) {
                    one_pass[i] += 1;
                }
                assert_eq!(
                    classify(endpoint, e),
                    classify_parsed(endpoint, e, &p),
                    "{endpoint:?} {e:?}"
                );
                assert_eq!(a.observe(endpoint, e), b.observe_parsed(endpoint, e, &p));
            }
            assert_eq!(
                (
                    a.usage,
                    a.terminal,
                    a.upstream_error,
                    a.text_bytes,
                    a.events
                ),
                (
                    b.usage,
                    b.terminal,
                    b.upstream_error,
                    b.text_bytes,
                    b.events
                )
            );
        }
        // The ordinary events are read in one pass (not left to the old way).
        assert!(one_pass[0] > 40 && one_pass[1] > 40, "{one_pass:?}");
    }

    /// What one pass hands the translator is what its old readers made of
    /// the same event.
    #[test]
    fn one_pass_reads_as_the_wire_types_do() {
        use crate::translate::frame::{ChunkFrame, EventFrame};
        use crate::translate::{ChatEvent, parse_anthropic};
        let mut n = [0usize; 2];
        for e in &all_events() {
            if let Some(f) = ChunkFrame::read(e) {
                n[0] += 1;
                let old = ChatEvent::parse_slow(e);
                assert!(matches!(old, Some(ChatEvent::Chunk(_))), "{e:?}");
                assert_eq!(
                    format!("{:?}", Some(ChatEvent::Chunk(f.into_chunk()))),
                    format!("{old:?}"),
                    "{e:?}"
                );
            }
            assert_eq!(
                format!("{:?}", ChatEvent::parse(e)),
                format!("{:?}", ChatEvent::parse_slow(e)),
                "{e:?}"
            );
            if let Some(new) = EventFrame::read(e).and_then(|f| f.into_event()) {
                n[1] += 1;
                assert_eq!(
                    format!("{:?}", Some(new)),
                    format!("{:?}", parse_anthropic(e)),
                    "{e:?}"
                );
            }
        }
        assert!(n[0] > 40 && n[1] > 40, "{n:?}");
    }
}
