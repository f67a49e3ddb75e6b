//! Configuration: TOML parsed into raw serde structs (`raw`), then validated
//! into typed, checked values (`validate`). Errors point at the file, line and
//! field. `paths` finds the OS config/data dirs; `default.toml` is the embedded
//! first-run config.

mod paths;
mod raw;
mod validate;

pub use paths::{DEFAULT_CONFIG, Paths, ensure_config_file};
pub use raw::{
    AzureAuth, GEMINI_BASE_URL, GeminiSchema, KeyRotation, ProviderKind, RawConfig, ResponsesMode,
    Strategy,
};
pub use validate::{
    AwsAuth, AzureApi, AzureSpec, CLIENT_AUTH, ClusterConfig, Config, ConfigError, EngineUrl,
    ErrorRules, HeaderSource, Issue, LimitsConfig, MAX_CACHE_MB, MAX_DEPLOYMENTS, MAX_POOL_KEYS,
    ModelLimitSpec, NO_RULES, OtlpConfig, POSTGRES_SCHEMES, PriceOverride, ProviderSpec,
    REDIS_SCHEMES, RouteCache, RouteSpec, RoutingConfig, ServerConfig, Severity, TargetSpec,
    TelemetryConfig, VertexSpec, format_issue, parse_listen,
};
pub use validate::{MAX_PEM_BYTES, TlsError, TlsPaths};
