//! The model catalog behind `GET /v1/models` and unrouted model names:
//! routed names first, then each provider's configured `models` and what its
//! own `/models` lists, deduplicated and cached for `routing.models_cache_s`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::time::Instant;

use super::runtime::Runtime;
use crate::upstream::UpstreamClient;

/// How long one provider's `/models` may take before it is left out.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelEntry {
    pub id: String,
    /// `aigw` for a route, else the provider's name.
    pub owned_by: String,
    #[serde(skip)]
    pub provider: Option<usize>,
}

#[derive(Debug)]
pub struct CatalogSnapshot {
    pub generation: u64,
    pub fetched: Instant,
    pub entries: Vec<ModelEntry>,
}

impl CatalogSnapshot {
    /// The first provider that lists `model`.
    pub fn provider_for(&self, model: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| e.id == model && e.provider.is_some())?
            .provider
    }
}

#[derive(Debug, Default)]
pub struct Catalog {
    cache: ArcSwapOption<CatalogSnapshot>,
    refresh: tokio::sync::Mutex<()>,
}

impl Catalog {
    pub async fn get(&self, rt: &Runtime, client: &UpstreamClient) -> Arc<CatalogSnapshot> {
        let fresh = |s: &Arc<CatalogSnapshot>| {
            s.generation == rt.generation && s.fetched.elapsed() < rt.config.routing.models_cache
        };
        if let Some(s) = self.cache.load_full().filter(fresh) {
            return s;
        }
        // One refresh at a time; the others wait and reuse its result.
        let _guard = self.refresh.lock().await;
        if let Some(s) = self.cache.load_full().filter(fresh) {
            return s;
        }
        let snap = Arc::new(build(rt, client).await);
        self.cache.store(Some(snap.clone()));
        snap
    }

    pub fn invalidate(&self) {
        self.cache.store(None);
    }
}

async fn build(rt: &Runtime, client: &UpstreamClient) -> CatalogSnapshot {
    let lists = futures_util::future::join_all(rt.providers.iter().map(|p| async move {
        if !p.spec.enabled {
            // A disabled provider serves no model, listed or asked for.
            return Vec::new();
        }
        if p.api().token_cache().is_some() {
            // Vertex lists no publisher models per project: its `models` count.
            return Vec::new();
        }
        let deadline = tokio::time::Instant::now() + LIST_TIMEOUT;
        let req = client.send(p.api().models_request());
        match tokio::time::timeout_at(deadline, req).await {
            Ok(Ok(resp)) if resp.status().is_success() => {
                let body = crate::upstream::read_bounded(resp, crate::upstream::MAX_LIST_BYTES);
                match tokio::time::timeout_at(deadline, body).await {
                    Ok(Ok(b)) => p.api().parse_models(&b),
                    _ => Vec::new(),
                }
            }
            Ok(Ok(resp)) => {
                tracing::debug!(provider = %p.spec.name, status = %resp.status(), "model list refused");
                Vec::new()
            }
            _ => {
                tracing::debug!(provider = %p.spec.name, "model list unavailable");
                Vec::new()
            }
        }
    }))
    .await;
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let mut routes: Vec<&String> = rt.routes.exact_names().collect();
    routes.sort();
    for r in routes {
        if seen.insert(r.clone()) {
            entries.push(ModelEntry {
                id: r.clone(),
                owned_by: "aigw".into(),
                provider: None,
            });
        }
    }
    for (i, (p, listed)) in rt.providers.iter().zip(lists).enumerate() {
        if !p.spec.enabled {
            continue;
        }
        for id in p.spec.models.iter().cloned().chain(listed) {
            if seen.insert(id.clone()) {
                entries.push(ModelEntry {
                    id,
                    owned_by: p.spec.name.clone(),
                    provider: Some(i),
                });
            }
        }
    }
    CatalogSnapshot {
        generation: rt.generation,
        fetched: Instant::now(),
        entries,
    }
}
