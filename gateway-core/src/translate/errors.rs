//! Error bodies in each client protocol's shape, and conversions of an
//! upstream's error body into the client's shape when they differ:
//!
//! - OpenAI (chat, completions, embeddings, Responses):
//!   `{"error":{"message","type","param","code"}}`;
//! - Anthropic: `{"type":"error","error":{"type","message"}}`, the type
//!   following the status (`invalid_request_error` 400,
//!   `authentication_error` 401, `permission_error` 403, `not_found_error`
//!   404, `request_too_large` 413, `rate_limit_error` 429, `api_error` 5xx,
//!   `overloaded_error` 503/529);
//! - Gemini (the `/v1beta/models/…` ingress):
//!   `{"error":{"code","message","status"}}`, the status Google's name for
//!   the HTTP code (`INVALID_ARGUMENT` 400, `UNAUTHENTICATED` 401,
//!   `PERMISSION_DENIED` 403, `NOT_FOUND` 404, `RESOURCE_EXHAUSTED` 429,
//!   `UNAVAILABLE` 502/503/529, `DEADLINE_EXCEEDED` 504, `INTERNAL` otherwise).

use bytes::Bytes;
use http::StatusCode;

use super::wire::{anthropic, chat, gemini};
use crate::vocab::Endpoint;

/// Anthropic's error `type` for an HTTP status.
pub fn anthropic_type_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Anthropic's error `type` for an OpenAI error `type`.
pub fn anthropic_type_of_openai(kind: Option<&str>) -> &'static str {
    match kind {
        Some("invalid_request_error") => "invalid_request_error",
        Some("authentication_error") => "authentication_error",
        Some("permission_error") => "permission_error",
        Some("not_found_error") => "not_found_error",
        Some("rate_limit_error" | "rate_limit_exceeded" | "insufficient_quota") => {
            "rate_limit_error"
        }
        Some("overloaded_error") => "overloaded_error",
        _ => "api_error",
    }
}

/// Google's status name for an HTTP status (Gemini error bodies).
pub fn gemini_status_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 411 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 | 405 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// A Gemini error body.
pub fn gemini_body(status: StatusCode, message: impl Into<String>) -> Bytes {
    let e = gemini::ErrorResponse {
        error: gemini::ErrorBody {
            code: status.as_u16(),
            message: message.into(),
            status: gemini_status_for(status).into(),
        },
    };
    Bytes::from(serde_json::to_vec(&e).unwrap_or_default())
}

/// An OpenAI-shaped upstream error → Gemini's shape.
pub fn openai_to_gemini(status: StatusCode, body: &[u8]) -> Bytes {
    let message = match serde_json::from_slice::<chat::ErrorResponse>(body) {
        Ok(e) if !e.error.message.is_empty() => e.error.message,
        _ => raw_message(status, body),
    };
    gemini_body(status, message)
}

/// A short text for an upstream body that is not the expected JSON.
fn raw_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("upstream answered {status}")
    } else {
        let cut: String = text.chars().take(2000).collect();
        format!("upstream answered {status}: {cut}")
    }
}

/// An Anthropic error body.
pub fn anthropic_body(kind: &str, message: impl Into<String>) -> Bytes {
    let e = anthropic::ErrorResponse::new(kind, message);
    Bytes::from(serde_json::to_vec(&e).unwrap_or_default())
}

/// An OpenAI error body.
pub fn openai_body(kind: &str, code: &str, message: impl Into<String>) -> Bytes {
    let e = chat::ErrorResponse::new(kind, code, message);
    Bytes::from(serde_json::to_vec(&e).unwrap_or_default())
}

/// An OpenAI-shaped upstream error → Anthropic's shape.
pub fn openai_to_anthropic(status: StatusCode, body: &[u8]) -> Bytes {
    let message = match serde_json::from_slice::<chat::ErrorResponse>(body) {
        Ok(e) if !e.error.message.is_empty() => e.error.message,
        _ => raw_message(status, body),
    };
    anthropic_body(anthropic_type_for_status(status), message)
}

/// An Anthropic-shaped upstream error → OpenAI's shape (the Anthropic
/// `type` becomes both `type` and `code`).
pub fn anthropic_to_openai(status: StatusCode, body: &[u8]) -> Bytes {
    let (kind, message) = match serde_json::from_slice::<anthropic::ErrorResponse>(body) {
        Ok(e) => (e.error.kind, e.error.message),
        Err(_) => (
            anthropic_type_for_status(status).to_string(),
            raw_message(status, body),
        ),
    };
    openai_body(&kind, &kind, message)
}

/// A gateway-made error body in the shape `client` expects.
pub fn client_body(
    client: Endpoint,
    status: StatusCode,
    kind: &str,
    code: &str,
    message: &str,
) -> Bytes {
    match client {
        Endpoint::Messages => anthropic_body(anthropic_type_for_status(status), message),
        Endpoint::GenerateContent => gemini_body(status, message),
        _ => openai_body(kind, code, message),
    }
}

/// The SSE event that ends a stream which broke after content reached the
/// client, in the client's protocol: Anthropic's `event: error`; for the
/// Responses API an `error` event then `response.failed` (Codex and the
/// OpenAI SDKs end a Responses stream on `response.failed`; without it
/// Codex reports "stream closed before response.completed" and retries);
/// else the `data: {"error":{…}}` frame OpenAI sends and its SDKs raise on.
/// `seq`: the Responses stream's next `sequence_number`, when known.
pub fn client_stream_error(client: Endpoint, message: &str, code: &str, seq: Option<u64>) -> Bytes {
    match client {
        Endpoint::Messages => {
            let body = anthropic_body("api_error", format!("{message} ({code})"));
            let mut out = b"event: error\ndata: ".to_vec();
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\n\n");
            Bytes::from(out)
        }
        Endpoint::Responses => {
            let mut error = serde_json::json!({
                "type": "error", "code": code, "message": message, "param": null
            });
            let mut failed = serde_json::json!({
                "type": "response.failed",
                "response": {
                    "object": "response",
                    "status": "failed",
                    "error": { "code": code, "message": message },
                    "output": [],
                }
            });
            if let Some(n) = seq {
                error["sequence_number"] = n.into();
                failed["sequence_number"] = (n + 1).into();
            }
            Bytes::from(format!(
                "event: error\ndata: {error}\n\nevent: response.failed\ndata: {failed}\n\n"
            ))
        }
        // Gemini's own stream error: an event holding its error body.
        Endpoint::GenerateContent => {
            let body = gemini_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{message} ({code})"),
            );
            let mut out = b"data: ".to_vec();
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\r\n\r\n");
            Bytes::from(out)
        }
        _ => {
            let v = serde_json::json!({
                "error": { "message": message, "type": "upstream_error", "code": code }
            });
            Bytes::from(format!("data: {v}\n\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        let oa = br#"{"error":{"message":"bad temperature","type":"invalid_request_error","code":null}}"#;
        let a: serde_json::Value =
            serde_json::from_slice(&openai_to_anthropic(StatusCode::BAD_REQUEST, oa)).unwrap();
        assert_eq!(
            a,
            serde_json::json!({"type":"error","error":{"type":"invalid_request_error","message":"bad temperature"}})
        );
        let an = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let o: serde_json::Value =
            serde_json::from_slice(&anthropic_to_openai(StatusCode::from_u16(529).unwrap(), an))
                .unwrap();
        assert_eq!(o["error"]["message"], "Overloaded");
        assert_eq!(o["error"]["type"], "overloaded_error");
        let junk: serde_json::Value = serde_json::from_slice(&openai_to_anthropic(
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
        ))
        .unwrap();
        assert_eq!(junk["error"]["type"], "api_error");
        assert!(
            junk["error"]["message"]
                .as_str()
                .unwrap()
                .contains("<html>")
        );
    }

    #[test]
    fn stream_errors_follow_the_client() {
        let a = client_stream_error(Endpoint::Messages, "stalled", "stream_idle_timeout", None);
        assert!(a.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        let o = client_stream_error(
            Endpoint::ChatCompletions,
            "stalled",
            "stream_idle_timeout",
            None,
        );
        assert!(o.starts_with(b"data: {\"error\""));
        let r = client_stream_error(
            Endpoint::Responses,
            "stalled",
            "stream_idle_timeout",
            Some(7),
        );
        let r = String::from_utf8(r.to_vec()).unwrap();
        let events: Vec<&str> = r.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 2, "{r}");
        assert!(events[0].starts_with("event: error\ndata: {"), "{r}");
        let failed = events[1]
            .strip_prefix("event: response.failed\ndata: ")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(failed).unwrap();
        assert_eq!(v["type"], "response.failed");
        assert_eq!(v["response"]["status"], "failed");
        assert_eq!(v["response"]["error"]["code"], "stream_idle_timeout");
        assert_eq!(v["sequence_number"], 8);
    }
}
