//! A fake Gemini API upstream ([`FakeGemini`]): `POST
//! /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, `:batchEmbedContents`, `:countTokens` (7 tokens per
//! `contents` turn; a whole `generateContentRequest`: one per word of every `text`) and `GET /v1beta/models`, in the wire
//! format of Google's API reference (camelCase fields, `candidates`,
//! `usageMetadata`, `promptFeedback`; errors as
//! `{"error":{"code","message","status"}}`). The key must come in
//! `x-goog-api-key`; a missing or wrong one gets Gemini's 400
//! `API_KEY_INVALID`, a `?key=` query is refused the same way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Recorded;

/// What the fake answers to the next generate request.
#[derive(Clone, Debug)]
pub enum GeminiReply {
    /// A model turn of `text` (streamed as one event per word).
    Text(String),
    /// A model turn with a thought summary, then `text`.
    Thinking { thought: String, text: String },
    /// A `functionCall` part.
    Call { name: String, args: Value },
    /// These parts (thoughts, text, `functionCall`s) as one model turn;
    /// a stream sends one event per part.
    Parts(Vec<Value>),
    /// The prompt refused: `promptFeedback.blockReason = SAFETY`, no candidates.
    PromptBlocked,
    /// A Gemini error body with this HTTP code and `status`.
    Error {
        code: u16,
        status: String,
        message: String,
    },
}

struct Shared {
    key: String,
    /// `Some(code)`: `:countTokens` answers this error (404: not served).
    count_fails: Mutex<Option<u16>>,
    queue: Mutex<VecDeque<GeminiReply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake Gemini server on 127.0.0.1.
pub struct FakeGemini {
    name: String,
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGemini {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGemini {
    /// Starts a server that accepts only `key` in `x-goog-api-key`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(name: &str, key: &str) -> FakeGemini {
        let shared = Arc::new(Shared {
            key: key.to_string(),
            count_fails: Mutex::new(None),
            queue: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
        });
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => panic!("testkit: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("testkit: no local address: {e}"),
        };
        let router = Router::new().fallback(handle).with_state(shared.clone());
        // A fake upstream's accept loop, not gateway work: Drop aborts it.
        #[allow(clippy::disallowed_methods)]
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeGemini {
            name: name.to_string(),
            addr,
            shared,
            task,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT/v1beta`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    /// Queues the answer to the next generate request (default: `Text("Hello from Gemini")`).
    pub fn push(&self, r: GeminiReply) {
        lock(&self.shared.queue).push_back(r);
    }

    /// From now on `:countTokens` answers `code` (404 `NOT_FOUND`, else
    /// `INTERNAL`) instead of a count.
    pub fn fail_count_tokens(&self, code: u16) {
        *lock(&self.shared.count_fails) = Some(code);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A stream event that is not the last: no `finishReason`.
fn without_finish(mut ev: Value) -> Value {
    if let Some(c) = ev["candidates"][0].as_object_mut() {
        c.remove("finishReason");
    }
    ev
}

fn error(code: u16, status: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    response(code, "application/json", body.to_string())
}

fn response(code: u16, content_type: &str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    lock(&s.requests).push(Recorded {
        version: parts.version,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let key_ok = parts
        .headers
        .get("x-goog-api-key")
        .is_some_and(|v| v.as_bytes() == s.key.as_bytes());
    let key_in_query = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("key=")));
    if !key_ok || key_in_query {
        let body = json!({"error": {"code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}});
        return response(400, "application/json", body.to_string());
    }
    if parts.method == http::Method::GET && path == "/v1beta/models" {
        let list = json!({"models": [
            {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash",
             "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro",
             "supportedGenerationMethods": ["generateContent", "countTokens"]}
        ]});
        return response(200, "application/json", list.to_string());
    }
    let Some(rest) = path.strip_prefix("/v1beta/models/") else {
        return error(404, "NOT_FOUND", "Requested entity was not found.");
    };
    let Some((model, method)) = rest.split_once(':') else {
        return error(404, "NOT_FOUND", "Requested entity was not found.");
    };
    if method == "batchEmbedContents" {
        let Ok(req) = serde_json::from_slice::<Value>(&body) else {
            return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        };
        let want = format!("models/{model}");
        let Some(items) = req["requests"].as_array() else {
            return error(
                400,
                "INVALID_ARGUMENT",
                "* BatchEmbedContentsRequest.requests: requests is not specified",
            );
        };
        if items.iter().any(|r| r["model"] != want.as_str()) {
            return error(
                400,
                "INVALID_ARGUMENT",
                "Model names in the requests must match the model in the path.",
            );
        }
        // One vector per text: its length, then 0.5.
        let embeddings: Vec<Value> = items
            .iter()
            .map(|r| {
                let len = r["content"]["parts"][0]["text"]
                    .as_str()
                    .map_or(0, str::len);
                json!({"values": [len as f64, 0.5]})
            })
            .collect();
        return response(
            200,
            "application/json",
            json!({"embeddings": embeddings}).to_string(),
        );
    }
    if method == "countTokens" {
        return count_tokens(&s, model, &body);
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return error(404, "NOT_FOUND", "Requested entity was not found."),
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    if !req["contents"].is_array() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        );
    }
    let reply = lock(&s.queue)
        .pop_front()
        .unwrap_or_else(|| GeminiReply::Text("Hello from Gemini".into()));
    let usage = json!({"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12,
        "cachedContentTokenCount": 2});
    let answer = |parts: Value, reason: &str| {
        json!({
            "candidates": [{"content": {"role": "model", "parts": parts},
                "finishReason": reason, "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": "fake-gemini-response"
        })
    };
    let events: Vec<Value> = match reply {
        GeminiReply::Error {
            code,
            status,
            message,
        } => return error(code, &status, &message),
        GeminiReply::PromptBlocked => vec![json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": model
        })],
        GeminiReply::Text(t) if stream => {
            let words: Vec<String> = t.split_inclusive(' ').map(str::to_string).collect();
            let n = words.len();
            words
                .into_iter()
                .enumerate()
                .map(|(i, w)| {
                    let mut ev = answer(json!([{"text": w}]), "STOP");
                    if i + 1 < n {
                        ev["candidates"][0]
                            .as_object_mut()
                            .map(|c| c.remove("finishReason"));
                    }
                    ev
                })
                .collect()
        }
        GeminiReply::Text(t) => vec![answer(json!([{"text": t}]), "STOP")],
        GeminiReply::Thinking { thought, text } if stream => vec![
            without_finish(answer(json!([{"text": thought, "thought": true}]), "STOP")),
            answer(json!([{"text": text}]), "STOP"),
        ],
        GeminiReply::Thinking { thought, text } => vec![answer(
            json!([{"text": thought, "thought": true}, {"text": text}]),
            "STOP",
        )],
        GeminiReply::Parts(parts) if stream => {
            let n = parts.len();
            parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let ev = answer(json!([p]), "STOP");
                    if i + 1 < n { without_finish(ev) } else { ev }
                })
                .collect()
        }
        GeminiReply::Parts(parts) => vec![answer(Value::Array(parts), "STOP")],
        GeminiReply::Call { name, args } => vec![answer(
            json!([{"functionCall": {"name": name, "args": args}}]),
            "STOP",
        )],
    };
    if stream {
        let mut out = String::new();
        for e in events {
            out.push_str("data: ");
            out.push_str(&e.to_string());
            out.push_str("\r\n\r\n");
        }
        return response(200, "text/event-stream", out);
    }
    let one = events.into_iter().next().unwrap_or_default();
    response(200, "application/json; charset=UTF-8", one.to_string())
}

/// `:countTokens`: `contents` (7 tokens per turn) or a whole
/// `generateContentRequest` (whose `model` must be the path's; one token
/// per word of every `text`), never both.
fn count_tokens(s: &Shared, model: &str, body: &[u8]) -> Response {
    if let Some(code) = *lock(&s.count_fails) {
        return match code {
            404 => error(404, "NOT_FOUND", "Requested entity was not found."),
            c => error(c, "INTERNAL", "An internal error has occurred."),
        };
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let whole = req.get("generateContentRequest");
    if whole.is_some() == req.get("contents").is_some() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "contents and generate_content_request are mutually exclusive; exactly one is required",
        );
    }
    if let Some(w) = whole
        && w["model"] != format!("models/{model}").as_str()
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* CountTokensRequest.generate_content_request.model: model is required and must match",
        );
    }
    if whole.is_none() {
        // 7 tokens per content turn, so tests can tell it from an estimate.
        let turns = req["contents"].as_array().map_or(0, Vec::len) as u64;
        return response(
            200,
            "application/json",
            json!({"totalTokens": 7 * turns}).to_string(),
        );
    }
    fn words(v: &Value) -> u64 {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("text", Value::String(t)) => t.split_whitespace().count() as u64,
                    _ => words(v),
                })
                .sum(),
            Value::Array(a) => a.iter().map(words).sum(),
            _ => 0,
        }
    }
    let n = words(&req);
    let body = json!({"totalTokens": n,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]});
    response(200, "application/json; charset=UTF-8", body.to_string())
}
