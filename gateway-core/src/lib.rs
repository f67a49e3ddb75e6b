//! # AI Model Gateway core
//!
//! A self-hosted, OpenAI-compatible LLM gateway: clients speak the OpenAI wire
//! protocol to one local address; the gateway routes each request to one of
//! several upstream providers under a routing policy, falls back around quota,
//! timeout and failure, enforces local rate limits and reports what happened in
//! response headers and telemetry.
//!
//! The library owns the service; binaries (`aigw`, the desktop app) only host
//! it through [`server::start`] and the returned [`server::GatewayHandle`].
//!
//! # Layout
//! - [`config`]: TOML config in two phases (raw serde structs → validated,
//!   typed [`config::Config`]), default config and OS paths.
//! - [`secrets`]: `env:` / `keyring:` key references and the redacting
//!   [`secrets::Secret`] wrapper.
//! - [`providers`]: upstream provider behaviour (`ProviderApi`) per kind.
//! - [`routing`]: routes, strategies, circuit breakers, the attempt loop with
//!   fallback, stream peeking and health probes.
//! - [`limits`]: token buckets for ingress and provider RPM/TPM.
//! - [`vkeys`]: virtual client keys made at runtime (budgets, model
//!   patterns, RPM/TPM), behind a store trait.
//! - [`vocab`]: the words every layer speaks (endpoint, route mode, served
//!   target, attempt record, usage, error classes); imports nothing.
//! - [`ssrf`]: which upstream addresses may be connected to (cloud metadata,
//!   link-local and private ranges refused unless allowed), and the resolver
//!   that enforces it.
//! - [`sse`]: the one SSE splitter/parser used for upstream streams.
//! - [`sync`]: [`sync::LockExt`], the one way a poisoned lock is recovered.
//! - [`cache`]: the exact response cache (opt-in per route, TTL, LRU
//!   bound in bytes).
//! - [`pipeline`]: one request through the gateway, whoever sends it:
//!   routed (or pinned to one target), accounted for in its event.
//! - [`api`]: the HTTP surface (handlers, wire errors, host/origin guard).
//! - [`translate`]: protocol translation (Anthropic Messages ↔ Chat
//!   Completions ↔ Responses) when a target does not speak the client's.
//! - [`telemetry`]: per-request events and their sinks.
//! - [`state`]: what every handler shares ([`state::AppState`]); a publish
//!   swaps its runtime.
//! - [`server`]: the composition root: builds the state, serves, starts the
//!   background tasks, returns the start handle.
//! - [`update`]: signed self-update (`aigw update …`) and the release tooling it shares with `packaging/`.
//! - [`lifecycle`]: validate → diff → publish → history → rollback, file watcher.
//! - [`store`]: SQLite config versions and audit log.
//! - [`diagnostics`]: the diagnostics bundle (`aigw diagnose`, the admin
//!   API's download) and the redaction it passes everything through.
//! - [`service`]: `aigw service install` (systemd, launchd, a Windows
//!   scheduled task) as pure plans.
//! - [`clients`]: "Connect tools": point Claude Code, Codex, opencode and
//!   Continue at the gateway (backed up, undone byte for byte), `aigw run`.

pub mod api;
pub mod cache;
pub mod cli;
pub mod clients;
pub mod cluster;
pub mod config;
pub mod diagnostics;
pub mod eventstream;
pub mod lifecycle;
pub mod limits;
pub mod pipeline;
pub mod providers;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sse;
pub mod ssrf;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tools;
pub mod translate;
pub mod update;
pub mod upstream;
pub mod vkeys;
pub mod vocab;

pub use config::Config;
pub use server::{GatewayHandle, GatewayOptions, start};

/// The version of this build, reported by `aigw --version` and `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `error: cause: cause…`, skipping causes already in the text before them
/// (hyper's and self_update's own messages are terse: the cause is in the
/// sources).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_chains_keep_each_cause_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        // io::Error::other(e) displays as e and has e as its source.
        assert_eq!(super::with_causes(&std::io::Error::other(inner)), "refused");
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Wrap(#[source] std::io::Error);
        let e = Wrap(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "tcp connect error",
        ));
        assert_eq!(
            super::with_causes(&e),
            "client error (Connect): tcp connect error"
        );
    }
}
