//! A fake Vertex AI ([`FakeVertex`]) with its own OAuth token endpoint.
//!
//! - `POST /token`: Google's JWT-bearer grant (`grant_type=urn:ietf:params:
//!   oauth:grant-type:jwt-bearer&assertion=…`). The assertion is **verified**:
//!   RS256 signature with the test service account's public key, `iss` its
//!   `client_email`, `aud` this endpoint, `scope` cloud-platform, `iat`/`exp`
//!   current and at most an hour apart. A bad grant gets Google's 400
//!   `invalid_grant`; a good one an opaque `ya29.fake-N` token that lives
//!   [`FakeVertex::set_expires_in`] seconds (default 3600).
//! - `POST /v1/projects/{p}/locations/{r}/publishers/google/models/{m}:
//!   generateContent` / `:streamGenerateContent?alt=sse` (the Gemini wire
//!   format) and `…/publishers/anthropic/models/{m}:rawPredict` /
//!   `:streamRawPredict` (the Messages format; the body must carry
//!   `anthropic_version: "vertex-2023-10-16"` and no `model`);
//!   `GET /v1/publishers/google/models/{m}`. Each needs `authorization:
//!   Bearer <a token this fake issued and has not revoked>` (else 401
//!   `UNAUTHENTICATED`) and the configured project and region in the path
//!   (else 403 `PERMISSION_DENIED`).
//!
//! The RSA keys are generated per test process: **test keys**, never used
//! anywhere real.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::Recorded;

/// The service account's email in every key this fake hands out.
pub const CLIENT_EMAIL: &str = "aigw-test@my-project.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A throwaway RSA key: PKCS #8 PEM and its public key (PKCS #1 DER).
struct TestKey {
    pem: String,
    public: Vec<u8>,
}

fn new_key() -> TestKey {
    let k = match KeyPair::generate(KeySize::Rsa2048) {
        Ok(k) => k,
        Err(e) => panic!("testkit: cannot generate an RSA key: {e}"),
    };
    let der = match k.as_der() {
        Ok(d) => d,
        Err(e) => panic!("testkit: cannot encode the RSA key: {e}"),
    };
    let b64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    TestKey {
        pem,
        public: k.public_key().as_ref().to_vec(),
    }
}

/// The key the fake trusts, and another one it does not (both per process).
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| (new_key(), new_key()))
}

struct Shared {
    project: String,
    region: String,
    token_uri: String,
    expires_in: AtomicU64,
    grants: AtomicUsize,
    issued: Mutex<Vec<String>>,
    refused_grants: Mutex<Vec<String>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake Vertex AI on 127.0.0.1.
pub struct FakeVertex {
    name: String,
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVertex {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVertex {
    /// Starts a server serving `project` in `region`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(name: &str, project: &str, region: &str) -> FakeVertex {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => panic!("testkit: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("testkit: no local address: {e}"),
        };
        keys();
        let shared = Arc::new(Shared {
            project: project.to_string(),
            region: region.to_string(),
            token_uri: format!("http://{addr}/token"),
            expires_in: AtomicU64::new(3600),
            grants: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            refused_grants: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        // A fake upstream's accept loop, not gateway work: Drop aborts it.
        #[allow(clippy::disallowed_methods)]
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeVertex {
            name: name.to_string(),
            addr,
            shared,
            task,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The service account's JSON key (Google's layout), its `token_uri`
    /// this fake's token endpoint.
    pub fn service_account_json(&self) -> String {
        self.key_json(&keys().0.pem)
    }

    /// The same account with a key this fake does not know: every grant it
    /// signs is refused (`invalid_grant`).
    pub fn foreign_service_account_json(&self) -> String {
        self.key_json(&keys().1.pem)
    }

    fn key_json(&self, pem: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": self.shared.project,
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.shared.token_uri,
            "universe_domain": "googleapis.com"
        })
        .to_string()
    }

    /// The `expires_in` of the tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.expires_in.store(secs, Ordering::SeqCst);
    }

    /// Tokens issued (grants accepted) so far.
    pub fn grants(&self) -> usize {
        self.shared.grants.load(Ordering::SeqCst)
    }

    /// Why each refused grant was refused, in order.
    pub fn refused_grants(&self) -> Vec<String> {
        lock(&self.shared.refused_grants).clone()
    }

    /// Forgets every issued token: the next prediction with one gets 401.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.issued).clear();
    }

    /// Every prediction (and model) request received, in order; the token
    /// endpoint's are not recorded.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn response(code: u16, content_type: &str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// Google's error shape.
fn error(code: u16, status: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    response(code, "application/json", body.to_string())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `%XX` and `+` decoding of one form value.
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a JWT-bearer grant; `Err(why)` as Google words it.
fn verify_grant(s: &Shared, form: &str) -> Result<(), String> {
    let field = |name: &str| {
        form.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| form_decode(v))
    };
    if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err("unsupported_grant_type: Invalid grant_type".into());
    }
    let jwt = field("assertion").ok_or("invalid_request: Missing required parameter: assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [head, claims, sig] = parts[..] else {
        return Err("invalid_grant: Invalid JWT: Token must be a short-lived token".into());
    };
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "invalid_grant: Invalid JWT encoding".to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "invalid_grant: Invalid JWT JSON".to_string())
    };
    let head = decode(head)?;
    if head["alg"] != "RS256" {
        return Err("invalid_grant: Invalid JWT: alg must be RS256".into());
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| "invalid_grant: Invalid JWT Signature.".to_string())?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &keys().0.public)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| "invalid_grant: Invalid JWT Signature.".to_string())?;
    let c = decode(claims)?;
    if c["iss"] != CLIENT_EMAIL {
        return Err("invalid_grant: Invalid issuer".into());
    }
    if c["aud"] != s.token_uri.as_str() {
        return Err("invalid_grant: Invalid JWT audience".into());
    }
    if !c["scope"]
        .as_str()
        .is_some_and(|sc| sc.split(' ').any(|x| x == SCOPE))
    {
        return Err("invalid_scope: cloud-platform scope missing".into());
    }
    let (Some(iat), Some(exp)) = (c["iat"].as_u64(), c["exp"].as_u64()) else {
        return Err("invalid_grant: Invalid JWT: iat and exp required".into());
    };
    let t = now();
    if iat > t + 60 || exp <= t || exp < iat || exp - iat > 3600 {
        return Err(
            "invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe"
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
    if path == "/token" && parts.method == http::Method::POST {
        let form = String::from_utf8_lossy(&body);
        return match verify_grant(&s, &form) {
            Ok(()) => {
                let n = s.grants.fetch_add(1, Ordering::SeqCst) + 1;
                let token = format!("ya29.fake-{n}");
                lock(&s.issued).push(token.clone());
                let a = json!({"access_token": token, "token_type": "Bearer",
                    "expires_in": s.expires_in.load(Ordering::SeqCst)});
                response(200, "application/json; charset=utf-8", a.to_string())
            }
            Err(why) => {
                lock(&s.refused_grants).push(why.clone());
                let (error, desc) = why.split_once(": ").unwrap_or((&why, ""));
                let a = json!({"error": error, "error_description": desc});
                response(400, "application/json; charset=utf-8", a.to_string())
            }
        };
    }
    let query = parts.uri.query().map(str::to_string);
    lock(&s.requests).push(Recorded {
        version: parts.version,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let token = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    if !token.is_some_and(|t| lock(&s.issued).contains(&t)) {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
             cookie or other valid authentication credential.",
        );
    }
    if parts.method == http::Method::GET
        && let Some(m) = path.strip_prefix("/v1/publishers/google/models/")
    {
        let model = json!({"name": format!("publishers/google/models/{m}"),
            "versionId": "001", "launchStage": "GA"});
        return response(200, "application/json", model.to_string());
    }
    let want = format!(
        "/v1/projects/{}/locations/{}/publishers/",
        s.project, s.region
    );
    let Some(rest) = path.strip_prefix(&want) else {
        return error(
            403,
            "PERMISSION_DENIED",
            "Permission denied on resource project (or it may not exist).",
        );
    };
    let Some((publisher, rest)) = rest.split_once("/models/") else {
        return error(404, "NOT_FOUND", "Requested entity was not found.");
    };
    let Some((model, method)) = rest.split_once(':') else {
        return error(404, "NOT_FOUND", "Requested entity was not found.");
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    match (publisher, method) {
        ("google", "generateContent") => gemini(model, &req, false),
        ("google", "streamGenerateContent") if query.as_deref() == Some("alt=sse") => {
            gemini(model, &req, true)
        }
        ("anthropic", "rawPredict") => claude(model, &req, false),
        ("anthropic", "streamRawPredict") => claude(model, &req, true),
        _ => error(404, "NOT_FOUND", "Requested entity was not found."),
    }
}

fn gemini(model: &str, req: &Value, stream: bool) -> Response {
    if !req["contents"].is_array() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        );
    }
    let usage = json!({"promptTokenCount": 7, "candidatesTokenCount": 5, "totalTokenCount": 12});
    let event = |text: &str, last: bool| {
        let mut c = json!({"content": {"role": "model", "parts": [{"text": text}]}});
        if last {
            c["finishReason"] = "STOP".into();
        }
        json!({"candidates": [c], "usageMetadata": usage, "modelVersion": model,
            "createTime": "2026-01-01T00:00:00.000000Z", "responseId": "fake-vertex"})
    };
    if !stream {
        return response(
            200,
            "application/json; charset=UTF-8",
            event("Hello from Vertex Gemini", true).to_string(),
        );
    }
    let words = ["Hello ", "from ", "Vertex ", "Gemini"];
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        out.push_str("data: ");
        out.push_str(&event(w, i + 1 == words.len()).to_string());
        out.push_str("\r\n\r\n");
    }
    response(200, "text/event-stream", out)
}

fn claude(model: &str, req: &Value, stream: bool) -> Response {
    let invalid = |msg: &str| {
        let body =
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": msg}});
        response(400, "application/json", body.to_string())
    };
    if req.get("model").is_some() {
        return invalid("model: Extra inputs are not permitted");
    }
    if req["anthropic_version"] != "vertex-2023-10-16" {
        return invalid("anthropic_version: Input should be 'vertex-2023-10-16'");
    }
    if !req["messages"].is_array() || !req["max_tokens"].is_u64() {
        return invalid("messages and max_tokens are required");
    }
    let text = "Hello from Vertex Claude";
    let id = "msg_vrtx_01FakeVertexClaude";
    if !stream {
        let m = json!({"id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 5}});
        return response(200, "application/json", m.to_string());
    }
    let mut events = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for w in ["Hello ", "from ", "Vertex ", "Claude"] {
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": w}}),
        ));
    }
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let mut out = String::new();
    for (name, data) in events {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    response(200, "text/event-stream", out)
}
