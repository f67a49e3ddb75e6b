//! `GET /v1/models` and `GET /v1/models/{id}`: the model catalog
//! ([`crate::routing::Catalog`]) in OpenAI's shape, or in Anthropic's when
//! the request carries `anthropic-version` (Claude Code's gateway model
//! discovery sends it, as every Anthropic SDK does).
//!
//! Listed: exact route names, then the providers' configured and listed
//! models. A pattern route (`claude-*`) is not a model id and is never
//! listed; the names it takes are listed when a provider lists them, and
//! `GET /v1/models/{id}` answers 200 for any name a route matches.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiError;
use super::ingress::{authenticate, peer_of};
use crate::routing::{self, ModelEntry};
use crate::state::AppState;
use crate::vocab::Endpoint;

/// Anthropic's page size bounds (`limit`: 1 to 1000).
const MAX_LIMIT: usize = 1000;

/// Which wire shape the client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
}

impl Shape {
    fn of(req: &Request) -> Self {
        if req.headers().contains_key("anthropic-version") {
            Shape::Anthropic
        } else {
            Shape::OpenAi
        }
    }

    /// Errors go out in the same protocol's shape.
    fn error(self, e: ApiError) -> Response {
        match self {
            Shape::OpenAi => e.into_response_for(Endpoint::ChatCompletions),
            Shape::Anthropic => e.into_response_for(Endpoint::Messages),
        }
    }
}

/// Anthropic's pagination (`after_id`, `before_id`, `limit`); OpenAI's
/// list takes none and ignores them.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    after_id: Option<String>,
    before_id: Option<String>,
    limit: Option<usize>,
}

pub async fn list(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let shape = Shape::of(&req);
    let page = match Query::<Page>::try_from_uri(req.uri()) {
        Ok(Query(p)) => p,
        Err(e) => return shape.error(ApiError::bad_request("invalid_query", e.body_text())),
    };
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return shape.error(e);
    }
    let cat = state.catalog.get(&rt, &state.client()).await;
    match shape {
        Shape::OpenAi => {
            let data: Vec<_> = cat.entries.iter().map(openai_json).collect();
            Json(serde_json::json!({ "object": "list", "data": data })).into_response()
        }
        Shape::Anthropic => match anthropic_page(&cat.entries, &page) {
            Ok(v) => Json(v).into_response(),
            Err(e) => shape.error(e),
        },
    }
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let shape = Shape::of(&req);
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return shape.error(e);
    }
    let cat = state.catalog.get(&rt, &state.client()).await;
    let entry = match cat.entries.iter().find(|e| e.id == id) {
        Some(e) => e.clone(),
        // A name only a pattern route takes is still a model clients may use.
        None if rt.routes.lookup(&id).is_some() => ModelEntry {
            id,
            owned_by: "aigw".into(),
            provider: None,
        },
        None => return shape.error(ApiError::model_not_found(&id)),
    };
    match shape {
        Shape::OpenAi => Json(openai_json(&entry)).into_response(),
        Shape::Anthropic => Json(anthropic_json(&entry)).into_response(),
    }
}

fn openai_json(e: &routing::ModelEntry) -> serde_json::Value {
    serde_json::json!({ "id": e.id, "object": "model", "created": 0, "owned_by": e.owned_by })
}

/// Anthropic's `ModelInfo`. The catalog knows no release dates or display
/// names: `created_at` is the epoch (what Anthropic documents for an
/// unknown date) and the display name is the id.
fn anthropic_json(e: &routing::ModelEntry) -> serde_json::Value {
    serde_json::json!({
        "type": "model",
        "id": e.id,
        "display_name": e.id,
        "created_at": "1970-01-01T00:00:00Z",
    })
}

/// One page of Anthropic's list. Without `limit` every model is on it
/// (Anthropic's default is 20, but clients that do not page would then
/// miss models); with it, 1 to 1000 per page, `after_id` / `before_id`
/// as cursors.
fn anthropic_page(entries: &[ModelEntry], page: &Page) -> Result<serde_json::Value, ApiError> {
    let limit = match page.limit {
        None => entries.len().max(1),
        Some(l @ 1..=MAX_LIMIT) => l,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
    };
    let position = |id: &str| {
        entries
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| ApiError::bad_request("invalid_cursor", format!("no model {id:?}")))
    };
    let (slice, has_more) = match (&page.after_id, &page.before_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_cursor",
                "give after_id or before_id, not both",
            ));
        }
        (_, Some(before)) => {
            let end = position(before)?;
            let start = end.saturating_sub(limit);
            (&entries[start..end], start > 0)
        }
        (after, None) => {
            let start = match after {
                Some(a) => position(a)? + 1,
                None => 0,
            };
            let end = (start + limit).min(entries.len());
            (&entries[start..end], end < entries.len())
        }
    };
    Ok(serde_json::json!({
        "data": slice.iter().map(anthropic_json).collect::<Vec<_>>(),
        "has_more": has_more,
        "first_id": slice.first().map(|e| e.id.as_str()),
        "last_id": slice.last().map(|e| e.id.as_str()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<ModelEntry> {
        (0..n)
            .map(|i| ModelEntry {
                id: format!("claude-{i}"),
                owned_by: "p".into(),
                provider: Some(0),
            })
            .collect()
    }

    fn ids(v: &serde_json::Value) -> Vec<&str> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn anthropic_pages_by_cursor_and_limit() {
        let e = entries(5);
        let all = anthropic_page(&e, &Page::default()).unwrap();
        assert_eq!(ids(&all).len(), 5);
        assert_eq!(all["has_more"], false);
        assert_eq!(all["first_id"], "claude-0");
        assert_eq!(all["last_id"], "claude-4");
        assert_eq!(all["data"][0]["type"], "model");
        assert_eq!(all["data"][0]["display_name"], "claude-0");
        let p = |after: Option<&str>, before: Option<&str>, limit| Page {
            after_id: after.map(Into::into),
            before_id: before.map(Into::into),
            limit,
        };
        let first = anthropic_page(&e, &p(None, None, Some(2))).unwrap();
        assert_eq!(ids(&first), ["claude-0", "claude-1"]);
        assert_eq!(first["has_more"], true);
        let next = anthropic_page(&e, &p(Some("claude-3"), None, Some(2))).unwrap();
        assert_eq!(ids(&next), ["claude-4"]);
        assert_eq!(next["has_more"], false);
        let back = anthropic_page(&e, &p(None, Some("claude-3"), Some(2))).unwrap();
        assert_eq!(ids(&back), ["claude-1", "claude-2"]);
        assert_eq!(back["has_more"], true);
        let empty = anthropic_page(&[], &Page::default()).unwrap();
        assert_eq!(empty["first_id"], serde_json::Value::Null);
        assert_eq!(empty["has_more"], false);
        for bad in [
            p(None, None, Some(0)),
            p(None, None, Some(1001)),
            p(Some("nope"), None, None),
        ] {
            assert!(anthropic_page(&e, &bad).is_err());
        }
    }
}
