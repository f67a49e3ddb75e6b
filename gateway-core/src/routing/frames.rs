//! What an upstream stream event means, per upstream protocol: preamble
//! (held before commit), content (commits the stream), an error, the end of
//! the answer; plus the usage and generated-text size it reports. The
//! stream relay observes every upstream event through [`StreamState`].

use crate::sse::SseEvent;
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
struct Seen {
    kind: Kind,
    usage: Option<Usage>,
    /// The upstream said the answer is complete.
    terminal: bool,
    /// Bytes of generated text in it.
    text_bytes: u64,
}

fn classify(endpoint: Endpoint, ev: &SseEvent) -> Seen {
    let seen = |kind, usage, terminal| Seen {
        kind,
        usage,
        terminal,
        text_bytes: 0,
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
    let Ok(f) = serde_json::from_str::<Frame>(&ev.data) else {
        return seen(Kind::Garbage, None, false);
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
    }
    let choices = f.choices.unwrap_or_default();
    let finished = choices.iter().any(|c| c.finish_reason.is_some());
    let content = finished
        || choices.iter().any(|c| {
            c.delta.as_ref().is_some_and(Delta::has_content)
                || c.text.as_deref().is_some_and(|t| !t.is_empty())
        });
    if content || f.usage.is_some() {
        let text_bytes = choices
            .iter()
            .map(|c| {
                c.delta.as_ref().map_or(0, Delta::text_bytes)
                    + c.text.as_deref().map_or(0, |t| t.len() as u64)
            })
            .sum();
        Seen {
            text_bytes,
            ..seen(Kind::Content, f.usage, finished)
        }
    } else {
        seen(Kind::Preamble, None, false)
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
    };
    let Ok(f) = serde_json::from_str::<MessagesFrame>(&ev.data) else {
        return seen(Kind::Garbage, None, false, 0);
    };
    match f.kind.as_deref() {
        Some("message_start") => seen(Kind::Preamble, f.message.and_then(|m| m.usage), false, 0),
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
        Some("message_delta") => seen(Kind::Content, f.usage, false, 0),
        Some("message_stop") => seen(Kind::Content, None, true, 0),
        Some("error") => seen(Kind::Error, None, true, 0),
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
}

impl StreamState {
    pub(crate) fn observe(&mut self, endpoint: Endpoint, ev: &SseEvent) -> Kind {
        let s = classify(endpoint, ev);
        self.events = self.events.saturating_add(1);
        if let Some(u) = s.usage {
            // Anthropic reports input tokens first and output tokens last.
            self.usage = Some(self.usage.map_or(u, |old| old.merged(u)));
        }
        self.terminal |= s.terminal;
        self.text_bytes += s.text_bytes;
        if s.kind == Kind::Error {
            self.upstream_error = true;
        }
        s.kind
    }
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
}
