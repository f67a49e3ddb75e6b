//! Phase two: raw config → typed, checked [`Config`]. Every problem is
//! collected (not just the first) with its field path and line.
//!
//! `mod.rs` holds [`Config`], `parse`/`load` and the top-level pass that
//! calls one section at a time: `server` (with `[routing]` and `[limits]`),
//! `providers`, `routes` (with `[profiles]`), `telemetry`, `bench`; `issue`
//! holds the findings.

mod azure;
mod bedrock;
mod bench;
mod cluster;
mod issue;
mod providers;
mod routes;
mod server;
mod telemetry;
mod tls;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use toml::Spanned;

use super::raw::RawConfig;

pub use azure::{AzureApi, AzureSpec, MAX_DEPLOYMENTS};
pub use cluster::{ClusterConfig, EngineUrl, POSTGRES_SCHEMES, REDIS_SCHEMES};
pub use issue::{ConfigError, Issue, Severity, format_issue};
pub use providers::{AwsAuth, CLIENT_AUTH, HeaderSource, MAX_POOL_KEYS, ProviderSpec, VertexSpec};
pub use routes::{ErrorRules, NO_RULES, RouteCache, RouteSpec, TargetSpec};
pub use server::{
    LimitsConfig, MAX_CACHE_MB, ModelLimitSpec, RoutingConfig, ServerConfig, parse_listen,
};
pub use telemetry::{OtlpConfig, PriceOverride, TelemetryConfig};
pub use tls::{MAX_PEM_BYTES, TlsError, TlsPaths};

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
    /// `[audit] retention_days`: 0 keeps every audit row.
    pub audit_retention_days: u32,
    /// `[cluster]`: shared Redis/PostgreSQL (read at start).
    pub cluster: ClusterConfig,
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
        let (listen, client_keys, ssrf_policy) = self.server(&raw);
        let s = &raw.server;

        let providers = self.providers(&raw.providers, &ssrf_policy);
        let names: Vec<&str> = raw
            .providers
            .iter()
            .map(|p| p.name.get_ref().as_str())
            .collect();
        let (profiles, routes, active_profile) = self.profiles(&raw, &names);
        let telemetry = self.telemetry(&raw.telemetry, &names);
        let bench = raw.bench.as_ref().and_then(|b| self.bench(b, &names));
        let model_limits = self.model_limits(&raw.limits.models);
        let cluster = self.cluster(&raw.cluster);
        let tls = self.tls(&raw.server);
        let audit_days = raw
            .audit
            .retention_days
            .as_ref()
            .map_or(0, |d| *d.get_ref());
        if let Some(d) = &raw.audit.retention_days
            && audit_days > MAX_AUDIT_DAYS
        {
            self.error(
                "audit.retention_days",
                d,
                format!("at most {MAX_AUDIT_DAYS} days (0 keeps every row)"),
            );
        }

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
                cache_max_bytes: usize::try_from(s.cache_max_mb.clamp(1, MAX_CACHE_MB) << 20)
                    .unwrap_or(usize::MAX),
                tls,
            },
            routing: RoutingConfig {
                max_attempts: raw.routing.max_attempts.max(1),
                retry_backoff: Duration::from_millis(raw.routing.retry_backoff_ms),
                models_cache: Duration::from_secs(raw.routing.models_cache_s),
                max_cooldown: Duration::from_secs(raw.routing.max_cooldown_s),
                sticky_ttl: Duration::from_secs(raw.routing.sticky_ttl_s.max(1)),
                sticky_max_sessions: usize::try_from(raw.routing.sticky_max_sessions.max(1))
                    .unwrap_or(usize::MAX),
            },
            providers,
            routes,
            limits: super::LimitsConfig {
                ingress_rpm: raw.limits.ingress_rpm,
                ingress_tpm: raw.limits.ingress_tpm,
                models: model_limits,
                login_max_failures: raw.limits.login_max_failures.max(1),
                login_window: Duration::from_secs(raw.limits.login_window_s.max(1)),
            },
            telemetry,
            bench,
            audit_retention_days: audit_days,
            cluster,
            profiles,
            active_profile,
            source: Arc::from(source),
            warnings: Vec::new(),
        })
    }
}

/// The longest audit retention (100 years).
const MAX_AUDIT_DAYS: u32 = 36_500;

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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const GOOD: &str = r#"
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
    fn key_pools_and_header_references() {
        let with = |extra: &str| {
            Config::parse(
                &GOOD.replace("api_key = \"env:AIGW_TEST_UNSET_KEY_VAR\"", extra),
                "t",
            )
        };
        let c = with(
            "api_keys = [\"keyring:a\", \"keyring:b\"]\nkey_rotation = \"least_recently_limited\"\n\
             enabled = false\nheaders = { api-key = \"keyring:az\", x-t = \"lit\" }",
        )
        .unwrap();
        let p = &c.providers[1];
        assert_eq!(p.api_keys.len(), 2);
        assert_eq!(p.api_keys[1].to_string(), "keyring:b");
        assert_eq!(
            p.key_rotation,
            crate::config::KeyRotation::LeastRecentlyLimited
        );
        assert!(!p.enabled && c.providers[0].enabled);
        assert!(p.headers.iter().any(|(k, v)| k == "api-key"
            && *v
                == crate::config::HeaderSource::Secret(crate::secrets::SecretRef::Keyring(
                    "az".into()
                ))));
        let msg = |r: Result<Config, ConfigError>| r.unwrap_err().to_string();
        assert!(
            msg(with("api_key = \"keyring:a\"\napi_keys = [\"keyring:b\"]")).contains("exclusive")
        );
        assert!(msg(with("api_keys = []")).contains("empty"));
        assert!(msg(with("api_keys = [\"keyring:a\", \"keyring:a\"]")).contains("twice"));
        assert!(msg(with("api_keys = [\"sk-live-key\"]")).contains("api_keys[0]"));
        assert!(msg(with("api_keys = [\"client\"]")).contains("alone"));
        assert!(msg(with("key_rotation = \"random\"")).contains("round_robin"));
        assert!(msg(with("headers = { api-key = \"keyring:\" }")).contains("headers.api-key"));
        assert!(msg(with("headers = { api-key = \"[REDACTED]\" }")).contains("redacted copy"));
        let many: Vec<String> = (0..65).map(|i| format!("\"keyring:k{i}\"")).collect();
        assert!(msg(with(&format!("api_keys = [{}]", many.join(",")))).contains("at most 64"));
    }

    #[test]
    fn api_key_client_forwards_the_clients_credential() {
        let src = GOOD.replace(
            "api_key = \"env:AIGW_TEST_UNSET_KEY_VAR\"",
            "api_key = \"client\"",
        );
        let c = Config::parse(&src, "t").unwrap();
        assert!(c.providers[1].client_auth && c.providers[1].api_keys.is_empty());
        assert!(!c.providers[0].client_auth);
        // anything else still has to be a reference
        let bad = GOOD.replace("env:AIGW_TEST_UNSET_KEY_VAR", "clients");
        assert!(Config::parse(&bad, "t").is_err());
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
    fn unknown_field_names_line_and_field() {
        let src = "[server]\nlisten = \"127.0.0.1:4000\"\nlistn = 3\n";
        let e = Config::parse(src, "cfg.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cfg.toml:3"), "{msg}");
        assert!(msg.contains("listn"), "{msg}");
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
}
