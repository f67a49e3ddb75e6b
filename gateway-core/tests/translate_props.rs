//! Property tests: translation preserves text, reasoning, tool calls and
//! their arguments — requests, answers and streams cut at arbitrary points —
//! in every direction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::wire;

use bytes::BytesMut;
use gateway_core::sse::SseSplitter;
use gateway_core::translate::{RequestCtx, Translation};
use proptest::prelude::*;
use serde_json::{Value, json};
use wire::{AnthropicStream, ChatStream, ResponsesStream};

/// A tool call: id, name, arguments object.
#[derive(Debug, Clone)]
struct Call {
    id: String,
    name: String,
    args: Value,
}

fn text() -> impl Strategy<Value = String> {
    // printable text, including non-ASCII and JSON-special characters
    "[a-zA-Z0-9 .,:;!?'\"\\\\/{}\\[\\]\n\té漢😀-]{1,40}"
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn args() -> impl Strategy<Value = Value> {
    let value = json_leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-z_]{1,8}", value, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn calls() -> impl Strategy<Value = Vec<Call>> {
    prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,15}", args()), 0..4).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (name, args))| Call {
                id: format!("call_{i}"),
                name,
                args,
            })
            .collect()
    })
}

/// `s` cut at arbitrary char positions (`cuts` are piece lengths).
fn cut(s: &str, cuts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < chars.len() {
        let n = cuts.get(k % cuts.len().max(1)).copied().unwrap_or(3).max(1);
        let end = (i + n).min(chars.len());
        out.push(chars[i..end].iter().collect());
        i = end;
        k += 1;
    }
    out
}

fn run_stream(t: Translation, ctx: &RequestCtx, input: &str, chunk: usize) -> String {
    let mut splitter = SseSplitter::new();
    let mut tr = t.stream(ctx).expect("a streamed translation");
    let mut out = BytesMut::new();
    for c in input.as_bytes().chunks(chunk.max(1)) {
        for ev in splitter.push(c).unwrap().events {
            tr.event(&ev, &mut out);
        }
    }
    tr.finish(&mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

fn ctx(model: &str) -> RequestCtx {
    RequestCtx {
        model: model.into(),
        include_usage: true,
    }
}

/// A chat completion stream: reasoning, text, tool calls, each cut up.
fn chat_sse(reasoning: &str, content: &str, calls: &[Call], cuts: &[usize]) -> String {
    let mut s = String::new();
    let mut chunk = |delta: Value, finish: Value| {
        let v = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        s.push_str(&format!("data: {v}\n\n"));
    };
    chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    for p in cut(reasoning, cuts) {
        chunk(json!({"reasoning_content": p}), Value::Null);
    }
    for p in cut(content, cuts) {
        chunk(json!({"content": p}), Value::Null);
    }
    for (i, c) in calls.iter().enumerate() {
        chunk(
            json!({"tool_calls": [{"index": i, "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": ""}}]}),
            Value::Null,
        );
        for p in cut(&c.args.to_string(), cuts) {
            chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                Value::Null,
            );
        }
    }
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    chunk(json!({}), json!(finish));
    s.push_str("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":5,\"total_tokens\":12}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s
}

/// An Anthropic stream with the same parts.
fn anthropic_sse(thinking: &str, text: &str, calls: &[Call], cuts: &[usize]) -> String {
    let mut s = String::new();
    let mut ev = |v: Value| {
        s.push_str(&format!(
            "event: {}\ndata: {v}\n\n",
            v["type"].as_str().unwrap()
        ));
    };
    ev(
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
        "model": "claude", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 7, "output_tokens": 1}}}),
    );
    ev(json!({"type": "ping"}));
    let mut index = 0;
    if !thinking.is_empty() {
        ev(
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": ""}}),
        );
        for p in cut(thinking, cuts) {
            ev(
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": p}}),
            );
        }
        ev(
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "sig"}}),
        );
        ev(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    if !text.is_empty() {
        ev(
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        );
        for p in cut(text, cuts) {
            ev(
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}),
            );
        }
        ev(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    for c in calls {
        ev(json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}}));
        for p in cut(&c.args.to_string(), cuts) {
            ev(
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": p}}),
            );
        }
        ev(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    let stop = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    ev(
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
    );
    ev(json!({"type": "message_stop"}));
    s
}

fn tool_call_json(c: &Call) -> Value {
    json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args.to_string()}})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chat_stream_to_anthropic_preserves_everything(
        reasoning in prop::option::of(text()), content in prop::option::of(text()),
        calls in calls(), cuts in prop::collection::vec(1usize..9, 1..5), chunk in 1usize..200,
    ) {
        let (r, c) = (reasoning.unwrap_or_default(), content.unwrap_or_default());
        let sse = chat_sse(&r, &c, &calls, &cuts);
        let out = run_stream(Translation::MessagesViaChat, &ctx("m"), &sse, chunk);
        let s = AnthropicStream::parse(&out);
        prop_assert!(s.stopped && s.error.is_none());
        prop_assert_eq!(s.thinking(), r);
        prop_assert_eq!(s.text(), c);
        let got = s.tool_uses();
        prop_assert_eq!(got.len(), calls.len());
        for (g, w) in got.iter().zip(&calls) {
            prop_assert_eq!(&g.0, &w.id);
            prop_assert_eq!(&g.1, &w.name);
            prop_assert_eq!(&g.2, &w.args);
        }
        let want = if calls.is_empty() { "end_turn" } else { "tool_use" };
        prop_assert_eq!(s.stop_reason.as_deref(), Some(want));
    }

    #[test]
    fn anthropic_stream_to_chat_preserves_everything(
        thinking in prop::option::of(text()), content in prop::option::of(text()),
        calls in calls(), cuts in prop::collection::vec(1usize..9, 1..5), chunk in 1usize..200,
    ) {
        let (th, c) = (thinking.unwrap_or_default(), content.unwrap_or_default());
        let sse = anthropic_sse(&th, &c, &calls, &cuts);
        let out = run_stream(Translation::ChatViaMessages, &ctx("m"), &sse, chunk);
        let s = ChatStream::parse(&out);
        prop_assert!(s.done && s.error.is_none());
        prop_assert_eq!(s.reasoning, th);
        prop_assert_eq!(s.content, c);
        prop_assert_eq!(s.tool_calls.len(), calls.len());
        for (i, w) in calls.iter().enumerate() {
            let (id, name, a) = &s.tool_calls[&(i as u64)];
            prop_assert_eq!(id, &w.id);
            prop_assert_eq!(name, &w.name);
            prop_assert_eq!(&serde_json::from_str::<Value>(a).unwrap(), &w.args);
        }
        prop_assert_eq!(s.usage.unwrap()["total_tokens"].as_u64(), Some(12));
    }

    #[test]
    fn chat_stream_to_responses_preserves_text_and_calls(
        content in prop::option::of(text()), calls in calls(),
        cuts in prop::collection::vec(1usize..9, 1..5), chunk in 1usize..200,
    ) {
        let c = content.unwrap_or_default();
        let sse = chat_sse("", &c, &calls, &cuts);
        let out = run_stream(Translation::ResponsesViaChat, &ctx("m"), &sse, chunk);
        let s = ResponsesStream::parse(&out);
        prop_assert_eq!(&s.text, &c);
        let done = s.completed.unwrap();
        let fcs: Vec<&Value> = done["output"].as_array().unwrap().iter()
            .filter(|i| i["type"] == "function_call").collect();
        prop_assert_eq!(fcs.len(), calls.len());
        for (g, w) in fcs.iter().zip(&calls) {
            prop_assert_eq!(g["call_id"].as_str().unwrap(), w.id.as_str());
            prop_assert_eq!(g["name"].as_str().unwrap(), w.name.as_str());
            let a: Value = serde_json::from_str(g["arguments"].as_str().unwrap()).unwrap();
            prop_assert_eq!(&a, &w.args);
            prop_assert_eq!(s.arguments[g["id"].as_str().unwrap()].as_str(), g["arguments"].as_str().unwrap());
        }
    }

    #[test]
    fn answers_round_trip_chat_anthropic_chat(
        reasoning in prop::option::of(text()), content in prop::option::of(text()), calls in calls(),
    ) {
        let mut message = json!({"role": "assistant", "content": content});
        if let Some(r) = &reasoning {
            message["reasoning_content"] = json!(r);
        }
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls.iter().map(tool_call_json).collect());
        }
        let chat = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": if calls.is_empty() {"stop"} else {"tool_calls"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        let anth = Translation::MessagesViaChat.response(chat.to_string().as_bytes(), &ctx("m")).unwrap();
        let back = Translation::ChatViaMessages.response(&anth, &ctx("m")).unwrap();
        let v: Value = serde_json::from_slice(&back).unwrap();
        let m = &v["choices"][0]["message"];
        prop_assert_eq!(m["content"].as_str().unwrap_or_default(), content.as_deref().unwrap_or_default());
        prop_assert_eq!(m["reasoning_content"].as_str(), reasoning.as_deref().filter(|r| !r.is_empty()));
        let got = m["tool_calls"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(got.len(), calls.len());
        for (g, w) in got.iter().zip(&calls) {
            prop_assert_eq!(g["id"].as_str().unwrap(), w.id.as_str());
            prop_assert_eq!(g["function"]["name"].as_str().unwrap(), w.name.as_str());
            let a: Value = serde_json::from_str(g["function"]["arguments"].as_str().unwrap()).unwrap();
            prop_assert_eq!(&a, &w.args);
        }
        prop_assert_eq!(&v["choices"][0]["finish_reason"], &chat["choices"][0]["finish_reason"]);
        prop_assert_eq!(v["usage"]["total_tokens"].as_u64(), Some(7));
    }

    #[test]
    fn conversations_round_trip_anthropic_chat_anthropic(
        turns in prop::collection::vec((text(), prop::option::of(text()), calls(), text()), 1..4),
    ) {
        // user text, then an assistant turn (text + tool calls), then the
        // tool results fed back with more user text
        let mut messages = Vec::new();
        for (user, said, calls, result) in &turns {
            messages.push(json!({"role": "user", "content": user}));
            let mut blocks = Vec::new();
            if let Some(s) = said {
                blocks.push(json!({"type": "text", "text": s}));
            }
            for c in calls {
                blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args}));
            }
            if blocks.is_empty() {
                continue;
            }
            messages.push(json!({"role": "assistant", "content": blocks}));
            if !calls.is_empty() {
                let results: Vec<Value> = calls.iter().map(|c| json!({"type": "tool_result",
                    "tool_use_id": c.id, "content": result})).collect();
                messages.push(json!({"role": "user", "content": results}));
            }
        }
        let req = json!({"model": "claude", "max_tokens": 100, "messages": messages});
        let chat = Translation::MessagesViaChat.request(req.to_string().as_bytes(), "gpt", None).unwrap();
        // the same conversation read back by a chat client served by Anthropic
        let back = Translation::ChatViaMessages.request(&chat.body, "claude", None).unwrap();
        let back: Value = serde_json::from_slice(&back.body).unwrap();
        let norm = |msgs: &Value| -> Vec<(String, Vec<Value>)> {
            // blocks per role, consecutive same-role turns merged
            let mut out: Vec<(String, Vec<Value>)> = Vec::new();
            for m in msgs.as_array().unwrap() {
                let role = m["role"].as_str().unwrap().to_string();
                let blocks = match &m["content"] {
                    Value::String(s) => vec![json!({"type": "text", "text": s})],
                    Value::Array(b) => b.clone(),
                    _ => vec![],
                };
                match out.last_mut() {
                    Some((r, b)) if *r == role => b.extend(blocks),
                    _ => out.push((role, blocks)),
                }
            }
            out
        };
        prop_assert_eq!(norm(&back["messages"]), norm(&req["messages"]));
    }
}
