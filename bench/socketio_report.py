#!/usr/bin/env python3
"""Turns `bench/run.sh --socketio`'s JSON lines into one table: ours on /ws,
ours on /socket.io/, and the Node Socket.IO server the seed runs, with the
ratios of ours on /socket.io/ against the other two. Standard library only."""
import json
import sys

from report import fmt, load

LABELS = (("rust", "ours, /ws"), ("rust-sio", "ours, /socket.io/"), ("node-sio", "Node socket.io 4"))


def ratio(a, b):
    """`b` as a multiple of `a`."""
    if a in (None, 0) or b in (None, 0):
        return "n/a"
    return f"{b / a:.1f}x"


def main():
    rows = load(sys.argv[1])
    prefix = sys.argv[2]
    before = [r for r in rows if r.get("label") == "rust-before"]
    pick = lambda scenario, label, **kw: next(
        (r for r in rows if r.get("scenario") == scenario and r.get("label") == label
         and all(r.get(k) == v for k, v in kw.items())), {})
    head = " | ".join(name for _, name in LABELS)
    lines = [f"| measure | {head} | /socket.io/ ÷ /ws | Node ÷ /socket.io/ |",
             "|---|" + "---|" * (len(LABELS) + 2)]

    idle = [pick("idle", label) for label, _ in LABELS]
    if any(idle):
        n = next(r["connections"] for r in idle if r)
        kb = [r.get("kb_per_connection") for r in idle]
        lines.append(f"| idle: memory per connection ({n:,} connections) | "
                     + " | ".join(f"{fmt(v)} KB" for v in kb)
                     + f" | {ratio(kb[0], kb[1])} | {ratio(kb[1], kb[2])} |")
        cpu = [r.get("cpu_percent_idle") for r in idle]
        lines.append("| idle: CPU (% of one core) | " + " | ".join(fmt(v) for v in cpu) + " | | |")

    rates = sorted({r["rate"] for r in rows if r.get("scenario") == "load" and "rate" in r})
    for rate in rates:
        load_rows = [pick("load", label, rate=rate) for label, _ in LABELS]
        target = next((r["rate"] * (r["expected"] // max(r["published"], 1)) for r in load_rows
                       if r and r.get("published")), rate)
        def cell(r, key, unit=""):
            if not r:
                return "n/a"
            if r.get("failed"):
                return "failed"
            lost = r["expected"] - r["delivered"]
            note = f" ({lost:,} lost)" if key == "deliveries_per_s" and lost > 0 else ""
            return f"{fmt(r.get(key))}{unit}{note}"
        for key, name, unit in (("deliveries_per_s", "delivered/s", ""), ("p50_ms", "p50", " ms"),
                                ("p99_ms", "p99", " ms"), ("relay_cpu_cores", "relay CPU (cores)", "")):
            vals = [r.get(key) if r and not r.get("failed") else None for r in load_rows]
            ratios = (f" | {ratio(vals[0], vals[1])} | {ratio(vals[1], vals[2])} |"
                      if key in ("p99_ms", "relay_cpu_cores") else " | | |")
            lines.append(f"| {target:,}/s: {name} | "
                         + " | ".join(cell(r, key, unit) for r in load_rows) + ratios)
    if before:
        # The /ws of the build given as RELAY_BEFORE, in the same run.
        lines += ["", "| /ws: before → after | before | after | after ÷ before |", "|---|---|---|---|"]
        b_idle, a_idle = pick("idle", "rust-before"), pick("idle", "rust")
        if b_idle and a_idle:
            x, y = b_idle.get("kb_per_connection"), a_idle.get("kb_per_connection")
            lines.append(f"| idle: memory per connection | {fmt(x)} KB | {fmt(y)} KB | {ratio(x, y)} |")
        for rate in rates:
            b_load, a_load = pick("load", "rust-before", rate=rate), pick("load", "rust", rate=rate)
            fan = a_load.get("expected", 0) // max(a_load.get("published", 1), 1) or 1
            for key, name in (("p50_ms", "p50 (ms)"), ("p99_ms", "p99 (ms)"), ("relay_cpu_cores", "CPU (cores)")):
                x, y = b_load.get(key), a_load.get(key)
                lines.append(f"| {rate * fan:,}/s: {name} | {fmt(x)} | {fmt(y)} | {ratio(x, y)} |")
    table = "\n".join(lines)
    with open(prefix + ".md", "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
