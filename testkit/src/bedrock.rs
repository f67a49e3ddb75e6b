//! A fake AWS Bedrock Runtime ([`FakeBedrock`]): `POST
//! /model/{modelId}/converse`, `/converse-stream` (an AWS event stream,
//! `application/vnd.amazon.eventstream`), `/invoke` (Titan and Cohere
//! embeddings) and the control plane's `GET /foundation-models`, in the
//! wire format of the Bedrock API reference.
//!
//! Every request must be SigV4-signed for service `bedrock` in the fake's
//! region with the test's credentials: the fake rebuilds the canonical
//! request from what it received (method, the path URI-encoded once more
//! as AWS does for every service but S3, the sorted query, the signed
//! headers, the body's SHA-256) with its own code — not the gateway's
//! signer — and compares signatures. An unknown key id gets AWS's 403
//! `UnrecognizedClientException`, a wrong signature 403
//! `InvalidSignatureException` ("The request signature we calculated does
//! not match…", S3's `SignatureDoesNotMatch`), a missing or wrong session
//! token 403 `UnrecognizedClientException`; errors carry the type in
//! `x-amzn-ErrorType` and `{"message"}` as the body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Recorded;

/// What the fake answers to the next converse request.
#[derive(Clone, Debug)]
pub enum BedrockReply {
    /// An assistant turn of `text` (streamed as one delta per word).
    Text(String),
    /// A `reasoningContent` block (with a signature), then `text`.
    Thinking { thought: String, text: String },
    /// A `toolUse` block (its input streamed in two pieces).
    Call { name: String, input: Value },
    /// An HTTP error: `status`, `x-amzn-ErrorType: kind`, `{"message"}`.
    Error {
        status: u16,
        kind: String,
        message: String,
    },
    /// A stream that sends `messageStart`, then an exception frame
    /// (`:exception-type` `kind`, e.g. `throttlingException`).
    StreamException { kind: String, message: String },
}

/// The test's AWS credentials the fake checks signatures with.
#[derive(Clone, Debug)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

struct Shared {
    keys: AwsKeys,
    queue: Mutex<VecDeque<BedrockReply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake Bedrock server on 127.0.0.1.
pub struct FakeBedrock {
    name: String,
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBedrock {
    /// Starts a server that accepts only requests signed with `keys`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(name: &str, keys: AwsKeys) -> FakeBedrock {
        let shared = Arc::new(Shared {
            keys,
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
        FakeBedrock {
            name: name.to_string(),
            addr,
            shared,
            task,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT` (the gateway's `base_url` override).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues the answer to the next converse request (default:
    /// `Text("Hello from Bedrock")`).
    pub fn push(&self, r: BedrockReply) {
        lock(&self.shared.queue).push_back(r);
    }

    /// Every request received, in order (signed or not).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn response(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    let h = r.headers_mut();
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    h.insert(
        "x-amzn-requestid",
        http::HeaderValue::from_static("5f0e1a2b-0000-4000-8000-fakebedrock01"),
    );
    r
}

/// An AWS error: the type in `x-amzn-ErrorType`, `{"message"}` as body.
fn error(status: u16, kind: &str, message: &str) -> Response {
    let mut r = response(
        status,
        "application/json",
        json!({ "message": message }).to_string(),
    );
    if let Ok(v) = http::HeaderValue::from_str(&format!(
        "{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    )) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// SigV4's URI encoding: unreserved bytes as they are, the rest `%XX`
/// (upper case); `/` kept when `slash` says so.
fn uri_encode(s: &str, slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a request's signature does not verify: `(error type, message)`.
fn verify(
    keys: &AwsKeys,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(), (String, String)> {
    let invalid_token = || {
        (
            "UnrecognizedClientException".to_string(),
            "The security token included in the request is invalid.".to_string(),
        )
    };
    let mismatch = || {
        (
            "InvalidSignatureException".to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
                .to_string(),
        )
    };
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(auth) = header("authorization") else {
        return Err((
            "MissingAuthenticationTokenException".into(),
            "Missing Authentication Token".into(),
        ));
    };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(mismatch());
    };
    let mut credential = "";
    let mut signed = "";
    let mut signature = "";
    for kv in rest.split(',') {
        let kv = kv.trim();
        if let Some(v) = kv.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = kv.strip_prefix("SignedHeaders=") {
            signed = v;
        } else if let Some(v) = kv.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(mismatch());
    };
    if key_id != keys.access_key_id {
        return Err(invalid_token());
    }
    match (&keys.session_token, header("x-amz-security-token")) {
        (Some(want), Some(got)) if *want == got => {}
        (None, None) => {}
        _ => return Err(invalid_token()),
    }
    let Some(amz_date) = header("x-amz-date") else {
        return Err(mismatch());
    };
    let names: Vec<&str> = signed.split(';').collect();
    if region != keys.region
        || service != "bedrock"
        || !amz_date.starts_with(date)
        || !names.contains(&"host")
        || !names.contains(&"x-amz-date")
        || (keys.session_token.is_some() && !names.contains(&"x-amz-security-token"))
    {
        return Err(mismatch());
    }
    // The canonical request, from what was received.
    let path = uri_encode(parts.uri.path(), true);
    let mut query: Vec<(String, String)> = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for n in &names {
        let value = if *n == "host" {
            header("host").or_else(|| parts.uri.authority().map(|a| a.to_string()))
        } else {
            let all: Vec<&str> = parts
                .headers
                .get_all(*n)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!all.is_empty()).then(|| all.join(","))
        };
        let Some(value) = value else {
            return Err(mismatch());
        };
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{n}:{value}\n"));
    }
    let canonical = format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{}",
        parts.method,
        hex::encode(Sha256::digest(body))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{}", keys.secret_access_key).as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    if hex::encode(hmac(&k, &to_sign)) != signature {
        return Err(mismatch());
    }
    Ok(())
}

/// `%3A` → `:` in a path segment.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One AWS event-stream frame with string headers, as the Bedrock
/// reference frames it: prelude (total and headers length, big endian,
/// and their CRC32), headers (name length, name, type 7, value length,
/// value), payload, CRC32 of everything before.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (k, v) in headers {
        h.push(k.len() as u8);
        h.extend_from_slice(k.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An `event` frame; the payload padded with `p` as Bedrock pads it.
fn event(kind: &str, mut payload: Value) -> Vec<u8> {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ");
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

/// Bedrock's own checks of a Converse body (a subset).
fn check_converse(req: &Value) -> Result<(), String> {
    let Some(messages) = req["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err("The model returned the following errors: messages: field required".into());
    };
    if messages[0]["role"] != "user" {
        return Err(
            "A conversation must start with a user message. Try again with a \
                    conversation that starts with a user message."
                .into(),
        );
    }
    if messages.windows(2).any(|w| w[0]["role"] == w[1]["role"]) {
        return Err(
            "A conversation must alternate between user and assistant roles. Make \
                    sure the conversation alternates between user and assistant roles and try \
                    again."
                .into(),
        );
    }
    let text = req["messages"].to_string();
    if (text.contains("\"toolUse\"") || text.contains("\"toolResult\""))
        && req.get("toolConfig").is_none()
    {
        return Err(
            "The toolConfig field must be defined when using toolUse and toolResult \
                    content blocks."
                .into(),
        );
    }
    Ok(())
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    lock(&s.requests).push(Recorded {
        version: parts.version,
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if let Err((kind, message)) = verify(&s.keys, &parts, &body) {
        return error(403, &kind, &message);
    }
    if parts.method == http::Method::GET && path == "/foundation-models" {
        let list = json!({"modelSummaries": [
            {"modelId": "anthropic.claude-sonnet-4-20250514-v1:0",
             "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
             "providerName": "Anthropic", "inputModalities": ["TEXT", "IMAGE"],
             "outputModalities": ["TEXT"], "responseStreamingSupported": true},
            {"modelId": "amazon.titan-embed-text-v2:0",
             "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
             "providerName": "Amazon", "inputModalities": ["TEXT"],
             "outputModalities": ["EMBEDDING"], "responseStreamingSupported": false}
        ]});
        return response(200, "application/json", list.to_string());
    }
    let parts_of: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["model", raw_model, action] = parts_of[..] else {
        return error(
            404,
            "UnknownOperationException",
            "The requested operation is not recognized by the service.",
        );
    };
    let model = percent_decode(raw_model);
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            400,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        );
    };
    if action == "invoke" {
        if model.contains("amazon.titan-embed") {
            let Some(text) = req["inputText"].as_str() else {
                return error(
                    400,
                    "ValidationException",
                    "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.",
                );
            };
            let body = json!({"embedding": [text.len() as f64, 0.25], "inputTextTokenCount": 3});
            return response(200, "application/json", body.to_string());
        }
        if model.contains("cohere.embed") {
            let Some(texts) = req["texts"].as_array() else {
                return error(
                    400,
                    "ValidationException",
                    "Malformed input request: #: required key [texts] not found, please reformat your input and try again.",
                );
            };
            let embeddings: Vec<Value> = texts
                .iter()
                .map(|t| json!([t.as_str().map_or(0, str::len) as f64, 0.75]))
                .collect();
            let body = json!({"id": "fake-cohere", "texts": texts,
                "embeddings": embeddings, "response_type": "embeddings_floats"});
            return response(200, "application/json", body.to_string());
        }
        return error(
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
        );
    }
    let stream = match action {
        "converse" => false,
        "converse-stream" => true,
        _ => {
            return error(
                404,
                "UnknownOperationException",
                "The requested operation is not recognized by the service.",
            );
        }
    };
    if let Err(m) = check_converse(&req) {
        return error(400, "ValidationException", &m);
    }
    let reply = lock(&s.queue)
        .pop_front()
        .unwrap_or_else(|| BedrockReply::Text("Hello from Bedrock".into()));
    let usage = json!({"inputTokens": 8, "outputTokens": 4, "totalTokens": 14,
        "cacheReadInputTokens": 2, "cacheWriteInputTokens": 0});
    let (blocks, stop): (Vec<Value>, &str) = match &reply {
        BedrockReply::Error {
            status,
            kind,
            message,
        } => return error(*status, kind, message),
        BedrockReply::StreamException { .. } if !stream => {
            return error(
                500,
                "InternalServerException",
                "The stream exception reply is for converse-stream",
            );
        }
        BedrockReply::StreamException { .. } => (Vec::new(), "end_turn"),
        BedrockReply::Text(t) => (vec![json!({"text": t})], "end_turn"),
        BedrockReply::Thinking { thought, text } => (
            vec![
                json!({"reasoningContent": {"reasoningText": {"text": thought, "signature": "fake-signature"}}}),
                json!({"text": text}),
            ],
            "end_turn",
        ),
        BedrockReply::Call { name, input } => (
            vec![json!({"toolUse": {"toolUseId": "tooluse_fake1", "name": name, "input": input}})],
            "tool_use",
        ),
    };
    if !stream {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": blocks}},
            "stopReason": stop,
            "usage": usage,
            "metrics": {"latencyMs": 120}
        });
        return response(200, "application/json", body.to_string());
    }
    let mut out = event("messageStart", json!({"role": "assistant"}));
    if let BedrockReply::StreamException { kind, message } = &reply {
        out.extend(exception(kind, message));
        return response(200, "application/vnd.amazon.eventstream", out);
    }
    for (i, b) in blocks.iter().enumerate() {
        if let Some(t) = b["text"].as_str() {
            for w in t.split_inclusive(' ') {
                out.extend(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": i, "delta": {"text": w}}),
                ));
            }
        } else if let Some(r) = b.get("reasoningContent") {
            let text = r["reasoningText"]["text"].clone();
            out.extend(event(
                "contentBlockDelta",
                json!({"contentBlockIndex": i, "delta": {"reasoningContent": {"text": text}}}),
            ));
            out.extend(event(
                "contentBlockDelta",
                json!({"contentBlockIndex": i, "delta": {"reasoningContent": {"signature": "fake-signature"}}}),
            ));
        } else if let Some(u) = b.get("toolUse") {
            out.extend(event(
                "contentBlockStart",
                json!({"contentBlockIndex": i, "start": {"toolUse": {
                    "toolUseId": u["toolUseId"], "name": u["name"]}}}),
            ));
            let args = u["input"].to_string();
            let mut mid = args.len() / 2;
            while !args.is_char_boundary(mid) {
                mid += 1;
            }
            let (a, z) = args.split_at(mid);
            for piece in [a, z] {
                out.extend(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": i, "delta": {"toolUse": {"input": piece}}}),
                ));
            }
        }
        out.extend(event("contentBlockStop", json!({"contentBlockIndex": i})));
    }
    out.extend(event("messageStop", json!({"stopReason": stop})));
    out.extend(event(
        "metadata",
        json!({"usage": usage, "metrics": {"latencyMs": 120}}),
    ));
    response(200, "application/vnd.amazon.eventstream", out)
}
