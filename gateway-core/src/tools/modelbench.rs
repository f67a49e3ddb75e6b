//! Synthetic model benchmark: for chosen targets (provider + model) and
//! protocols, N small requests each (streaming and not, bounded
//! concurrency), with a cost estimate before starting and a hard cost cap
//! while running. Per target: success rate, latency and TTFT p50/p95,
//! tokens per second, errors by class. Runs are stored in `bench.db` and
//! comparable over time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{Call, CallResult, rows};
use crate::state::AppState;
use crate::store::now_ms;
use crate::sync::LockExt;
use crate::telemetry::query::{Quantiles, quantiles};
use crate::telemetry::{Origin, cost};
use crate::vocab::Endpoint;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, ts(rename = "BenchProtocol"))]
pub enum Protocol {
    /// OpenAI Chat Completions.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// OpenAI Responses.
    Responses,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "chat" => Ok(Protocol::Chat),
            "messages" => Ok(Protocol::Messages),
            "responses" => Ok(Protocol::Responses),
            _ => Err(format!("{s:?}: use chat, messages or responses")),
        }
    }
}

impl Protocol {
    fn endpoint(self) -> Endpoint {
        match self {
            Protocol::Chat => Endpoint::ChatCompletions,
            Protocol::Messages => Endpoint::Messages,
            Protocol::Responses => Endpoint::Responses,
        }
    }

    fn body(self, model: &str, max_tokens: u32, stream: bool) -> serde_json::Value {
        let prompt = "Count from 1 to 10, separated by spaces. Reply with the numbers only.";
        match self {
            Protocol::Chat => {
                let mut b = serde_json::json!({
                    "model": model, "max_tokens": max_tokens, "stream": stream,
                    "messages": [{ "role": "user", "content": prompt }],
                });
                if stream {
                    b["stream_options"] = serde_json::json!({ "include_usage": true });
                }
                b
            }
            Protocol::Messages => serde_json::json!({
                "model": model, "max_tokens": max_tokens, "stream": stream,
                "messages": [{ "role": "user", "content": prompt }],
            }),
            Protocol::Responses => serde_json::json!({
                "model": model, "max_output_tokens": max_tokens, "stream": stream, "input": prompt,
            }),
        }
    }
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "BenchTarget"))]
pub struct Target {
    pub provider: String,
    pub model: String,
}

impl std::str::FromStr for Target {
    type Err = String;
    /// `provider:model`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (p, m) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: use provider:model"))?;
        if p.is_empty() || m.is_empty() {
            return Err(format!("{s:?}: use provider:model"));
        }
        Ok(Target {
            provider: p.into(),
            model: m.into(),
        })
    }
}

fn default_protocols() -> Vec<Protocol> {
    vec![Protocol::Chat]
}
fn default_streams() -> Vec<bool> {
    vec![false, true]
}
fn default_requests() -> u32 {
    5
}
fn default_concurrency() -> u32 {
    2
}
fn default_max_tokens() -> u32 {
    32
}
fn default_cap() -> f64 {
    0.05
}

/// What to run.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "BenchSpec"))]
pub struct Spec {
    pub targets: Vec<Target>,
    #[serde(default = "default_protocols")]
    pub protocols: Vec<Protocol>,
    /// `[false, true]`: both non-streaming and streaming.
    #[serde(default = "default_streams")]
    pub stream: Vec<bool>,
    /// Requests per target, protocol and stream mode.
    #[serde(default = "default_requests")]
    pub requests: u32,
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Hard cap: the run stops before a request would exceed it.
    #[serde(default = "default_cap")]
    pub max_cost_usd: f64,
}

/// Hard limits on one run, whatever the spec says.
const MAX_REQUESTS: u32 = 2000;
const MAX_CONCURRENCY: u32 = 16;

/// Shown before starting.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, ts(rename = "BenchEstimate"))]
pub struct Estimate {
    pub requests: u32,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// `None` when a target has no known price (it may still cost money).
    pub cost_usd: Option<f64>,
    pub unpriced: Vec<String>,
    pub max_cost_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Invalid(String),
    #[error("bench store: {0}")]
    Store(#[from] rusqlite::Error),
}

impl Spec {
    pub fn check(&self, state: &AppState) -> Result<(), BenchError> {
        if self.targets.is_empty() || self.protocols.is_empty() || self.stream.is_empty() {
            return Err(BenchError::Invalid(
                "name at least one target, protocol and stream mode".into(),
            ));
        }
        let rt = state.runtime.load();
        for t in &self.targets {
            if rt.provider_index(&t.provider).is_none() {
                return Err(BenchError::Invalid(format!(
                    "no provider named {:?}",
                    t.provider
                )));
            }
        }
        if self.total() > MAX_REQUESTS {
            return Err(BenchError::Invalid(format!(
                "{} requests is more than the {MAX_REQUESTS} a run may send",
                self.total()
            )));
        }
        if self.max_cost_usd.is_nan() || self.max_cost_usd < 0.0 {
            return Err(BenchError::Invalid("max_cost_usd must be >= 0".into()));
        }
        Ok(())
    }

    fn total(&self) -> u32 {
        (self.targets.len() * self.protocols.len() * self.stream.len()) as u32 * self.requests
    }

    fn per_request_tokens(&self, protocol: Protocol, model: &str) -> (u64, u64) {
        let body = protocol.body(model, self.max_tokens, false).to_string();
        (
            cost::estimate_tokens(body.len() as u64),
            u64::from(self.max_tokens),
        )
    }

    pub fn estimate(&self, state: &AppState) -> Estimate {
        let rt = state.runtime.load();
        let mut e = Estimate {
            requests: self.total(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: Some(0.0),
            unpriced: Vec::new(),
            max_cost_usd: self.max_cost_usd,
        };
        for t in &self.targets {
            let price = cost::price_for(&rt.config.telemetry.prices, &t.provider, &t.model);
            for &p in &self.protocols {
                let n = u64::from(self.requests) * self.stream.len() as u64;
                let (i, o) = self.per_request_tokens(p, &t.model);
                e.tokens_in += i * n;
                e.tokens_out += o * n;
                match price {
                    Some(pr) => e.cost_usd = e.cost_usd.map(|c| c + pr.cost(i, o) * n as f64),
                    None => {
                        let name = format!("{}:{}", t.provider, t.model);
                        if !e.unpriced.contains(&name) {
                            e.unpriced.push(name);
                        }
                    }
                }
            }
        }
        if !e.unpriced.is_empty() {
            e.cost_usd = None;
        }
        e
    }
}

/// Per target, protocol and stream mode.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "BenchReport"))]
pub struct Report {
    pub provider: String,
    pub model: String,
    pub protocol: Protocol,
    pub stream: bool,
    pub sent: u32,
    pub ok: u32,
    pub success_rate: f64,
    pub latency_ms: Option<Quantiles>,
    pub ttft_ms: Option<Quantiles>,
    /// Output tokens per second of generation (after the first token).
    pub tokens_per_s: Option<f64>,
    pub errors: BTreeMap<String, u32>,
    pub cost_usd: f64,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "BenchRun"))]
pub struct Run {
    pub id: i64,
    pub started_ms: i64,
    pub finished_ms: i64,
    /// `ui`, `cli`, `api` or `schedule`.
    pub source: String,
    pub spec: Spec,
    pub reports: Vec<Report>,
    pub spent_usd: f64,
    /// The cost cap stopped the run before every request was sent.
    pub stopped_by_cost_cap: bool,
}

struct Spend {
    spent: f64,
    stopped: bool,
}

/// Runs `spec` and stores the result.
pub async fn run(state: &Arc<AppState>, spec: Spec, source: &str) -> Result<Run, BenchError> {
    spec.check(state)?;
    let started_ms = now_ms();
    let rt = state.runtime.load_full();
    let spend = Arc::new(Mutex::new(Spend {
        spent: 0.0,
        stopped: false,
    }));
    let mut reports = Vec::new();
    let concurrency = spec.concurrency.clamp(1, MAX_CONCURRENCY) as usize;
    for t in &spec.targets {
        let price = cost::price_for(&rt.config.telemetry.prices, &t.provider, &t.model);
        for &protocol in &spec.protocols {
            for &stream in &spec.stream {
                let body =
                    Bytes::from(protocol.body(&t.model, spec.max_tokens, stream).to_string());
                let (ti, to) = spec.per_request_tokens(protocol, &t.model);
                let worst = price.map_or(0.0, |p| p.cost(ti, to));
                let call = Call {
                    endpoint: protocol.endpoint(),
                    body,
                    provider: t.provider.clone(),
                    model: t.model.clone(),
                    origin: Origin::Bench,
                };
                let results: Vec<CallResult> = futures_util::stream::iter(0..spec.requests)
                    .map(|_| {
                        let (call, state, rt, spend) =
                            (call.clone(), state.clone(), rt.clone(), spend.clone());
                        let cap = spec.max_cost_usd;
                        async move {
                            {
                                // Reserve the worst case before sending.
                                let mut s = spend.lock_or_recover();
                                if s.stopped || s.spent + worst > cap {
                                    s.stopped = true;
                                    return None;
                                }
                                s.spent += worst;
                            }
                            let r = call.run(&state, &rt).await.ok()?;
                            let mut s = spend.lock_or_recover();
                            s.spent += r.cost_usd.unwrap_or(worst) - worst;
                            Some(r)
                        }
                    })
                    .buffer_unordered(concurrency)
                    .filter_map(|r| async move { r })
                    .collect()
                    .await;
                reports.push(summarize(t, protocol, stream, &results));
            }
        }
    }
    let s = spend.lock_or_recover();
    let mut run = Run {
        id: 0,
        started_ms,
        finished_ms: now_ms(),
        source: source.to_string(),
        spec,
        reports,
        spent_usd: s.spent,
        stopped_by_cost_cap: s.stopped,
    };
    drop(s);
    if let Some(dir) = &state.data_dir {
        let store = Store::open(&dir.join("bench.db"))?;
        run.id = store.insert(&run)?;
    }
    Ok(run)
}

fn summarize(t: &Target, protocol: Protocol, stream: bool, results: &[CallResult]) -> Report {
    let ok: Vec<&CallResult> = results
        .iter()
        .filter(|r| r.error.is_none() && r.status < 400)
        .collect();
    let mut errors = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| r.error.is_some() || r.status >= 400)
    {
        let class = r
            .error
            .clone()
            .unwrap_or_else(|| format!("http_{}", r.status));
        *errors.entry(class).or_insert(0) += 1;
    }
    let mut lat: Vec<f64> = ok.iter().map(|r| r.latency_ms).collect();
    let mut ttft: Vec<f64> = ok.iter().filter_map(|r| r.ttft_ms).collect();
    let rates: Vec<f64> = ok
        .iter()
        .filter_map(|r| {
            let out = r.tokens_out? as f64;
            let secs = (r.latency_ms - r.ttft_ms.unwrap_or(0.0)).max(1.0) / 1000.0;
            (out > 0.0).then_some(out / secs)
        })
        .collect();
    Report {
        provider: t.provider.clone(),
        model: t.model.clone(),
        protocol,
        stream,
        sent: results.len() as u32,
        ok: ok.len() as u32,
        success_rate: if results.is_empty() {
            0.0
        } else {
            ok.len() as f64 / results.len() as f64
        },
        latency_ms: quantiles(&mut lat),
        ttft_ms: quantiles(&mut ttft),
        tokens_per_s: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
        errors,
        cost_usd: results.iter().filter_map(|r| r.cost_usd).sum(),
    }
}

/// `bench.db`: one row per run, the run as JSON.
pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = rows::open(path, rows::RUNS_TABLE)?;
        Ok(Self { conn })
    }

    fn insert(&self, run: &Run) -> Result<i64, rusqlite::Error> {
        rows::insert_run(&self.conn, run.started_ms, run, |r, id| r.id = id, None)
    }

    /// Newest first.
    pub fn list(&self, limit: u32) -> Result<Vec<Run>, rusqlite::Error> {
        rows::runs(&self.conn, limit)
    }

    pub fn get(&self, id: i64) -> Result<Option<Run>, rusqlite::Error> {
        rows::run(&self.conn, id)
    }
}

/// Runs the configured schedule (`[bench] every_minutes`), reading the live
/// config each minute so a publish turns it on, off or changes it.
pub fn spawn_schedule(
    state: &Arc<AppState>,
    tracker: &tokio_util::task::TaskTracker,
    stop: tokio_util::sync::CancellationToken,
) {
    let state = state.clone();
    tracker.spawn(async move {
        let mut last: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Some((every, spec)) = state.runtime.load().config.bench.clone() else {
                last = None;
                continue;
            };
            let due = last.is_none_or(|l| l.elapsed() >= every);
            if !due {
                continue;
            }
            last = Some(tokio::time::Instant::now());
            match run(&state, spec, "schedule").await {
                Ok(r) => tracing::info!(
                    run = r.id,
                    spent_usd = r.spent_usd,
                    "scheduled model benchmark done"
                ),
                Err(e) => tracing::warn!("scheduled model benchmark failed: {e}"),
            }
        }
    });
}
