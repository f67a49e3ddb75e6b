//! Reading request bodies: capped at a size, and ended when the client
//! stops sending (`server.body_idle_timeout_s`: the longest pause between
//! two pieces of a body). A body that stalls gets 408 `request_timeout`;
//! the connection then closes, its unread rest discarded.
//!
//! `admin_bodies`: the admin API's bodies go through the same reader
//! (capped at [`ADMIN_MAX_BODY_BYTES`]) before its handlers see them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
use http_body_util::BodyExt;

use super::ApiError;
use crate::state::AppState;

/// The admin API's body limit (config documents, key secrets, specs).
pub const ADMIN_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The whole body, or the error to answer with: 413 over `limit` (declared
/// or counted; `setting` names the limit), 408 when no data came for
/// `idle`, 400 when the client broke off.
pub async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    setting: &str,
    idle: Duration,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit, setting));
    }
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    let mut len = 0usize;
    loop {
        // Most bodies have arrived with their head: no timer for those.
        let mut next = body.frame();
        let ready = futures_util::FutureExt::now_or_never(&mut next);
        let ready = match ready {
            Some(r) => Some(r),
            None => tokio::time::timeout(idle, next).await.ok(),
        };
        let frame = match ready {
            None => return Err(ApiError::request_timeout(idle)),
            Some(None) => break,
            Some(Some(Err(e))) => {
                return Err(ApiError::bad_request(
                    "body_read_error",
                    format!("could not read request body: {e}"),
                ));
            }
            Some(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(ApiError::too_large(limit, setting));
        }
        // One piece (the usual case) is kept as it came: no copy.
        match &mut first {
            None if more.is_empty() => first = Some(data),
            Some(f) => {
                more.reserve(f.len() + data.len());
                more.extend_from_slice(f);
                more.extend_from_slice(&data);
                first = None;
            }
            None => more.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| more.freeze()))
}

/// Middleware of the admin router: reads the body with [`read_body`]
/// (413, 408 in the JSON error shape) and hands it on whole.
pub async fn admin_bodies(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let idle = state.runtime.load().config.server.body_idle_timeout;
    let (parts, body) = req.into_parts();
    match read_body(
        &parts.headers,
        body,
        ADMIN_MAX_BODY_BYTES,
        "the admin API's 2 MiB",
        idle,
    )
    .await
    {
        Ok(b) => next.run(Request::from_parts(parts, Body::from(b))).await,
        Err(e) => e.into_response(),
    }
}
