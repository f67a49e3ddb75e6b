"""Draws bench/results/LABEL.png from LABEL.json (written by aigw-bench run).

Usage: bench/.venv/bin/python bench/chart.py bench/results/latest.json
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"direct": "#9e9e9e", "aigw-before": "#90caf9", "aigw": "#1565c0", "litellm": "#ef6c00", "portkey": "#6a1b9a"}


def ok(pair_side):
    return pair_side is not None and pair_side.get("ok", 0) > 0


def added(pair, key):
    """Gateway minus direct for a latency percentile (µs), or None."""
    if not pair or not ok(pair["gateway"]) or not ok(pair["direct"]):
        return None
    return pair["gateway"]["latency"][key] - pair["direct"]["latency"][key]


def added_ttft(pair):
    if not pair or not ok(pair["gateway"]) or not ok(pair["direct"]):
        return None
    g, d = pair["gateway"].get("ttft"), pair["direct"].get("ttft")
    if not g or not d:
        return None
    return g["p99"] - d["p99"]


def bars(ax, names, values, title, unit, log=False, fmt="{:.0f}"):
    xs = range(len(names))
    heights = [v if v is not None else 0 for v in values]
    if log:
        heights = [max(h, 1) for h in heights]
    colors = [COLORS.get(n, "#607d8b") for n in names]
    ax.bar(xs, heights, color=colors)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    if log:
        ax.set_yscale("log")
    for x, v, h in zip(xs, values, heights):
        label = "FAIL" if v is None else fmt.format(v)
        ax.annotate(label, (x, h), ha="center", va="bottom", fontsize=8)


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    r = json.loads(path.read_text())
    gws = r["gateways"]
    names = [g["name"] for g in gws]

    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    bars(axes[0][0], names, [added(g.get("c1"), "p50") for g in gws],
         "added latency p50, c=1 (gateway − direct)", "µs", log=True)
    bars(axes[0][1], names, [added(g.get("c1"), "p99") for g in gws],
         "added latency p99, c=1", "µs", log=True)
    bars(axes[0][2], names, [added_ttft(g.get("ttft")) for g in gws],
         "added time to first token p99 (streams)", "µs", log=True)

    c64 = next((g["c64"] for g in gws if g.get("c64")), None)
    thr_names = ["direct"] + names
    thr = [c64["direct"]["rps"] if c64 else None] + [
        g["c64"]["gateway"]["rps"] if g.get("c64") and ok(g["c64"]["gateway"]) else None for g in gws
    ]
    conc = r["params"]["c64_concurrency"]
    bars(axes[1][0], thr_names, thr, f"throughput, c={conc}, 20 ms mock", "requests/s")
    bars(axes[1][1], names, [g.get("cpu_ms_per_1k_c64") for g in gws],
         f"gateway CPU per 1,000 requests (c={conc})", "ms", log=True)
    rss_idle = [g["rss_idle_kib"] / 1024 if g.get("rss_idle_kib") else None for g in gws]
    rss_load = [g["rss_load_kib"] / 1024 if g.get("rss_load_kib") else None for g in gws]
    ax = axes[1][2]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [v or 0 for v in rss_idle], width=0.4, label="idle", color="#90caf9")
    ax.bar([x + 0.2 for x in xs], [v or 0 for v in rss_load], width=0.4, label="under load", color="#1565c0")
    for x, a, b in zip(xs, rss_idle, rss_load):
        ax.annotate("FAIL" if a is None else f"{a:.0f}", (x - 0.2, a or 0), ha="center", va="bottom", fontsize=8)
        ax.annotate("FAIL" if b is None else f"{b:.0f}", (x + 0.2, b or 0), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names)
    ax.set_yscale("log")
    ax.set_title("RSS (process tree)", fontsize=10)
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8)

    m = r["machine"]
    fig.suptitle(
        f"direct vs gateways — {r['date']} — {m['nproc']} × {m['cpu']}, Linux {m['kernel']}, "
        f"load {r['load_at_start']:.2f}",
        fontsize=11,
    )
    fig.tight_layout()
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
