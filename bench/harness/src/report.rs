//! The markdown report: machine, conditions, one row per target, the aigw
//! targets checked, and every failure with its error.

use std::fmt::Write as _;

use crate::client::LoadResult;
use crate::scenario::{GatewayResult, Level, Pair, Report};

/// `YYYY-MM-DD HH:MM UTC`, from the system clock.
pub fn now_utc() -> String {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // 2026-11-25T16:57:03Z
    format!("{} {} UTC", &t[..10], &t[11..16])
}

fn us(v: u64) -> String {
    if v >= 100_000 {
        format!("{:.0} ms", v as f64 / 1000.0)
    } else if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

fn signed_us(v: i64) -> String {
    if v < 0 {
        format!("−{}", us(v.unsigned_abs()))
    } else {
        format!("+{}", us(v as u64))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A cell for a result that may have failed.
fn cell(r: &LoadResult, f: impl Fn(&LoadResult) -> String) -> String {
    if r.ok == 0 {
        "FAIL".into()
    } else if r.errors > 0 {
        format!("{} ({} err)", f(r), r.errors)
    } else {
        f(r)
    }
}

fn added(p: &Pair, f: impl Fn(&LoadResult) -> u64) -> Option<i64> {
    (p.gateway.ok > 0 && p.direct.ok > 0).then(|| f(&p.gateway) as i64 - f(&p.direct) as i64)
}

fn added_cell(p: Option<&Pair>, f: impl Fn(&LoadResult) -> u64) -> String {
    match p {
        None => "—".into(),
        Some(p) if p.gateway.ok == 0 => "FAIL".into(),
        Some(p) => added(p, f).map_or("—".into(), signed_us),
    }
}

fn ttft_p99(r: &LoadResult) -> u64 {
    r.ttft.as_ref().map_or(0, |t| t.p99)
}

fn streams_cell(levels: &[Level], max_ok: usize) -> String {
    match levels.iter().find(|l| !l.passed()) {
        None if levels.is_empty() => "—".into(),
        None => format!("{max_ok}"),
        Some(l) => format!("{max_ok} (stall at {})", l.streams),
    }
}

/// The whole report, in markdown.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "# Benchmark: direct vs aigw vs peers ({})\n", r.label);
    let _ = writeln!(
        s,
        "{} · profile `{}` · load average at start {:.2}\n",
        r.date, r.params.profile, r.load_at_start
    );
    let _ = writeln!(
        s,
        "**Machine**: {} × {} · {} RAM · Linux {} · {} · {} · Node.js {}\n",
        m.nproc, m.cpu, m.memory, m.kernel, m.rustc, m.python, m.node
    );
    let _ = writeln!(s, "**Gateways**:");
    for g in &r.gateways {
        let _ = writeln!(
            s,
            "- {}: {} (load average {:.2} before{}, {:.2} after)",
            g.name,
            g.version,
            g.load_before,
            if g.quiet_before { "" } else { ", never quiet" },
            g.load_after
        );
    }
    let _ = writeln!(
        s,
        "\nEverything runs on this one machine over 127.0.0.1: the mock upstream \
         (1 thread), the gateway, and the load harness (1 thread). Each gateway's \
         numbers are taken next to fresh direct-to-mock numbers (alternating rounds), \
         and *added* is gateway minus that direct baseline.\n"
    );

    // Latency and throughput.
    let _ = writeln!(s, "## Latency and throughput\n");
    let _ = writeln!(
        s,
        "| target | c=1 p50 | c=1 p99 | added p50 | added p99 | c={c} req/s | % of direct | c={c} p99 | stream TTFT p99 | added TTFT p99 | largest frame gap | streams without stall |",
        c = r.params.c64_concurrency
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    if let Some(first) = r.gateways.iter().find(|g| g.c1.is_some()) {
        let c1 = first.c1.as_ref();
        let c64 = first.c64.as_ref();
        let tt = first.ttft.as_ref();
        let direct_max = r
            .direct_stream_levels
            .iter()
            .take_while(|l| l.passed())
            .map(|l| l.streams)
            .last()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "| direct (mock) | {} | {} | — | — | {} | 100 % | {} | {} | — | {} | {} |",
            c1.map_or("—".into(), |p| cell(&p.direct, |r| us(r.latency.p50))),
            c1.map_or("—".into(), |p| cell(&p.direct, |r| us(r.latency.p99))),
            c64.map_or("—".into(), |p| cell(&p.direct, |r| format!(
                "{:.0}",
                r.rps
            ))),
            c64.map_or("—".into(), |p| cell(&p.direct, |r| us(r.latency.p99))),
            tt.map_or("—".into(), |p| cell(&p.direct, |r| us(ttft_p99(r)))),
            tt.map_or("—".into(), |p| cell(&p.direct, |r| us(r
                .max_gap_us
                .unwrap_or(0)))),
            streams_cell(&r.direct_stream_levels, direct_max),
        );
    }
    for g in &r.gateways {
        if let Some(f) = &g.fatal
            && g.c1.is_none()
        {
            let _ = writeln!(s, "| {} | FAIL: {} | | | | | | | | | | |", g.name, short(f));
            continue;
        }
        let c1 = g.c1.as_ref();
        let c64 = g.c64.as_ref();
        let tt = g.ttft.as_ref();
        let pct = c64
            .filter(|p| p.direct.rps > 0.0 && p.gateway.ok > 0)
            .map_or("—".into(), |p| {
                format!("{:.0} %", p.gateway.rps / p.direct.rps * 100.0)
            });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.name,
            c1.map_or("—".into(), |p| cell(&p.gateway, |r| us(r.latency.p50))),
            c1.map_or("—".into(), |p| cell(&p.gateway, |r| us(r.latency.p99))),
            added_cell(c1, |r| r.latency.p50),
            added_cell(c1, |r| r.latency.p99),
            c64.map_or("—".into(), |p| cell(&p.gateway, |r| format!(
                "{:.0}",
                r.rps
            ))),
            pct,
            c64.map_or("—".into(), |p| cell(&p.gateway, |r| us(r.latency.p99))),
            tt.map_or("—".into(), |p| cell(&p.gateway, |r| us(ttft_p99(r)))),
            added_cell(tt, ttft_p99),
            tt.map_or("—".into(), |p| cell(&p.gateway, |r| us(r
                .max_gap_us
                .unwrap_or(0)))),
            streams_cell(&g.stream_levels, g.max_streams_ok()),
        );
    }

    // Resources.
    let _ = writeln!(s, "\n## Resources\n");
    let _ = writeln!(
        s,
        "| target | CPU per 1,000 req (c={}) | CPU per 1,000 req (c=1) | RSS idle | RSS under load | start to health 200 (restart) | first run |",
        r.params.c64_concurrency
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for g in &r.gateways {
        let cold = g.cold_start_median_ms().map_or("FAIL".into(), |m| {
            if g.cold_start_ms.len() > 1 {
                format!("{m:.0} ms (median of {})", g.cold_start_ms.len())
            } else {
                format!("{m:.0} ms")
            }
        });
        let first = g.first_run_ms.map_or("—".into(), |m| format!("{m:.0} ms"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            g.name,
            g.cpu_ms_per_1k_c64
                .map_or("—".into(), |v| format!("{v:.0} ms")),
            g.cpu_ms_per_1k_c1
                .map_or("—".into(), |v| format!("{v:.0} ms")),
            g.rss_idle_kib.map_or("—".into(), mib),
            g.rss_load_kib.map_or("—".into(), mib),
            cold,
            first,
        );
    }

    // Concurrent streams detail.
    let _ = writeln!(
        s,
        "\n## Concurrent streams\n\nEach stream: 20 deltas 50 ms apart. A stream stalls when it is silent for more than {} ms (request to first event included) or fails.\n",
        r.params.stall_ms
    );
    let _ = writeln!(
        s,
        "| target | streams | ok | errors | stalled | largest gap | largest silence | TTFT p99 |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(&str, &[Level])> = vec![("direct (mock)", &r.direct_stream_levels)];
    for g in &r.gateways {
        rows.push((&g.name, &g.stream_levels));
    }
    for (name, levels) in rows {
        for l in levels {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                l.streams,
                l.ok,
                l.errors,
                l.stalled,
                l.max_gap_us.map_or("—".into(), us),
                l.max_silence_us.map_or("—".into(), us),
                l.ttft_p99_us.map_or("—".into(), us),
            );
        }
    }

    let before = r.gateways.iter().find(|g| g.name == "aigw-before");
    let after = r.gateways.iter().find(|g| g.name == "aigw");
    if let (Some(b), Some(a)) = (before, after) {
        let _ = writeln!(s, "\n## aigw before → after (same run)\n");
        s.push_str(&compare_table(b, a, r.params.c64_concurrency));
    }
    s.push_str(&held_and_tail(r));
    // Both builds of a before/after run are judged (e.g. the plain release
    // build as aigw-before and the PGO build as aigw).
    for a in [after, before].into_iter().flatten() {
        let _ = writeln!(s, "\n## {} against its targets\n", a.name);
        s.push_str(&targets_table(r, a));
    }
    for g in &r.gateways {
        if let Some(t) = &g.translated {
            s.push_str(&crate::translated::section(&g.name, t));
        }
    }

    // Failures, verbatim.
    let mut errs = String::new();
    for g in &r.gateways {
        if let Some(f) = &g.fatal {
            let _ = writeln!(errs, "- **{}**: {}", g.name, f);
        }
        let named = [
            ("c=1", g.c1.as_ref()),
            ("throughput", g.c64.as_ref()),
            ("stream TTFT", g.ttft.as_ref()),
        ];
        for (what, p) in named {
            if let Some(e) = p.and_then(|p| p.gateway.first_error.as_ref()) {
                let n = p.map_or(0, |p| p.gateway.errors);
                let _ = writeln!(errs, "- **{}** {what} ({n} errors): `{}`", g.name, short(e));
            }
        }
        for (path, e) in g.translated.iter().flat_map(|t| t.errors()) {
            let _ = writeln!(errs, "- **{}** {path}: `{}`", g.name, short(e));
        }
        for l in &g.stream_levels {
            if let Some(e) = &l.first_error {
                let _ = writeln!(
                    errs,
                    "- **{}** {} streams ({} errors): `{}`",
                    g.name,
                    l.streams,
                    l.errors,
                    short(e)
                );
            }
        }
    }
    if !errs.is_empty() {
        let _ = writeln!(s, "\n## Failures\n\n{errs}");
    }
    s
}

fn short(e: &str) -> String {
    let one = e.replace(['\n', '|', '`'], " ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

/// `gateway / direct` of a figure both sides measured.
fn ratio(g: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| g as f64 / d as f64)
}

fn times(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}×")
    } else {
        format!("{v:.2}×")
    }
}

/// The direct level with `n` streams, if it ran.
fn level_at(levels: &[Level], n: usize) -> Option<&Level> {
    levels.iter().find(|l| l.streams == n)
}

/// A gateway's added p50 at c=1.
fn added_p50(g: &GatewayResult) -> Option<i64> {
    g.c1.as_ref()
        .filter(|p| p.gateway.ok > 0)
        .and_then(|p| added(p, |r| r.latency.p50))
}

/// The targets for aigw (round 5: ratios measured in this run),
/// met or missed.
pub fn targets_table(r: &Report, a: &GatewayResult) -> String {
    let conc = r.params.c64_concurrency;
    let mut s = String::new();
    let _ = writeln!(s, "| metric | target | measured | |");
    let _ = writeln!(s, "|---|---|---|---|");
    let mut row = |metric: &str, target: &str, measured: Option<String>, ok: Option<bool>| {
        // A figure with nothing to meet (stated against the peers) is "stated".
        let verdict = match (ok, &measured) {
            (Some(true), _) => "met",
            (Some(false), _) => "**missed**",
            (None, Some(_)) => "stated",
            (None, None) => "not measured",
        };
        let _ = writeln!(
            s,
            "| {metric} | {target} | {} | {verdict} |",
            measured.unwrap_or_else(|| "—".into())
        );
    };
    let c1 =
        a.c1.as_ref()
            .filter(|p| p.gateway.ok > 0 && p.direct.ok > 0);
    for (name, f) in [
        (
            "c=1 p50",
            (|r: &LoadResult| r.latency.p50) as fn(&LoadResult) -> u64,
        ),
        ("c=1 p99", |r: &LoadResult| r.latency.p99),
    ] {
        let v = c1.and_then(|p| ratio(f(&p.gateway), f(&p.direct)));
        row(
            &format!("{name} against direct's"),
            "≤ 2×",
            c1.zip(v).map(|(p, v)| {
                format!(
                    "{} ({} against {})",
                    times(v),
                    us(f(&p.gateway)),
                    us(f(&p.direct))
                )
            }),
            v.map(|v| v <= 2.0),
        );
    }
    for (c, g, m) in [
        ("1", a.cpu_ms_per_1k_c1, a.mock_cpu_ms_per_1k_c1),
        (
            &conc.to_string() as &str,
            a.cpu_ms_per_1k_c64,
            a.mock_cpu_ms_per_1k_c64,
        ),
    ] {
        let v = g.zip(m).filter(|&(_, m)| m > 0.0).map(|(g, m)| g / m);
        row(
            &format!("CPU per request against the mock's (c={c})"),
            "≤ 1×",
            v.zip(g.zip(m))
                .map(|(v, (g, m))| format!("{} ({g:.0} µs against {m:.0} µs)", times(v))),
            v.map(|v| v <= 1.0),
        );
    }
    let tt = a
        .ttft
        .as_ref()
        .filter(|p| p.gateway.ok > 0 && p.direct.ok > 0);
    let tt_added = tt.and_then(|p| added(p, ttft_p99));
    row(
        "added TTFT p99 against direct's TTFT p99",
        "≤ 1×",
        tt.zip(tt_added)
            .map(|(p, v)| format!("{} against {}", signed_us(v), us(ttft_p99(&p.direct)))),
        tt.zip(tt_added)
            .map(|(p, v)| v <= ttft_p99(&p.direct) as i64),
    );
    let mine = added_p50(a);
    for (peer, share) in [("litellm", 100), ("portkey", 15)] {
        let theirs = r
            .gateways
            .iter()
            .find(|g| g.name == peer)
            .and_then(added_p50);
        row(
            &format!("added p50 against {peer}'s"),
            &format!("≤ 1/{share}"),
            mine.zip(theirs).map(|(m, t)| {
                format!(
                    "1/{:.0} ({} against {})",
                    t as f64 / m.max(1) as f64,
                    signed_us(m),
                    signed_us(t)
                )
            }),
            mine.zip(theirs).map(|(m, t)| m * share <= t),
        );
    }
    // Bursts: every level both sides ran from 512 up.
    for l in a.stream_levels.iter().filter(|l| l.streams >= 512) {
        let Some(d) = level_at(&r.direct_stream_levels, l.streams) else {
            continue;
        };
        let n = l.streams;
        for (what, g, dv) in [
            ("TTFT p99", l.ttft_p99_us, d.ttft_p99_us),
            ("largest silence", l.max_silence_us, d.max_silence_us),
        ] {
            let v = g.zip(dv).and_then(|(g, dv)| ratio(g, dv));
            row(
                &format!("{n} streams at once: {what} against direct's"),
                "≤ 2×",
                v.zip(g.zip(dv))
                    .map(|(v, (g, dv))| format!("{} ({} against {})", times(v), us(g), us(dv))),
                v.map(|v| v <= 2.0 && l.passed()),
            );
        }
        row(
            &format!("{n} streams at once: stalls and failures"),
            "0",
            Some(format!("{} stalled, {} failed", l.stalled, l.errors)),
            Some(l.passed()),
        );
    }
    let max = r.params.stream_levels.last().copied().unwrap_or(0);
    if a.max_streams_ok() < max {
        row(
            "streams at once without a stall",
            &max.to_string(),
            Some(a.max_streams_ok().to_string()),
            Some(false),
        );
    }
    match &a.held {
        Some(h) => row(
            &format!("{} streams held open", h.level.streams),
            "all served; RSS per stream stated",
            Some(format!(
                "{} ok, {} stalled; {:.1} KiB per stream ({} → {})",
                h.level.ok,
                h.level.stalled,
                h.kib_per_stream(),
                mib(h.rss_before_kib),
                mib(h.rss_peak_kib)
            )),
            Some(h.level.passed()),
        ),
        None => row(
            &format!("{} streams held open", r.params.held_streams),
            "all served",
            None,
            None,
        ),
    }
    let bound = r.params.tail.p99_bound_us;
    let best = a.tail.as_ref().and_then(|t| t.best(bound));
    row(
        &format!("throughput with p99 ≤ {}, one core", us(bound)),
        "stated, against the peers",
        best.map(|b| format!("{:.0} req/s at c={}", b.rps, b.concurrency)),
        None,
    );
    // Earlier rounds' targets that are not ratios.
    let thr = a
        .c64
        .as_ref()
        .filter(|p| p.direct.rps > 0.0 && p.gateway.ok > 0)
        .map(|p| p.gateway.rps / p.direct.rps * 100.0);
    row(
        &format!("throughput vs direct, c={conc}, 20 ms mock"),
        "≥ 80 %",
        thr.map(|v| format!("{v:.0} %")),
        thr.map(|v| v >= 80.0),
    );
    let rss = a.rss_idle_kib;
    row(
        "idle RSS",
        "≤ 20 MB",
        rss.map(mib),
        rss.map(|v| v as f64 * 1024.0 <= 20e6),
    );
    let cold = a.cold_start_median_ms();
    row(
        "cold start (restart) to /healthz 200",
        "≤ 50 ms",
        cold.map(|v| format!("{v:.1} ms")),
        cold.map(|v| v <= 50.0),
    );
    s
}

/// One table row per target that has `T`: the direct path first, then each
/// gateway by name.
fn named_rows<'a, T>(
    direct: Option<&'a T>,
    gateways: &'a [GatewayResult],
    of: impl Fn(&'a GatewayResult) -> Option<&'a T>,
) -> Vec<(&'a str, &'a T)> {
    direct
        .map(|d| ("direct (mock)", d))
        .into_iter()
        .chain(
            gateways
                .iter()
                .filter_map(|g| of(g).map(|t| (g.name.as_str(), t))),
        )
        .collect()
}

/// Held streams and throughput at a tail bound, every target.
fn held_and_tail(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Streams held open\n\nOpened at once (model `{}`: 40 deltas 250 ms apart, ~10 s, in the full \
         profile), for a target that passed every level above; RSS of its process tree before and at the peak.\n",
        r.params.held_model
    );
    let _ = writeln!(
        s,
        "| target | streams | ok | stalled | TTFT p99 | largest silence | RSS before | RSS peak | per stream |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (name, h) in named_rows(r.direct_held.as_ref(), &r.gateways, |g| g.held.as_ref()) {
        let l = &h.level;
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.1} KiB |",
            l.streams,
            l.ok,
            l.stalled,
            l.ttft_p99_us.map_or("—".into(), us),
            l.max_silence_us.map_or("—".into(), us),
            mib(h.rss_before_kib),
            mib(h.rss_peak_kib),
            h.kib_per_stream()
        );
    }
    let bound = r.params.tail.p99_bound_us;
    let _ = writeln!(
        s,
        "\n## Throughput at a tail bound\n\nThe most requests/s with p99 ≤ {} against the instant mock \
         (closed loop, concurrency 1, 2, 4, … for {} s each, ending at the first step over the bound), \
         the server pinned to one core with `taskset` after it started (a gateway keeps the threads it \
         started with), the harness — and behind a gateway the mock — on another. CPU is the server's \
         per request in its best step.\n",
        us(bound),
        r.params.tail.step_s
    );
    let _ = writeln!(
        s,
        "| target | best req/s | at c= | p50 | p99 | CPU per request | first step over the bound |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for (name, t) in named_rows(r.direct_tail.as_ref(), &r.gateways, |g| g.tail.as_ref()) {
        if let Some(why) = &t.skipped {
            let _ = writeln!(s, "| {name} | skipped: {} | | | | | |", short(why));
            continue;
        }
        let over = t
            .steps
            .iter()
            .find(|st| st.errors > 0 || st.ok == 0 || st.p99_us > bound)
            .map_or("none (climb ended)".into(), |st| {
                format!(
                    "c={}: {:.0} req/s, p99 {}{}",
                    st.concurrency,
                    st.rps,
                    us(st.p99_us),
                    if st.errors > 0 {
                        format!(", {} errors", st.errors)
                    } else {
                        String::new()
                    }
                )
            });
        match t.best(bound) {
            Some(b) => {
                let _ = writeln!(
                    s,
                    "| {name} | {:.0} | {} | {} | {} | {} | {over} |",
                    b.rps,
                    b.concurrency,
                    us(b.p50_us),
                    us(b.p99_us),
                    b.cpu_us_per_req
                        .map_or("—".into(), |v| format!("{v:.0} µs")),
                );
            }
            None => {
                let _ = writeln!(s, "| {name} | none within the bound | | | | | {over} |");
            }
        }
    }
    s
}

/// The main numbers of two aigw builds side by side.
pub fn compare_table(b: &GatewayResult, a: &GatewayResult, conc: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| metric | before | after |");
    let _ = writeln!(s, "|---|---|---|");
    let lat = |g: &GatewayResult, f: fn(&LoadResult) -> u64| {
        g.c1.as_ref()
            .filter(|p| p.gateway.ok > 0)
            .and_then(|p| added(p, f))
            .map_or("—".into(), signed_us)
    };
    let tt = |g: &GatewayResult| {
        g.ttft
            .as_ref()
            .filter(|p| p.gateway.ok > 0)
            .and_then(|p| added(p, ttft_p99))
            .map_or("—".into(), signed_us)
    };
    let thr = |g: &GatewayResult| {
        g.c64
            .as_ref()
            .filter(|p| p.direct.rps > 0.0 && p.gateway.ok > 0)
            .map_or("—".into(), |p| {
                format!(
                    "{:.0} req/s ({:.0} % of direct)",
                    p.gateway.rps,
                    p.gateway.rps / p.direct.rps * 100.0
                )
            })
    };
    let cpu = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0} µs"));
    let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} ms"));
    let rows: [(String, String, String); 9] = [
        (
            "added latency p50, c=1".into(),
            lat(b, |r| r.latency.p50),
            lat(a, |r| r.latency.p50),
        ),
        (
            "added latency p99, c=1".into(),
            lat(b, |r| r.latency.p99),
            lat(a, |r| r.latency.p99),
        ),
        (format!("throughput, c={conc}"), thr(b), thr(a)),
        (
            format!("CPU per request, c={conc}"),
            cpu(b.cpu_ms_per_1k_c64),
            cpu(a.cpu_ms_per_1k_c64),
        ),
        (
            "CPU per request, c=1".into(),
            cpu(b.cpu_ms_per_1k_c1),
            cpu(a.cpu_ms_per_1k_c1),
        ),
        ("added TTFT p99".into(), tt(b), tt(a)),
        (
            "streams without a stall".into(),
            b.max_streams_ok().to_string(),
            a.max_streams_ok().to_string(),
        ),
        (
            "RSS idle / under load".into(),
            format!(
                "{} / {}",
                b.rss_idle_kib.map_or("—".into(), mib),
                b.rss_load_kib.map_or("—".into(), mib)
            ),
            format!(
                "{} / {}",
                a.rss_idle_kib.map_or("—".into(), mib),
                a.rss_load_kib.map_or("—".into(), mib)
            ),
        ),
        (
            "start to /healthz 200: restart / first run".into(),
            format!("{} / {}", ms(b.cold_start_median_ms()), ms(b.first_run_ms)),
            format!("{} / {}", ms(a.cold_start_median_ms()), ms(a.first_run_ms)),
        ),
    ];
    for (m, x, y) in rows {
        let _ = writeln!(s, "| {m} | {x} | {y} |");
    }
    s
}
