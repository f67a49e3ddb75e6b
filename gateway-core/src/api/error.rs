//! Errors to clients, in the OpenAI shape
//! `{"error":{"message","type","code"}}` with a fitting status — or, on
//! `/v1/messages`, in Anthropic's (`ApiError::into_response_for`).

use std::time::Duration;

use crate::translate::errors;
use crate::vocab::{Endpoint, ErrorClass};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An error the gateway answers with. Every variant has one status
/// ([`ApiError::status`] is exhaustive) and one code; the body is rendered
/// in the client's protocol by [`ApiError::into_response_for`] (OpenAI's
/// shape by [`IntoResponse`]). Handlers return `Result<_, ApiError>`; layer
/// errors convert with `From`.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// 400.
    BadRequest { code: &'static str, message: String },
    /// 401: no or a wrong client key.
    Unauthorized,
    /// 401: the admin API without a token or session.
    AdminAuthRequired,
    /// 403.
    Forbidden { code: &'static str, message: String },
    /// 404: a path or an object that does not exist.
    NotFound(String),
    /// 404 with its own code (an unknown client tool, say).
    Missing { code: &'static str, message: String },
    /// 404: a model with no route that no provider lists (the message).
    ModelNotFound(String),
    /// 405.
    MethodNotAllowed,
    /// 408: the request body stopped arriving for this long.
    RequestTimeout(Duration),
    /// 409.
    Conflict { code: &'static str, message: String },
    /// 413: a body over `limit` bytes; `setting` names the limit.
    TooLarge { limit: usize, setting: String },
    /// 422: a config that fails validation; `validation` says why.
    InvalidConfig { validation: serde_json::Value },
    /// 429.
    RateLimited {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// 500.
    Internal(String),
    /// 502, or 504 for a timeout: no upstream answer could be relayed.
    Upstream { class: ErrorClass, message: String },
    /// 503: paused from the tray or the admin API.
    Paused,
    /// 503: a part of the gateway that is not there (no data dir, say).
    Unavailable { code: &'static str, message: String },
    /// A status the framework chose (a rejected extractor), its text.
    Status { status: StatusCode, message: String },
    /// Another error with more top-level fields beside `error`.
    WithFields(Box<ApiError>, serde_json::Map<String, serde_json::Value>),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
    /// A request body over `limit` bytes; `setting` names the limit.
    pub fn too_large(limit: usize, setting: &str) -> Self {
        Self::TooLarge {
            limit,
            setting: setting.to_string(),
        }
    }
    /// A request body that stopped arriving for `idle`.
    pub fn request_timeout(idle: Duration) -> Self {
        Self::RequestTimeout(idle)
    }
    /// An error the framework made (a rejected extractor, say), in the
    /// wire shape: `status` and its text as given.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Status {
            status,
            message: message.into(),
        }
    }
    pub fn unauthorized() -> Self {
        Self::Unauthorized
    }
    pub fn unauthorized_admin() -> Self {
        Self::AdminAuthRequired
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn paused() -> Self {
        Self::Paused
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn model_not_found(model: &str) -> Self {
        Self::ModelNotFound(crate::pipeline::model_not_found_message(model))
    }
    pub fn missing(code: &'static str, message: impl Into<String>) -> Self {
        Self::Missing {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    pub fn method_not_allowed() -> Self {
        Self::MethodNotAllowed
    }
    pub fn rate_limited(
        code: &'static str,
        message: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        Self::RateLimited {
            code,
            message: message.into(),
            retry_after,
        }
    }
    /// Every target failed: 504 after a timeout, else 502 with the last
    /// failure's code when it has a code of its own (`bad_upstream_body`,
    /// `upstream_body_too_large`, `upstream_redirect`), else
    /// `upstream_error`.
    pub fn upstream_failed(class: ErrorClass, message: impl Into<String>) -> Self {
        Self::Upstream {
            class,
            message: message.into(),
        }
    }
    /// This error with more top-level fields beside `error`.
    pub fn with_fields(self, fields: serde_json::Map<String, serde_json::Value>) -> Self {
        Self::WithFields(Box::new(self), fields)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::AdminAuthRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::ModelNotFound(_) | Self::Missing { .. } => {
                StatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidConfig { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Upstream { class, .. } if *class == ErrorClass::Timeout => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::Paused | Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Status { status, .. } => *status,
            Self::WithFields(e, _) => e.status(),
        }
    }

    /// The error's `type`: OpenAI's families.
    fn kind(&self) -> &'static str {
        match self {
            Self::AdminAuthRequired => "authentication_error",
            Self::Forbidden { .. } => "permission_error",
            Self::RateLimited { .. } => "rate_limit_error",
            Self::Internal(_) | Self::Upstream { .. } | Self::Paused | Self::Unavailable { .. } => {
                "api_error"
            }
            Self::Status { status, .. } if status.is_server_error() => "api_error",
            Self::WithFields(e, _) => e.kind(),
            _ => "invalid_request_error",
        }
    }

    /// The error's `code`, which clients and tests match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::RateLimited { code, .. }
            | Self::Missing { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Unauthorized => "invalid_api_key",
            Self::AdminAuthRequired => "admin_auth_required",
            Self::NotFound(_) => "not_found",
            Self::ModelNotFound(_) => "model_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout(_) => "request_timeout",
            Self::TooLarge { .. } => "request_too_large",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::Internal(_) => "internal_error",
            Self::Upstream { class, .. } if *class == ErrorClass::Timeout => "upstream_timeout",
            Self::Upstream { class, .. } => class.bad_gateway_code(),
            Self::Paused => "gateway_paused",
            Self::Status { status, .. } => match *status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::REQUEST_TIMEOUT => "request_timeout",
                StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UPGRADE_REQUIRED => "websocket_not_supported",
                s if s.is_server_error() => "internal_error",
                _ => "invalid_request",
            },
            Self::WithFields(e, _) => e.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. }
            | Self::Forbidden { message, .. }
            | Self::Conflict { message, .. }
            | Self::RateLimited { message, .. }
            | Self::Missing { message, .. }
            | Self::Unavailable { message, .. }
            | Self::Upstream { message, .. }
            | Self::Status { message, .. }
            | Self::NotFound(message)
            | Self::ModelNotFound(message)
            | Self::Internal(message) => message.clone(),
            Self::Unauthorized => {
                "missing or invalid gateway client key (send it as 'Authorization: Bearer KEY')"
                    .into()
            }
            Self::AdminAuthRequired => "admin API: send 'Authorization: Bearer <admin or viewer token>' or log in at POST /admin/api/login".into(),
            Self::MethodNotAllowed => "method not allowed on this path".into(),
            Self::RequestTimeout(idle) => format!(
                "the request body stopped arriving for {} s (server.body_idle_timeout_s)",
                idle.as_secs()
            ),
            Self::TooLarge { limit, setting } => {
                format!("request body exceeds the gateway limit of {limit} bytes ({setting})")
            }
            Self::InvalidConfig { .. } => "config is invalid; nothing was applied".into(),
            Self::Paused => {
                "the gateway is paused; resume it from the tray or with POST /admin/api/pause"
                    .into()
            }
            Self::WithFields(e, _) => e.message(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::WithFields(e, _) => e.retry_after(),
            _ => None,
        }
    }

    /// Top-level fields beside `error`.
    fn fields(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match self {
            Self::InvalidConfig { validation } => {
                let mut m = serde_json::Map::new();
                m.insert("validation".into(), validation.clone());
                Some(m)
            }
            Self::WithFields(e, fields) => {
                let mut m = e.fields().unwrap_or_default();
                m.extend(fields.clone());
                Some(m)
            }
            _ => None,
        }
    }
}

/// The gateway's refusal of a request no upstream answered usably.
impl From<crate::pipeline::Refusal> for ApiError {
    fn from(r: crate::pipeline::Refusal) -> Self {
        match r.class {
            ErrorClass::ModelNotFound => Self::ModelNotFound(r.message),
            ErrorClass::ProviderDisabled => Self::Forbidden {
                code: "provider_disabled",
                message: r.message,
            },
            ErrorClass::ProviderRateLimited => Self::RateLimited {
                code: "provider_rate_limited",
                message: r.message,
                retry_after: r.retry_after.unwrap_or(Duration::from_secs(1)),
            },
            class => Self::Upstream {
                class,
                message: r.message,
            },
        }
    }
}

/// A config lifecycle refusal: an invalid config is 422 with its
/// validation beside the error, a stale base version 409.
impl From<crate::lifecycle::LifecycleError> for ApiError {
    fn from(e: crate::lifecycle::LifecycleError) -> Self {
        use crate::lifecycle::LifecycleError as E;
        match e {
            E::Invalid(v) => Self::InvalidConfig {
                validation: serde_json::to_value(v).unwrap_or_default(),
            },
            E::Conflict { .. } => Self::conflict("version_conflict", e.to_string()),
            E::NoSuchVersion(_) => Self::not_found(e.to_string()),
            E::Store(_) | E::Write { .. } | E::Record { .. } => Self::internal(e.to_string()),
        }
    }
}

/// The config store (history, versions, audit log) failed: 500.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e.to_string())
    }
}

/// A telemetry query: a bad query (window, bucket, cursor) is the
/// caller's 400; anything else is logged and answered 500 without detail.
impl From<crate::telemetry::db::DbError> for ApiError {
    fn from(e: crate::telemetry::db::DbError) -> Self {
        match e {
            crate::telemetry::db::DbError::Query(q) => {
                Self::bad_request("invalid_query", q.to_string())
            }
            e => {
                tracing::error!("telemetry query failed: {e}");
                Self::internal("telemetry query failed")
            }
        }
    }
}

/// A replay that cannot be sent.
impl From<crate::tools::replay::ReplayError> for ApiError {
    fn from(e: crate::tools::replay::ReplayError) -> Self {
        use crate::tools::replay::ReplayError as E;
        match e {
            E::NotFound(_) => Self::not_found(e.to_string()),
            E::Telemetry(_) => Self::internal(e.to_string()),
            e => Self::bad_request("invalid_replay", e.to_string()),
        }
    }
}

/// A benchmark spec refused, or its store failing.
impl From<crate::tools::modelbench::BenchError> for ApiError {
    fn from(e: crate::tools::modelbench::BenchError) -> Self {
        use crate::tools::modelbench::BenchError as E;
        match e {
            E::Invalid(m) => Self::bad_request("invalid_bench", m),
            E::Store(e) => Self::internal(e.to_string()),
        }
    }
}

/// A verification refused (bad target, no baseline), or its store failing.
impl From<crate::tools::verify::VerifyError> for ApiError {
    fn from(e: crate::tools::verify::VerifyError) -> Self {
        use crate::tools::verify::VerifyError as E;
        match e {
            E::Invalid(m) => Self::bad_request("invalid_verify", m),
            E::NoBaseline(m) => Self::bad_request("no_baseline", m),
            E::OverCap(m) => Self::bad_request("cost_cap", m),
            E::NoDataDir => Self::bad_request("no_data_dir", e.to_string()),
            E::Store(e) => Self::internal(e.to_string()),
        }
    }
}

/// An install or rollback refused: nothing was changed (400, the code
/// naming the few reasons an operator acts on differently).
impl From<crate::update::UpdateError> for ApiError {
    fn from(e: crate::update::UpdateError) -> Self {
        use crate::update::UpdateError as E;
        let code = match e {
            E::PackageManaged { .. } => "package_managed",
            E::NoPrevious { .. } => "no_previous",
            _ => "update_failed",
        };
        Self::bad_request(code, format!("nothing was changed: {e}"))
    }
}

/// A blocking task that panicked or was cancelled: 500.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e.to_string())
    }
}

/// `x-should-retry`, which the OpenAI and Anthropic SDKs read before their
/// own retry rules: `false` on an error no retry can fix, so a client with
/// a wrong key or an unknown model gives up at once instead of backing off
/// for minutes.
pub const H_SHOULD_RETRY: http::HeaderName = http::HeaderName::from_static("x-should-retry");

/// 400, 401, 403, 404, 405, 413, 422: the same request fails the same way.
pub fn retry_cannot_fix(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 401 | 403 | 404 | 405 | 413 | 422)
}

/// The protocol whose error shape a request to `path` gets: Anthropic's
/// under `/v1/messages`, Gemini's under `/v1beta/` and for a Gemini method
/// (`/v1/models/{model}:generateContent`), OpenAI's everywhere else.
pub fn shape_for(path: &str) -> Endpoint {
    if path == "/v1/messages" || path.starts_with("/v1/messages/") {
        Endpoint::Messages
    } else if path.starts_with("/v1beta/")
        || path == "/v1beta"
        || path.starts_with("/v1/models/")
            && [":generateContent", ":streamGenerateContent", ":countTokens"]
                .iter()
                .any(|m| path.ends_with(m))
    {
        Endpoint::GenerateContent
    } else {
        Endpoint::ChatCompletions
    }
}

/// The safety net behind every route: an error response the framework
/// made in plain text (an extractor's rejection: a malformed path
/// parameter, JSON the handler's type does not accept, an unsupported
/// content type) is rewritten in the client's error shape, so no client
/// ever gets a bare text error.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let shape = shape_for(req.uri().path());
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    // An upstream's answer (it names its provider) is relayed as it came.
    let relayed = resp.headers().contains_key("x-aigw-provider");
    if !(resp.status().is_client_error() || resp.status().is_server_error()) || !plain || relayed {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Rejection texts are short; anything longer is cut.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut out = ApiError::from_status(parts.status, message).into_response_for(shape);
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// Whole seconds, rounded up, at least 1: what `Retry-After` carries.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0).max(u64::from(d.is_zero()))
}

impl ApiError {
    /// The response in the shape `endpoint`'s clients expect: Anthropic's
    /// `{"type":"error","error":{"type","message"}}` on `/v1/messages`,
    /// OpenAI's everywhere else (see [`crate::translate::errors`]).
    pub fn into_response_for(self, endpoint: Endpoint) -> Response {
        let status = self.status();
        let message = self.message();
        let final_upstream = self.is_final_upstream_failure();
        let body = match self.fields() {
            Some(fields) if !matches!(endpoint, Endpoint::Messages | Endpoint::GenerateContent) => {
                let mut v = serde_json::json!({ "error": {
                    "message": message, "type": self.kind(), "param": null, "code": self.code()
                }});
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(fields);
                }
                bytes::Bytes::from(v.to_string())
            }
            _ => errors::client_body(endpoint, status, self.kind(), self.code(), &message),
        };
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(ra) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(ra)));
        }
        if retry_cannot_fix(status) || final_upstream {
            h.insert(H_SHOULD_RETRY, HeaderValue::from_static("false"));
        }
        resp
    }

    /// A 502 no retry can fix either: every target answered 2xx with a
    /// body that is not an answer of the endpoint (`bad_upstream_body`:
    /// SSE to a non-streamed request, HTML, an error inside a 200). A
    /// client talking to such an upstream directly reads a malformed
    /// answer and stops; relayed as a plain 502, Claude Code retried it
    /// ten times with backoff (over 100 s for what takes 1 s direct).
    fn is_final_upstream_failure(&self) -> bool {
        match self {
            Self::Upstream { class, .. } => *class == ErrorClass::BadUpstreamBody,
            Self::WithFields(e, _) => e.is_final_upstream_failure(),
            _ => false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_for(Endpoint::ChatCompletions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
