#!/usr/bin/env python3
"""Turns bench/soak.sh's JSON lines into a Markdown summary (delivered /
expected, latency per minute, RSS series, side by side) and an SVG plot of
p99 per minute and RSS over time. Standard library only."""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def summary(rows):
    out = ["| | " + " | ".join(r["label"] for r in rows) + " |",
           "|---|" + "---|" * len(rows)]
    def line(name, f):
        out.append(f"| {name} | " + " | ".join(f(r) for r in rows) + " |")
    ok = [r for r in rows if not r.get("failed")]
    if len(ok) < len(rows):
        line("failed", lambda r: "yes" if r.get("failed") else "no")
    rows = ok
    if not rows:
        return "\n".join(out)
    line("delivered / expected", lambda r: f"{r['delivered']:,} / {r['expected']:,} ({100 * r['delivered_ratio']:.2f}%)")
    line("p50 / p99 / p99.9 ms (whole run)", lambda r: " / ".join(fmt(r[k]) for k in ("p50_ms", "p99_ms", "p999_ms")))
    def p99_range(r):
        p = [m["p99_ms"] for m in r["per_minute"] if m["p99_ms"] is not None]
        return f"{fmt(min(p))} – {fmt(max(p))}" if p else "n/a"
    line("p99 per minute, min – max ms", p99_range)
    def rss(r):
        s = [x["rss_kb"] for x in r["samples"] if x.get("rss_kb")]
        return f"{s[0] / 1024:,.0f} → {s[-1] / 1024:,.0f} MB" if s else "n/a"
    line("relay RSS, first → last sample", rss)
    def consumed(r):
        s = [x["consumed"] for x in r["samples"] if x.get("consumed") is not None]
        return f"{s[-1]:,.0f}" if s else "n/a"
    line("consumed (last sample)", consumed)
    return "\n".join(out)


def minutes(rows):
    rows = [r for r in rows if not r.get("failed")]
    if not rows:
        return ""
    n = max(len(r["per_minute"]) for r in rows)
    out = ["| minute | " + " | ".join(f"{r['label']} deliveries, p50 / p99 ms" for r in rows) + " |",
           "|---|" + "---|" * len(rows)]
    for i in range(n):
        cells = []
        for r in rows:
            m = next((m for m in r["per_minute"] if m["minute"] == i), None)
            cells.append(f"{m['deliveries']:,}, {fmt(m['p50_ms'])} / {fmt(m['p99_ms'])}" if m else "none")
        out.append(f"| {i} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def series(rows):
    rows = [r for r in rows if not r.get("failed")]
    out = []
    for r in rows:
        out.append(f"\n{r['label']} (t s: RSS MB, consumed, lag, delivered)\n")
        for s in r["samples"]:
            rss = f"{s['rss_kb'] / 1024:.0f}" if s.get("rss_kb") else "n/a"
            out.append(f"- {s['t_s']:.0f}: {rss}, {fmt(s.get('consumed'), 0)}, {fmt(s.get('lag'), 0)}, {s['delivered']:,}")
    return "\n".join(out)


COLORS = {"rust": "#c0392b", "node": "#2c7fb8"}


def svg(rows):
    rows = [r for r in rows if not r.get("failed")]
    w, h, pad = 860, 300, 50
    def panel(x0, title, points_of, unit):
        parts = [f'<text x="{x0 + pad}" y="20" font-size="13">{title}</text>']
        allp = [p for r in rows for p in points_of(r)]
        if not allp:
            return parts
        xmax = max(p[0] for p in allp) or 1
        ymax = max(p[1] for p in allp) * 1.1 or 1
        pw = w / 2 - pad - 20
        ph = h - 2 * pad
        sx = lambda x: x0 + pad + x / xmax * pw
        sy = lambda y: h - pad - y / ymax * ph
        parts.append(f'<line x1="{x0 + pad}" y1="{h - pad}" x2="{x0 + pad + pw}" y2="{h - pad}" stroke="#888"/>')
        parts.append(f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{h - pad}" stroke="#888"/>')
        parts.append(f'<text x="{x0 + 5}" y="{pad}" font-size="11">{ymax:,.0f} {unit}</text>')
        parts.append(f'<text x="{x0 + pad + pw - 60}" y="{h - pad + 15}" font-size="11">{xmax:,.0f} min</text>')
        for r in rows:
            pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points_of(r))
            parts.append(f'<polyline fill="none" stroke="{COLORS.get(r["label"], "#333")}" stroke-width="2" points="{pts}"/>')
        return parts
    p99 = lambda r: [(m["minute"] + 1, m["p99_ms"]) for m in r["per_minute"] if m["p99_ms"] is not None]
    rss = lambda r: [(s["t_s"] / 60, s["rss_kb"] / 1024) for s in r["samples"] if s.get("rss_kb")]
    body = panel(0, "p99 latency per minute (ms)", p99, "ms") + panel(w / 2, "relay RSS (MB)", rss, "MB")
    legend = [f'<text x="{pad + 120 * i}" y="{h - 8}" font-size="12" fill="{COLORS.get(r["label"], "#333")}">{r["label"]}</text>'
              for i, r in enumerate(rows)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
            + "".join(body + legend) + "</svg>\n")


def main():
    rows = load(sys.argv[1])
    prefix = sys.argv[2]
    text = "\n\n".join(["## Soak summary", summary(rows), "## Latency per minute", minutes(rows),
                        "## Samples every 10 s", series(rows)])
    with open(prefix + ".md", "w") as f:
        f.write(text + "\n")
    with open(prefix + ".svg", "w") as f:
        f.write(svg(rows))
    print(summary(rows))


if __name__ == "__main__":
    main()
