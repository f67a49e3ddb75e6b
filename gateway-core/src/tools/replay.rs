//! Replay: a logged request (its body is there when
//! `telemetry.store_bodies = true`) or a pasted one, sent again to the
//! provider and model the operator picks — no routing, fallback or retries —
//! and shown beside the original. Recorded in telemetry as a replay.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Call, CallResult};
use crate::state::AppState;
use crate::telemetry::Origin;
use crate::telemetry::query::{self, RequestRow};
use crate::vocab::Endpoint;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct ReplaySpec {
    /// A logged request to replay (`x-aigw-request-id`).
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub request_id: Option<String>,
    /// Or the body to send (JSON object); overrides the stored one.
    #[cfg_attr(test, ts(optional, type = "unknown"))]
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// `chat_completions` (default for pasted bodies), `completions`,
    /// `embeddings`, `responses`, `messages`.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub endpoint: Option<String>,
    pub provider: String,
    /// Default: the model the original was served with, else the one it asked for.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub model: Option<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub replay: CallResult,
    /// The original, when a logged request was replayed.
    pub original: Option<RequestRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no logged request {0:?}")]
    NotFound(String),
    #[error(
        "request {0:?} was logged without its body (telemetry.store_bodies is off); paste the body instead"
    )]
    NoBody(String),
    #[error(
        "the stored body of {0:?} was cut at the size cap and is not valid JSON; paste the body instead"
    )]
    Truncated(String),
    #[error("give a request_id or a body")]
    Nothing,
    #[error("unknown endpoint {0:?}")]
    Endpoint(String),
    #[error("no model: name one")]
    NoModel,
    #[error("telemetry log unavailable: {0}")]
    Telemetry(String),
    #[error(transparent)]
    Call(#[from] super::call::CallError),
}

pub fn endpoint_named(s: &str) -> Option<Endpoint> {
    Some(match s {
        "chat_completions" | "chat" => Endpoint::ChatCompletions,
        "completions" => Endpoint::Completions,
        "embeddings" => Endpoint::Embeddings,
        "responses" => Endpoint::Responses,
        "messages" => Endpoint::Messages,
        _ => return None,
    })
}

pub async fn replay(state: &Arc<AppState>, spec: ReplaySpec) -> Result<ReplayReport, ReplayError> {
    let mut original = None;
    let mut stored_body = None;
    if let Some(id) = &spec.request_id {
        let db = state
            .telemetry_hub
            .db()
            .ok_or_else(|| ReplayError::Telemetry("no data dir".into()))?
            .clone();
        let id2 = id.clone();
        let detail = tokio::task::spawn_blocking(move || db.read(|c| query::request(c, &id2)))
            .await
            .map_err(|e| ReplayError::Telemetry(e.to_string()))?
            .map_err(|e| ReplayError::Telemetry(e.to_string()))?
            .ok_or_else(|| ReplayError::NotFound(id.clone()))?;
        stored_body = detail.request_body.clone();
        original = Some(detail.request);
    }
    let body: serde_json::Value = match (&spec.body, &stored_body, &spec.request_id) {
        (Some(b), _, _) => b.clone(),
        (None, Some(s), Some(id)) => {
            serde_json::from_str(s).map_err(|_| ReplayError::Truncated(id.clone()))?
        }
        (None, None, Some(id)) => return Err(ReplayError::NoBody(id.clone())),
        (None, _, None) => return Err(ReplayError::Nothing),
    };
    let endpoint_name = spec
        .endpoint
        .clone()
        .or_else(|| original.as_ref().map(|o| o.endpoint.clone()))
        .unwrap_or_else(|| "chat_completions".into());
    let endpoint = endpoint_named(&endpoint_name).ok_or(ReplayError::Endpoint(endpoint_name))?;
    let model = spec
        .model
        .clone()
        .or_else(|| original.as_ref().and_then(|o| o.forwarded_model.clone()))
        .or_else(|| {
            body.get("model")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .ok_or(ReplayError::NoModel)?;
    let mut body = body;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), serde_json::Value::String(model.clone()));
    }
    let call = Call {
        endpoint,
        body: Bytes::from(body.to_string()),
        provider: spec.provider.clone(),
        model,
        origin: Origin::Replay,
    };
    let rt = state.runtime.load_full();
    let replay = call.run(state, &rt).await?;
    Ok(ReplayReport { replay, original })
}
