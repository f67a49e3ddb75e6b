//! Raw config as written in TOML. Every table denies unknown fields so a typo
//! is an error with a line, not a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub routing: RawRouting,
    #[serde(default)]
    pub providers: Vec<RawProvider>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub profiles: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub telemetry: RawTelemetry,
    /// A scheduled synthetic model benchmark (off by default).
    #[serde(default)]
    pub bench: Option<RawBench>,
    #[serde(default)]
    pub audit: RawAudit,
    /// Team mode: shared engines for several replicas (off by default).
    #[serde(default)]
    pub cluster: RawCluster,
}

/// `[cluster]`: the shared engines of a team deployment. Each URL is either
/// written out without a password (`redis://127.0.0.1:6379/0`) or, when it
/// carries one, a reference (`env:VAR`, `keyring:NAME`) to the whole URL.
/// Read at start; a change needs a restart.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// `redis://`, `rediss://` (TLS), `valkey://`, `valkeys://`.
    #[serde(default)]
    pub redis_url: Option<Spanned<String>>,
    /// `postgres://` or `postgresql://`.
    #[serde(default)]
    pub postgres_url: Option<Spanned<String>>,
    /// This replica's name in shared state and logs (default: host name and
    /// listen port).
    #[serde(default)]
    pub replica_id: Option<Spanned<String>>,
}

/// `[audit]`: how long the operator audit log keeps its rows.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Rows older than this many days are pruned (the hash chain keeps an
    /// anchor); 0, the default, keeps every row.
    #[serde(default)]
    pub retention_days: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBench {
    /// Run every N minutes; 0 = off.
    #[serde(default)]
    pub every_minutes: u64,
    /// `provider:model` targets.
    pub targets: Vec<Spanned<String>>,
    /// `chat`, `messages`, `responses` (default `chat`).
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default = "default_bench_requests")]
    pub requests: u32,
    #[serde(default = "default_bench_cap")]
    pub max_cost_usd: f64,
}

fn default_bench_requests() -> u32 {
    3
}
fn default_bench_cap() -> f64 {
    0.02
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    #[serde(default = "default_listen")]
    pub listen: Spanned<String>,
    #[serde(default)]
    pub client_keys: Vec<Spanned<String>>,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    /// Extra Host names accepted besides localhost and the listen address
    /// ("*" accepts any; only for servers behind a trusted proxy).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call `/v1/*` cross-origin (CORS opt-in).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Active routing profile: its routes replace the top-level ones.
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    /// How long shutdown waits for in-flight requests.
    #[serde(default = "default_grace")]
    pub shutdown_grace_s: u64,
    /// Private networks (CIDR) provider base URLs may resolve to; loopback
    /// is always allowed, metadata and link-local never.
    #[serde(default)]
    pub allow_private_upstreams: Vec<String>,
    /// Largest upstream answer read: a non-streamed body, or what a stream
    /// sends before its first content frame (then a cap of its own).
    #[serde(default = "default_max_upstream_body")]
    pub max_upstream_body_bytes: u64,
    /// A connection must send a whole request head within this long of
    /// opening, or of its first byte after an idle keep-alive pause.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_s: u64,
    /// The longest silence while a request body is being received.
    #[serde(default = "default_body_idle_timeout")]
    pub body_idle_timeout_s: u64,
    /// An idle keep-alive connection (no request in progress) is closed
    /// after this long.
    #[serde(default = "default_keepalive_idle")]
    pub keepalive_idle_s: u64,
    /// Client connections open at once; more are answered 503 and closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// The response cache's bound in MiB (entries of every caching route).
    #[serde(default = "default_cache_max_mb")]
    pub cache_max_mb: u64,
    /// TLS on the listener: PEM certificate chain and private key paths
    /// (both or neither; re-read when they change).
    #[serde(default)]
    pub tls_cert: Option<Spanned<String>>,
    #[serde(default)]
    pub tls_key: Option<Spanned<String>>,
}

fn default_cache_max_mb() -> u64 {
    64
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            client_keys: Vec::new(),
            max_body_bytes: default_max_body(),
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            profile: None,
            shutdown_grace_s: default_grace(),
            allow_private_upstreams: Vec::new(),
            max_upstream_body_bytes: default_max_upstream_body(),
            header_read_timeout_s: default_header_read_timeout(),
            body_idle_timeout_s: default_body_idle_timeout(),
            keepalive_idle_s: default_keepalive_idle(),
            max_connections: default_max_connections(),
            cache_max_mb: default_cache_max_mb(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Gateway-wide routing knobs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Hard cap on upstream attempts for one request, retries included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Base of the jittered exponential backoff before a retry pass.
    #[serde(default = "default_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// How long `/v1/models` answers (and unrouted-model lookups) are cached.
    #[serde(default = "default_models_ttl")]
    pub models_cache_s: u64,
    /// Longest cooldown an upstream's `Retry-After` / `retry-after-ms` can
    /// set; longer values are cut to it.
    #[serde(default = "default_max_cooldown")]
    pub max_cooldown_s: u64,
    /// Sticky sessions (weighted and latency routes): a session's entry
    /// expires this long after its last request.
    #[serde(default = "default_sticky_ttl")]
    pub sticky_ttl_s: u64,
    /// Sticky sessions remembered per route (least recently used dropped).
    #[serde(default = "default_sticky_max_sessions")]
    pub sticky_max_sessions: u64,
}

impl Default for RawRouting {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            retry_backoff_ms: default_backoff_ms(),
            models_cache_s: default_models_ttl(),
            max_cooldown_s: default_max_cooldown(),
            sticky_ttl_s: default_sticky_ttl(),
            sticky_max_sessions: default_sticky_max_sessions(),
        }
    }
}

/// The base URL of a `kind = "gemini"` provider that sets none.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible API (OpenAI, Groq, Together, DeepSeek, OpenRouter,
    /// Mistral, vLLM, Ollama, LM Studio…).
    Openai,
    /// Anthropic Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`).
    Gemini,
    /// Gemini and Claude models on Google Cloud's Vertex AI (an OAuth token
    /// from a service account, `project` and `region`).
    Vertex,
    /// AWS Bedrock Runtime (`Converse`, `ConverseStream`, `InvokeModel`),
    /// SigV4-signed.
    Bedrock,
    /// Azure OpenAI: deployments, `api-version`, the `api-key` header or
    /// an Entra ID bearer token.
    Azure,
}

/// How a `kind = "azure"` provider sends its key (pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AzureAuth {
    /// The key in the `api-key` header.
    #[default]
    ApiKey,
    /// The key (an Entra ID access token) as `Authorization: Bearer`.
    Entra,
}

/// How a Gemini-kind provider sends tool and response schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GeminiSchema {
    /// JSON Schema as sent, in `parametersJsonSchema` /
    /// `responseJsonSchema` (the current API, what Gemini CLI sends).
    #[default]
    Json,
    /// Converted to the OpenAPI subset of the classic `parameters` /
    /// `responseSchema` (API versions and deployments without the JSON
    /// Schema fields).
    Openapi,
}

/// How an OpenAI-kind provider serves `/v1/responses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponsesMode {
    /// Forward to the provider's own `/responses` (OpenAI has it).
    #[default]
    Native,
    /// Translate to chat completions (Ollama, vLLM, Groq… lack `/responses`).
    Translate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub name: Spanned<String>,
    pub kind: Spanned<ProviderKind>,
    /// Required but for `kind = "gemini"` (default
    /// [`GEMINI_BASE_URL`]).
    #[serde(default)]
    pub base_url: Option<Spanned<String>>,
    #[serde(default)]
    pub api_key: Option<Spanned<String>>,
    /// A key pool: several `keyring:`/`env:` references used in turn
    /// (exclusive with `api_key`).
    #[serde(default)]
    pub api_keys: Option<Spanned<Vec<Spanned<String>>>>,
    /// How a pool picks its next key (default `round_robin`).
    #[serde(default)]
    pub key_rotation: KeyRotation,
    /// `false`: routing skips this provider and `provider/model` to it is refused.
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Longest silence allowed between frames of a stream once it flows.
    #[serde(default)]
    pub stream_idle_timeout_s: Option<u64>,
    #[serde(default)]
    pub rpm: u32,
    #[serde(default)]
    pub tpm: u32,
    /// When the provider's local RPM/TPM budget is spent, wait up to this long
    /// for a slot instead of skipping it (0 = skip like a cooled-down target).
    #[serde(default)]
    pub queue_timeout_ms: u64,
    /// One `rpm`/`tpm` budget for every provider with `share_limits` and
    /// the same normalised base URL (one upstream account).
    #[serde(default)]
    pub share_limits: bool,
    /// Background `GET /models` health probe interval (0 = off).
    #[serde(default)]
    pub health_check_interval_s: u64,
    /// Models this provider serves, added to `/v1/models` and used for
    /// unrouted model names without asking the provider.
    #[serde(default)]
    pub models: Vec<String>,
    /// Extra headers sent upstream (e.g. `HTTP-Referer` for OpenRouter);
    /// a value may be an `env:VAR` / `keyring:NAME` reference (an Azure
    /// `api-key`), resolved like keys. Values are redacted wherever config
    /// is shown to viewers and in every diff.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `/v1/responses`: the provider's own endpoint or translated to chat
    /// completions (default: native for openai, translate for anthropic).
    #[serde(default)]
    pub responses: Option<Spanned<ResponsesMode>>,
    /// Kind gemini: `"json"` (default) or `"openapi"` tool schemas.
    #[serde(default)]
    pub gemini_schema: Option<Spanned<GeminiSchema>>,
    /// `kind = "vertex"`: the Google Cloud project id.
    #[serde(default)]
    pub project: Option<Spanned<String>>,
    /// The cloud region: required for `kind = "bedrock"` (`us-east-1`; the
    /// SigV4 signing region and the default base URL's) and for `kind =
    /// "vertex"` (its location); unused by the other kinds.
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// `kind = "bedrock"`: the AWS access key id, a `keyring:`/`env:`
    /// reference (never the value).
    #[serde(default)]
    pub access_key_id: Option<Spanned<String>>,
    /// `kind = "bedrock"`: the AWS secret access key, a reference.
    #[serde(default)]
    pub secret_access_key: Option<Spanned<String>>,
    /// `kind = "bedrock"`: an STS session token (temporary credentials), a
    /// reference; sent as `x-amz-security-token`.
    #[serde(default)]
    pub session_token: Option<Spanned<String>>,
    /// `kind = "vertex"`: a `keyring:`/`env:` reference whose value is the
    /// service account's JSON key (used instead of `api_key`).
    #[serde(default)]
    pub service_account: Option<Spanned<String>>,
    /// `kind = "azure"`: `"v1"` (the default: `/openai/v1/…`, the model
    /// in the body), `"preview"`, or a dated version (`"2024-10-21"`:
    /// `/openai/deployments/{deployment}/…?api-version=`).
    #[serde(default)]
    pub api_version: Option<Spanned<String>>,
    /// `kind = "azure"`: model name → deployment name (a model without an
    /// entry is its own deployment).
    #[serde(default)]
    pub deployments: Option<Spanned<BTreeMap<String, String>>>,
    /// `kind = "azure"`: `api_key` (default) or `entra`.
    #[serde(default)]
    pub azure_auth: Option<Spanned<AzureAuth>>,
}

/// How a provider's key pool (`api_keys`) picks the key for a request.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRotation {
    /// Each request starts at the next key.
    #[default]
    RoundRobin,
    /// Keys never rate limited (or limited longest ago) first.
    LeastRecentlyLimited,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Targets in the order written.
    #[default]
    Priority,
    /// Smooth weighted round robin over `weight`.
    Weighted,
    /// Lowest EWMA latency first, with some exploration.
    Latency,
    /// Cheapest first by the price table for the request's estimated
    /// tokens; unknown prices last; ties by latency.
    Cost,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub model: Spanned<String>,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: u64,
    /// Consecutive failures (5xx, timeouts, connect errors, broken streams)
    /// that open a target's breaker.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// Consecutive 429s that open a target's breaker.
    #[serde(default = "default_rate_limit_threshold")]
    pub rate_limit_threshold: u32,
    /// Extra passes over the targets after all failed (jittered backoff
    /// between passes; `routing.max_attempts` caps the total).
    #[serde(default)]
    pub retries: u32,
    /// Sticky sessions (default on for `weighted` and `latency`; priority
    /// routes are sticky by nature): `false` spreads every request.
    #[serde(default)]
    pub sticky: Option<bool>,
    /// Upstream client errors (classified from their bodies) that fall
    /// back instead of returning: `context_length_exceeded`, `content_filter`.
    #[serde(default)]
    pub fallback_on: Vec<Spanned<String>>,
    /// Per class, the targets (`"provider"` or `"provider/model"`) the
    /// request goes on with after that error, instead of the rest of the route.
    #[serde(default)]
    pub fallback_targets: BTreeMap<String, Spanned<Vec<String>>>,
    /// Upstream statuses that fall back (and are retried) besides 408, 429, 5xx.
    #[serde(default)]
    pub retry_on_status: Vec<u16>,
    /// Error-body substrings (case-insensitive) that make an upstream error
    /// fall back (and be retried), e.g. `"overloaded"`.
    #[serde(default)]
    pub retry_on_message: Vec<String>,
    /// Budget for all attempts of one request (0: none); no attempt starts
    /// after it, and a running one is cut at it.
    #[serde(default)]
    pub max_elapsed_s: u64,
    /// The exact response cache for this route (off without the table).
    #[serde(default)]
    pub cache: Option<RawRouteCache>,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
}

/// `[routes.cache]`: answers of this route served again, per client, for
/// identical requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteCache {
    /// How long an entry is served.
    #[serde(default = "default_cache_ttl")]
    pub ttl_s: u64,
    /// Also cache requests with `temperature > 0` (sampled answers).
    #[serde(default)]
    pub cache_temperature: bool,
}

fn default_cache_ttl() -> u64 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub provider: Spanned<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Requests per minute per client key (or peer address without keys).
    #[serde(default)]
    pub ingress_rpm: u32,
    /// Tokens per minute per client, estimated on admission and corrected
    /// from the answer's usage.
    #[serde(default)]
    pub ingress_tpm: u32,
    /// RPM/TPM per requested model name or pattern, for all clients together.
    #[serde(default)]
    pub models: Vec<RawModelLimit>,
    /// Failed admin logins allowed per peer address per window; further
    /// attempts in the window get 429.
    #[serde(default = "default_login_max_failures")]
    pub login_max_failures: u32,
    /// That window.
    #[serde(default = "default_login_window")]
    pub login_window_s: u64,
}

/// `[[limits.models]]`: a budget for the names `model` matches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelLimit {
    /// An exact name or a pattern with one `*` (`gpt-5*`, `*`).
    pub model: Spanned<String>,
    #[serde(default)]
    pub rpm: u32,
    #[serde(default)]
    pub tpm: u32,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            ingress_rpm: 0,
            ingress_tpm: 0,
            models: Vec::new(),
            login_max_failures: default_login_max_failures(),
            login_window_s: default_login_window(),
        }
    }
}

/// The request log, metrics and cost (`[telemetry]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// Request log rows older than this are deleted (0 = only the size cap).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Size cap of the request log; the oldest rows go first.
    #[serde(default = "default_max_db_mb")]
    pub max_db_mb: u64,
    /// Store prompts and completions (redacted, capped). Off by default.
    #[serde(default)]
    pub store_bodies: bool,
    /// Cap per stored body.
    #[serde(default = "default_max_stored_body")]
    pub max_body_bytes: u64,
    /// Events waiting for the log writer before new ones are dropped (read at start).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: u64,
    /// OpenTelemetry trace export: the collector's OTLP/HTTP base URL
    /// (`/v1/traces` is appended); unset = no export (read at start).
    #[serde(default)]
    pub otlp_endpoint: Option<Spanned<String>>,
    /// `service.name` of the exported spans (default `aigw`).
    #[serde(default)]
    pub otlp_service_name: Option<Spanned<String>>,
    /// Prices overriding or extending the embedded table.
    #[serde(default)]
    pub prices: Vec<RawPrice>,
}

impl Default for RawTelemetry {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
            max_db_mb: default_max_db_mb(),
            store_bodies: false,
            max_body_bytes: default_max_stored_body(),
            queue_capacity: default_queue_capacity(),
            otlp_endpoint: None,
            otlp_service_name: None,
            prices: Vec::new(),
        }
    }
}

/// `[[telemetry.prices]]`: USD per million tokens for a provider, a model
/// (exact or family prefix), or a model at one provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    #[serde(default)]
    pub provider: Option<Spanned<String>>,
    #[serde(default)]
    pub model: Option<Spanned<String>>,
    pub input_per_mtok: Spanned<f64>,
    pub output_per_mtok: Spanned<f64>,
    /// Input read from the provider's prompt cache (default: the input price).
    #[serde(default)]
    pub cache_read_per_mtok: Option<Spanned<f64>>,
    /// Input written to the prompt cache (default: the input price).
    #[serde(default)]
    pub cache_write_per_mtok: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    #[serde(default)]
    pub routes: Vec<RawRoute>,
}

fn default_retention_days() -> u32 {
    30
}
fn default_max_db_mb() -> u64 {
    500
}
fn default_max_stored_body() -> u64 {
    64 * 1024
}
fn default_queue_capacity() -> u64 {
    10_000
}
fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:4000".to_string())
}
fn default_max_body() -> u64 {
    10 * 1024 * 1024
}
fn default_grace() -> u64 {
    30
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_body_idle_timeout() -> u64 {
    30
}
fn default_keepalive_idle() -> u64 {
    75
}
fn default_max_connections() -> u32 {
    512
}
fn default_login_max_failures() -> u32 {
    10
}
fn default_login_window() -> u64 {
    60
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff_ms() -> u64 {
    100
}
fn default_models_ttl() -> u64 {
    60
}
fn default_max_upstream_body() -> u64 {
    32 * 1024 * 1024
}
fn default_max_cooldown() -> u64 {
    300
}
fn default_sticky_ttl() -> u64 {
    3600
}
fn default_sticky_max_sessions() -> u64 {
    10_000
}
fn default_timeout() -> u64 {
    60
}
fn default_cooldown() -> u64 {
    30
}
fn default_failure_threshold() -> u32 {
    3
}
fn default_rate_limit_threshold() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_weight() -> u32 {
    1
}
