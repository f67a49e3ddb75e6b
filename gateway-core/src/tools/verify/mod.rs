//! Verification runs (model authenticity): a fixed, versioned probe suite
//! (`probes`) is sent to a trusted target once and its answers, usage and
//! latency are kept as a baseline (`verify.db`, `store`); a later run
//! through any provider is scored against it (`score`): `normal`,
//! `suspect` or `highly_suspect`, with the reasons. Runs are cost-capped
//! like the model benchmark.

mod probes;
mod score;
mod store;

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use probes::{SUITE, SUITE_VERSION};
pub use score::{DEFAULT_TOKEN_TOLERANCE_PCT, Reason, ReasonKind, Verdict, score};
pub use store::Store;

use super::Call;
use super::modelbench::{Estimate, Target};
use crate::state::AppState;
use crate::store::now_ms;
use crate::telemetry::{Origin, cost};
use crate::vocab::Endpoint;

/// The answer kept per probe (characters).
const ANSWER_CAP: usize = 2000;

fn default_cap() -> f64 {
    0.05
}

/// What one probe got back, and whether it passed its check.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifyProbeResult"))]
pub struct ProbeResult {
    pub probe: String,
    pub request_id: String,
    pub status: u16,
    /// Error class when no usable answer came back.
    pub error: Option<String>,
    /// `None` when there was no answer to check.
    pub passed: Option<bool>,
    /// Why the check failed.
    pub detail: Option<String>,
    /// The answer's text (or tool calls), capped at 2,000 characters.
    pub answer: String,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    /// The upstream reported no usage: token counts are estimates.
    pub tokens_estimated: bool,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub cost_usd: Option<f64>,
}

/// Record a baseline of `target`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifyBaselineSpec"))]
pub struct BaselineSpec {
    pub target: Target,
    #[serde(default = "default_cap")]
    pub max_cost_usd: f64,
}

/// Verify `target` against the newest baseline of `baseline` (default: of
/// `target` itself).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifySpec"))]
pub struct RunSpec {
    pub target: Target,
    #[serde(default)]
    pub baseline: Option<Target>,
    #[serde(default = "default_cap")]
    pub max_cost_usd: f64,
    /// Percent; default 10.
    #[serde(default)]
    pub token_tolerance_pct: Option<f64>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifyBaseline"))]
pub struct Baseline {
    pub id: i64,
    pub created_ms: i64,
    pub suite_version: u32,
    pub target: Target,
    /// `ui`, `cli` or `api`.
    pub source: String,
    pub probes: Vec<ProbeResult>,
    pub spent_usd: f64,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifyRun"))]
pub struct Run {
    pub id: i64,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub source: String,
    pub suite_version: u32,
    pub target: Target,
    pub baseline_target: Target,
    pub baseline_id: i64,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub probes: Vec<ProbeResult>,
    pub token_tolerance_pct: f64,
    pub spent_usd: f64,
    pub max_cost_usd: f64,
    /// The cost cap stopped the run before every probe was sent.
    pub stopped_by_cost_cap: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NoBaseline(String),
    #[error("{0}")]
    OverCap(String),
    #[error("verification runs need a data dir (verify.db)")]
    NoDataDir,
    #[error("verify store: {0}")]
    Store(#[from] rusqlite::Error),
}

fn check_target(state: &AppState, t: &Target, max_cost_usd: f64) -> Result<(), VerifyError> {
    if state.runtime.load().provider_index(&t.provider).is_none() {
        return Err(VerifyError::Invalid(format!(
            "no provider named {:?}",
            t.provider
        )));
    }
    if t.model.is_empty() || t.model.len() > 256 {
        return Err(VerifyError::Invalid(
            "name a model (at most 256 bytes)".into(),
        ));
    }
    if !max_cost_usd.is_finite() || max_cost_usd < 0.0 {
        return Err(VerifyError::Invalid("max_cost_usd must be >= 0".into()));
    }
    Ok(())
}

/// Refuses a suite whose estimated cost passes the cap (nothing sent).
fn check_cap(state: &AppState, t: &Target, max_cost_usd: f64) -> Result<(), VerifyError> {
    match estimate(state, t, max_cost_usd).cost_usd {
        Some(c) if c > max_cost_usd => Err(VerifyError::OverCap(format!(
            "the probe suite may cost about ${c:.4} at {}:{}, more than the cap ${max_cost_usd:.4}; raise max_cost_usd",
            t.provider, t.model
        ))),
        _ => Ok(()),
    }
}

fn open_store(state: &AppState) -> Result<Store, VerifyError> {
    let dir = state.data_dir.as_ref().ok_or(VerifyError::NoDataDir)?;
    Ok(Store::open(&dir.join("verify.db"))?)
}

fn worst_tokens(p: &probes::Probe, model: &str) -> (u64, u64) {
    let body = p.body(model).to_string();
    (
        cost::estimate_tokens(body.len() as u64),
        u64::from(p.max_tokens),
    )
}

/// What the suite costs against `target` (shown before sending).
pub fn estimate(state: &AppState, target: &Target, max_cost_usd: f64) -> Estimate {
    let rt = state.runtime.load();
    let price = cost::price_for(&rt.config.telemetry.prices, &target.provider, &target.model);
    let mut e = Estimate {
        requests: SUITE.len() as u32,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: Some(0.0),
        unpriced: Vec::new(),
        max_cost_usd,
    };
    for p in SUITE {
        let (i, o) = worst_tokens(p, &target.model);
        e.tokens_in += i;
        e.tokens_out += o;
        e.cost_usd = price.and_then(|pr| e.cost_usd.map(|c| c + pr.cost(i, o)));
    }
    if price.is_none() {
        e.unpriced
            .push(format!("{}:{}", target.provider, target.model));
    }
    e
}

/// Sends the suite to `target`, one probe at a time, stopping before a
/// probe whose worst-case cost would pass the cap.
async fn probe_all(
    state: &Arc<AppState>,
    target: &Target,
    max_cost_usd: f64,
) -> (Vec<ProbeResult>, f64, bool) {
    let rt = state.runtime.load_full();
    let price = cost::price_for(&rt.config.telemetry.prices, &target.provider, &target.model);
    let (mut out, mut spent, mut stopped) = (Vec::new(), 0.0, false);
    for p in SUITE {
        let (ti, to) = worst_tokens(p, &target.model);
        let worst = price.map_or(0.0, |pr| pr.cost(ti, to));
        if spent + worst > max_cost_usd {
            stopped = true;
            break;
        }
        let call = Call {
            endpoint: Endpoint::ChatCompletions,
            body: Bytes::from(p.body(&target.model).to_string()),
            provider: target.provider.clone(),
            model: target.model.clone(),
            origin: Origin::Verify,
        };
        let r = match call.run(state, &rt).await {
            Ok(r) => r,
            Err(e) => {
                out.push(failed(p.name, e.to_string()));
                continue;
            }
        };
        spent += r.cost_usd.unwrap_or(worst);
        let ok = r.error.is_none() && r.status < 400;
        let answer = probes::parse_answer(&r.response, p.stream);
        let checked = ok.then(|| p.check(&answer, r.tokens_out));
        let mut shown = answer.text.clone();
        for (name, args) in &answer.tool_calls {
            shown.push_str(&format!("\n[tool call] {name}({args})"));
        }
        out.push(ProbeResult {
            probe: p.name.to_string(),
            request_id: r.request_id,
            status: r.status,
            error: (!ok).then(|| {
                r.error
                    .clone()
                    .unwrap_or_else(|| format!("http_{}", r.status))
            }),
            passed: checked.as_ref().map(Result::is_ok),
            detail: checked.and_then(Result::err),
            answer: shown.trim().chars().take(ANSWER_CAP).collect(),
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            tokens_estimated: r.tokens_estimated,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            cost_usd: r.cost_usd,
        });
    }
    (out, spent, stopped)
}

fn failed(probe: &str, message: String) -> ProbeResult {
    ProbeResult {
        probe: probe.to_string(),
        request_id: String::new(),
        status: 0,
        error: Some(message),
        passed: None,
        detail: None,
        answer: String::new(),
        tokens_in: None,
        tokens_out: None,
        tokens_estimated: false,
        latency_ms: 0.0,
        ttft_ms: None,
        cost_usd: None,
    }
}

/// Records a baseline of `spec.target`. Refused (nothing stored) when the
/// cost cap stops it or a probe gets no answer: a baseline must be whole.
pub async fn record_baseline(
    state: &Arc<AppState>,
    spec: BaselineSpec,
    source: &str,
) -> Result<Baseline, VerifyError> {
    check_target(state, &spec.target, spec.max_cost_usd)?;
    check_cap(state, &spec.target, spec.max_cost_usd)?;
    let store = open_store(state)?;
    let created_ms = now_ms();
    let (probes, spent, stopped) = probe_all(state, &spec.target, spec.max_cost_usd).await;
    if stopped {
        return Err(VerifyError::Invalid(format!(
            "the cost cap (${:.4}) stopped the baseline after {} of {} probes; nothing was stored",
            spec.max_cost_usd,
            probes.len(),
            SUITE.len()
        )));
    }
    if let Some(p) = probes.iter().find(|p| p.error.is_some()) {
        return Err(VerifyError::Invalid(format!(
            "probe {} got no answer ({}); nothing was stored",
            p.probe,
            p.error.as_deref().unwrap_or("")
        )));
    }
    let mut b = Baseline {
        id: 0,
        created_ms,
        suite_version: SUITE_VERSION,
        target: spec.target,
        source: source.to_string(),
        probes,
        spent_usd: spent,
    };
    b.id = store.insert_baseline(&b)?;
    Ok(b)
}

/// Runs the suite against `spec.target` and scores it against the newest
/// baseline of `spec.baseline` (or of the target itself); stored.
pub async fn run(state: &Arc<AppState>, spec: RunSpec, source: &str) -> Result<Run, VerifyError> {
    check_target(state, &spec.target, spec.max_cost_usd)?;
    let tolerance = spec
        .token_tolerance_pct
        .unwrap_or(DEFAULT_TOKEN_TOLERANCE_PCT);
    if !(0.0..=100.0).contains(&tolerance) {
        return Err(VerifyError::Invalid(
            "token_tolerance_pct must be between 0 and 100".into(),
        ));
    }
    let store = open_store(state)?;
    let baseline_target = spec.baseline.clone().unwrap_or_else(|| spec.target.clone());
    let baseline = store.latest_baseline(&baseline_target)?.ok_or_else(|| {
        VerifyError::NoBaseline(format!(
            "no baseline for {}:{}; record one first (aigw verify baseline --target {0}:{1})",
            baseline_target.provider, baseline_target.model
        ))
    })?;
    if baseline.suite_version != SUITE_VERSION {
        return Err(VerifyError::NoBaseline(format!(
            "the baseline for {}:{} was recorded with probe suite v{}; this is v{SUITE_VERSION}: record a new one",
            baseline_target.provider, baseline_target.model, baseline.suite_version
        )));
    }
    check_cap(state, &spec.target, spec.max_cost_usd)?;
    let started_ms = now_ms();
    let (probes, spent, stopped) = probe_all(state, &spec.target, spec.max_cost_usd).await;
    let (verdict, mut reasons) = score(&baseline.probes, &probes, tolerance);
    if stopped {
        reasons.push(Reason {
            kind: ReasonKind::Note,
            probe: None,
            message: format!(
                "the cost cap stopped the run after {} of {} probes",
                probes.len(),
                SUITE.len()
            ),
            counted: false,
        });
    }
    let mut r = Run {
        id: 0,
        started_ms,
        finished_ms: now_ms(),
        source: source.to_string(),
        suite_version: SUITE_VERSION,
        target: spec.target,
        baseline_target,
        baseline_id: baseline.id,
        verdict,
        reasons,
        probes,
        token_tolerance_pct: tolerance,
        spent_usd: spent,
        max_cost_usd: spec.max_cost_usd,
        stopped_by_cost_cap: stopped,
    };
    r.id = store.insert_run(&r)?;
    Ok(r)
}

/// The suite as the UI lists it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, ts(rename = "VerifySuite"))]
pub struct SuiteInfo {
    pub version: u32,
    pub probes: Vec<ProbeInfo>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, ts(rename = "VerifyProbe"))]
pub struct ProbeInfo {
    pub name: String,
    pub about: String,
}

pub fn suite() -> SuiteInfo {
    SuiteInfo {
        version: SUITE_VERSION,
        probes: SUITE
            .iter()
            .map(|p| ProbeInfo {
                name: p.name.into(),
                about: p.about.into(),
            })
            .collect(),
    }
}
