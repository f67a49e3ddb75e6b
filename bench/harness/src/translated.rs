//! Translated paths in the standard run (issue 22): what aigw adds when it
//! translates between client and upstream protocols, against chat
//! passthrough on the same aigw, in alternating rounds in the same minutes
//! (the loop is [`kinds::measure`]):
//!
//! - Messages → Chat: an Anthropic Messages client (Claude Code) routed to
//!   the OpenAI-kind `mock` provider;
//! - Responses → Chat: a Responses client (Codex) routed to an OpenAI-kind
//!   provider with `responses = "translate"` (an upstream without
//!   `/v1/responses`);
//! - Chat → Messages: a chat-completions client routed to an
//!   Anthropic-kind provider (the mock speaks Messages).
//!
//! The target: added p50/p99, CPU per request and TTFT p99 of each
//! translated path at most [`MAX_RATIO`] × the passthrough path's.
//! Only aigw gateways run this; their config gets [`aigw_config`].

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::Serialize;

use crate::client::{Endpoint, LoadResult, Wire};
use crate::kinds::{self, Counts, Measured, PathResult, PathSpec};
use crate::procs::Proc;
use crate::scenario::{self, M_C1, M_TTFT};

/// The key the Anthropic-kind provider sends (the mock checks none).
pub const ANTHROPIC_KEY_ENV: &str = "AIGW_BENCH_ANTHROPIC_KEY";

/// Each translated figure may be at most this many times passthrough's.
pub const MAX_RATIO: f64 = 1.5;

/// Routes to the two extra providers; the mock answers by the forwarded
/// model (`mock-l0`, `mock-l0-n5-p10`).
const RESPONSES_C1: &str = "chatonly-mock-l0";
const RESPONSES_TTFT: &str = "chatonly-mock-l0-n5-p10";
const ANTHROPIC_C1: &str = "anthropic-mock-l0";
const ANTHROPIC_TTFT: &str = "anthropic-mock-l0-n5-p10";

/// Passthrough first: the row the others are compared with.
const PATHS: &[PathSpec] = &[
    PathSpec {
        name: "chat → chat (passthrough)",
        wire: Wire::Chat,
        model_c1: M_C1,
        model_ttft: M_TTFT,
    },
    PathSpec {
        name: "Messages → Chat",
        wire: Wire::Messages,
        model_c1: M_C1,
        model_ttft: M_TTFT,
    },
    PathSpec {
        name: "Responses → Chat",
        wire: Wire::Responses,
        model_c1: RESPONSES_C1,
        model_ttft: RESPONSES_TTFT,
    },
    PathSpec {
        name: "Chat → Messages",
        wire: Wire::Chat,
        model_c1: ANTHROPIC_C1,
        model_ttft: ANTHROPIC_TTFT,
    },
];

/// The providers and routes appended to aigw's config (next to its
/// OpenAI-kind `mock` provider, which serves passthrough and Messages →
/// Chat): an OpenAI-kind provider without a Responses API and an
/// Anthropic-kind one, both pointing at the mock.
pub fn aigw_config(mock: SocketAddr) -> String {
    let mut toml = format!(
        "\n[[providers]]\nname = \"mock-chat-only\"\nkind = \"openai\"\n\
         base_url = \"http://{mock}/v1\"\nresponses = \"translate\"\n\
         \n[[providers]]\nname = \"mock-anthropic\"\nkind = \"anthropic\"\n\
         base_url = \"http://{mock}/v1\"\napi_key = \"env:{ANTHROPIC_KEY_ENV}\"\n"
    );
    for (model, provider, fwd) in [
        (RESPONSES_C1, "mock-chat-only", M_C1),
        (RESPONSES_TTFT, "mock-chat-only", M_TTFT),
        (ANTHROPIC_C1, "mock-anthropic", M_C1),
        (ANTHROPIC_TTFT, "mock-anthropic", M_TTFT),
    ] {
        let _ = write!(
            toml,
            "\n[[routes]]\nmodel = \"{model}\"\n[[routes.targets]]\nprovider = \"{provider}\"\nmodel = \"{fwd}\"\n"
        );
    }
    toml
}

/// The counts for a run's profile: `--quick` stays a few seconds.
fn counts(p: &scenario::Params) -> Counts {
    if p.profile == "quick" {
        Counts {
            rounds: 1,
            c1_requests: 100,
            c1_warmup: 10,
            ttft_streams: 5,
            prompt_bytes: p.prompt_bytes,
        }
    } else {
        Counts {
            rounds: 6,
            c1_requests: 1000,
            c1_warmup: 100,
            ttft_streams: 25,
            prompt_bytes: p.prompt_bytes,
        }
    }
}

/// What the scenario measured; `m.paths[0]` is passthrough.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Translated {
    pub counts: Option<Counts>,
    #[serde(flatten)]
    pub m: Measured,
}

impl Translated {
    /// Whether any path had an error or no answer.
    pub fn failed(&self) -> bool {
        self.m.paths.len() != PATHS.len()
            || self
                .m
                .paths
                .iter()
                .any(|p| p.c1.ok == 0 || p.c1.errors > 0 || p.ttft.ok == 0 || p.ttft.errors > 0)
    }

    /// Every path's first error, for the report's failures.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.m.paths.iter().filter_map(|p| {
            p.c1.first_error
                .as_deref()
                .or(p.ttft.first_error.as_deref())
                .map(|e| (p.name.as_str(), e))
        })
    }
}

/// Runs the scenario against the running aigw `gw` on `port`.
pub async fn run(gw: &Proc, direct: &Endpoint, port: u16, p: &scenario::Params) -> Translated {
    eprintln!("   translated paths");
    let n = counts(p);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let m = kinds::measure(gw, direct, addr, PATHS, &n).await;
    for r in &m.paths {
        eprintln!(
            "   {}: {} ok, {} err, p50 {} µs, p99 {} µs, CPU {:.0} µs/req, TTFT p99 {} µs{}",
            r.name,
            r.c1.ok + r.ttft.ok,
            r.c1.errors + r.ttft.errors,
            r.c1.latency.p50,
            r.c1.latency.p99,
            r.cpu_ms_per_1k,
            ttft_p99(&r.ttft),
            r.c1.first_error
                .as_ref()
                .or(r.ttft.first_error.as_ref())
                .map_or(String::new(), |e| format!(" [first error: {e}]")),
        );
    }
    Translated { counts: Some(n), m }
}

fn ttft_p99(r: &LoadResult) -> u64 {
    r.ttft.as_ref().map_or(0, |t| t.p99)
}

/// The figures a path is judged on, in µs: added p50, added p99, CPU per
/// request, added TTFT p99 (`None` when it has no answers).
fn figures(p: &PathResult, d: &Measured) -> Option<[f64; 4]> {
    (p.c1.ok > 0 && p.ttft.ok > 0).then(|| {
        let added = |a: u64, b: u64| a as f64 - b as f64;
        [
            added(p.c1.latency.p50, d.direct_c1.latency.p50),
            added(p.c1.latency.p99, d.direct_c1.latency.p99),
            p.cpu_ms_per_1k,
            added(ttft_p99(&p.ttft), ttft_p99(&d.direct_ttft)),
        ]
    })
}

const FIGURES: [&str; 4] = ["added p50", "added p99", "CPU", "added TTFT p99"];

fn us(v: f64) -> String {
    format!("{v:.0} µs")
}

fn signed(v: f64) -> String {
    if v < 0.0 {
        format!("−{:.0} µs", -v)
    } else {
        format!("+{v:.0} µs")
    }
}

/// `value (ratio×)`; the ratio only for translated rows with a positive base.
fn with_ratio(text: String, v: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 => format!("{text} ({:.2}×)", v / b),
        Some(_) => format!("{text} (— ×)"),
        None => text,
    }
}

/// The report section for gateway `name`.
pub fn section(name: &str, t: &Translated) -> String {
    let mut s = String::new();
    let d = &t.m;
    let _ = writeln!(s, "\n## Translated paths ({name})\n");
    let n = t.counts.as_ref();
    let _ = writeln!(
        s,
        "Same aigw, alternating rounds in the same minutes ({} × {} sequential requests and {} \
         × {} streams of 5 deltas 10 ms apart per path, each round with direct-to-mock). \
         *Added* is the path minus direct; in brackets, each translated figure as a ratio to \
         passthrough's; the verdict column: target ≤ {MAX_RATIO}× on added p50, added p99, CPU per request and \
         added TTFT p99. CPU = aigw's user + system time over that path's c=1 requests \
         (clock-tick resolution: 10 ms per tick over the run's requests; a figure whose \
         passthrough base is 0 is not judged).\n",
        n.map_or(0, |n| n.rounds),
        n.map_or(0, |n| n.c1_requests),
        n.map_or(0, |n| n.rounds),
        n.map_or(0, |n| n.ttft_streams),
    );
    let _ = writeln!(
        s,
        "| path | c=1 p50 | c=1 p99 | added p50 | added p99 | CPU per request | TTFT p99 | added TTFT p99 | ≤ {MAX_RATIO}× passthrough |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        s,
        "| direct (mock) | {} | {} | — | — | — | {} | — | |",
        us(d.direct_c1.latency.p50 as f64),
        us(d.direct_c1.latency.p99 as f64),
        us(ttft_p99(&d.direct_ttft) as f64),
    );
    let base = d.paths.first().and_then(|b| figures(b, d));
    for (i, p) in d.paths.iter().enumerate() {
        let Some(f) = figures(p, d) else {
            let _ = writeln!(s, "| {} | FAIL | | | | | | | |", p.name);
            continue;
        };
        let b = |k: usize| if i == 0 { None } else { base.map(|b| b[k]) };
        let raw = |f: fn(&PathResult) -> u64| {
            let v = f(p) as f64;
            let base = (i > 0).then(|| f(&d.paths[0]) as f64);
            with_ratio(us(v), v, base)
        };
        let verdict = if i == 0 {
            String::new()
        } else if let Some(bf) = base {
            // A base of 0 or less (CPU under one clock tick, or passthrough
            // faster than direct) gives no ratio to judge.
            let (judged, unjudged): (Vec<usize>, Vec<usize>) = (0..4).partition(|&k| bf[k] > 0.0);
            let missed: Vec<&str> = judged
                .into_iter()
                .filter(|&k| f[k] > MAX_RATIO * bf[k])
                .map(|k| FIGURES[k])
                .collect();
            let mut v = if missed.is_empty() {
                "met".to_string()
            } else {
                format!("**missed**: {}", missed.join(", "))
            };
            if !unjudged.is_empty() {
                let names: Vec<&str> = unjudged.into_iter().map(|k| FIGURES[k]).collect();
                let _ = write!(v, " (not judged: {})", names.join(", "));
            }
            v
        } else {
            "— (no passthrough)".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {verdict} |",
            p.name,
            raw(|p| p.c1.latency.p50),
            raw(|p| p.c1.latency.p99),
            with_ratio(signed(f[0]), f[0], b(0)),
            with_ratio(signed(f[1]), f[1], b(1)),
            with_ratio(us(f[2]), f[2], b(2)),
            raw(|p| ttft_p99(&p.ttft)),
            with_ratio(signed(f[3]), f[3], b(3)),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Dist;

    fn result(p50: u64, p99: u64, ttft_p99: Option<u64>) -> LoadResult {
        let mut r = LoadResult::default();
        r.ok = 10;
        r.latency = Dist {
            p50,
            p99,
            ..Dist::default()
        };
        r.ttft = ttft_p99.map(|p99| Dist {
            p99,
            ..Dist::default()
        });
        r
    }

    fn path(name: &str, p50: u64, cpu: f64, ttft: u64) -> PathResult {
        PathResult {
            name: name.into(),
            c1: result(p50, p50 * 2, None),
            ttft: result(0, 0, Some(ttft)),
            cpu_ms_per_1k: cpu,
        }
    }

    #[test]
    fn judges_each_figure_against_passthrough() {
        let t = Translated {
            counts: None,
            m: Measured {
                direct_c1: result(20, 40, None),
                direct_ttft: result(0, 0, Some(100)),
                paths: vec![
                    path("pass", 120, 50.0, 300),
                    // added p50 +150 vs +100 (1.5×: met), p99 +300 vs +200.
                    path("a", 170, 75.0, 400),
                    // added p50 +160 (1.6×), CPU 2×.
                    path("b", 180, 100.0, 300),
                    path("c", 120, 50.0, 300),
                ],
            },
        };
        assert!(!t.failed());
        let s = section("aigw", &t);
        let row = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap()
                .to_string()
        };
        assert!(row("a").ends_with("| met |"), "{}", row("a"));
        assert!(
            row("b").ends_with("| **missed**: added p50, added p99, CPU |"),
            "{}",
            row("b")
        );
        assert!(row("a").contains("+150 µs (1.50×)"), "{}", row("a"));

        // No CPU tick on passthrough: CPU is not judged.
        let mut t = t;
        t.m.paths[0].cpu_ms_per_1k = 0.0;
        assert!(
            section("aigw", &t)
                .lines()
                .any(|l| l.starts_with("| b |") && l.contains("(not judged: CPU)"))
        );
        t.m.paths[3].ttft.errors = 1;
        assert!(t.failed());
    }
}
