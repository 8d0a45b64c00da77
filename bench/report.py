#!/usr/bin/env python3
"""Turns bench/run.sh's JSON lines into a table (ours, baseline, ratio) and an
SVG plot of latency percentiles against delivered load. Standard library only."""
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def ratio(ours, base, higher_is_better):
    if ours in (None, 0) or base in (None, 0):
        return "n/a"
    r = ours / base if higher_is_better else base / ours
    return f"{r:.1f}x"


def best_rate(rows, label, p99_limit=100.0):
    """The delivered rate of the last step, going up in load, before the
    first one whose p99 reached the limit or that lost frames. A later step
    that happens to pass again (the figures are noisy near the knee) does
    not count."""
    steps = sorted((r for r in rows if r.get("scenario") == "load" and r.get("label") == label),
                   key=lambda r: r.get("rate", 0))
    best = None
    for r in steps:
        ok = (not r.get("failed") and r.get("p99_ms") is not None and r["p99_ms"] < p99_limit
              and r["delivered"] >= r["expected"])
        if not ok:
            break
        best = r["deliveries_per_s"]
    return best


def main():
    rows = load(sys.argv[1])
    prefix = sys.argv[2]
    by = lambda scenario, label: [r for r in rows if r.get("scenario") == scenario and r.get("label") == label]
    lines = ["| scenario | ours (Rust) | baseline (Node) | ratio |", "|---|---|---|---|"]
    idle_r, idle_n = (by("idle", l) for l in ("rust", "node"))
    if idle_r:
        o = idle_r[0].get("kb_per_connection")
        b = idle_n[0].get("kb_per_connection") if idle_n else None
        beat = f", heartbeat every {idle_r[0]['ping_ms'] / 1000:g} s" if idle_r[0].get("ping_ms") else ""
        lines.append(f"| idle: relay memory per connection ({idle_r[0]['connections']:,} connections{beat}) | {fmt(o)} KB | {fmt(b)} KB | {ratio(o, b, False)} |")
        o = idle_r[0].get("cpu_percent_idle")
        b = idle_n[0].get("cpu_percent_idle") if idle_n else None
        lines.append(f"| idle: relay CPU while they idle ({idle_r[0].get('hold_secs', '?')} s, % of one core) | {fmt(o)} % | {fmt(b)} % | {ratio(o, b, False)} |")
    o, b = best_rate(rows, "rust"), best_rate(rows, "node")
    lines.append(f"| max deliveries/s with p99 < 100 ms, no loss | {fmt(o, 0)} | {fmt(b, 0)} | {ratio(o, b, True)} |")
    for r in by("load", "rust"):
        n = next((x for x in by("load", "node") if x.get("rate") == r.get("rate")), {})
        target = f"{r['rate'] * (r['expected'] // max(r['published'], 1)):,}" if r.get("published") else "?"
        lines.append(
            f"| load {r['connections']:,} conns, {r['rate']:,} ev/s (≈{target} deliveries/s): p50 / p99 / p99.9 ms "
            f"| {fmt(r.get('p50_ms'))} / {fmt(r.get('p99_ms'))} / {fmt(r.get('p999_ms'))} "
            f"| {fmt(n.get('p50_ms'))} / {fmt(n.get('p99_ms'))} / {fmt(n.get('p999_ms'))} "
            f"| p99 {ratio(r.get('p99_ms'), n.get('p99_ms'), False)} |")
        lines.append(
            f"| … delivered/expected, relay CPU (cores) | {fmt(r.get('delivered'))}/{fmt(r.get('expected'))}, {fmt(r.get('relay_cpu_cores'), 2)} "
            f"| {fmt(n.get('delivered'))}/{fmt(n.get('expected'))}, {fmt(n.get('relay_cpu_cores'), 2)} | |")
    res_r, res_n = by("resume", "rust"), by("resume", "node")
    if res_r:
        o = res_r[0].get("caught_up_ms")
        b = res_n[0].get("caught_up_ms") if res_n else None
        lines.append(f"| resume after {res_r[0]['missed']:,} missed events: caught up in | {fmt(o)} ms | {'no replay' if b is None else fmt(b) + ' ms'} | |")
    table = "\n".join(lines)
    print(table)
    with open(prefix + ".md", "w") as f:
        f.write(table + "\n")
    svg(rows, prefix + ".svg")
    print(f"\nwrote {prefix}.md and {prefix}.svg")


def svg(rows, path):
    series = []
    for label, color in (("rust", "#2563eb"), ("node", "#dc2626")):
        pts = sorted((r["deliveries_per_s"], r.get("p50_ms"), r.get("p99_ms")) for r in rows
                     if r.get("scenario") == "load" and r.get("label") == label and not r.get("failed") and r.get("p99_ms"))
        if pts:
            series.append((label, color, pts))
    w, h, m = 720, 420, 60
    xmax = max((p[0] for _, _, pts in series for p in pts), default=1) * 1.05
    ymax = max((p[2] for _, _, pts in series for p in pts), default=1) * 1.1
    x = lambda v: m + (w - 2 * m) * v / xmax
    y = lambda v: h - m - (h - 2 * m) * v / ymax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/>',
           f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-15}" text-anchor="middle">deliveries / s</text>',
           f'<text x="15" y="{h/2}" transform="rotate(-90 15 {h/2})" text-anchor="middle">latency (ms)</text>',
           f'<text x="{w/2}" y="25" text-anchor="middle" font-size="14">Publish → receive latency vs load (solid p99, dashed p50)</text>']
    for i in range(5):
        xv, yv = xmax * i / 4, ymax * i / 4
        out.append(f'<text x="{x(xv)}" y="{h-m+15}" text-anchor="middle">{xv:,.0f}</text>')
        out.append(f'<text x="{m-5}" y="{y(yv)+4}" text-anchor="end">{yv:.0f}</text>')
    for n, (label, color, pts) in enumerate(series):
        for idx, dash in ((2, ""), (1, ' stroke-dasharray="4 3"')):
            d = " ".join(f"{x(p[0]):.1f},{y(p[idx]):.1f}" for p in pts if p[idx] is not None)
            out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{w-m-80}" y="{m+20+18*n}" fill="{color}">{"ours (Rust)" if label == "rust" else "baseline (Node)"}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
