//! Scoring a run against its baseline: input-token counts on the fixed
//! prompts, checks the baseline passed and the run failed, probes without an
//! answer; the latency profile is reported but never changes the verdict.

use serde::{Deserialize, Serialize};

use super::ProbeResult;

/// How far a reported input-token count may be from the baseline's
/// before it counts (percent), unless the run asks otherwise.
pub const DEFAULT_TOKEN_TOLERANCE_PCT: f64 = 10.0;

/// A median latency (or time to first token) this many times the
/// baseline's, or under its inverse, is mentioned.
const LATENCY_RATIO: f64 = 3.0;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, ts(rename = "VerifyVerdict"))]
pub enum Verdict {
    Normal,
    Suspect,
    HighlySuspect,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, ts(rename = "VerifyReasonKind"))]
pub enum ReasonKind {
    /// Input tokens of a fixed prompt off the baseline's.
    Tokens,
    /// A check the baseline passed failed.
    Check,
    /// A probe got no usable answer.
    Error,
    /// The latency profile differs (never changes the verdict).
    Latency,
    /// Something that could not be compared.
    Note,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, ts(rename = "VerifyReason"))]
pub struct Reason {
    pub kind: ReasonKind,
    pub probe: Option<String>,
    pub message: String,
    /// Whether it counted towards the verdict.
    pub counted: bool,
}

fn reason(kind: ReasonKind, probe: Option<&str>, message: String, counted: bool) -> Reason {
    Reason {
        kind,
        probe: probe.map(str::to_string),
        message,
        counted,
    }
}

/// `normal` with no counted reason; `suspect` for off token counts, one
/// failed check, or most probes unanswered; `highly_suspect` for two or more
/// failed checks, or failed checks together with off token counts.
pub fn score(
    baseline: &[ProbeResult],
    run: &[ProbeResult],
    tolerance_pct: f64,
) -> (Verdict, Vec<Reason>) {
    let mut reasons = Vec::new();
    let (mut tokens_off, mut failed, mut errors) = (0u32, 0u32, 0u32);
    let (mut lat, mut ttft) = (Vec::new(), Vec::new());
    for r in run {
        let p = Some(r.probe.as_str());
        let Some(b) = baseline.iter().find(|b| b.probe == r.probe) else {
            reasons.push(reason(
                ReasonKind::Note,
                p,
                "not in the baseline".into(),
                false,
            ));
            continue;
        };
        if let Some(e) = &r.error {
            errors += 1;
            reasons.push(reason(
                ReasonKind::Error,
                p,
                format!("no answer: {e}"),
                false,
            ));
            continue;
        }
        match (b.tokens_in, r.tokens_in) {
            (Some(bt), Some(rt)) if !b.tokens_estimated && !r.tokens_estimated && bt > 0 => {
                let off = (rt as f64 - bt as f64).abs() / bt as f64 * 100.0;
                if off > tolerance_pct {
                    tokens_off += 1;
                    reasons.push(reason(
                        ReasonKind::Tokens,
                        p,
                        format!(
                            "{rt} input tokens for the fixed prompt, the baseline reported {bt} ({off:.0}% off, tolerance {tolerance_pct}%)"
                        ),
                        true,
                    ));
                }
            }
            _ => reasons.push(reason(
                ReasonKind::Note,
                p,
                "no reported input token count to compare".into(),
                false,
            )),
        }
        match (b.passed, r.passed) {
            (Some(true), Some(false)) => {
                failed += 1;
                let why = r.detail.clone().unwrap_or_default();
                reasons.push(reason(
                    ReasonKind::Check,
                    p,
                    format!("check failed: {why}"),
                    true,
                ));
            }
            (Some(false), Some(false)) => reasons.push(reason(
                ReasonKind::Note,
                p,
                "check failed, but the baseline failed it too".into(),
                false,
            )),
            _ => {}
        }
        if b.error.is_none() && b.latency_ms > 0.0 {
            lat.push(r.latency_ms / b.latency_ms);
        }
        if let (Some(bt), Some(rt)) = (b.ttft_ms, r.ttft_ms)
            && bt > 0.0
        {
            ttft.push(rt / bt);
        }
    }
    for (what, ratios) in [("latency", &mut lat), ("time to first token", &mut ttft)] {
        if let Some(m) = median(ratios)
            && !(1.0 / LATENCY_RATIO..=LATENCY_RATIO).contains(&m)
        {
            reasons.push(reason(
                ReasonKind::Latency,
                None,
                format!("median {what} is {m:.2}× the baseline's"),
                false,
            ));
        }
    }
    let n = run.len() as u32;
    if n > 0 && errors * 2 > n {
        reasons.push(reason(
            ReasonKind::Error,
            None,
            format!("{errors} of {n} probes got no answer: too little to verify"),
            true,
        ));
    }
    let verdict = if failed >= 2 || (failed >= 1 && tokens_off >= 1) {
        Verdict::HighlySuspect
    } else if failed == 1 || tokens_off >= 1 || (n > 0 && errors * 2 > n) {
        Verdict::Suspect
    } else {
        Verdict::Normal
    };
    (verdict, reasons)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(probe: &str, tokens_in: u64, passed: bool) -> ProbeResult {
        ProbeResult {
            probe: probe.into(),
            request_id: String::new(),
            status: 200,
            error: None,
            passed: Some(passed),
            detail: (!passed).then(|| "wrong".into()),
            answer: String::new(),
            tokens_in: Some(tokens_in),
            tokens_out: Some(3),
            tokens_estimated: false,
            latency_ms: 100.0,
            ttft_ms: None,
            cost_usd: None,
        }
    }

    #[test]
    fn verdict_levels() {
        let base = vec![pr("a", 100, true), pr("b", 50, true), pr("c", 10, false)];
        let same = vec![pr("a", 105, true), pr("b", 50, true), pr("c", 10, false)];
        let (v, r) = score(&base, &same, 10.0);
        assert_eq!(v, Verdict::Normal, "{r:?}");
        let tokens = vec![pr("a", 130, true), pr("b", 50, true), pr("c", 10, false)];
        assert_eq!(score(&base, &tokens, 10.0).0, Verdict::Suspect);
        let one = vec![pr("a", 100, false), pr("b", 50, true), pr("c", 10, false)];
        assert_eq!(score(&base, &one, 10.0).0, Verdict::Suspect);
        let two = vec![pr("a", 100, false), pr("b", 50, false), pr("c", 10, true)];
        assert_eq!(score(&base, &two, 10.0).0, Verdict::HighlySuspect);
        let both = vec![pr("a", 70, false), pr("b", 50, true), pr("c", 10, true)];
        let (v, r) = score(&base, &both, 10.0);
        assert_eq!(v, Verdict::HighlySuspect);
        assert!(r.iter().any(|r| r.kind == ReasonKind::Tokens && r.counted));
        assert!(r.iter().any(|r| r.kind == ReasonKind::Check && r.counted));
    }

    #[test]
    fn latency_is_a_reason_only() {
        let base = vec![pr("a", 100, true)];
        let mut slow = vec![pr("a", 100, true)];
        slow[0].latency_ms = 1000.0;
        let (v, r) = score(&base, &slow, 10.0);
        assert_eq!(v, Verdict::Normal);
        assert!(
            r.iter()
                .any(|r| r.kind == ReasonKind::Latency && !r.counted)
        );
    }
}
