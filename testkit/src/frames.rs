//! Response bodies and SSE frame sequences in OpenAI's shapes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::Shared;
use crate::behavior::{Reply, ToolCallSpec};

pub(crate) const CREATED: u64 = 1_700_000_000;
pub(crate) const PROMPT_TOKENS: u64 = 10;
const TOOL_ARGS: [&str; 3] = ["{\"city\"", ":\"Par", "is\"}"];

/// Which API a response is shaped for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Chat,
    Completion,
    Embeddings,
    Responses,
}

/// What the response needs to know about the request.
pub(crate) struct Ctx {
    pub(crate) kind: Kind,
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    pub(crate) input_count: usize,
}

fn usage(completion: u64) -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion,
        "total_tokens": PROMPT_TOKENS + completion,
    })
}

fn responses_usage(output: u64) -> Value {
    json!({
        "input_tokens": PROMPT_TOKENS,
        "output_tokens": output,
        "total_tokens": PROMPT_TOKENS + output,
    })
}

fn tool_call_full() -> Value {
    json!([{
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": TOOL_ARGS.concat()},
    }])
}

fn responses_object(model: &str, status: &str, text: Option<&str>, output_tokens: u64) -> Value {
    let output = match text {
        Some(t) => json!([{
            "type": "message",
            "id": "msg_fake",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []}],
        }]),
        None => json!([]),
    };
    let usage = if status == "completed" {
        responses_usage(output_tokens)
    } else {
        Value::Null
    };
    json!({
        "id": "resp_fake",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": output,
        "usage": usage,
    })
}

/// The non-streaming success body for `Behavior::Ok`.
pub(crate) fn ok_body(ctx: &Ctx, name: &str) -> Value {
    let text = format!("Hello from {name}");
    match ctx.kind {
        Kind::Chat => json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": CREATED,
            "model": ctx.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage(3),
        }),
        Kind::Completion => json!({
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": CREATED,
            "model": ctx.model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": "stop"}],
            "usage": usage(3),
        }),
        Kind::Embeddings => {
            let data: Vec<Value> = (0..ctx.input_count)
                .map(|i| {
                    let base = i as f64;
                    json!({
                        "object": "embedding",
                        "index": i,
                        "embedding": [base + 0.1, base + 0.2, base + 0.3, base + 0.4],
                    })
                })
                .collect();
            json!({
                "object": "list",
                "data": data,
                "model": ctx.model,
                "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
            })
        }
        Kind::Responses => responses_object(&ctx.model, "completed", Some(&text), 3),
    }
}

/// `s` cut into up to `n` non-empty pieces (on char boundaries).
pub(crate) fn split_pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(n.max(1));
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn chat_tool_calls(calls: &[ToolCallSpec]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            })
        })
        .collect();
    Value::Array(calls)
}

/// The non-streaming chat body of a [`Reply`].
pub(crate) fn reply_body(ctx: &Ctx, r: &Reply) -> Value {
    let mut message = json!({"role": "assistant", "content": r.text});
    if let Some(t) = &r.thinking {
        message["reasoning_content"] = json!(t);
    }
    if !r.tool_calls.is_empty() {
        message["tool_calls"] = chat_tool_calls(&r.tool_calls);
    }
    let finish = if r.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(r.output_tokens()),
    })
}

/// The non-streaming body for `Behavior::ToolCall` (always chat-shaped).
pub(crate) fn tool_call_body(ctx: &Ctx) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": ctx.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": null, "tool_calls": tool_call_full()},
            "logprobs": null,
            "finish_reason": "tool_calls",
        }],
        "usage": usage(3),
    })
}

/// One step of a scripted SSE body.
pub(crate) enum Step {
    Frame(Bytes),
    Sleep(Duration),
    /// Yield an I/O error so hyper drops the connection without terminating the body.
    Abort,
    /// Never yield again (until the client goes away).
    Stall,
    /// This frame again and again, until about this many bytes are sent
    /// (floods and huge bodies without holding them in memory).
    Repeat(Bytes, u64),
}

/// Builds the step list of an SSE response in the shape of `ctx.kind`.
pub(crate) struct Sse<'a> {
    ctx: &'a Ctx,
    kind: Kind,
    steps: Vec<Step>,
    seq: u64,
    text: String,
    deltas: u64,
}

impl<'a> Sse<'a> {
    pub(crate) fn new(ctx: &'a Ctx) -> Self {
        // Embeddings have no streaming format; stream behaviors fall back to chat chunks.
        let kind = match ctx.kind {
            Kind::Embeddings => Kind::Chat,
            k => k,
        };
        Sse {
            ctx,
            kind,
            steps: Vec::new(),
            seq: 0,
            text: String::new(),
            deltas: 0,
        }
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    /// Force chat-completion chunks whatever the endpoint (used for tool calls).
    pub(crate) fn chat(&mut self) -> &mut Self {
        self.kind = Kind::Chat;
        self
    }

    fn data(&mut self, v: &Value) {
        self.steps
            .push(Step::Frame(Bytes::from(format!("data: {v}\n\n"))));
    }

    fn event(&mut self, event: &str, mut v: Value) {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("type".to_owned(), json!(event));
            obj.insert("sequence_number".to_owned(), json!(self.seq));
        }
        self.seq += 1;
        self.steps.push(Step::Frame(Bytes::from(format!(
            "event: {event}\ndata: {v}\n\n"
        ))));
    }

    fn chat_chunk(&mut self, delta: Value, finish: Option<&str>) {
        let v = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.ctx.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        self.data(&v);
    }

    fn completion_chunk(&mut self, text: &str, finish: Option<&str>) {
        let v = json!({
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": CREATED,
            "model": self.ctx.model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}],
        });
        self.data(&v);
    }

    /// The role-only preamble (`response.created` for the Responses API).
    pub(crate) fn preamble(&mut self) -> &mut Self {
        match self.kind() {
            Kind::Chat | Kind::Embeddings => {
                self.chat_chunk(json!({"role": "assistant", "content": ""}), None);
            }
            Kind::Completion => self.completion_chunk("", None),
            Kind::Responses => {
                let resp = responses_object(&self.ctx.model, "in_progress", None, 0);
                self.event("response.created", json!({ "response": resp }));
            }
        }
        self
    }

    /// One content delta.
    pub(crate) fn delta(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self.deltas += 1;
        match self.kind() {
            Kind::Chat | Kind::Embeddings => self.chat_chunk(json!({ "content": text }), None),
            Kind::Completion => self.completion_chunk(text, None),
            Kind::Responses => self.event(
                "response.output_text.delta",
                json!({
                    "item_id": "msg_fake",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                }),
            ),
        }
        self
    }

    /// The streamed tool call (chat shape): header delta then the arguments in 3 pieces.
    pub(crate) fn tool_call(&mut self) -> &mut Self {
        self.chat_chunk(
            json!({"tool_calls": [{
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }]}),
            None,
        );
        for piece in TOOL_ARGS {
            self.chat_chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                None,
            );
        }
        self.deltas = 3;
        self
    }

    /// Reasoning deltas (`reasoning_content`), in 2 pieces.
    pub(crate) fn reasoning(&mut self, text: &str) -> &mut Self {
        for p in split_pieces(text, 2) {
            self.deltas += 1;
            self.chat_chunk(json!({ "reasoning_content": p }), None);
        }
        self
    }

    /// Several streamed tool calls (chat shape), one after the other: a header delta each,
    /// then its arguments in 3 pieces.
    pub(crate) fn tool_calls(&mut self, calls: &[ToolCallSpec]) -> &mut Self {
        for (i, c) in calls.iter().enumerate() {
            self.chat_chunk(
                json!({"tool_calls": [{
                    "index": i,
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": ""},
                }]}),
                None,
            );
            for piece in split_pieces(&c.arguments, 3) {
                self.deltas += 1;
                self.chat_chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                    None,
                );
            }
        }
        self
    }

    /// A whole [`Reply`] (chat shape): role chunk, reasoning, text, tool calls, finish.
    pub(crate) fn reply(&mut self, r: &Reply) -> &mut Self {
        self.chat().preamble();
        if let Some(t) = &r.thinking {
            self.reasoning(t);
        }
        if let Some(t) = &r.text {
            for p in split_pieces(t, 3) {
                self.delta(&p);
            }
        }
        self.tool_calls(&r.tool_calls);
        let finish = if r.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        self.finish(finish)
    }

    /// An OpenAI error frame (`data: {"error":…}`), as servers send mid-stream.
    pub(crate) fn error_frame(&mut self, message: &str) -> &mut Self {
        self.data(&json!({"error": {"message": message, "type": "server_error", "code": null}}));
        self
    }

    pub(crate) fn sleep(&mut self, d: Duration) -> &mut Self {
        if !d.is_zero() {
            self.steps.push(Step::Sleep(d));
        }
        self
    }

    /// Finish chunk, usage chunk if requested, `[DONE]` (or `response.completed`).
    pub(crate) fn finish(&mut self, reason: &str) -> &mut Self {
        let tokens = self.deltas;
        match self.kind() {
            Kind::Chat | Kind::Embeddings => {
                self.chat_chunk(json!({}), Some(reason));
            }
            Kind::Completion => self.completion_chunk("", Some(reason)),
            Kind::Responses => {
                let text = self.text.clone();
                let resp = responses_object(&self.ctx.model, "completed", Some(&text), tokens);
                self.event("response.completed", json!({ "response": resp }));
                return self;
            }
        }
        if self.ctx.include_usage {
            let (id, object) = match self.kind() {
                Kind::Completion => ("cmpl-fake", "text_completion"),
                _ => ("chatcmpl-fake", "chat.completion.chunk"),
            };
            let v = json!({
                "id": id,
                "object": object,
                "created": CREATED,
                "model": self.ctx.model,
                "choices": [],
                "usage": usage(tokens),
            });
            self.data(&v);
        }
        self.steps
            .push(Step::Frame(Bytes::from_static(b"data: [DONE]\n\n")));
        self
    }

    pub(crate) fn abort(&mut self) -> &mut Self {
        self.steps.push(Step::Abort);
        self
    }

    pub(crate) fn stall(&mut self) -> &mut Self {
        self.steps.push(Step::Stall);
        self
    }

    pub(crate) fn take_body(&mut self, shared: Arc<Shared>) -> Body {
        let steps = std::mem::take(&mut self.steps);
        sse_body(steps, shared)
    }
}

/// Counts the stream as cancelled if dropped before it finished (or deliberately aborted).
struct CancelGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl CancelGuard {
    /// The stream reached its natural end (or aborted on purpose): not a cancellation.
    fn disarm(&mut self) {
        self.finished = true;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.cancelled.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(name = %self.shared.name, "fake upstream: stream cancelled by client");
        }
    }
}

pub(crate) fn sse_body(steps: Vec<Step>, shared: Arc<Shared>) -> Body {
    let guard = CancelGuard {
        shared,
        finished: false,
    };
    let stream = futures_util::stream::unfold(
        (steps.into_iter().peekable(), guard),
        |(mut steps, mut guard)| async move {
            loop {
                if let Some(Step::Repeat(frame, left)) = steps.peek_mut() {
                    if *left > 0 {
                        *left = left.saturating_sub(frame.len().max(1) as u64);
                        let b = frame.clone();
                        return Some((Ok(b), (steps, guard)));
                    }
                    steps.next();
                    continue;
                }
                match steps.next() {
                    None => {
                        guard.disarm();
                        return None;
                    }
                    Some(Step::Frame(b)) => return Some((Ok(b), (steps, guard))),
                    Some(Step::Sleep(d)) => tokio::time::sleep(d).await,
                    Some(Step::Abort) => {
                        // Go pending once so hyper flushes the head and the frames sent so far;
                        // otherwise it sees the error first and closes without writing anything.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        guard.disarm();
                        let err = std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "fake upstream: stream aborted on purpose",
                        );
                        // Nothing may follow an abort.
                        return Some((Err(err), (Vec::new().into_iter().peekable(), guard)));
                    }
                    Some(Step::Stall) => std::future::pending::<()>().await,
                    Some(Step::Repeat(..)) => {}
                }
            }
        },
    );
    Body::from_stream(stream)
}
