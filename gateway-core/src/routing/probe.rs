//! Optional background health probes: for each provider with
//! `health_check_interval_s`, `GET /models` at that interval with a short
//! timeout; the verdict feeds the same breakers requests use.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::HealthRegistry;
use super::runtime::Runtime;
use crate::upstream::UpstreamClient;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts one probe task per provider of `rt` that asks for it; `stop`
/// ends them (on publish, when the next runtime's probes start, and on
/// shutdown).
pub fn spawn_probes(
    rt: Arc<Runtime>,
    client: &UpstreamClient,
    health: &Arc<HealthRegistry>,
    tracker: &TaskTracker,
    stop: CancellationToken,
) {
    for (idx, p) in rt.providers.iter().enumerate() {
        let Some(interval) = p.spec.health_check_interval.filter(|_| p.spec.enabled) else {
            continue;
        };
        let name = p.spec.name.clone();
        let (rt, client, health) = (rt.clone(), client.clone(), health.clone());
        let stop = stop.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let provider = &rt.providers[idx];
                let mut req = provider.api().models_request();
                let send = async {
                    crate::providers::authorize(provider.api(), &client, &mut req)
                        .await
                        .map_err(Some)?;
                    client.send(req).await.map_err(|_| None::<String>)
                };
                let result = tokio::time::timeout(PROBE_TIMEOUT, send).await;
                let (ok, reason) = match result {
                    Ok(Ok(r)) if r.status().is_success() => (true, String::new()),
                    Ok(Ok(r)) => (false, format!("{name}: health probe got {}", r.status())),
                    Ok(Err(Some(why))) => (false, format!("{name}: health probe: {why}")),
                    Ok(Err(None)) => (false, format!("{name}: health probe cannot connect")),
                    Err(_) => (false, format!("{name}: health probe timed out")),
                };
                if !ok {
                    tracing::warn!(provider = %name, "{reason}");
                }
                let cooldown = rt
                    .routes
                    .all()
                    .flat_map(|r| r.targets.iter().map(move |t| (r, t)))
                    .filter(|(_, t)| t.provider.spec.name == name)
                    .map(|(r, _)| r.spec.cooldown)
                    .min()
                    .unwrap_or(interval);
                let now = Instant::now();
                for h in health.of_provider(&name) {
                    h.on_probe(ok, now, cooldown, &reason);
                }
            }
        });
    }
}

/// One provider's diagnosis, for `aigw probe` and the admin API.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeReport {
    pub provider: String,
    pub base_url: String,
    pub reachable: bool,
    /// `None` when unreachable; false on 401/403.
    pub auth_ok: Option<bool>,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub models: Vec<String>,
    /// Whether a key is configured and resolvable; never the key.
    /// `none`, `present` or `missing` (the admin API's `KeyPresence`).
    #[cfg_attr(test, ts(type = "\"none\" | \"present\" | \"missing\""))]
    pub key: &'static str,
    pub error: Option<String>,
}

/// `GET {base_url}/models` with the provider's key, timed.
pub async fn probe_provider(client: &UpstreamClient, p: &super::ProviderRuntime) -> ProbeReport {
    let key = match (p.spec.api_keys.is_empty(), &p.key_error) {
        (true, _) => "none",
        (false, None) => "present",
        (false, Some(_)) => "missing",
    };
    let mut r = ProbeReport {
        provider: p.spec.name.clone(),
        base_url: p.spec.base_url.to_string(),
        reachable: false,
        auth_ok: None,
        status: None,
        latency_ms: None,
        models: Vec::new(),
        key,
        error: p.key_error.clone(),
    };
    let t0 = Instant::now();
    let mut req = p.api().models_request();
    if p.key_error.is_none() && p.api().token_cache().is_some() {
        // Vertex: the auth check is getting a token; then a cheap call.
        let got = tokio::time::timeout(
            PROBE_TIMEOUT,
            crate::providers::authorize(p.api(), client, &mut req),
        )
        .await;
        match got {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => {
                r.auth_ok = Some(false);
                r.error = Some(why);
                return r;
            }
            Err(_) => {
                r.error = Some(format!("no token within {PROBE_TIMEOUT:?}"));
                return r;
            }
        }
    }
    match tokio::time::timeout(PROBE_TIMEOUT, client.send(req)).await {
        Err(_) => r.error = Some(format!("no answer within {PROBE_TIMEOUT:?}")),
        Ok(Err(e)) => {
            r.error = Some(if e.connect {
                "cannot connect".into()
            } else {
                "request failed".into()
            })
        }
        Ok(Ok(resp)) => {
            r.reachable = true;
            let status = resp.status();
            r.status = Some(status.as_u16());
            let body = crate::upstream::read_bounded(resp, crate::upstream::MAX_LIST_BYTES);
            let body = tokio::time::timeout(PROBE_TIMEOUT, body)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            r.auth_ok = Some(!p.api().refuses_key(status, &body));
            r.latency_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
            if status.is_success() {
                r.models = p.api().parse_models(&body);
            } else if r.error.is_none() {
                r.error = Some(format!("upstream answered {status}"));
            }
        }
    }
    r
}

/// Local model servers the UI and `aigw doctor` offer to add.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalServer {
    pub name: &'static str,
    pub base_url: &'static str,
    pub models: Vec<String>,
}

/// Looks for Ollama (11434) and LM Studio (1234) on this machine.
pub async fn detect_local(client: &UpstreamClient) -> Vec<LocalServer> {
    let candidates = [
        ("ollama", "http://127.0.0.1:11434/v1"),
        ("lm-studio", "http://127.0.0.1:1234/v1"),
    ];
    let found = futures_util::future::join_all(candidates.iter().map(|&(name, base)| async move {
        let req = crate::providers::build_request(
            http::Method::GET,
            crate::providers::uri(base, "/models"),
            bytes::Bytes::new(),
            [],
        );
        let resp = tokio::time::timeout(Duration::from_millis(800), client.send(req))
            .await
            .ok()?
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct L {
            data: Vec<I>,
        }
        #[derive(serde::Deserialize)]
        struct I {
            id: String,
        }
        let body = tokio::time::timeout(
            Duration::from_millis(800),
            crate::upstream::read_bounded(resp, crate::upstream::MAX_LIST_BYTES),
        )
        .await
        .ok()?
        .ok()?;
        let l: L = serde_json::from_slice(&body).ok()?;
        Some(LocalServer {
            name,
            base_url: base,
            models: l.data.into_iter().map(|i| i.id).collect(),
        })
    }))
    .await;
    found.into_iter().flatten().collect()
}
