//! Prometheus metrics, updated from each [`RequestEvent`] (atomics, no
//! waiting) and rendered on `GET /metrics` in the Prometheus text format
//! (0.0.4), or OpenMetrics when the scraper asks for it. Breaker state is
//! read from the health registry at scrape time.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

use super::RequestEvent;
use crate::routing::health::HealthRegistry;
use crate::sync::{LockExt, RwLockExt};
use crate::vocab::{ErrorClass, RouteMode};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: String,
    model: String,
    route_mode: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    provider: String,
    model: String,
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    provider: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    limiter: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DroppedLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TlsReloadLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
    team: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyTokenLabels {
    key: String,
    team: String,
    direction: &'static str,
}

/// Distinct virtual keys with their own `key` label; later ones are
/// counted under `key="other"` (their team kept, teams bounded the same way).
pub const MAX_KEY_LABELS: usize = 1000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

type Hist = Family<TargetLabels, Histogram, fn() -> Histogram>;

fn latency_hist() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

fn ttft_hist() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0])
}

/// Distinct (provider, model) label pairs kept before models are folded
/// into `other` (a client can send any model name).
const MAX_TARGETS: usize = 500;

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    attempts: Family<ErrorLabels, Counter>,
    latency: Hist,
    ttft: Hist,
    overhead: Histogram,
    tokens: Family<TokenLabels, Counter>,
    cache_tokens: Family<CacheLabels, Counter>,
    usage_unknown: Family<TargetLabels, Counter>,
    cost: Family<TargetLabels, Counter<f64, AtomicU64>>,
    limiter_rejections: Family<LimiterLabels, Counter>,
    dropped: Family<DroppedLabels, Counter>,
    queue_depth: Gauge,
    otlp_exported: Counter,
    otlp_dropped: Family<DroppedLabels, Counter>,
    breaker_open: Family<TargetLabels, Gauge>,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_bytes: Gauge,
    cache_entries: Gauge,
    key_requests: Family<KeyLabels, Counter>,
    key_tokens: Family<KeyTokenLabels, Counter>,
    key_spend: Family<KeyLabels, Counter<f64, AtomicU64>>,
    tls_reloads: Family<TlsReloadLabels, Counter>,
    /// The (key, team) pairs with their own labels ([`MAX_KEY_LABELS`]).
    known_keys: Mutex<std::collections::HashSet<(String, String)>>,
    known: RwLock<Known>,
    render_lock: Mutex<()>,
}

/// The (provider, model) pairs with their own label, and the handles of
/// their per-target metrics, looked up once: a `get_or_create` hashes its
/// whole label set, and a request updates up to six of them.
#[derive(Debug, Default)]
struct Known {
    by_provider: HashMap<String, HashMap<String, Arc<TargetMetrics>>>,
    len: usize,
}

/// Handles are fetched on first use, so a series appears in `/metrics`
/// only once something was counted in it, as with `get_or_create`.
#[derive(Debug)]
struct TargetMetrics {
    provider: String,
    model: String,
    latency: OnceLock<Histogram>,
    ttft: OnceLock<Histogram>,
    tokens_in: OnceLock<Counter>,
    tokens_out: OnceLock<Counter>,
    cache_read: OnceLock<Counter>,
    cache_write: OnceLock<Counter>,
    usage_unknown: OnceLock<Counter>,
    cost: OnceLock<Counter<f64, AtomicU64>>,
    /// `aigw_upstream_attempts` with class `ok`.
    attempts_ok: OnceLock<Counter>,
}

impl TargetMetrics {
    fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_string(),
            model: model.to_string(),
            latency: OnceLock::new(),
            ttft: OnceLock::new(),
            tokens_in: OnceLock::new(),
            tokens_out: OnceLock::new(),
            cache_read: OnceLock::new(),
            cache_write: OnceLock::new(),
            usage_unknown: OnceLock::new(),
            cost: OnceLock::new(),
            attempts_ok: OnceLock::new(),
        }
    }

    fn labels(&self) -> TargetLabels {
        TargetLabels {
            provider: self.provider.clone(),
            model: self.model.clone(),
        }
    }

    fn tokens(&self, m: &Metrics, direction: &'static str) -> Counter {
        m.tokens
            .get_or_create(&TokenLabels {
                provider: self.provider.clone(),
                model: self.model.clone(),
                direction,
            })
            .clone()
    }

    fn cache(&self, m: &Metrics, kind: &'static str) -> Counter {
        m.cache_tokens
            .get_or_create(&CacheLabels {
                provider: self.provider.clone(),
                model: self.model.clone(),
                kind,
            })
            .clone()
    }

    fn observe(&self, m: &Metrics, e: &RequestEvent) {
        self.latency
            .get_or_init(|| m.latency.get_or_create(&self.labels()).clone())
            .observe(e.latency_ms / 1000.0);
        if let Some(t) = e.ttft_ms {
            self.ttft
                .get_or_init(|| m.ttft.get_or_create(&self.labels()).clone())
                .observe(t / 1000.0);
        }
        if let Some(n) = e.tokens_in {
            self.tokens_in
                .get_or_init(|| self.tokens(m, "input"))
                .inc_by(n);
        }
        if let Some(n) = e.tokens_out {
            self.tokens_out
                .get_or_init(|| self.tokens(m, "output"))
                .inc_by(n);
        }
        if let Some(n) = e.cache_read_tokens {
            self.cache_read
                .get_or_init(|| self.cache(m, "read"))
                .inc_by(n);
        }
        if let Some(n) = e.cache_write_tokens {
            self.cache_write
                .get_or_init(|| self.cache(m, "write"))
                .inc_by(n);
        }
        if e.status < 400 && (e.tokens_in.is_none() || e.tokens_out.is_none()) {
            self.usage_unknown
                .get_or_init(|| m.usage_unknown.get_or_create(&self.labels()).clone())
                .inc();
        }
        if let Some(c) = e.cost_usd {
            self.cost
                .get_or_init(|| m.cost.get_or_create(&self.labels()).clone())
                .inc_by(c);
        }
    }

    fn attempt_ok(&self, m: &Metrics) {
        self.attempts_ok
            .get_or_init(|| {
                m.attempts
                    .get_or_create(&ErrorLabels {
                        provider: self.provider.clone(),
                        model: self.model.clone(),
                        class: "ok".into(),
                    })
                    .clone()
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        r.register(
            "aigw_requests",
            "Requests by serving provider, forwarded model, route mode and status class",
            requests.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        r.register(
            "aigw_request_errors",
            "Failed requests (and streams broken or cancelled) by error class",
            errors.clone(),
        );
        let attempts = Family::<ErrorLabels, Counter>::default();
        r.register(
            "aigw_upstream_attempts",
            "Upstream attempts by provider, model and result (ok or the failure class)",
            attempts.clone(),
        );
        let latency: Hist = Family::new_with_constructor(latency_hist);
        r.register(
            "aigw_request_duration_seconds",
            "Whole-request latency of requests that reached an upstream",
            latency.clone(),
        );
        let ttft: Hist = Family::new_with_constructor(ttft_hist);
        r.register(
            "aigw_time_to_first_token_seconds",
            "Time to the first content frame (streams) or the full answer",
            ttft.clone(),
        );
        let overhead = Histogram::new([
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
        ]);
        r.register(
            "aigw_gateway_overhead_seconds",
            "Time the gateway itself added (total minus time waiting on upstreams)",
            overhead.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        r.register(
            "aigw_tokens",
            "Tokens by direction (input, output), reported or estimated",
            tokens.clone(),
        );
        let cache_tokens = Family::<CacheLabels, Counter>::default();
        r.register(
            "aigw_prompt_cache_tokens",
            "Input tokens read from (kind=read) or written to (kind=write) the provider's prompt cache, as reported; part of aigw_tokens direction=input",
            cache_tokens.clone(),
        );
        let usage_unknown = Family::<TargetLabels, Counter>::default();
        r.register(
            "aigw_usage_unknown",
            "Answered requests whose token usage is unknown (a stream cut before its usage arrived): not in aigw_tokens or aigw_cost_usd",
            usage_unknown.clone(),
        );
        let cost = Family::<TargetLabels, Counter<f64, AtomicU64>>::default();
        r.register(
            "aigw_cost_usd",
            "Estimated cost in USD from the price table",
            cost.clone(),
        );
        let limiter_rejections = Family::<LimiterLabels, Counter>::default();
        r.register(
            "aigw_limiter_rejections",
            "Requests refused by a local limit (ingress: per client; provider: every target over its RPM/TPM)",
            limiter_rejections.clone(),
        );
        let dropped = Family::<DroppedLabels, Counter>::default();
        r.register(
            "aigw_telemetry_events_dropped",
            "Request events not written to the log (queue_full: the writer fell behind; write_failed)",
            dropped.clone(),
        );
        let queue_depth = Gauge::default();
        r.register(
            "aigw_telemetry_queue_depth",
            "Request events waiting for the log writer",
            queue_depth.clone(),
        );
        let otlp_exported = Counter::default();
        r.register(
            "aigw_otlp_spans_exported",
            "Spans accepted by the OTLP collector (telemetry.otlp_endpoint)",
            otlp_exported.clone(),
        );
        let otlp_dropped = Family::<DroppedLabels, Counter>::default();
        r.register(
            "aigw_otlp_spans_dropped",
            "Spans not exported (queue_full: the exporter fell behind; export_failed: the collector refused or was unreachable)",
            otlp_dropped.clone(),
        );
        let breaker_open = Family::<TargetLabels, Gauge>::default();
        r.register(
            "aigw_target_breaker_open",
            "1 while a target's circuit breaker is open (cooling down or probing)",
            breaker_open.clone(),
        );
        let (cache_hits, cache_misses) = (Counter::default(), Counter::default());
        r.register(
            "aigw_cache_hits",
            "Requests on caching routes answered from the response cache",
            cache_hits.clone(),
        );
        r.register(
            "aigw_cache_misses",
            "Requests on caching routes not answered from the response cache",
            cache_misses.clone(),
        );
        let (cache_bytes, cache_entries) = (Gauge::default(), Gauge::default());
        r.register(
            "aigw_cache_bytes",
            "Bytes held by the response cache (bound: server.cache_max_mb)",
            cache_bytes.clone(),
        );
        r.register(
            "aigw_cache_entries",
            "Entries in the response cache",
            cache_entries.clone(),
        );
        let key_requests = Family::<KeyLabels, Counter>::default();
        r.register(
            "aigw_key_requests",
            "Requests by virtual key (its name) and team",
            key_requests.clone(),
        );
        let key_tokens = Family::<KeyTokenLabels, Counter>::default();
        r.register(
            "aigw_key_tokens",
            "Tokens by virtual key, team and direction (input, output)",
            key_tokens.clone(),
        );
        let key_spend = Family::<KeyLabels, Counter<f64, AtomicU64>>::default();
        r.register(
            "aigw_key_spend_usd",
            "Estimated cost in USD by virtual key and team (what its budget is charged)",
            key_spend.clone(),
        );
        let tls_reloads = Family::<TlsReloadLabels, Counter>::default();
        r.register(
            "aigw_tls_reloads",
            "Changes of the listener's certificate files: ok (new connections use the new pair) or failed (the previous pair stays)",
            tls_reloads.clone(),
        );
        let info = Family::<VersionLabels, Gauge>::default();
        info.get_or_create(&VersionLabels {
            version: crate::VERSION,
        })
        .set(1);
        r.register("aigw_build_info", "The running version", info);
        Self {
            registry: r,
            requests,
            errors,
            attempts,
            latency,
            ttft,
            overhead,
            tokens,
            cache_tokens,
            usage_unknown,
            cost,
            limiter_rejections,
            dropped,
            queue_depth,
            otlp_exported,
            otlp_dropped,
            breaker_open,
            cache_hits,
            cache_misses,
            cache_bytes,
            cache_entries,
            key_requests,
            key_tokens,
            key_spend,
            tls_reloads,
            known_keys: Mutex::default(),
            known: RwLock::new(Known::default()),
            render_lock: Mutex::new(()),
        }
    }

    /// The counter of events dropped for `reason`, to share with the writer.
    pub(crate) fn dropped_counter(&self, reason: &'static str) -> Counter {
        self.dropped
            .get_or_create(&DroppedLabels { reason })
            .clone()
    }

    /// A change of the TLS pair was loaded (`ok`) or refused (`failed`).
    pub(crate) fn tls_reload(&self, result: &'static str) {
        self.tls_reloads
            .get_or_create(&TlsReloadLabels { result })
            .inc();
    }

    /// Spans the OTLP collector accepted, to share with the exporter.
    pub(crate) fn otlp_exported(&self) -> Counter {
        self.otlp_exported.clone()
    }

    /// Spans not exported for `reason`, to share with the exporter.
    pub(crate) fn otlp_dropped(&self, reason: &'static str) -> Counter {
        self.otlp_dropped
            .get_or_create(&DroppedLabels { reason })
            .clone()
    }

    /// Events dropped so far, all reasons.
    pub fn dropped_total(&self) -> u64 {
        ["queue_full", "write_failed"]
            .into_iter()
            .map(|reason| self.dropped.get_or_create(&DroppedLabels { reason }).get())
            .sum()
    }

    /// The response cache's counters and size as of now (set at scrape
    /// time from [`crate::cache::ResponseCache::stats`]).
    pub fn set_cache(&self, s: crate::cache::CacheStats) {
        let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.cache_hits
            .inner()
            .store(s.hits, std::sync::atomic::Ordering::Relaxed);
        self.cache_misses
            .inner()
            .store(s.misses, std::sync::atomic::Ordering::Relaxed);
        self.cache_bytes.set(i(s.bytes));
        self.cache_entries.set(i(s.entries));
    }

    pub(crate) fn set_queue_depth(&self, n: usize) {
        self.queue_depth.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The metrics of a pair with its own model label; `None` once
    /// [`MAX_TARGETS`] pairs are known (its model is labelled `other`).
    fn target(&self, provider: &str, model: &str) -> Option<Arc<TargetMetrics>> {
        {
            let known = self.known.read_or_recover();
            if let Some(t) = known.by_provider.get(provider).and_then(|m| m.get(model)) {
                return Some(t.clone());
            }
            if known.len >= MAX_TARGETS {
                return None;
            }
        }
        let mut known = self.known.write_or_recover();
        if let Some(t) = known.by_provider.get(provider).and_then(|m| m.get(model)) {
            return Some(t.clone());
        }
        if known.len >= MAX_TARGETS {
            return None;
        }
        let t = Arc::new(TargetMetrics::new(provider, model));
        known
            .by_provider
            .entry(provider.to_string())
            .or_default()
            .insert(model.to_string(), t.clone());
        known.len += 1;
        Some(t)
    }

    /// The labels of a virtual key's request: its own, or `other` past
    /// [`MAX_KEY_LABELS`] pairs.
    fn key_labels(&self, e: &RequestEvent) -> Option<KeyLabels> {
        e.virtual_key.as_ref()?;
        let pair = (e.client.clone(), e.team.clone().unwrap_or_default());
        let mut known = self.known_keys.lock_or_recover();
        let (key, team) = if known.contains(&pair) || known.len() < MAX_KEY_LABELS {
            known.insert(pair.clone());
            pair
        } else {
            ("other".to_string(), "other".to_string())
        };
        Some(KeyLabels { key, team })
    }

    fn observe_key(&self, e: &RequestEvent) {
        let Some(l) = self.key_labels(e) else { return };
        self.key_requests.get_or_create(&l).inc();
        if let Some(c) = e.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            self.key_spend.get_or_create(&l).inc_by(c);
        }
        for (direction, n) in [("input", e.tokens_in), ("output", e.tokens_out)] {
            if let Some(n) = n.filter(|n| *n > 0) {
                self.key_tokens
                    .get_or_create(&KeyTokenLabels {
                        key: l.key.clone(),
                        team: l.team.clone(),
                        direction,
                    })
                    .inc_by(n);
            }
        }
    }

    /// Counts one finished request.
    pub fn observe(&self, e: &RequestEvent) {
        self.observe_key(e);
        let provider = e.provider.as_deref().unwrap_or_default();
        // The served pair's metrics, unless its model is folded (or unknown).
        let (model, served) = match e.forwarded_model.as_deref() {
            Some(m) => match self.target(provider, m) {
                Some(t) => (m.to_string(), Some(t)),
                None => ("other".to_string(), None),
            },
            None => (String::new(), None),
        };
        self.requests
            .get_or_create(&RequestLabels {
                provider: provider.to_string(),
                model: model.clone(),
                route_mode: e.route_mode.map_or("none", RouteMode::as_str),
                status_class: status_class(e.status),
            })
            .inc();
        if let Some(class) = &e.error {
            self.errors
                .get_or_create(&ErrorLabels {
                    provider: provider.to_string(),
                    model: model.clone(),
                    class: class.clone(),
                })
                .inc();
            let limiter = if class == ErrorClass::IngressRateLimited.as_str() {
                Some("ingress")
            } else if class == ErrorClass::ProviderRateLimited.as_str() {
                Some("provider")
            } else {
                None
            };
            if let Some(limiter) = limiter {
                self.limiter_rejections
                    .get_or_create(&LimiterLabels { limiter })
                    .inc();
            }
        }
        for a in &e.attempts {
            let target = self.target(&a.provider, &a.model);
            match (&a.error, &target) {
                (None, Some(t)) => t.attempt_ok(self),
                _ => {
                    let model = match target {
                        Some(_) => a.model.clone(),
                        None => "other".into(),
                    };
                    self.attempts
                        .get_or_create(&ErrorLabels {
                            provider: a.provider.clone(),
                            model,
                            class: a.error.clone().unwrap_or_else(|| "ok".into()),
                        })
                        .inc();
                }
            }
        }
        if e.attempts.is_empty() {
            return;
        }
        self.overhead.observe(e.overhead_ms / 1000.0);
        match served {
            Some(t) => t.observe(self, e),
            None => TargetMetrics::new(provider, &model).observe(self, e),
        }
    }

    /// The exposition text: Prometheus 0.0.4, or OpenMetrics 1.0.
    pub fn render(&self, health: &HealthRegistry, openmetrics: bool) -> String {
        let _g = self.render_lock.lock_or_recover();
        self.breaker_open.clear();
        for (provider, model, snap) in health.snapshot(Instant::now()) {
            self.breaker_open
                .get_or_create(&TargetLabels { provider, model })
                .set(i64::from(snap.open));
        }
        let mut out = String::new();
        let res = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        if let Err(e) = res {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}

/// `Content-Type` of [`Metrics::render`] output.
pub fn content_type(openmetrics: bool) -> &'static str {
    if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    }
}
