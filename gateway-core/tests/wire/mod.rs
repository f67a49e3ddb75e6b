//! Protocol helpers for the translation tests: SSE parsing with event names,
//! and accumulators that rebuild an answer from a stream the way the
//! official SDKs do, checking the event discipline on the way.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use testkit::FakeUpstream;

/// A `[[providers]]` table of kind "anthropic" for a fake upstream.
pub fn anthropic_provider(up: &FakeUpstream, extra: &str) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"anthropic\"\nbase_url = \"{}\"\n{extra}\n",
        up.name(),
        up.base_url()
    )
}

/// `(event name, data)` of every SSE event; data parsed as JSON when it is.
pub fn sse_events(body: &str) -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    let mut name = None;
    let mut data: Option<String> = None;
    let flush = |name: &mut Option<String>, data: &mut Option<String>, out: &mut Vec<_>| {
        if let Some(d) = data.take() {
            let v = serde_json::from_str(&d).unwrap_or(Value::String(d));
            out.push((name.take(), v));
        }
        *name = None;
    };
    for line in body.lines() {
        if line.is_empty() {
            flush(&mut name, &mut data, &mut out);
        } else if let Some(n) = line.strip_prefix("event:") {
            name = Some(n.trim().to_string());
        } else if let Some(d) = line.strip_prefix("data:") {
            let d = d.strip_prefix(' ').unwrap_or(d);
            match &mut data {
                Some(x) => {
                    x.push('\n');
                    x.push_str(d);
                }
                None => data = Some(d.to_string()),
            }
        }
    }
    flush(&mut name, &mut data, &mut out);
    out
}

/// An Anthropic message rebuilt from its stream.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    pub types: Vec<String>,
    pub message: Value,
    /// Blocks by index: `{"type", "text"|"thinking"|"id","name","input_json"}`.
    pub blocks: Vec<Value>,
    pub stop_reason: Option<String>,
    pub usage: Value,
    pub error: Option<Value>,
    pub stopped: bool,
}

impl AnthropicStream {
    /// Rebuilds the message, asserting that every event is named after its
    /// `type`, that blocks start in index order, that deltas target the open
    /// block and that blocks stop before the next starts.
    pub fn parse(body: &str) -> Self {
        let mut s = AnthropicStream::default();
        let mut open: Option<usize> = None;
        for (name, v) in sse_events(body) {
            let ty = v["type"].as_str().unwrap_or_default().to_string();
            assert_eq!(
                name.as_deref(),
                Some(ty.as_str()),
                "event name vs type: {v}"
            );
            assert!(!s.stopped, "event after message_stop: {v}");
            s.types.push(ty.clone());
            match ty.as_str() {
                "message_start" => {
                    assert_eq!(s.types.len(), 1, "message_start must come first");
                    s.message = v["message"].clone();
                    s.usage = v["message"]["usage"].clone();
                }
                "content_block_start" => {
                    assert!(open.is_none(), "block started while {open:?} is open");
                    let i = v["index"].as_u64().unwrap() as usize;
                    assert_eq!(i, s.blocks.len(), "blocks start in index order");
                    let mut b = v["content_block"].clone();
                    b["input_json"] = json!("");
                    s.blocks.push(b);
                    open = Some(i);
                }
                "content_block_delta" => {
                    let i = v["index"].as_u64().unwrap() as usize;
                    assert_eq!(open, Some(i), "delta for a block that is not open: {v}");
                    let b = &mut s.blocks[i];
                    let d = &v["delta"];
                    let append = |b: &mut Value, k: &str, t: &str| {
                        let cur = b[k].as_str().unwrap_or_default().to_string();
                        b[k] = json!(cur + t);
                    };
                    match d["type"].as_str().unwrap() {
                        "text_delta" => append(b, "text", d["text"].as_str().unwrap()),
                        "thinking_delta" => append(b, "thinking", d["thinking"].as_str().unwrap()),
                        "input_json_delta" => {
                            append(b, "input_json", d["partial_json"].as_str().unwrap())
                        }
                        "signature_delta" => b["signature"] = d["signature"].clone(),
                        other => panic!("unknown delta {other}"),
                    }
                }
                "content_block_stop" => {
                    let i = v["index"].as_u64().unwrap() as usize;
                    assert_eq!(open, Some(i), "stop for a block that is not open");
                    open = None;
                }
                "message_delta" => {
                    assert!(open.is_none(), "message_delta with a block open");
                    s.stop_reason = v["delta"]["stop_reason"].as_str().map(str::to_string);
                    if let Some(u) = v["usage"].as_object() {
                        for (k, x) in u {
                            s.usage[k] = x.clone();
                        }
                    }
                }
                "message_stop" => s.stopped = true,
                "ping" => {}
                "error" => s.error = Some(v["error"].clone()),
                other => panic!("unknown event type {other}"),
            }
        }
        s
    }

    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| b["text"].as_str().unwrap_or_default())
            .collect()
    }

    pub fn thinking(&self) -> String {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "thinking")
            .map(|b| b["thinking"].as_str().unwrap_or_default())
            .collect()
    }

    /// `(id, name, input)` of every tool_use block.
    pub fn tool_uses(&self) -> Vec<(String, String, Value)> {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| {
                let input = b["input_json"].as_str().unwrap();
                let input = if input.is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(input).unwrap()
                };
                (
                    b["id"].as_str().unwrap().to_string(),
                    b["name"].as_str().unwrap().to_string(),
                    input,
                )
            })
            .collect()
    }
}

/// A chat completion rebuilt from its chunks.
#[derive(Debug, Default)]
pub struct ChatStream {
    pub content: String,
    pub reasoning: String,
    /// By tool call index: (id, name, arguments).
    pub tool_calls: BTreeMap<u64, (String, String, String)>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub error: Option<Value>,
    pub done: bool,
    pub roles: usize,
}

impl ChatStream {
    pub fn parse(body: &str) -> Self {
        let mut s = ChatStream::default();
        for (_, v) in sse_events(body) {
            assert!(!s.done, "data after [DONE]");
            if v == json!("[DONE]") {
                s.done = true;
                continue;
            }
            if v.get("error").is_some() {
                s.error = Some(v["error"].clone());
                continue;
            }
            assert_eq!(v["object"], "chat.completion.chunk", "{v}");
            if !v["usage"].is_null() {
                s.usage = Some(v["usage"].clone());
            }
            let Some(c) = v["choices"].get(0) else {
                continue;
            };
            let d = &c["delta"];
            if d["role"].is_string() {
                s.roles += 1;
            }
            s.content
                .push_str(d["content"].as_str().unwrap_or_default());
            s.reasoning
                .push_str(d["reasoning_content"].as_str().unwrap_or_default());
            for tc in d["tool_calls"].as_array().into_iter().flatten() {
                let e = s
                    .tool_calls
                    .entry(tc["index"].as_u64().unwrap())
                    .or_default();
                if let Some(id) = tc["id"].as_str() {
                    e.0 = id.to_string();
                }
                if let Some(n) = tc["function"]["name"].as_str() {
                    e.1 = n.to_string();
                }
                e.2.push_str(tc["function"]["arguments"].as_str().unwrap_or_default());
            }
            if let Some(f) = c["finish_reason"].as_str() {
                s.finish_reason = Some(f.to_string());
            }
        }
        s
    }
}

/// A Responses stream: its events and the final response.
#[derive(Debug, Default)]
pub struct ResponsesStream {
    pub types: Vec<String>,
    pub text: String,
    /// `response.function_call_arguments.delta` joined per item id.
    pub arguments: BTreeMap<String, String>,
    /// Items from `response.output_item.done`, in order.
    pub done_items: Vec<Value>,
    pub completed: Option<Value>,
    pub failed: Option<Value>,
}

impl ResponsesStream {
    /// Rebuilds the stream, asserting names match types and
    /// `sequence_number` counts up from 0.
    pub fn parse(body: &str) -> Self {
        let mut s = ResponsesStream::default();
        for (i, (name, v)) in sse_events(body).into_iter().enumerate() {
            let ty = v["type"].as_str().unwrap_or_default().to_string();
            assert_eq!(name.as_deref(), Some(ty.as_str()), "{v}");
            assert_eq!(v["sequence_number"], json!(i), "{v}");
            match ty.as_str() {
                "response.output_text.delta" => s.text.push_str(v["delta"].as_str().unwrap()),
                "response.function_call_arguments.delta" => s
                    .arguments
                    .entry(v["item_id"].as_str().unwrap().to_string())
                    .or_default()
                    .push_str(v["delta"].as_str().unwrap()),
                "response.output_item.done" => s.done_items.push(v["item"].clone()),
                "response.completed" | "response.incomplete" => {
                    s.completed = Some(v["response"].clone())
                }
                "response.failed" => s.failed = Some(v["response"].clone()),
                _ => {}
            }
            s.types.push(ty);
        }
        s
    }
}
