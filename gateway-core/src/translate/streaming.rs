//! Per-event stream translation, plugged into the stream relay: each
//! upstream SSE event is parsed once in the upstream's protocol
//! ([`StreamTranslator::parse`], `frame.rs`; the relay classifies the same
//! parsed value), run through the direction's translator and written as
//! SSE in the client's protocol.
//! Responses over an Anthropic upstream chains two translators through
//! chat chunks.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use super::chat_via_converse::ChunkStream as ConverseChunks;
use super::chat_via_gemini::ChunkStream;
use super::chat_via_messages_stream::MessagesToChat;
use super::frame::{ChunkFrame, EventFrame};
use super::gemini_via_chat::GeminiStream;
use super::messages_via_chat_stream::ChatToMessages;
use super::responses_via_chat_stream::ChatToResponses;
use super::wire::{anthropic, chat, gemini, responses};
use super::{RequestCtx, Translation};
use crate::sse::SseEvent;

/// One item of a chat completions stream.
#[derive(Debug, Clone)]
pub enum ChatEvent {
    Chunk(chat::ChatChunk),
    /// `data: [DONE]`.
    Done,
    /// `data: {"error":{…}}`.
    Error(chat::ErrorResponse),
}

impl ChatEvent {
    /// Parses an upstream event; `None` for anything that is not a chat
    /// chunk, `[DONE]` or an error. A chunk is read in one pass; error
    /// events and odd data the old way (a `Value` first).
    pub fn parse(ev: &SseEvent) -> Option<Self> {
        if ev.is_done() {
            return Some(Self::Done);
        }
        match ChunkFrame::read(ev) {
            Some(f) => Some(Self::Chunk(f.into_chunk())),
            None => Self::parse_slow(ev),
        }
    }

    /// What [`ChunkFrame::read`] leaves: error events, and data one pass
    /// cannot read as both routing and the wire type would.
    pub(crate) fn parse_slow(ev: &SseEvent) -> Option<Self> {
        if ev.is_done() {
            return Some(Self::Done);
        }
        let v: serde_json::Value = serde_json::from_str(&ev.data).ok()?;
        if v.get("error").is_some_and(|e| !e.is_null()) || ev.event.as_deref() == Some("error") {
            let err =
                serde_json::from_value::<chat::ErrorResponse>(v.clone()).unwrap_or_else(|_| {
                    chat::ErrorResponse::new("upstream_error", "upstream_error", v.to_string())
                });
            return Some(Self::Error(err));
        }
        serde_json::from_value(v).ok().map(Self::Chunk)
    }
}

/// An upstream event read once ([`StreamTranslator::parse`]), for routing
/// to classify (`routing/frames.rs`) and then the translator to translate.
pub(crate) enum Parsed {
    /// A chat chunk, read in one pass.
    Chunk(Box<ChunkFrame>),
    /// An Anthropic event, read in one pass.
    Event(Box<EventFrame>),
    /// Not read yet (`[DONE]`, error events, odd data): routing classifies
    /// the raw event and the translator parses it the old way.
    Raw,
}

#[derive(Debug)]
enum Inner {
    MessagesViaChat(ChatToMessages),
    ChatViaMessages(MessagesToChat),
    ResponsesViaChat(Box<ChatToResponses>),
    ResponsesViaMessages(MessagesToChat, Box<ChatToResponses>),
    ChatViaGemini(ChunkStream),
    MessagesViaGemini(ChunkStream, ChatToMessages),
    ResponsesViaGemini(ChunkStream, Box<ChatToResponses>),
    GeminiViaChat(GeminiStream),
    GeminiViaMessages(MessagesToChat, GeminiStream),
    GeminiViaConverse(ConverseChunks, GeminiStream),
    ChatViaConverse(ConverseChunks),
    MessagesViaConverse(ConverseChunks, ChatToMessages),
    ResponsesViaConverse(ConverseChunks, Box<ChatToResponses>),
}

/// Turns upstream SSE events into client SSE bytes for one stream.
#[derive(Debug)]
pub struct StreamTranslator {
    inner: Inner,
    /// Responses events carry a running `sequence_number`.
    seq: u64,
}

impl StreamTranslator {
    /// `None` for embeddings, which do not stream.
    pub fn new(t: Translation, ctx: &RequestCtx) -> Option<Self> {
        let inner = match t {
            Translation::MessagesViaChat => Inner::MessagesViaChat(ChatToMessages::new(&ctx.model)),
            Translation::ChatViaMessages => {
                Inner::ChatViaMessages(MessagesToChat::new(&ctx.model, ctx.include_usage))
            }
            Translation::ResponsesViaChat => {
                Inner::ResponsesViaChat(Box::new(ChatToResponses::new(&ctx.model)))
            }
            Translation::ResponsesViaMessages => Inner::ResponsesViaMessages(
                MessagesToChat::new(&ctx.model, true),
                Box::new(ChatToResponses::new(&ctx.model)),
            ),
            Translation::ChatViaGemini => {
                Inner::ChatViaGemini(ChunkStream::new(&ctx.model, ctx.include_usage))
            }
            Translation::MessagesViaGemini => Inner::MessagesViaGemini(
                ChunkStream::new(&ctx.model, true),
                ChatToMessages::new(&ctx.model),
            ),
            Translation::EmbeddingsViaGemini | Translation::EmbeddingsViaBedrock => return None,
            Translation::ChatViaConverse => {
                Inner::ChatViaConverse(ConverseChunks::new(&ctx.model, ctx.include_usage))
            }
            Translation::MessagesViaConverse => Inner::MessagesViaConverse(
                ConverseChunks::new(&ctx.model, true),
                ChatToMessages::new(&ctx.model),
            ),
            Translation::ResponsesViaConverse => Inner::ResponsesViaConverse(
                ConverseChunks::new(&ctx.model, true),
                Box::new(ChatToResponses::new(&ctx.model)),
            ),
            Translation::ResponsesViaGemini => Inner::ResponsesViaGemini(
                ChunkStream::new(&ctx.model, true),
                Box::new(ChatToResponses::new(&ctx.model)),
            ),
            Translation::GeminiViaChat => Inner::GeminiViaChat(GeminiStream::new(&ctx.model)),
            Translation::GeminiViaMessages => Inner::GeminiViaMessages(
                MessagesToChat::new(&ctx.model, true),
                GeminiStream::new(&ctx.model),
            ),
            Translation::GeminiViaConverse => Inner::GeminiViaConverse(
                ConverseChunks::new(&ctx.model, true),
                GeminiStream::new(&ctx.model),
            ),
        };
        Some(Self { inner, seq: 0 })
    }

    /// One upstream event → the client's events, appended to `out`.
    pub fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) {
        let p = self.parse(ev);
        self.translate(p, ev, out);
    }

    /// Reads an upstream event once, in the upstream's protocol.
    pub(crate) fn parse(&self, ev: &SseEvent) -> Parsed {
        let read = match &self.inner {
            Inner::MessagesViaChat(_) | Inner::ResponsesViaChat(_) | Inner::GeminiViaChat(_) => {
                ChunkFrame::read(ev).map(|f| Parsed::Chunk(Box::new(f)))
            }
            Inner::ChatViaMessages(_)
            | Inner::ResponsesViaMessages(..)
            | Inner::GeminiViaMessages(..) => {
                EventFrame::read(ev).map(|f| Parsed::Event(Box::new(f)))
            }
            Inner::ChatViaGemini(_)
            | Inner::MessagesViaGemini(..)
            | Inner::ResponsesViaGemini(..)
            | Inner::ChatViaConverse(_)
            | Inner::MessagesViaConverse(..)
            | Inner::ResponsesViaConverse(..)
            | Inner::GeminiViaConverse(..) => None,
        };
        read.unwrap_or(Parsed::Raw)
    }

    /// `p` ([`parse`](Self::parse) of `ev`) → the client's events,
    /// appended to `out`.
    pub(crate) fn translate(&mut self, p: Parsed, ev: &SseEvent, out: &mut BytesMut) {
        let chat = |p: Parsed| match p {
            Parsed::Chunk(f) => Some(ChatEvent::Chunk(f.into_chunk())),
            Parsed::Event(_) | Parsed::Raw => ChatEvent::parse_slow(ev),
        };
        let anthropic = |p: Parsed| match p {
            Parsed::Event(f) => f.into_event().or_else(|| parse_anthropic(ev)),
            Parsed::Chunk(_) | Parsed::Raw => parse_anthropic(ev),
        };
        match &mut self.inner {
            Inner::MessagesViaChat(t) => {
                let mut evs = Vec::new();
                match chat(p) {
                    Some(ChatEvent::Chunk(c)) => t.on_chunk(c, &mut evs),
                    Some(ChatEvent::Done) => t.finish(&mut evs),
                    Some(ChatEvent::Error(e)) => t.on_error(e.error, &mut evs),
                    None => {}
                }
                write_anthropic(&evs, out);
            }
            Inner::ChatViaMessages(t) => {
                let mut evs = Vec::new();
                if let Some(e) = anthropic(p) {
                    t.on_event(e, &mut evs);
                }
                write_chat(&evs, out);
            }
            Inner::ResponsesViaChat(t) => {
                let mut evs = Vec::new();
                if let Some(c) = chat(p) {
                    t.on_chat(c, &mut evs);
                }
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::ResponsesViaMessages(a, b) => {
                let mut chat = Vec::new();
                if let Some(e) = anthropic(p) {
                    a.on_event(e, &mut chat);
                }
                let mut evs = Vec::new();
                for c in chat {
                    b.on_chat(c, &mut evs);
                }
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::ChatViaGemini(g) => {
                let evs = gemini_chat(g, ev);
                write_chat(&evs, out);
            }
            Inner::MessagesViaGemini(g, t) => {
                let mut evs = Vec::new();
                for c in gemini_chat(g, ev) {
                    match c {
                        ChatEvent::Chunk(c) => t.on_chunk(c, &mut evs),
                        ChatEvent::Error(e) => t.on_error(e.error, &mut evs),
                        ChatEvent::Done => {}
                    }
                }
                write_anthropic(&evs, out);
            }
            Inner::ResponsesViaGemini(g, b) => {
                let mut evs = Vec::new();
                for c in gemini_chat(g, ev) {
                    b.on_chat(c, &mut evs);
                }
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::GeminiViaChat(g) => {
                if let Some(c) = chat(p) {
                    chat_gemini(g, c, out);
                }
            }
            Inner::GeminiViaMessages(a, g) => {
                let mut chat = Vec::new();
                if let Some(e) = anthropic(p) {
                    a.on_event(e, &mut chat);
                }
                for c in chat {
                    chat_gemini(g, c, out);
                }
            }
            Inner::ChatViaConverse(g) => {
                let evs = converse_chat(g, ev);
                write_chat(&evs, out);
            }
            Inner::MessagesViaConverse(g, t) => {
                let mut evs = Vec::new();
                for c in converse_chat(g, ev) {
                    match c {
                        ChatEvent::Chunk(c) => t.on_chunk(c, &mut evs),
                        ChatEvent::Error(e) => t.on_error(e.error, &mut evs),
                        ChatEvent::Done => {}
                    }
                }
                write_anthropic(&evs, out);
            }
            Inner::ResponsesViaConverse(g, b) => {
                let mut evs = Vec::new();
                for c in converse_chat(g, ev) {
                    b.on_chat(c, &mut evs);
                }
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::GeminiViaConverse(g, gs) => {
                for c in converse_chat(g, ev) {
                    chat_gemini(gs, c, out);
                }
            }
        }
    }

    /// The `sequence_number` the next Responses event gets (`None` when the
    /// client does not speak Responses).
    pub fn next_seq(&self) -> Option<u64> {
        matches!(
            self.inner,
            Inner::ResponsesViaChat(_)
                | Inner::ResponsesViaMessages(..)
                | Inner::ResponsesViaGemini(..)
                | Inner::ResponsesViaConverse(..)
        )
        .then_some(self.seq)
    }

    /// The upstream ended after a complete answer: close the client's stream.
    pub fn finish(&mut self, out: &mut BytesMut) {
        match &mut self.inner {
            Inner::MessagesViaChat(t) => {
                let mut evs = Vec::new();
                t.finish(&mut evs);
                write_anthropic(&evs, out);
            }
            Inner::ChatViaMessages(t) => {
                let mut evs = Vec::new();
                t.finish(&mut evs);
                write_chat(&evs, out);
            }
            Inner::ResponsesViaChat(t) => {
                let mut evs = Vec::new();
                t.finish(&mut evs);
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::ResponsesViaMessages(a, b) => {
                let mut chat = Vec::new();
                a.finish(&mut chat);
                let mut evs = Vec::new();
                for c in chat {
                    b.on_chat(c, &mut evs);
                }
                b.finish(&mut evs);
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::ChatViaGemini(g) => {
                let mut evs: Vec<ChatEvent> =
                    g.finish().into_iter().map(ChatEvent::Chunk).collect();
                evs.push(ChatEvent::Done);
                write_chat(&evs, out);
            }
            Inner::MessagesViaGemini(g, t) => {
                let mut evs = Vec::new();
                for c in g.finish() {
                    t.on_chunk(c, &mut evs);
                }
                t.finish(&mut evs);
                write_anthropic(&evs, out);
            }
            Inner::ResponsesViaGemini(g, b) => {
                let mut evs = Vec::new();
                for c in g.finish() {
                    b.on_chunk(c, &mut evs);
                }
                b.finish(&mut evs);
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::GeminiViaChat(g) => chat_gemini(g, ChatEvent::Done, out),
            Inner::GeminiViaMessages(a, g) => {
                let mut chat = Vec::new();
                a.finish(&mut chat);
                chat.push(ChatEvent::Done);
                for c in chat {
                    chat_gemini(g, c, out);
                }
            }
            Inner::ChatViaConverse(g) => {
                let mut evs: Vec<ChatEvent> =
                    g.finish().into_iter().map(ChatEvent::Chunk).collect();
                evs.push(ChatEvent::Done);
                write_chat(&evs, out);
            }
            Inner::MessagesViaConverse(g, t) => {
                let mut evs = Vec::new();
                for c in g.finish() {
                    t.on_chunk(c, &mut evs);
                }
                t.finish(&mut evs);
                write_anthropic(&evs, out);
            }
            Inner::ResponsesViaConverse(g, b) => {
                let mut evs = Vec::new();
                for c in g.finish() {
                    b.on_chunk(c, &mut evs);
                }
                b.finish(&mut evs);
                write_responses(&evs, &mut self.seq, out);
            }
            Inner::GeminiViaConverse(g, gs) => {
                for c in g.finish() {
                    chat_gemini(gs, ChatEvent::Chunk(c), out);
                }
                chat_gemini(gs, ChatEvent::Done, out);
            }
        }
    }
}

/// One chat event → Gemini SSE events (`[DONE]` sends the last one; an
/// error ends the stream with Gemini's error body).
fn chat_gemini(g: &mut GeminiStream, c: ChatEvent, out: &mut BytesMut) {
    let mut evs = Vec::new();
    match c {
        ChatEvent::Chunk(c) => g.on_chunk(c, &mut evs),
        ChatEvent::Done => g.finish(&mut evs),
        ChatEvent::Error(e) => {
            g.finish(&mut Vec::new());
            let status = http::StatusCode::INTERNAL_SERVER_ERROR;
            let body = super::errors::gemini_body(status, e.error.message);
            out.put_slice(b"data: ");
            out.put_slice(&body);
            out.put_slice(b"\r\n\r\n");
        }
    }
    write_gemini(&evs, out);
}

/// Gemini's SSE framing: `data: {…}` and CRLF CRLF after each event.
fn write_gemini(evs: &[gemini::GenerateResponse], out: &mut BytesMut) {
    for e in evs {
        let Ok(json) = serde_json::to_string(e) else {
            continue;
        };
        out.put_slice(b"data: ");
        out.put_slice(json.as_bytes());
        out.put_slice(b"\r\n\r\n");
    }
}

/// A ConverseStream event (its `:event-type` in `event`, the JSON payload
/// in `data`; exceptions arrive as `error` events, see `eventstream.rs`):
/// its chat chunks, or the error it carries.
fn converse_chat(g: &mut ConverseChunks, ev: &SseEvent) -> Vec<ChatEvent> {
    if ev.event.as_deref() == Some("error") {
        return ChatEvent::parse_slow(ev).into_iter().collect();
    }
    let Some(kind) = ev.event.as_deref() else {
        return Vec::new();
    };
    match serde_json::from_str(&ev.data) {
        Ok(p) => g.event(kind, p).into_iter().map(ChatEvent::Chunk).collect(),
        Err(_) => Vec::new(),
    }
}

/// A Gemini stream event: its chat chunks, or the error it carries.
fn gemini_chat(g: &mut ChunkStream, ev: &SseEvent) -> Vec<ChatEvent> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&ev.data) else {
        return Vec::new();
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        let msg = v["error"]["message"].as_str().unwrap_or("upstream error");
        let status = v["error"]["status"].as_str().unwrap_or("upstream_error");
        let err = chat::ErrorResponse::new("upstream_error", &status.to_ascii_lowercase(), msg);
        return vec![ChatEvent::Error(err)];
    }
    match serde_json::from_value(v) {
        Ok(r) => g.event(r).into_iter().map(ChatEvent::Chunk).collect(),
        Err(_) => Vec::new(),
    }
}

pub(crate) fn parse_anthropic(ev: &SseEvent) -> Option<anthropic::StreamEvent> {
    serde_json::from_str(&ev.data).ok()
}

fn write_event(name: Option<&str>, data: &impl Serialize, out: &mut BytesMut) {
    let Ok(json) = serde_json::to_string(data) else {
        return;
    };
    if let Some(n) = name {
        out.put_slice(b"event: ");
        out.put_slice(n.as_bytes());
        out.put_slice(b"\n");
    }
    out.put_slice(b"data: ");
    out.put_slice(json.as_bytes());
    out.put_slice(b"\n\n");
}

pub(crate) fn write_anthropic(evs: &[anthropic::StreamEvent], out: &mut BytesMut) {
    for e in evs {
        write_event(Some(e.name()), e, out);
    }
}

fn write_chat(evs: &[ChatEvent], out: &mut BytesMut) {
    for e in evs {
        match e {
            ChatEvent::Chunk(c) => write_event(None, c, out),
            ChatEvent::Error(err) => write_event(None, err, out),
            ChatEvent::Done => out.put_slice(b"data: [DONE]\n\n"),
        }
    }
}

#[derive(Serialize)]
struct Sequenced<'a> {
    #[serde(flatten)]
    event: &'a responses::Event,
    sequence_number: u64,
}

fn write_responses(evs: &[responses::Event], seq: &mut u64, out: &mut BytesMut) {
    for e in evs {
        let s = Sequenced {
            event: e,
            sequence_number: *seq,
        };
        *seq += 1;
        write_event(Some(e.name()), &s, out);
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

    fn names(out: &BytesMut) -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter_map(|l| l.strip_prefix("event: ").map(str::to_string))
            .collect()
    }

    fn ctx() -> RequestCtx {
        RequestCtx {
            model: "m".into(),
            include_usage: false,
        }
    }

    #[test]
    fn an_empty_answer_is_still_a_complete_message() {
        let mut t = StreamTranslator::new(Translation::MessagesViaChat, &ctx()).unwrap();
        let mut out = BytesMut::new();
        t.event(&ev("[DONE]"), &mut out);
        t.finish(&mut out);
        assert_eq!(
            names(&out),
            ["message_start", "ping", "message_delta", "message_stop"]
        );
        let mut t = StreamTranslator::new(Translation::ResponsesViaChat, &ctx()).unwrap();
        let mut out = BytesMut::new();
        t.finish(&mut out);
        assert_eq!(
            names(&out),
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ]
        );
    }

    #[test]
    fn nothing_follows_an_error() {
        let mut t = StreamTranslator::new(Translation::MessagesViaChat, &ctx()).unwrap();
        let mut out = BytesMut::new();
        t.event(
            &ev(r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#),
            &mut out,
        );
        t.event(
            &ev(r#"{"error":{"message":"boom","type":"server_error"}}"#),
            &mut out,
        );
        t.event(
            &ev(r#"{"choices":[{"index":0,"delta":{"content":"b"}}]}"#),
            &mut out,
        );
        t.finish(&mut out);
        let n = names(&out);
        assert_eq!(n.last().map(String::as_str), Some("error"));
        assert!(!String::from_utf8_lossy(&out).contains("\"b\""));
    }

    /// `message_start` carries the input count when the first upstream chunk
    /// has usage (vLLM's continuous usage stats); OpenAI's only comes last,
    /// so message_start says 0 and message_delta the real count.
    #[test]
    fn message_start_has_the_input_count_when_it_came_first() {
        let start = |first: &str| {
            let mut t = StreamTranslator::new(Translation::MessagesViaChat, &ctx()).unwrap();
            let mut out = BytesMut::new();
            t.event(&ev(first), &mut out);
            t.event(
                &ev(r#"{"choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":1920}}}"#),
                &mut out,
            );
            t.finish(&mut out);
            let s = String::from_utf8_lossy(&out).to_string();
            let data: Vec<serde_json::Value> = s
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter_map(|d| serde_json::from_str(d).ok())
                .collect();
            (
                data[0]["message"]["usage"].clone(),
                data.last().cloned(),
                data,
            )
        };
        let (u, _, data) = start(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":{"prompt_tokens":2006,"completion_tokens":0,"prompt_tokens_details":{"cached_tokens":1920}}}"#,
        );
        assert_eq!(u["input_tokens"], 86);
        assert_eq!(u["cache_read_input_tokens"], 1920);
        let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
        assert_eq!(delta["usage"]["output_tokens"], 3);
        let (u, _, _) =
            start(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}"#);
        assert_eq!(
            (u["input_tokens"].as_u64(), u["output_tokens"].as_u64()),
            (Some(0), Some(0))
        );
    }

    #[test]
    fn tool_calls_without_ids_get_one() {
        let mut t = StreamTranslator::new(Translation::MessagesViaChat, &ctx()).unwrap();
        let mut out = BytesMut::new();
        t.event(
            &ev(
                r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
            ),
            &mut out,
        );
        t.finish(&mut out);
        let s = String::from_utf8_lossy(&out);
        assert!(s.contains(r#""id":"toolu_"#), "{s}");
        assert!(s.contains(r#""stop_reason":"tool_use""#), "{s}");
    }
}
