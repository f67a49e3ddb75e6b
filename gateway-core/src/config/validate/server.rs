//! `[server]`, `[routing]` and `[limits]`: the scalar sections (listen
//! address, client keys, bounds, the SSRF allow list), checked in the order
//! they are reported.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::super::raw::{RawConfig, RawModelLimit};
use super::{MAX_SECS, Severity, Validator};
use crate::secrets::SecretRef;
use crate::ssrf::{Cidr, SsrfPolicy};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub client_keys: Vec<SecretRef>,
    pub max_body_bytes: usize,
    pub allowed_hosts: Vec<String>,
    pub cors_origins: Vec<String>,
    pub shutdown_grace: Duration,
    pub ssrf: SsrfPolicy,
    /// Largest upstream answer read (`server.max_upstream_body_bytes`).
    pub max_upstream_body_bytes: usize,
    /// Client connections (see `server::conn`): a request head must arrive
    /// within `header_read_timeout`; a request body may pause at most
    /// `body_idle_timeout`; an idle keep-alive connection is closed after
    /// `keepalive_idle`; at most `max_connections` are open at once.
    pub header_read_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub keepalive_idle: Duration,
    pub max_connections: usize,
    /// The response cache's bound (`server.cache_max_mb`), in bytes.
    pub cache_max_bytes: usize,
    /// `server.tls_cert` / `server.tls_key`: the listener speaks TLS.
    pub tls: Option<super::tls::TlsPaths>,
}

/// The largest `server.cache_max_mb` (4 GiB).
pub const MAX_CACHE_MB: u64 = 4096;

#[derive(Debug, Clone)]
pub struct RoutingConfig {
    pub max_attempts: u32,
    pub retry_backoff: Duration,
    pub models_cache: Duration,
    /// Upper bound of a cooldown set by an upstream's `Retry-After`.
    pub max_cooldown: Duration,
    /// Sticky sessions: TTL since last use, and the bound per route.
    pub sticky_ttl: Duration,
    pub sticky_max_sessions: usize,
}

#[derive(Debug, Clone, Default)]
pub struct LimitsConfig {
    pub ingress_rpm: u32,
    /// Tokens per minute per client (0 = off).
    pub ingress_tpm: u32,
    /// `[[limits.models]]`, in config order.
    pub models: Vec<ModelLimitSpec>,
    /// Failed admin logins per peer address per `login_window`.
    pub login_max_failures: u32,
    pub login_window: Duration,
}

/// One `[[limits.models]]` entry: at least one of `rpm`/`tpm` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLimitSpec {
    /// An exact name or a pattern with one `*`.
    pub model: String,
    pub rpm: u32,
    pub tpm: u32,
}

/// The most `[[limits.models]]` entries a config may have.
pub const MAX_MODEL_LIMITS: usize = 256;

impl Validator<'_> {
    /// `[[limits.models]]`: names or one-`*` patterns, each once, each
    /// with a limit.
    pub(super) fn model_limits(&mut self, raw: &[RawModelLimit]) -> Vec<ModelLimitSpec> {
        if raw.len() > MAX_MODEL_LIMITS {
            self.push(
                Severity::Error,
                "limits.models",
                None,
                format!("at most {MAX_MODEL_LIMITS} entries"),
            );
        }
        let mut out: Vec<ModelLimitSpec> = Vec::new();
        for (i, m) in raw.iter().enumerate() {
            let path = format!("limits.models[{i}].model");
            let model = m.model.get_ref();
            if model.trim().is_empty() {
                self.error(&path, &m.model, "model must not be empty");
            } else if model.matches('*').count() > 1 {
                self.error(
                    &path,
                    &m.model,
                    format!(
                        "{model:?} has more than one '*': a pattern has one (\"gpt-5*\", \"*\")"
                    ),
                );
            } else if out.iter().any(|o| &o.model == model) {
                self.error(&path, &m.model, format!("duplicate model limit {model:?}"));
            } else if m.rpm == 0 && m.tpm == 0 {
                self.error(
                    &path,
                    &m.model,
                    format!("model limit {model:?} sets neither rpm nor tpm"),
                );
            } else {
                out.push(ModelLimitSpec {
                    model: model.clone(),
                    rpm: m.rpm,
                    tpm: m.tpm,
                });
            }
        }
        out
    }

    /// The scalar checks of `[server]`, `[routing]` and `[limits]`; returns
    /// the listen address (`None` when invalid), the client keys and the
    /// SSRF policy.
    pub(super) fn server(
        &mut self,
        raw: &RawConfig,
    ) -> (Option<SocketAddr>, Vec<SecretRef>, SsrfPolicy) {
        let s = &raw.server;
        let listen = parse_listen(s.listen.get_ref());
        if listen.is_none() {
            self.error(
                "server.listen",
                &s.listen,
                format!(
                    "{:?} is not an address like \"127.0.0.1:4000\"",
                    s.listen.get_ref()
                ),
            );
        }
        let mut client_keys = Vec::new();
        for (i, k) in s.client_keys.iter().enumerate() {
            match SecretRef::parse(k.get_ref()) {
                Ok(r) => client_keys.push(r),
                Err(e) => self.error(&format!("server.client_keys[{i}]"), k, e),
            }
        }
        if s.max_body_bytes == 0 {
            self.push(
                Severity::Error,
                "server.max_body_bytes",
                None,
                "must be > 0".into(),
            );
        }
        if !(1..=MAX_CACHE_MB).contains(&s.cache_max_mb) {
            self.push(
                Severity::Error,
                "server.cache_max_mb",
                None,
                format!("must be between 1 and {MAX_CACHE_MB}"),
            );
        }
        if s.max_upstream_body_bytes < 1024 {
            self.push(
                Severity::Error,
                "server.max_upstream_body_bytes",
                None,
                "must be at least 1024".into(),
            );
        }
        for (field, value, max) in [
            ("server.shutdown_grace_s", s.shutdown_grace_s, MAX_SECS),
            (
                "routing.retry_backoff_ms",
                raw.routing.retry_backoff_ms,
                60_000,
            ),
            (
                "routing.models_cache_s",
                raw.routing.models_cache_s,
                MAX_SECS,
            ),
        ] {
            if value > max {
                self.push(
                    Severity::Error,
                    field,
                    None,
                    format!("must be at most {max}"),
                );
            }
        }
        if !(1..=MAX_SECS).contains(&raw.routing.max_cooldown_s) {
            self.push(
                Severity::Error,
                "routing.max_cooldown_s",
                None,
                "must be between 1 and 86400".into(),
            );
        }
        for (key, v, max) in [
            (
                "server.header_read_timeout_s",
                s.header_read_timeout_s,
                3600,
            ),
            ("server.body_idle_timeout_s", s.body_idle_timeout_s, 3600),
            ("server.keepalive_idle_s", s.keepalive_idle_s, 3600),
            (
                "server.max_connections",
                u64::from(s.max_connections),
                1_000_000,
            ),
            (
                "limits.login_max_failures",
                u64::from(raw.limits.login_max_failures),
                1_000_000,
            ),
            ("limits.login_window_s", raw.limits.login_window_s, 86_400),
            ("routing.sticky_ttl_s", raw.routing.sticky_ttl_s, 86_400),
            (
                "routing.sticky_max_sessions",
                raw.routing.sticky_max_sessions,
                1_000_000,
            ),
        ] {
            if !(1..=max).contains(&v) {
                self.push(
                    Severity::Error,
                    key,
                    None,
                    format!("must be between 1 and {max}"),
                );
            }
        }
        let mut allow_private = Vec::new();
        for (i, c) in s.allow_private_upstreams.iter().enumerate() {
            match Cidr::parse(c) {
                Ok(c) => allow_private.push(c),
                Err(e) => self.push(
                    Severity::Error,
                    &format!("server.allow_private_upstreams[{i}]"),
                    None,
                    e,
                ),
            }
        }
        let ssrf_policy = SsrfPolicy { allow_private };
        if raw.routing.max_attempts == 0 {
            self.push(
                Severity::Error,
                "routing.max_attempts",
                None,
                "must be >= 1".into(),
            );
        }
        (listen, client_keys, ssrf_policy)
    }
}

/// `IP:PORT`, `[v6]:PORT` or `localhost:PORT`.
pub fn parse_listen(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse() {
        return Some(a);
    }
    let port = s.strip_prefix("localhost:")?.parse().ok()?;
    Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}
