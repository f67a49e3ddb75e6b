//! Hostile behaviours: answers a gateway must treat as upstream failures
//! (garbage, half JSON, an error in a 200, redirects, huge bodies,
//! preamble floods, echoed keys, unknown stream events). Each speaks the
//! shape of the endpoint called: Chat Completions (and the other OpenAI
//! endpoints) or Anthropic Messages.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::json;

use crate::behavior::Hostile;
use crate::frames::{Step, sse_body};
use crate::{Recorded, Shared};

const CHUNK: usize = 64 * 1024;

/// The response for a hostile behaviour; `messages`: the endpoint called
/// is Anthropic Messages.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    b: &Hostile,
    rec: &Recorded,
    messages: bool,
) -> Response {
    match b {
        Hostile::Raw {
            status,
            headers,
            body,
        } => {
            let mut r = Response::new(Body::from(body.clone()));
            *r.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::try_from(k.as_str()),
                    HeaderValue::try_from(v.as_str()),
                ) {
                    r.headers_mut().append(k, v);
                }
            }
            r
        }
        Hostile::ErrorIn200 => {
            let v = if messages {
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            } else {
                json!({"error": {"message": "The server had an error processing your request.", "type": "server_error", "code": null}})
            };
            with_type(Response::new(Body::from(v.to_string())), "application/json")
        }
        Hostile::HugeBody { bytes } => {
            let (head, tail) = if messages {
                (
                    r#"{"id":"msg_huge","type":"message","role":"assistant","model":"fake-model","content":[{"type":"text","text":""#,
                    r#""}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":3}}"#,
                )
            } else {
                (
                    r#"{"id":"chatcmpl-huge","object":"chat.completion","created":1700000000,"model":"fake-model","choices":[{"index":0,"message":{"role":"assistant","content":""#,
                    r#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}}"#,
                )
            };
            let steps = vec![
                Step::Frame(Bytes::from_static(head.as_bytes())),
                // Whole chunks: a last one cut short would overshoot less, and
                // the text must stay `a`s.
                Step::Repeat(
                    Bytes::from(vec![b'a'; CHUNK.min(*bytes as usize).max(1)]),
                    *bytes,
                ),
                Step::Frame(Bytes::from_static(tail.as_bytes())),
            ];
            with_type(
                Response::new(sse_body(steps, Arc::clone(shared))),
                "application/json",
            )
        }
        Hostile::PreambleFlood { bytes } => {
            let mut steps = Vec::new();
            if messages {
                steps.push(event(
                    &json!({"type": "message_start", "message": message_start()}),
                ));
                let ping = event(&json!({"type": "ping"}));
                steps.push(Step::Repeat(repeat_to_chunk(&ping), *bytes));
                steps.extend(messages_hello());
            } else {
                let role = data(
                    &json!({"object": "chat.completion.chunk", "model": "fake-model",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
                );
                steps.push(Step::Repeat(repeat_to_chunk(&role), *bytes));
                steps.extend(chat_hello());
            }
            sse(shared, steps)
        }
        Hostile::EchoKey {
            status,
            stream_after,
        } => {
            let key = rec
                .header(AUTHORIZATION.as_str())
                .map(|v| v.trim_start_matches("Bearer ").to_string())
                .or_else(|| rec.header("x-api-key"))
                .unwrap_or_default();
            let text = format!("Incorrect API key provided: {key}. You passed: Bearer {key}");
            let error = if messages {
                json!({"type": "error", "error": {"type": "authentication_error", "message": text}})
            } else {
                json!({"error": {"message": text, "type": "invalid_request_error", "code": "invalid_api_key"}})
            };
            match stream_after {
                None => {
                    let mut r = with_type(
                        Response::new(Body::from(error.to_string())),
                        "application/json",
                    );
                    *r.status_mut() =
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::UNAUTHORIZED);
                    r
                }
                Some(n) => {
                    let mut steps = Vec::new();
                    if messages {
                        steps.push(event(
                            &json!({"type": "message_start", "message": message_start()}),
                        ));
                        steps.push(event(&json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
                        for i in 0..*n {
                            steps.push(event(&json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("tok{i}")}})));
                        }
                        steps.push(event(&error));
                    } else {
                        for i in 0..*n {
                            steps.push(data(&json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": format!("tok{i}")}, "finish_reason": null}]})));
                        }
                        steps.push(data(&error));
                    }
                    sse(shared, steps)
                }
            }
        }
        Hostile::StreamUnknownThenDie => {
            let steps = if messages {
                vec![
                    event(&json!({"type": "message_start", "message": message_start()})),
                    event(
                        &json!({"type": "content_block_citation_fancy", "index": 0, "extra": {"x": 1}}),
                    ),
                    Step::Abort,
                ]
            } else {
                vec![
                    data(
                        &json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}),
                    ),
                    data(&json!({"object": "chat.completion.telemetry", "phase": "warmup"})),
                    Step::Abort,
                ]
            };
            sse(shared, steps)
        }
        Hostile::StreamGarbage => sse(
            shared,
            vec![Step::Frame(Bytes::from_static(
                b"data: <html><body>upstream proxy error</body></html>\n\n",
            ))],
        ),
    }
}

fn with_type(mut r: Response, ct: &'static str) -> Response {
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

fn sse(shared: &Arc<Shared>, steps: Vec<Step>) -> Response {
    let mut r = with_type(
        Response::new(sse_body(steps, Arc::clone(shared))),
        "text/event-stream",
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn data(v: &serde_json::Value) -> Step {
    Step::Frame(Bytes::from(format!("data: {v}\n\n")))
}

fn event(v: &serde_json::Value) -> Step {
    let name = v.get("type").and_then(|t| t.as_str()).unwrap_or("unknown");
    Step::Frame(Bytes::from(format!("event: {name}\ndata: {v}\n\n")))
}

/// One frame repeated to fill about [`CHUNK`] bytes (fewer, larger writes).
fn repeat_to_chunk(frame: &Step) -> Bytes {
    let Step::Frame(f) = frame else {
        return Bytes::new();
    };
    let n = (CHUNK / f.len().max(1)).max(1);
    Bytes::from(f.repeat(n))
}

fn message_start() -> serde_json::Value {
    json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": "fake-model",
        "content": [], "stop_reason": null, "usage": {"input_tokens": 10, "output_tokens": 1}})
}

fn chat_hello() -> Vec<Step> {
    vec![
        data(
            &json!({"object": "chat.completion.chunk", "model": "fake-model",
            "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]}),
        ),
        data(
            &json!({"object": "chat.completion.chunk", "model": "fake-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ),
        Step::Frame(Bytes::from_static(b"data: [DONE]\n\n")),
    ]
}

fn messages_hello() -> Vec<Step> {
    vec![
        event(
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        ),
        event(&json!({"type": "content_block_stop", "index": 0})),
        event(
            &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 1}}),
        ),
        event(&json!({"type": "message_stop"})),
    ]
}
