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
    if let Some(a) = after {
        let _ = writeln!(s, "\n## aigw against its targets\n");
        s.push_str(&targets_table(a, r.params.c64_concurrency));
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

/// The targets for aigw, met or missed.
pub fn targets_table(a: &GatewayResult, conc: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| metric | target | measured | |");
    let _ = writeln!(s, "|---|---|---|---|");
    let mut row = |metric: &str, target: &str, measured: Option<String>, ok: Option<bool>| {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(
            s,
            "| {metric} | {target} | {} | {verdict} |",
            measured.unwrap_or_else(|| "—".into())
        );
    };
    let c1 = a.c1.as_ref().filter(|p| p.gateway.ok > 0);
    let p50 = c1.and_then(|p| added(p, |r| r.latency.p50));
    row(
        "added latency p50, c=1",
        "≤ 50 µs",
        p50.map(signed_us),
        p50.map(|v| v <= 50),
    );
    let p99 = c1.and_then(|p| added(p, |r| r.latency.p99));
    row(
        "added latency p99, c=1",
        "≤ 100 µs",
        p99.map(signed_us),
        p99.map(|v| v <= 100),
    );
    let cpu = a.cpu_ms_per_1k_c64;
    row(
        &format!("gateway CPU per request (c={conc})"),
        "≤ 50 µs",
        cpu.map(|v| format!("{v:.0} µs")),
        cpu.map(|v| v <= 50.0),
    );
    let cpu1 = a.cpu_ms_per_1k_c1;
    row(
        "gateway CPU per request (c=1)",
        "≤ 50 µs",
        cpu1.map(|v| format!("{v:.0} µs")),
        cpu1.map(|v| v <= 50.0),
    );
    let tt = a
        .ttft
        .as_ref()
        .filter(|p| p.gateway.ok > 0)
        .and_then(|p| added(p, ttft_p99));
    row(
        "added TTFT p99 (streams)",
        "≤ 200 µs",
        tt.map(signed_us),
        tt.map(|v| v <= 200),
    );
    let streams = a.max_streams_ok();
    row(
        "concurrent streams without a stall",
        "512",
        (!a.stream_levels.is_empty()).then(|| streams.to_string()),
        (!a.stream_levels.is_empty()).then_some(streams >= 512),
    );
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
