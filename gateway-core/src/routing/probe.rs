//! Optional background health probes: for each provider with
//! `health_check_interval_s`, `GET /models` at that interval with a short
//! timeout; the verdict feeds the same breakers requests use.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::server::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts one probe task per provider that asks for it, for the runtime
/// current now; `stop` ends them (on publish and on shutdown).
pub fn spawn_probes(state: &Arc<AppState>, tracker: &TaskTracker, stop: CancellationToken) {
    let rt = state.runtime.load_full();
    for p in &rt.providers {
        let Some(interval) = p.spec.health_check_interval else {
            continue;
        };
        let name = p.spec.name.clone();
        let state = state.clone();
        let stop = stop.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let rt = state.runtime.load_full();
                let Some(idx) = rt.provider_index(&name) else {
                    break;
                };
                let provider = &rt.providers[idx];
                let result = tokio::time::timeout(
                    PROBE_TIMEOUT,
                    provider.api.models_request(&state.client).send(),
                )
                .await;
                let (ok, reason) = match result {
                    Ok(Ok(r)) if r.status().is_success() => (true, String::new()),
                    Ok(Ok(r)) => (false, format!("{name}: health probe got {}", r.status())),
                    Ok(Err(_)) => (false, format!("{name}: health probe cannot connect")),
                    Err(_) => (false, format!("{name}: health probe timed out")),
                };
                if !ok {
                    tracing::warn!(provider = %name, "{reason}");
                }
                let cooldown = rt
                    .routes
                    .values()
                    .flat_map(|r| r.targets.iter().map(move |t| (r, t)))
                    .filter(|(_, t)| t.provider.spec.name == name)
                    .map(|(r, _)| r.spec.cooldown)
                    .min()
                    .unwrap_or(interval);
                let now = Instant::now();
                for h in state.health.of_provider(&name) {
                    h.on_probe(ok, now, cooldown, &reason);
                }
            }
        });
    }
}
