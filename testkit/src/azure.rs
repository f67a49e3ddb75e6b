//! A fake Azure OpenAI resource ([`FakeAzure`]) on 127.0.0.1, checking what
//! Azure checks before it answers:
//!
//! - the key in `api-key`, or as `Authorization: Bearer` (an Entra token);
//!   otherwise 401 in Azure's shape;
//! - the v1 API (`/openai/v1/chat/completions`, `/completions`,
//!   `/embeddings`, `/responses`, `GET /openai/v1/models`; the deployment is
//!   the body's `model`; no `api-version` but an optional `preview`) and the
//!   dated one (`/openai/deployments/{deployment}/…?api-version=`,
//!   `/openai/responses?api-version=`, `GET /openai/models?api-version=`;
//!   a missing version is a 400, an unknown one 404);
//! - the deployment: an unknown one gets 404 `DeploymentNotFound`.
//!
//! What it answers then: the next queued [`AzureReply`] (content-filter
//! answers, a 429 with `retry-after-ms`, Azure-shaped streams), else the
//! inner [`FakeUpstream`]'s behaviours (push them with
//! [`FakeAzure::upstream`]); whole chat answers get Azure's
//! `prompt_filter_results` / `content_filter_results` added.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::{FakeUpstream, Recorded};

/// An Azure-specific answer to the next model request.
#[derive(Clone, Debug)]
pub enum AzureReply {
    /// 400 `content_filter` with `innererror.code = "ResponsibleAIPolicyViolation"`.
    PromptFiltered,
    /// 200 chat completion whose choice ended with `finish_reason = "content_filter"`.
    AnswerFiltered,
    /// 429 with `retry-after-ms` (and no `retry-after`).
    RateLimited { retry_after_ms: u64 },
    /// An Azure chat stream: a `prompt_filter_results` chunk with no
    /// choices, then each delta with `content_filter_results`, then the
    /// finish (`stop`, or `content_filter` when `filtered`), then `[DONE]`.
    Stream { deltas: Vec<String>, filtered: bool },
}

struct Shared {
    key: String,
    deployments: Mutex<Vec<String>>,
    versions: Vec<String>,
    queue: Mutex<VecDeque<AzureReply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake Azure OpenAI resource.
pub struct FakeAzure {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    inner: Arc<FakeUpstream>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The dated API versions the fake knows.
pub const AZURE_VERSIONS: [&str; 2] = ["2024-10-21", "2025-04-01-preview"];

impl FakeAzure {
    /// Starts a resource that accepts only `key` and serves `deployments`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(name: &str, key: &str, deployments: &[&str]) -> FakeAzure {
        let inner = Arc::new(FakeUpstream::start(name).await);
        let shared = Arc::new(Shared {
            key: key.to_string(),
            deployments: Mutex::new(deployments.iter().map(|d| d.to_string()).collect()),
            versions: AZURE_VERSIONS.iter().map(|v| v.to_string()).collect(),
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
        let router = Router::new()
            .fallback(handle)
            .with_state((shared.clone(), inner.clone()));
        // A fake upstream's accept loop, not gateway work: Drop aborts it.
        #[allow(clippy::disallowed_methods)]
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeAzure {
            addr,
            shared,
            inner,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` (the resource URL, without `/openai`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OpenAI-shaped fake behind it: its behaviours answer whatever no
    /// [`AzureReply`] is queued for.
    pub fn upstream(&self) -> &FakeUpstream {
        &self.inner
    }

    /// Queues an Azure-specific answer to the next model request.
    pub fn push(&self, r: AzureReply) {
        lock(&self.shared.queue).push_back(r);
    }

    /// Every request received, in order (paths and queries as sent).
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

fn error(code: u16, err_code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": err_code, "message": message}});
    response(code, "application/json", body.to_string())
}

fn filter_results(filtered: bool) -> Value {
    let r = |f: bool| json!({"filtered": f, "severity": if f { "high" } else { "safe" }});
    json!({"hate": r(false), "self_harm": r(false), "sexual": r(false), "violence": r(filtered)})
}

fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": filter_results(false)}])
}

/// The endpoint (`/chat/completions`…) and deployment a path names, with
/// whether it is the dated API. `None`: not a model endpoint.
fn parse_path(path: &str) -> Option<(&str, Option<&str>, bool)> {
    if let Some(rest) = path.strip_prefix("/openai/v1") {
        return Some((rest, None, false));
    }
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        let (dep, endpoint) = rest.split_once('/')?;
        return Some((&path[path.len() - endpoint.len() - 1..], Some(dep), true));
    }
    let rest = path.strip_prefix("/openai")?;
    matches!(rest, "/responses" | "/models").then_some((rest, None, true))
}

async fn handle(
    State((s, inner)): State<(Arc<Shared>, Arc<FakeUpstream>)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let rec = Recorded {
        version: parts.version,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    lock(&s.requests).push(rec.clone());
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let key_ok = header("api-key") == Some(s.key.as_str())
        || header("authorization") == Some(format!("Bearer {}", s.key).as_str());
    if !key_ok {
        return error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
             provide a valid key for an active subscription and use a correct regional API \
             endpoint for your resource.",
        );
    }
    let Some((endpoint, path_dep, dated)) = parse_path(&path) else {
        return error(404, "404", "Resource not found");
    };
    let version = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("api-version="))
            .map(str::to_string)
    });
    match (dated, version.as_deref()) {
        (true, None) => {
            return error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
        (true, Some(v)) if !s.versions.iter().any(|k| k == v) => {
            return error(404, "404", "Resource not found");
        }
        (false, Some(v)) if v != "preview" && v != "latest" => {
            return error(
                400,
                "BadRequest",
                "API version not supported: the v1 API takes no dated api-version",
            );
        }
        _ => {}
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if parts.method == http::Method::GET {
        if endpoint != "/models" {
            return error(404, "404", "Resource not found");
        }
        let data: Vec<Value> = ["gpt-4o-2024-11-20", "text-embedding-3-small"]
            .iter()
            .map(|id| json!({"id": id, "object": "model", "status": "succeeded"}))
            .collect();
        return response(
            200,
            "application/json",
            json!({"object": "list", "data": data}).to_string(),
        );
    }
    if !matches!(
        endpoint,
        "/chat/completions" | "/completions" | "/embeddings" | "/responses"
    ) {
        return error(404, "404", "Resource not found");
    }
    let deployment = path_dep
        .map(str::to_string)
        .or_else(|| json["model"].as_str().map(str::to_string))
        .unwrap_or_default();
    if !lock(&s.deployments).contains(&deployment) {
        return error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment \
             within the last 5 minutes, please wait a moment and try again.",
        );
    }
    let stream = json["stream"].as_bool().unwrap_or(false);
    let reply = lock(&s.queue).pop_front();
    match reply {
        Some(AzureReply::PromptFiltered) => {
            let body = json!({"error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
                "type": null, "param": "prompt", "code": "content_filter", "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": filter_results(true)}}});
            return response(400, "application/json", body.to_string());
        }
        Some(AzureReply::AnswerFiltered) => {
            let body = json!({"id": "chatcmpl-azure-filtered", "object": "chat.completion",
                "created": 1_700_000_000u64, "model": "gpt-4o-2024-11-20",
                "prompt_filter_results": prompt_filter_results(),
                "choices": [{"index": 0, "finish_reason": "content_filter",
                    "message": {"role": "assistant", "content": null},
                    "content_filter_results": filter_results(true)}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}});
            return response(200, "application/json", body.to_string());
        }
        Some(AzureReply::RateLimited { retry_after_ms }) => {
            let mut r = error(
                429,
                "429",
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have \
                 exceeded token rate limit of your current pricing tier.",
            );
            if let Ok(v) = http::HeaderValue::from_str(&retry_after_ms.to_string()) {
                r.headers_mut().insert("retry-after-ms", v);
            }
            return r;
        }
        Some(AzureReply::Stream { deltas, filtered }) => {
            let chunk = |choices: Value| {
                json!({"id": "chatcmpl-azure", "object": "chat.completion.chunk",
                    "created": 1_700_000_000u64, "model": "gpt-4o-2024-11-20",
                    "choices": choices})
            };
            let mut events = vec![json!({"id": "", "object": "", "created": 0, "model": "",
                "choices": [], "prompt_filter_results": prompt_filter_results()})];
            events.push(chunk(json!([{"index": 0, "finish_reason": null,
                "delta": {"role": "assistant", "content": ""}}])));
            for d in deltas {
                events.push(chunk(json!([{"index": 0, "finish_reason": null,
                    "delta": {"content": d}, "content_filter_results": filter_results(false)}])));
            }
            let reason = if filtered { "content_filter" } else { "stop" };
            events.push(chunk(
                json!([{"index": 0, "finish_reason": reason, "delta": {},
                "content_filter_results": filter_results(filtered)}]),
            ));
            let mut out = String::new();
            for e in events {
                out.push_str(&format!("data: {e}\n\n"));
            }
            out.push_str("data: [DONE]\n\n");
            return response(200, "text/event-stream", out);
        }
        None => {}
    }
    // The rest in OpenAI's shape, by the inner fake (the deployment as model).
    let mut body = json.clone();
    if body.is_object() {
        body["model"] = Value::String(deployment);
    }
    let forwarded = Recorded {
        path: format!("/v1{endpoint}"),
        query: None,
        body: serde_json::to_vec(&body).unwrap_or_default().into(),
        ..rec
    };
    let resp = crate::server::respond(&inner.shared, forwarded, None).await;
    if stream || endpoint != "/chat/completions" || !resp.status().is_success() {
        return resp;
    }
    let (mut head, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(head, Body::from(bytes));
    };
    v["prompt_filter_results"] = prompt_filter_results();
    if let Some(choices) = v["choices"].as_array_mut() {
        for c in choices {
            c["content_filter_results"] = filter_results(false);
        }
    }
    head.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(head, Body::from(v.to_string()))
}
