//! One request straight to one provider and model, outside routing: no
//! fallback, no retries, no breakers, no local limits, and a throwaway
//! health record so production routing never learns from it. For operator
//! tools (replay, model benchmarks).

use std::sync::Arc;
use std::time::Duration;

use super::RouteMode;
use super::engine::{Failure, Outcome, ProxyRequest, ProxyResponse, ResponseBody, served};
use super::health::TargetHealth;
use super::runtime::{RouteRuntime, RouteTarget, Runtime};
use super::strategy::StrategyState;
use crate::config::{RouteSpec, Strategy, TargetSpec};
use crate::server::AppState;

/// `Ok` with whatever the upstream answered (a 4xx included); `Err` with
/// the failure and the time it took when no answer came back usable.
pub async fn direct(
    state: &AppState,
    rt: &Runtime,
    provider: usize,
    model: &str,
    req: &ProxyRequest,
) -> Result<ProxyResponse, (Failure, Duration)> {
    let p = rt.providers[provider].clone();
    let route = RouteRuntime {
        spec: RouteSpec {
            model: req.peek.model.clone(),
            strategy: Strategy::Priority,
            cooldown: Duration::ZERO,
            failure_threshold: u32::MAX,
            rate_limit_threshold: u32::MAX,
            retries: 0,
            targets: vec![TargetSpec {
                provider: p.spec.name.clone(),
                provider_index: provider,
                model: Some(model.to_string()),
                weight: 1,
            }],
        },
        targets: Vec::new(),
        strategy: StrategyState::Priority,
    };
    let target = RouteTarget {
        provider: p,
        model: Some(model.to_string()),
        health: Arc::new(TargetHealth::default()),
    };
    match super::attempt::attempt(state, &rt.config, &route, &target, req, RouteMode::Direct).await
    {
        Outcome::Done(resp) => Ok(resp),
        Outcome::Client {
            status,
            content_type,
            body,
            latency,
        } => Ok(ProxyResponse {
            status,
            content_type,
            retry_after: None,
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
