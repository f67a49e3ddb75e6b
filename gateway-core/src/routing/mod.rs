//! Routing: which target serves a request, and what happens when it fails.
//!
//! - `runtime`: the immutable routing table built from a validated config
//!   (providers with resolved keys, routes with their targets).
//! - `table`: which route a model name takes — exact names, then pattern
//!   routes (`claude-*`, `*`) most specific first; `{model}` templates.
//! - `strategy`: target order per strategy (priority, weighted, latency).
//! - `sticky`: sticky sessions (session key → target, per route, bounded).
//! - `classify`: which error class an upstream's 4xx body names
//!   (`context_length_exceeded`, `content_filter`), for `fallback_on`.
//! - `health`: per-target circuit breaker and latency EWMA.
//! - `engine`: the attempt loop — fallback, retries, cooldowns, limits.
//! - `attempt`: one attempt against one target (passthrough or translated).
//! - `answer`: what a 2xx body must be to count as an answer, bounded body
//!   reads, `Retry-After` within bounds.
//! - `stream`: holding a stream until its first content frame, then relaying
//!   it frame by frame (translated when the client speaks another protocol)
//!   with an idle timeout and an error event on failure.
//! - `frames`: what an upstream stream event means (preamble, content,
//!   error, end, usage) per upstream protocol.
//! - `body`: reading `model`/`stream` and splicing a rewritten model name.
//! - `catalog`: `/v1/models` and unrouted-model lookups, cached.
//! - `probe`: optional background health probes per provider.

mod answer;
mod attempt;
pub mod body;
mod catalog;
pub mod classify;
mod direct;
mod engine;
mod frames;
pub mod health;
pub mod keys;
mod probe;
#[cfg(test)]
mod rules_tests;
mod runtime;
pub mod sticky;
#[cfg(test)]
mod sticky_tests;
pub mod strategy;
mod stream;
pub mod table;
#[cfg(test)]
pub(crate) mod tests;

pub use catalog::{Catalog, CatalogSnapshot, ModelEntry};
pub use direct::direct;
pub use engine::{
    DispatchError, Failure, ProxyRequest, ProxyResponse, ResponseBody, dispatch, resolve,
};
pub use probe::{LocalServer, ProbeReport, detect_local, probe_provider, spawn_probes};
pub use runtime::{ProviderRuntime, RouteRuntime, RouteTarget, Runtime};
pub use stream::{StreamOutcome, StreamRelay};
pub use table::{MatchKind, Pattern, RouteTable};

use crate::upstream::UpstreamClient;
pub use crate::vocab::{RouteMode, Served, Usage};

/// The routing table now: swapped whole on every publish; a request loads
/// it once and keeps that one to its end.
pub type LiveRuntime = arc_swap::ArcSwap<Runtime>;

/// What routing needs of the gateway, and nothing more: the upstream
/// client, the model catalog (for models no route names) and the targets'
/// health. A request borrows one from the state
/// ([`crate::state::AppState::upstreams`]); unit tests build one around a
/// scripted client.
#[derive(Debug)]
pub struct Upstreams<'a> {
    pub client: UpstreamClient,
    pub catalog: &'a Catalog,
    pub health: &'a health::HealthRegistry,
    /// Team mode: cooldowns, sticky bindings and cache entries shared
    /// through Redis (`None` without `[cluster] redis_url`).
    pub shared: Option<&'a crate::cluster::shared::SharedState>,
}
