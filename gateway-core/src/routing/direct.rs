//! One request straight to one provider and model, outside routing: no
//! fallback, no retries, no breakers, no local limits, and a throwaway
//! health record so production routing never learns from it. For operator
//! tools (replay, model benchmarks).

use super::attempt::{Rules, attempt};
use super::engine::{Failure, Outcome, ProxyRequest, ProxyResponse, ResponseBody, served};
use super::health::TargetHealth;
use super::runtime::{RouteTarget, Runtime};
use crate::upstream::UpstreamClient;
use crate::vocab::RouteMode;
use std::sync::Arc;
use std::time::Duration;

/// `Ok` with whatever the upstream answered (a 4xx included); `Err` with
/// the failure and the time it took when no answer came back usable.
pub async fn direct(
    client: &UpstreamClient,
    rt: &Runtime,
    provider: usize,
    model: &str,
    req: &ProxyRequest,
) -> Result<ProxyResponse, (Failure, Duration)> {
    let p = &rt.providers[provider];
    if !p.spec.enabled {
        let msg = format!(
            "provider {:?} is disabled (enabled = false in its [[providers]] entry)",
            p.spec.name
        );
        return Err((
            Failure::new(crate::vocab::ErrorClass::ProviderDisabled, msg),
            Duration::ZERO,
        ));
    }
    // The first key that is not cooling (or the one back soonest).
    let key = match p.key_order(tokio::time::Instant::now()) {
        Ok(o) if !o.is_empty() => o[0],
        _ => p.key_state.soonest(|i| p.keys[i].error.is_none()),
    };
    let target = RouteTarget {
        provider: rt.providers[provider].clone(),
        model: Some(model.to_string()),
        health: Arc::new(TargetHealth::default()),
    };
    let rules = Rules {
        max_body: rt.config.server.max_upstream_body_bytes,
        max_cooldown: rt.config.routing.max_cooldown,
        cooldown: Duration::ZERO,
        failure_threshold: u32::MAX,
        errors: &crate::config::NO_RULES,
        until: None,
    };
    match attempt(client, &rules, &target, key, req, RouteMode::Direct).await {
        Outcome::Done(resp) => Ok(resp),
        Outcome::Client {
            status,
            content_type,
            headers,
            body,
            latency,
        } => Ok(ProxyResponse {
            status,
            content_type,
            headers,
            body: ResponseBody::Full(body),
            served: served(&target, &req.peek.model, RouteMode::Direct),
            attempts: Vec::new(),
            upstream_time: latency,
            ttft: None,
            usage: None,
        }),
        Outcome::Fallback(f, latency) => Err((f, latency)),
    }
}
