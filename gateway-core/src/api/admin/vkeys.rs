//! Virtual client keys (`/admin/api/keys/client`): list with spend, create
//! (the secret is in this one answer), revoke, rotate (a new secret; the
//! old one works for `grace_s` more). Each change is audited without the
//! secret or its hash.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use serde::{Deserialize, Serialize};

use super::{ApiError, Principal};
use crate::state::AppState;
use crate::vkeys::{Issued, KeyError, KeyInfo, KeyView, NewKey, VirtualKeys};

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Invalid(m) => ApiError::bad_request("invalid_key", m),
            KeyError::NotFound(_) => ApiError::missing("key_not_found", e.to_string()),
            KeyError::Revoked(_) => ApiError::conflict("key_revoked", e.to_string()),
            KeyError::TooMany => ApiError::conflict("too_many_keys", e.to_string()),
            KeyError::Backend(b @ crate::vkeys::BackendError::Postgres(_)) => {
                ApiError::unavailable("postgres_unavailable", b.to_string())
            }
            KeyError::Backend(b) => ApiError::internal(b.to_string()),
        }
    }
}

/// `GET /keys/client`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

pub async fn list(State(s): State<Arc<AppState>>) -> Json<KeyList> {
    Json(KeyList {
        keys: s.vkeys.list(),
    })
}

fn audit(s: &AppState, p: &Principal, action: &str, k: &KeyInfo) {
    let detail = serde_json::json!({
        "id": k.id,
        "name": k.name,
        "team": k.team,
        "prefix": k.prefix,
    });
    if let Err(e) = s.lifecycle.store().audit(&p.actor, action, None, &detail) {
        tracing::warn!("audit {action}: {e}");
    }
}

/// Runs a key change off the async threads (it writes the store).
async fn blocking<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&VirtualKeys) -> Result<T, KeyError> + Send + 'static,
) -> Result<T, ApiError> {
    let keys = s.vkeys.clone();
    let peer = crate::store::chain::current_peer();
    Ok(
        tokio::task::spawn_blocking(move || crate::store::chain::sync_with_peer(peer, || f(&keys)))
            .await??,
    )
}

/// `POST /keys/client`: a new key and, this once, its secret.
pub async fn create(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<Json<Issued>, ApiError> {
    let Json(new) = body.map_err(|e| ApiError::bad_request("invalid_json", e.body_text()))?;
    let issued = blocking(&s, move |k| k.create(new)).await?;
    audit(&s, &p, "virtual_key_create", &issued.key);
    Ok(Json(issued))
}

/// `POST /keys/client/{id}/revoke`.
pub async fn revoke(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    let info = blocking(&s, move |k| k.revoke(&id)).await?;
    audit(&s, &p, "virtual_key_revoke", &info);
    Ok(Json(info))
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Seconds the old secret keeps working (default 0: it stops now).
    #[serde(default)]
    pub grace_s: u64,
}

/// `POST /keys/client/{id}/rotate` (body optional: `{"grace_s": 300}`).
pub async fn rotate(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Rotate>, JsonRejection>,
) -> Result<Json<Issued>, ApiError> {
    let r = match body {
        Ok(Json(r)) => r,
        Err(JsonRejection::MissingJsonContentType(_)) => Rotate::default(),
        Err(e) => return Err(ApiError::bad_request("invalid_json", e.body_text())),
    };
    let grace = Duration::from_secs(r.grace_s);
    let issued = blocking(&s, move |k| k.rotate(&id, grace)).await?;
    audit(&s, &p, "virtual_key_rotate", &issued.key);
    Ok(Json(issued))
}
