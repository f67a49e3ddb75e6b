//! Errors to clients, in the OpenAI shape
//! `{"error":{"message","type","code"}}` with a fitting status — or, on
//! `/v1/messages`, in Anthropic's (`ApiError::into_response_for`).

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::class::ErrorClass;
use crate::providers::Endpoint;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: &'static str,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }
    /// A request body over `limit` bytes; `setting` names the limit.
    pub fn too_large(limit: usize, setting: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body exceeds the gateway limit of {limit} bytes ({setting})"),
        )
    }
    /// A request body that stopped arriving for `idle`.
    pub fn request_timeout(idle: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!(
                "the request body stopped arriving for {} s (server.body_idle_timeout_s)",
                idle.as_secs()
            ),
        )
    }
    /// An error the framework made (a rejected extractor, say), in the
    /// wire shape: `status` and its text as given.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
            s if s.is_server_error() => "internal_error",
            _ => "invalid_request",
        };
        let kind = if status.is_server_error() {
            "api_error"
        } else {
            "invalid_request_error"
        };
        Self::new(status, kind, code, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "missing or invalid gateway client key (send it as 'Authorization: Bearer KEY')",
        )
    }
    pub fn unauthorized_admin() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "admin_auth_required",
            "admin API: send 'Authorization: Bearer <admin or viewer token>' or log in at POST /admin/api/login",
        )
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_request_error", code, message)
    }
    pub fn paused() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "gateway_paused",
            "the gateway is paused; resume it from the tray or with POST /admin/api/pause",
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            message,
        )
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", code, message)
    }
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("the model '{model}' has no route and no configured provider lists it"),
        )
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            message,
        )
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            "method not allowed on this path",
        )
    }
    pub fn rate_limited(
        code: &'static str,
        message: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            code,
            message,
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// Every target failed: 502 with the last failure's code when it has a
    /// code of its own (`bad_upstream_body`, `upstream_body_too_large`,
    /// `upstream_redirect`), else `upstream_error`.
    pub fn upstream_failed(class: ErrorClass, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            class.bad_gateway_code(),
            message,
        )
    }
    pub fn gateway_timeout(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            "upstream_timeout",
            message,
        )
    }
}

/// The protocol whose error shape a request to `path` gets: Anthropic's
/// under `/v1/messages`, OpenAI's everywhere else.
pub fn shape_for(path: &str) -> Endpoint {
    if path == "/v1/messages" || path.starts_with("/v1/messages/") {
        Endpoint::Messages
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
    /// OpenAI's everywhere else.
    pub fn into_response_for(self, endpoint: Endpoint) -> Response {
        if endpoint != Endpoint::Messages {
            return self.into_response();
        }
        let kind = crate::translate::errors::anthropic_type_for_status(self.status);
        let body = crate::translate::errors::anthropic_body(kind, self.message);
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(ra) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(ra)));
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "message": self.message, "type": self.kind, "param": null, "code": self.code }
        });
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(ra) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(ra)));
        }
        resp
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
