"""Per-round ratios of an `ab.sh -w chat,messages,...` run.

    python3 bench/ab_ratios.py AB_OUTPUT [SKIP_ROUNDS]

Reads the lines `ab.sh` prints (one per binary, protocol and load, each
round ending with direct's stream line) and prints, for every binary and
translated protocol, each round's ratio to that binary's chat passthrough
in the same round — added p50, added p99, CPU per request and added TTFT
p99, where *added* is minus direct's figure of that round — and their
median; then each binary's passthrough p50 and p99 as a ratio to direct's
(issue 22's headline ratios). `ab.sh` runs it at the end when `-w` names
chat and another protocol. SKIP_ROUNDS drops the first rounds (a warm-up).
"""

import re
import statistics
import sys

LINE = re.compile(
    r"(\S+)\s+(\S+) (\S+)( --stream)?\s+p50\s+(\d+)\s+p90\s+\d+\s+p99\s+(\d+) µs\s+CPU\s+([\d.]+)"
)


def rounds_of(lines):
    rounds, cur = [], {}
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        name, wire, stream = m[1], m[2], bool(m[4])
        cur[(name, wire, stream)] = {"p50": int(m[5]), "p99": int(m[6]), "cpu": float(m[7])}
        if name == "direct" and stream:
            rounds.append(cur)
            cur = {}
    return rounds


def ratio(t, p):
    return t / p if p > 0 else float("nan")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        rounds = rounds_of(f)
    rounds = rounds[int(sys.argv[2]) if len(sys.argv) > 2 else 0 :]
    if not rounds:
        sys.exit("ab_ratios: no whole round in the input")
    if not any(k[0] != "direct" and k[1] == "chat" for k in rounds[0]):
        sys.exit("ab_ratios: no chat passthrough lines to take the ratios against (run ab.sh with -w chat,...)")
    names = sorted({k[0] for k in rounds[0] if k[0] != "direct"})
    wires = sorted({k[1] for k in rounds[0] if k[1] != "chat"})
    figures = [
        ("added p50", False, "p50", True),
        ("added p99", False, "p99", True),
        ("CPU", False, "cpu", False),
        ("added TTFT p99", True, "p99", True),
    ]
    print(f"ratios to passthrough, per round ({len(rounds)} rounds), then the median:")
    for name in names:
        for wire in wires:
            parts = []
            for label, stream, key, added in figures:
                rs = []
                for r in rounds:
                    if (name, wire, stream) not in r:
                        continue
                    d = r[("direct", "chat", stream)][key] if added else 0
                    rs.append(ratio(r[(name, wire, stream)][key] - d, r[(name, "chat", stream)][key] - d))
                if rs:
                    each = " ".join(f"{x:.2f}" for x in rs)
                    parts.append(f"{label} {each} (median {statistics.median(rs):.2f}×)")
            print(f"  {name} {wire} -> chat: " + "; ".join(parts))
    print("passthrough against direct, per round, then the median:")
    for name in names:
        out = []
        for key in ("p50", "p99"):
            rs = [ratio(r[(name, "chat", False)][key], r[("direct", "chat", False)][key]) for r in rounds]
            each = " ".join(f"{x:.2f}" for x in rs)
            out.append(f"c=1 {key} {each} (median {statistics.median(rs):.2f}×)")
        print(f"  {name}: " + "; ".join(out))


if __name__ == "__main__":
    main()
