//! Phase two: raw config → typed, checked [`Config`]. Every problem is
//! collected (not just the first) with its field path and line.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use reqwest::Url;
use toml::Spanned;

use super::raw::{
    ProviderKind, RawConfig, RawProvider, RawRoute, RawTelemetry, ResponsesMode, Strategy,
};
use crate::providers::ssrf::{self, Cidr, SsrfPolicy};
use crate::secrets::SecretRef;
use crate::telemetry::cost::{Price, PriceOverride};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, pointing at a field.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    pub severity: Severity,
    /// Dotted field path, e.g. `routes[0].targets[1].provider`.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Config rejected: every error found, with the file it came from.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub origin: String,
    pub issues: Vec<Issue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .collect();
        write!(
            f,
            "invalid config {}: {} error(s)",
            self.origin,
            errors.len()
        )?;
        for i in errors {
            write!(f, "\n  {}", format_issue(&self.origin, i))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// `file:line:col: path: message`, the shape editors can jump to.
pub fn format_issue(origin: &str, i: &Issue) -> String {
    let loc = match (i.line, i.column) {
        (Some(l), Some(c)) => format!("{origin}:{l}:{c}"),
        (Some(l), None) => format!("{origin}:{l}"),
        _ => origin.to_string(),
    };
    if i.path.is_empty() {
        format!("{loc}: {}", i.message)
    } else {
        format!("{loc}: {}: {}", i.path, i.message)
    }
}

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
}

#[derive(Debug, Clone)]
pub struct RoutingConfig {
    pub max_attempts: u32,
    pub retry_backoff: Duration,
    pub models_cache: Duration,
    /// Upper bound of a cooldown set by an upstream's `Retry-After`.
    pub max_cooldown: Duration,
}

#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash; endpoint paths are appended (`/chat/completions`).
    pub base_url: Url,
    pub api_key: Option<SecretRef>,
    pub timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub rpm: u32,
    pub tpm: u32,
    pub queue_timeout: Duration,
    pub health_check_interval: Option<Duration>,
    pub models: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How `/v1/responses` reaches this provider.
    pub responses: ResponsesMode,
}

#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub provider: String,
    /// Index into [`Config::providers`].
    pub provider_index: usize,
    /// Forwarded model; `None` forwards the requested name.
    pub model: Option<String>,
    pub weight: u32,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub model: String,
    pub strategy: Strategy,
    pub cooldown: Duration,
    pub failure_threshold: u32,
    pub rate_limit_threshold: u32,
    pub retries: u32,
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct LimitsConfig {
    pub ingress_rpm: u32,
    /// Failed admin logins per peer address per `login_window`.
    pub login_max_failures: u32,
    pub login_window: Duration,
}

/// `[telemetry]`: the request log, stored bodies, prices.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Log rows older than this are deleted; `None` = only the size cap.
    pub retention: Option<Duration>,
    pub max_db_bytes: u64,
    pub store_bodies: bool,
    /// Cap per stored body.
    pub max_body_bytes: usize,
    /// Queue length of the log writer (read at start).
    pub queue_capacity: usize,
    /// OpenTelemetry trace export, when `otlp_endpoint` is set (read at start).
    pub otlp: Option<OtlpConfig>,
    pub prices: Vec<PriceOverride>,
}

/// Where and as what spans are exported (OTLP/HTTP, JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// `{otlp_endpoint}/v1/traces`.
    pub traces_url: Url,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            retention: Some(Duration::from_secs(30 * 86_400)),
            max_db_bytes: 500 * 1024 * 1024,
            store_bodies: false,
            max_body_bytes: 64 * 1024,
            queue_capacity: 10_000,
            otlp: None,
            prices: Vec::new(),
        }
    }
}

/// A validated config. `source` is the exact TOML it came from.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub routing: RoutingConfig,
    pub providers: Vec<ProviderSpec>,
    /// The effective routes: the active profile's when one is set.
    pub routes: Vec<RouteSpec>,
    pub limits: LimitsConfig,
    pub telemetry: TelemetryConfig,
    /// Scheduled model benchmark: how often, and what.
    pub bench: Option<(Duration, crate::tools::modelbench::Spec)>,
    pub profiles: Vec<String>,
    pub active_profile: Option<String>,
    pub source: Arc<str>,
    /// Non-fatal findings (e.g. an `env:` key reference that is not set).
    pub warnings: Vec<Issue>,
}

impl Config {
    /// Parses and validates TOML. `origin` names the source in messages.
    pub fn parse(source: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut v = Validator {
            src: source,
            issues: Vec::new(),
        };
        let raw: RawConfig = match toml::from_str(source) {
            Ok(raw) => raw,
            Err(e) => {
                v.push(Severity::Error, "", e.span(), e.message().to_string());
                return Err(ConfigError {
                    origin: origin.to_string(),
                    issues: v.issues,
                });
            }
        };
        let config = v.config(raw, source);
        if v.issues.iter().any(|i| i.severity == Severity::Error) {
            return Err(ConfigError {
                origin: origin.to_string(),
                issues: v.issues,
            });
        }
        let mut config = config.ok_or_else(|| ConfigError {
            origin: origin.to_string(),
            issues: v.issues.clone(),
        })?;
        config.warnings = v.issues;
        Ok(config)
    }

    /// Reads and validates a config file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            issues: vec![Issue {
                severity: Severity::Error,
                path: String::new(),
                line: None,
                column: None,
                message: format!("cannot read: {e}"),
            }],
        })?;
        Self::parse(&source, &origin)
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderSpec> {
        self.providers.iter().find(|p| p.name == name)
    }
}

struct Validator<'a> {
    src: &'a str,
    issues: Vec<Issue>,
}

impl Validator<'_> {
    fn push(
        &mut self,
        severity: Severity,
        path: &str,
        span: Option<Range<usize>>,
        message: String,
    ) {
        let (line, column) = match span {
            Some(s) if s.end > 0 || s.start > 0 => {
                let before = &self.src[..s.start.min(self.src.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
                (Some(line), Some(column))
            }
            _ => (None, None),
        };
        self.issues.push(Issue {
            severity,
            path: path.to_string(),
            line,
            column,
            message,
        });
    }

    fn error<T>(&mut self, path: &str, at: &Spanned<T>, message: impl Into<String>) {
        self.push(Severity::Error, path, Some(at.span()), message.into());
    }

    fn config(&mut self, raw: RawConfig, source: &str) -> Option<Config> {
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

        let providers = self.providers(&raw.providers, &ssrf_policy);
        let names: Vec<&str> = raw
            .providers
            .iter()
            .map(|p| p.name.get_ref().as_str())
            .collect();

        let mut profiles = Vec::new();
        for name in raw.profiles.keys() {
            if !valid_name(name) {
                self.push(
                    Severity::Error,
                    &format!("profiles.{name}"),
                    None,
                    "profile names use a-z, 0-9, '_' and '-'".into(),
                );
            }
            profiles.push(name.clone());
        }
        let mut routes = self.routes("routes", &raw.routes, &names);
        for (name, p) in &raw.profiles {
            let r = self.routes(&format!("profiles.{name}.routes"), &p.routes, &names);
            if s.profile.as_ref().is_some_and(|a| a.get_ref() == name) {
                routes = r;
            }
        }
        let active_profile = match &s.profile {
            Some(p) if !raw.profiles.contains_key(p.get_ref()) => {
                self.error(
                    "server.profile",
                    p,
                    format!(
                        "no profile named {:?} (defined: {:?})",
                        p.get_ref(),
                        profiles
                    ),
                );
                None
            }
            Some(p) => Some(p.get_ref().clone()),
            None => None,
        };
        let telemetry = self.telemetry(&raw.telemetry, &names);
        let bench = raw.bench.as_ref().and_then(|b| self.bench(b, &names));

        Some(Config {
            server: ServerConfig {
                listen: listen?,
                client_keys,
                max_body_bytes: usize::try_from(s.max_body_bytes).unwrap_or(usize::MAX),
                allowed_hosts: s.allowed_hosts.clone(),
                cors_origins: s.cors_origins.clone(),
                shutdown_grace: Duration::from_secs(s.shutdown_grace_s),
                ssrf: ssrf_policy,
                max_upstream_body_bytes: usize::try_from(s.max_upstream_body_bytes)
                    .unwrap_or(usize::MAX),
                header_read_timeout: Duration::from_secs(s.header_read_timeout_s.max(1)),
                body_idle_timeout: Duration::from_secs(s.body_idle_timeout_s.max(1)),
                keepalive_idle: Duration::from_secs(s.keepalive_idle_s.max(1)),
                max_connections: usize::try_from(s.max_connections.max(1)).unwrap_or(usize::MAX),
            },
            routing: RoutingConfig {
                max_attempts: raw.routing.max_attempts.max(1),
                retry_backoff: Duration::from_millis(raw.routing.retry_backoff_ms),
                models_cache: Duration::from_secs(raw.routing.models_cache_s),
                max_cooldown: Duration::from_secs(raw.routing.max_cooldown_s),
            },
            providers,
            routes,
            limits: super::LimitsConfig {
                ingress_rpm: raw.limits.ingress_rpm,
                login_max_failures: raw.limits.login_max_failures.max(1),
                login_window: Duration::from_secs(raw.limits.login_window_s.max(1)),
            },
            telemetry,
            bench,
            profiles,
            active_profile,
            source: Arc::from(source),
            warnings: Vec::new(),
        })
    }

    fn bench(
        &mut self,
        b: &super::raw::RawBench,
        providers: &[&str],
    ) -> Option<(Duration, crate::tools::modelbench::Spec)> {
        use crate::tools::modelbench::{Protocol, Spec, Target};
        let mut targets = Vec::new();
        for (i, t) in b.targets.iter().enumerate() {
            match t.get_ref().parse::<Target>() {
                Ok(t2) if providers.contains(&t2.provider.as_str()) => targets.push(t2),
                Ok(t2) => self.error(
                    &format!("bench.targets[{i}]"),
                    t,
                    format!("unknown provider {:?}", t2.provider),
                ),
                Err(e) => self.error(&format!("bench.targets[{i}]"), t, e),
            }
        }
        let mut protocols = Vec::new();
        for (i, p) in b.protocols.iter().enumerate() {
            match p.parse::<Protocol>() {
                Ok(p) => protocols.push(p),
                Err(e) => self.push(Severity::Error, &format!("bench.protocols[{i}]"), None, e),
            }
        }
        if protocols.is_empty() {
            protocols.push(Protocol::Chat);
        }
        if b.max_cost_usd.is_nan() || b.max_cost_usd < 0.0 || b.requests == 0 {
            self.push(
                Severity::Error,
                "bench",
                None,
                "requests must be >= 1 and max_cost_usd >= 0".into(),
            );
        }
        if b.every_minutes == 0 || targets.is_empty() {
            return None;
        }
        Some((
            Duration::from_secs(b.every_minutes * 60),
            Spec {
                targets,
                protocols,
                stream: vec![false, true],
                requests: b.requests,
                concurrency: 2,
                max_tokens: 32,
                max_cost_usd: b.max_cost_usd,
            },
        ))
    }

    fn providers(&mut self, raw: &[RawProvider], policy: &SsrfPolicy) -> Vec<ProviderSpec> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let path = format!("providers[{i}]");
            let name = p.name.get_ref();
            if !valid_name(name) {
                self.error(
                    &format!("{path}.name"),
                    &p.name,
                    format!("{name:?}: provider names use a-z, 0-9, '_' and '-'"),
                );
            }
            if !seen.insert(name.clone()) {
                self.error(
                    &format!("{path}.name"),
                    &p.name,
                    format!("duplicate provider {name:?}"),
                );
            }
            let responses = match (p.kind.get_ref(), &p.responses) {
                (ProviderKind::Anthropic, Some(r)) if *r.get_ref() == ResponsesMode::Native => {
                    self.error(
                        &format!("{path}.responses"),
                        r,
                        "Anthropic has no Responses API; omit this or use \"translate\"",
                    );
                    ResponsesMode::Translate
                }
                (ProviderKind::Anthropic, _) => ResponsesMode::Translate,
                (ProviderKind::Openai, r) => r.as_ref().map(|r| *r.get_ref()).unwrap_or_default(),
            };
            let base_url = match Url::parse(p.base_url.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    let literal = u.host_str().and_then(|h| {
                        h.trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse::<std::net::IpAddr>()
                            .ok()
                    });
                    if let Some(ip) = literal
                        && let Err(why) = ssrf::check(ip, policy)
                    {
                        self.error(&format!("{path}.base_url"), &p.base_url, why);
                    }
                    if u.query().is_some() || u.fragment().is_some() {
                        self.error(
                            &format!("{path}.base_url"),
                            &p.base_url,
                            "base_url must not have a query or fragment",
                        );
                    }
                    Some(trim_slash(u))
                }
                Ok(_) => {
                    self.error(
                        &format!("{path}.base_url"),
                        &p.base_url,
                        "base_url must be an http:// or https:// URL with a host",
                    );
                    None
                }
                Err(e) => {
                    self.error(
                        &format!("{path}.base_url"),
                        &p.base_url,
                        format!("invalid URL: {e}"),
                    );
                    None
                }
            };
            let api_key = match &p.api_key {
                Some(k) => match SecretRef::parse(k.get_ref()) {
                    Ok(r) => {
                        if let SecretRef::Env(var) = &r
                            && std::env::var_os(var).is_none()
                        {
                            self.push(
                                Severity::Warning,
                                &format!("{path}.api_key"),
                                Some(k.span()),
                                format!("environment variable {var} is not set; requests to {name:?} will fail over"),
                            );
                        }
                        Some(r)
                    }
                    Err(e) => {
                        self.error(&format!("{path}.api_key"), k, e);
                        None
                    }
                },
                None => None,
            };
            if p.timeout_s == 0 {
                self.error(
                    &format!("{path}.timeout_s"),
                    &p.name,
                    "timeout_s must be > 0",
                );
            }
            // Upper bounds keep every deadline representable.
            for (field, value, max) in [
                ("timeout_s", p.timeout_s, MAX_SECS),
                (
                    "stream_idle_timeout_s",
                    p.stream_idle_timeout_s.unwrap_or(0),
                    MAX_SECS,
                ),
                ("queue_timeout_ms", p.queue_timeout_ms, MAX_SECS * 1000),
                (
                    "health_check_interval_s",
                    p.health_check_interval_s,
                    MAX_SECS,
                ),
            ] {
                if value > max {
                    self.error(
                        &format!("{path}.{field}"),
                        &p.name,
                        format!("{field} must be at most {max}"),
                    );
                }
            }
            let mut headers = Vec::new();
            for (k, v) in &p.headers {
                match (
                    HeaderName::try_from(k.as_str()),
                    HeaderValue::try_from(v.as_str()),
                ) {
                    (Ok(k), Ok(v)) => headers.push((k, v)),
                    _ => self.error(
                        &format!("{path}.headers.{k}"),
                        &p.name,
                        "invalid header name or value",
                    ),
                }
            }
            if let Some(base_url) = base_url {
                out.push(ProviderSpec {
                    name: name.clone(),
                    kind: *p.kind.get_ref(),
                    base_url,
                    api_key,
                    timeout: Duration::from_secs(p.timeout_s.max(1)),
                    stream_idle_timeout: Duration::from_secs(
                        p.stream_idle_timeout_s.unwrap_or(p.timeout_s).max(1),
                    ),
                    rpm: p.rpm,
                    tpm: p.tpm,
                    queue_timeout: Duration::from_millis(p.queue_timeout_ms),
                    health_check_interval: (p.health_check_interval_s > 0)
                        .then(|| Duration::from_secs(p.health_check_interval_s)),
                    models: p.models.clone(),
                    headers,
                    responses,
                });
            }
        }
        out
    }

    fn telemetry(&mut self, t: &RawTelemetry, providers: &[&str]) -> TelemetryConfig {
        let mut must = |ok: bool, path: &str, msg: &str| {
            if !ok {
                self.push(Severity::Error, path, None, msg.into());
            }
        };
        must(t.max_db_mb >= 1, "telemetry.max_db_mb", "must be >= 1");
        must(
            t.max_body_bytes >= 1,
            "telemetry.max_body_bytes",
            "must be >= 1",
        );
        must(
            (1..=1_000_000).contains(&t.queue_capacity),
            "telemetry.queue_capacity",
            "must be between 1 and 1000000",
        );
        let otlp = self.otlp(t);
        let mut prices = Vec::new();
        for (i, p) in t.prices.iter().enumerate() {
            let path = format!("telemetry.prices[{i}]");
            if p.provider.is_none() && p.model.is_none() {
                self.error(&path, &p.input_per_mtok, "set provider, model or both");
            }
            if let Some(name) = &p.provider
                && !providers.contains(&name.get_ref().as_str())
            {
                self.error(
                    &format!("{path}.provider"),
                    name,
                    format!(
                        "unknown provider {:?} (defined: {providers:?})",
                        name.get_ref()
                    ),
                );
            }
            for (field, v) in [
                ("input_per_mtok", &p.input_per_mtok),
                ("output_per_mtok", &p.output_per_mtok),
            ] {
                if !(v.get_ref().is_finite() && *v.get_ref() >= 0.0) {
                    self.error(&format!("{path}.{field}"), v, "must be a price >= 0");
                }
            }
            prices.push(PriceOverride {
                provider: p.provider.as_ref().map(|s| s.get_ref().clone()),
                model: p.model.as_ref().map(|s| s.get_ref().clone()),
                price: Price {
                    input_per_mtok: *p.input_per_mtok.get_ref(),
                    output_per_mtok: *p.output_per_mtok.get_ref(),
                },
            });
        }
        TelemetryConfig {
            retention: (t.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(t.retention_days) * 86_400)),
            max_db_bytes: t.max_db_mb.saturating_mul(1024 * 1024),
            store_bodies: t.store_bodies,
            max_body_bytes: usize::try_from(t.max_body_bytes).unwrap_or(usize::MAX),
            queue_capacity: usize::try_from(t.queue_capacity).unwrap_or(1_000_000),
            otlp,
            prices,
        }
    }

    /// `otlp_endpoint`: an http(s) base URL (`/v1/traces` is appended unless
    /// the URL already ends with it) and the service name.
    fn otlp(&mut self, t: &RawTelemetry) -> Option<OtlpConfig> {
        let service_name = match &t.otlp_service_name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error("telemetry.otlp_service_name", n, "must not be empty");
                None
            }
            Some(n) => Some(n.get_ref().clone()),
            None => Some("aigw".to_string()),
        };
        let Some(e) = &t.otlp_endpoint else {
            if let Some(n) = &t.otlp_service_name {
                self.push(
                    Severity::Warning,
                    "telemetry.otlp_service_name",
                    Some(n.span()),
                    "has no effect without telemetry.otlp_endpoint".into(),
                );
            }
            return None;
        };
        let path = "telemetry.otlp_endpoint";
        let url = match Url::parse(e.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            Ok(_) => {
                self.error(
                    path,
                    e,
                    "must be an http:// or https:// URL with a host, e.g. \"http://127.0.0.1:4318\"",
                );
                return None;
            }
            Err(err) => {
                self.error(path, e, format!("invalid URL: {err}"));
                return None;
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            self.error(path, e, "must not have a query or fragment");
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            // it is logged; and the exporter sends no credentials
            self.error(path, e, "must not contain credentials");
            return None;
        }
        let mut traces_url = trim_slash(url);
        if !traces_url.path().ends_with("/v1/traces") {
            let p = format!("{}/v1/traces", traces_url.path().trim_end_matches('/'));
            traces_url.set_path(&p);
        }
        Some(OtlpConfig {
            traces_url,
            service_name: service_name?,
        })
    }

    fn routes(&mut self, base: &str, raw: &[RawRoute], providers: &[&str]) -> Vec<RouteSpec> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("{base}[{i}]");
            let model = r.model.get_ref();
            if model.trim().is_empty() {
                self.error(
                    &format!("{path}.model"),
                    &r.model,
                    "model must not be empty",
                );
            }
            if !seen.insert(model.clone()) {
                self.error(
                    &format!("{path}.model"),
                    &r.model,
                    format!("duplicate route {model:?}"),
                );
            }
            if r.targets.is_empty() {
                self.error(
                    &format!("{path}.targets"),
                    &r.model,
                    "a route needs at least one target",
                );
            }
            if r.cooldown_s > MAX_SECS {
                self.error(
                    &format!("{path}.cooldown_s"),
                    &r.model,
                    format!("cooldown_s must be at most {MAX_SECS}"),
                );
            }
            if r.failure_threshold == 0 || r.rate_limit_threshold == 0 {
                self.error(&path, &r.model, "failure thresholds must be >= 1");
            }
            let mut targets = Vec::new();
            let mut pairs = HashSet::new();
            for (j, t) in r.targets.iter().enumerate() {
                let tpath = format!("{path}.targets[{j}]");
                let pname = t.provider.get_ref();
                let Some(idx) = providers.iter().position(|p| p == pname) else {
                    self.error(
                        &format!("{tpath}.provider"),
                        &t.provider,
                        format!("unknown provider {pname:?} (defined: {providers:?})"),
                    );
                    continue;
                };
                if r.strategy == Strategy::Weighted && t.weight == 0 {
                    self.error(
                        &format!("{tpath}.weight"),
                        &t.provider,
                        "weight must be >= 1",
                    );
                }
                if t.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
                    self.error(
                        &format!("{tpath}.model"),
                        &t.provider,
                        "model must not be empty",
                    );
                }
                let fwd = t.model.clone().unwrap_or_else(|| model.clone());
                if !pairs.insert((pname.clone(), fwd.clone())) {
                    self.error(
                        &tpath,
                        &t.provider,
                        format!("target {pname}/{fwd} appears twice in this route"),
                    );
                }
                targets.push(TargetSpec {
                    provider: pname.clone(),
                    provider_index: idx,
                    model: t.model.clone(),
                    weight: t.weight.max(1),
                });
            }
            out.push(RouteSpec {
                model: model.clone(),
                strategy: r.strategy,
                cooldown: Duration::from_secs(r.cooldown_s),
                failure_threshold: r.failure_threshold.max(1),
                rate_limit_threshold: r.rate_limit_threshold.max(1),
                retries: r.retries,
                targets,
            });
        }
        out
    }
}

/// The longest timeout, interval or cooldown a config may set (one day).
const MAX_SECS: u64 = 86_400;

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn trim_slash(mut u: Url) -> Url {
    let path = u.path().trim_end_matches('/').to_string();
    u.set_path(&path);
    u
}

/// `IP:PORT`, `[v6]:PORT` or `localhost:PORT`.
pub fn parse_listen(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse() {
        return Some(a);
    }
    let port = s.strip_prefix("localhost:")?.parse().ok()?;
    Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:4000"

[[providers]]
name = "primary"
kind = "openai"
base_url = "http://127.0.0.1:9001/v1/"

[[providers]]
name = "backup"
kind = "openai"
base_url = "http://127.0.0.1:9002/v1"
api_key = "env:AIGW_TEST_UNSET_KEY_VAR"

[[routes]]
model = "gpt-4o-mini"
[[routes.targets]]
provider = "primary"
[[routes.targets]]
provider = "backup"
model = "llama-3.1-8b"

[profiles.local-only]
[[profiles.local-only.routes]]
model = "gpt-4o-mini"
[[profiles.local-only.routes.targets]]
provider = "backup"
"#;

    #[test]
    fn parses_the_contract_example() {
        let c = Config::parse(GOOD, "test.toml").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(c.providers[0].base_url.as_str(), "http://127.0.0.1:9001/v1");
        assert_eq!(c.routes[0].targets.len(), 2);
        assert_eq!(
            c.routes[0].targets[1].model.as_deref(),
            Some("llama-3.1-8b")
        );
        assert_eq!(c.profiles, vec!["local-only".to_string()]);
        // unset env key is a warning, not an error
        assert!(c.warnings.iter().any(|w| w.path == "providers[1].api_key"));
    }

    #[test]
    fn timeouts_and_bounds_have_ranges() {
        let c = Config::parse(GOOD, "t").unwrap();
        assert_eq!(c.routing.max_cooldown, Duration::from_secs(300));
        assert_eq!(c.server.max_upstream_body_bytes, 32 << 20);
        for (from, to, path) in [
            (
                "9001/v1/\"",
                "9001/v1/\"\ntimeout_s = 18446744073709551615",
                "providers[0].timeout_s",
            ),
            (
                "model = \"gpt-4o-mini\"\n[[routes.targets]]",
                "model = \"gpt-4o-mini\"\ncooldown_s = 100000\n[[routes.targets]]",
                "routes[0].cooldown_s",
            ),
            (
                "listen = \"127.0.0.1:4000\"",
                "listen = \"127.0.0.1:4000\"\nmax_upstream_body_bytes = 10",
                "server.max_upstream_body_bytes",
            ),
            (
                "listen = \"127.0.0.1:4000\"",
                "listen = \"127.0.0.1:4000\"\nshutdown_grace_s = 9999999",
                "server.shutdown_grace_s",
            ),
        ] {
            assert!(GOOD.contains(from), "{from}");
            let src = GOOD.replacen(from, to, 1);
            let e = Config::parse(&src, "t").unwrap_err();
            assert!(e.issues.iter().any(|i| i.path == path), "{path}: {e}");
        }
        let e = Config::parse(&format!("[routing]\nmax_cooldown_s = 0\n{GOOD}"), "t").unwrap_err();
        assert!(
            e.issues.iter().any(|i| i.path == "routing.max_cooldown_s"),
            "{e}"
        );
    }

    #[test]
    fn active_profile_replaces_routes() {
        let src = GOOD.replace(
            "listen = \"127.0.0.1:4000\"",
            "listen = \"127.0.0.1:4000\"\nprofile = \"local-only\"",
        );
        let c = Config::parse(&src, "t").unwrap();
        assert_eq!(c.active_profile.as_deref(), Some("local-only"));
        assert_eq!(c.routes[0].targets.len(), 1);
        assert_eq!(c.routes[0].targets[0].provider, "backup");
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let src = "[server]\nlisten = \"127.0.0.1:4000\"\nlistn = 3\n";
        let e = Config::parse(src, "cfg.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cfg.toml:3"), "{msg}");
        assert!(msg.contains("listn"), "{msg}");
    }

    #[test]
    fn semantic_errors_point_at_the_field() {
        let src = GOOD.replace("provider = \"backup\"\nmodel", "provider = \"nope\"\nmodel");
        let e = Config::parse(&src, "cfg.toml").unwrap_err();
        let i = e
            .issues
            .iter()
            .find(|i| i.severity == Severity::Error)
            .unwrap();
        assert_eq!(i.path, "routes[0].targets[1].provider");
        assert_eq!(i.line, Some(21));
        assert!(i.message.contains("unknown provider \"nope\""));
        assert!(e.to_string().contains("cfg.toml:21:"));
    }

    #[test]
    fn rejects_bad_values_collecting_all() {
        let src = r#"
[server]
listen = "nowhere"
client_keys = ["sk-raw-key-in-config"]
[[providers]]
name = "Bad Name"
kind = "openai"
base_url = "ftp://x"
[[providers]]
name = "dup"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
[[providers]]
name = "dup"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
[[routes]]
model = "m"
"#;
        let e = Config::parse(src, "x").unwrap_err();
        let paths: Vec<&str> = e.issues.iter().map(|i| i.path.as_str()).collect();
        for want in [
            "server.listen",
            "server.client_keys[0]",
            "providers[0].name",
            "providers[0].base_url",
            "providers[2].name",
            "routes[0].targets",
        ] {
            assert!(paths.contains(&want), "missing {want} in {paths:?}");
        }
        assert!(!e.to_string().contains("sk-raw-key-in-config"));
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::parse(super::super::DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:4000");
        assert!(c.providers.is_empty());
    }

    /// IP-literal base URLs that carry a refused IPv4 address inside IPv6,
    /// or sit in 0.0.0.0/8, fail validation; loopback and public pass.
    #[test]
    fn base_urls_carrying_refused_ipv4_fail_validation() {
        let with = |url: &str| {
            format!(
                "[server]\nallow_private_upstreams = [\"0.0.0.0/0\", \"::/0\"]\n[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"{url}\"\n"
            )
        };
        for bad in [
            "http://0.0.0.0:8080/v1",
            "http://0.1.2.3/v1",
            "http://[::169.254.169.254]/v1",
            "http://[64:ff9b::a9fe:a9fe]/v1",
            "http://[64:ff9b:1::a9fe:a9fe]/v1",
            "http://[2002:a9fe:a9fe::1]/v1",
            "http://[2001:0:a9fe:a9fe::f7f7:f7f7]/v1",
            "http://[2001:0:808:808::5601:5601]/v1",
        ] {
            let e = Config::parse(&with(bad), "x").unwrap_err();
            let i = e.issues.iter().find(|i| i.path == "providers[0].base_url");
            assert!(i.is_some_and(|i| i.message.contains("SSRF")), "{bad}: {e}");
        }
        for good in [
            "http://127.0.0.1:11434/v1",
            "http://[::1]:11434/v1",
            "https://[64:ff9b::808:808]/v1",
        ] {
            Config::parse(&with(good), "x").unwrap();
        }
        // private ranges carried in IPv6 need the allow list
        let e = Config::parse(
            "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://[2002:a00:1::1]/v1\"\n",
            "x",
        )
        .unwrap_err();
        assert!(e.to_string().contains("allow_private_upstreams"), "{e}");
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let src = "[server]\nprofile = \"cheap\"\n";
        let e = Config::parse(src, "x").unwrap_err();
        assert_eq!(e.issues[0].path, "server.profile");
        assert_eq!(e.issues[0].line, Some(2));
    }
}
