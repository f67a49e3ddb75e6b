//! Response bodies and SSE event sequences in Anthropic Messages shapes, for
//! `POST /v1/messages`: the same behaviors as the OpenAI endpoints (plain
//! answer, tool call, scripted streams and failures, [`crate::Reply`]).

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::behavior::Reply;
use crate::frames::{PROMPT_TOKENS, Step, split_pieces};

/// The Anthropic tool call used by `Behavior::ToolCall` (same as the chat one).
pub(crate) fn tool_call_reply() -> Reply {
    Reply::default().tool_call("toolu_1", "get_weather", &json!({"city": "Paris"}))
}

fn usage(output: u64) -> Value {
    json!({"input_tokens": PROMPT_TOKENS, "output_tokens": output})
}

/// A complete message.
pub(crate) fn message_body(model: &str, content: Vec<Value>, stop: &str, output: u64) -> Value {
    json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage(output),
    })
}

/// The non-streaming body of a [`Reply`].
pub(crate) fn reply_body(model: &str, r: &Reply) -> Value {
    let mut content = Vec::new();
    if let Some(t) = &r.thinking {
        content.push(json!({"type": "thinking", "thinking": t, "signature": "sig_fake"}));
    }
    if let Some(t) = &r.text {
        content.push(json!({"type": "text", "text": t}));
    }
    for c in &r.tool_calls {
        let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
    }
    let stop = if r.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    message_body(model, content, stop, r.output_tokens())
}

/// An Anthropic error body.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// Builds the step list of an Anthropic Messages event stream.
pub(crate) struct MessagesSse {
    model: String,
    steps: Vec<Step>,
    index: usize,
    output: u64,
}

impl MessagesSse {
    pub(crate) fn new(model: &str) -> Self {
        MessagesSse {
            model: model.to_owned(),
            steps: Vec::new(),
            index: 0,
            output: 0,
        }
    }

    fn event(&mut self, v: &Value) {
        let name = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
        self.steps.push(Step::Frame(Bytes::from(format!(
            "event: {name}\ndata: {v}\n\n"
        ))));
    }

    /// `message_start` and a `ping`.
    pub(crate) fn start(&mut self) -> &mut Self {
        let mut message = message_body(&self.model, Vec::new(), "end_turn", 1);
        if let Some(m) = message.as_object_mut() {
            m.insert("stop_reason".into(), Value::Null);
        }
        self.event(&json!({"type": "message_start", "message": message}));
        self.event(&json!({"type": "ping"}));
        self
    }

    fn block_start(&mut self, block: Value) -> usize {
        let index = self.index;
        self.index += 1;
        self.event(&json!({"type": "content_block_start", "index": index, "content_block": block}));
        index
    }

    fn delta(&mut self, index: usize, delta: Value) {
        self.output += 1;
        self.event(&json!({"type": "content_block_delta", "index": index, "delta": delta}));
    }

    fn block_stop(&mut self, index: usize) {
        self.event(&json!({"type": "content_block_stop", "index": index}));
    }

    /// A text block streamed as `pieces`, `interval` apart (before each).
    pub(crate) fn text(&mut self, pieces: &[String], interval: Duration, close: bool) -> &mut Self {
        let i = self.block_start(json!({"type": "text", "text": ""}));
        for p in pieces {
            self.sleep(interval);
            self.delta(i, json!({"type": "text_delta", "text": p}));
        }
        if close {
            self.block_stop(i);
        }
        self
    }

    pub(crate) fn thinking(&mut self, text: &str) -> &mut Self {
        let i = self.block_start(json!({"type": "thinking", "thinking": ""}));
        for p in split_pieces(text, 2) {
            self.delta(i, json!({"type": "thinking_delta", "thinking": p}));
        }
        self.event(&json!({"type": "content_block_delta", "index": i,
            "delta": {"type": "signature_delta", "signature": "sig_fake"}}));
        self.block_stop(i);
        self
    }

    pub(crate) fn tool_use(&mut self, id: &str, name: &str, arguments: &str) -> &mut Self {
        let i = self.block_start(json!({"type": "tool_use", "id": id, "name": name, "input": {}}));
        self.delta(i, json!({"type": "input_json_delta", "partial_json": ""}));
        for p in split_pieces(arguments, 3) {
            self.delta(i, json!({"type": "input_json_delta", "partial_json": p}));
        }
        self.block_stop(i);
        self
    }

    /// A whole [`Reply`]: thinking, text, tool calls, then the end.
    pub(crate) fn reply(&mut self, r: &Reply) -> &mut Self {
        self.start();
        if let Some(t) = &r.thinking {
            self.thinking(t);
        }
        if let Some(t) = &r.text {
            self.text(&split_pieces(t, 3), Duration::ZERO, true);
        }
        for c in &r.tool_calls {
            self.tool_use(&c.id, &c.name, &c.arguments);
        }
        let stop = if r.tool_calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        self.finish(stop)
    }

    /// `message_delta` (stop reason, output tokens) and `message_stop`.
    pub(crate) fn finish(&mut self, stop: &str) -> &mut Self {
        let output = self.output.max(1);
        self.event(&json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": output}}));
        self.event(&json!({"type": "message_stop"}));
        self
    }

    /// An `error` event, as Anthropic sends mid-stream (e.g. overloaded).
    pub(crate) fn error(&mut self, status: u16, message: &str) -> &mut Self {
        self.event(&error_body(status, message));
        self
    }

    pub(crate) fn sleep(&mut self, d: Duration) -> &mut Self {
        if !d.is_zero() {
            self.steps.push(Step::Sleep(d));
        }
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

    pub(crate) fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }
}
