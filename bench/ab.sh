#!/usr/bin/env bash
# A/B: the same load steps against two relay binaries, taking turns on fresh
# brokers, so a change's effect on latency and CPU is read side by side in
# one run (absolute figures move ±20% on a shared 2-core box; the ratio is
# the result).
#
#   bash bench/ab.sh OLD_RELAY_BIN NEW_RELAY_BIN [ROUNDS]
#   BROKER_A=tansu bash bench/ab.sh RELAY RELAY    # one relay, tansu beside Apache Kafka
#
# Each round runs 2,000 and 5,000 events/s (RATES) for 10 s to 10,000
# connections of 10 per user (20k and 50k deliveries/s) against A and B,
# A first in odd rounds and B first in even ones. Prints p50, p99 and relay
# CPU per 1,000 deliveries for each, and the B/A ratio of the medians over
# the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env
a=$1 b=$2 rounds=${3:-3}
cargo build -q --release -p bench
loadgen="$TARGET_DIR/release/loadgen"
out=bench/results; mkdir -p "$out"; results="$out/ab.jsonl"; : >"$results"
ulimit -n "$(ulimit -Hn)"
export JWT_SECRET=bench-secret-0123456789abcdef RUST_BACKTRACE=0
source bench/broker.sh
wait_http() { for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
step() { # label bin rate broker
  local relay_port relay_pid
  relay_port=$(free_port)
  start_broker "$4"
  RUST_LOG=warn "$2" --kafka-brokers "127.0.0.1:$kport" --listen "127.0.0.1:$relay_port" \
    --history-limit 50000 --kafka-fetch-wait-ms 1 >>"$out/ab-$1.log" 2>&1 &
  relay_pid=$!
  wait_http "http://127.0.0.1:$relay_port/readyz"
  "$loadgen" --relay "127.0.0.1:$relay_port" --kafka "127.0.0.1:$kport" --pid "$relay_pid" --label "$1" \
    load --connections 10000 --per-user 10 --rate "$3" --seconds 10 >>"$results" || true
  kill "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
  stop_broker
}
# RATES="5000" for one load only. A goes first in odd rounds, B in even
# ones: whichever runs second on the box must not always be the same build.
for round in $(seq "$rounds"); do
  for rate in ${RATES:-2000 5000}; do
    echo "== round $round, $rate events/s" >&2
    if (( round % 2 )); then
      step A "$a" "$rate" "${BROKER_A:-$broker}"
      step B "$b" "$rate" "${BROKER_B:-$broker}"
    else
      step B "$b" "$rate" "${BROKER_B:-$broker}"
      step A "$a" "$rate" "${BROKER_A:-$broker}"
    fi
  done
done
python3 - "$results" "$a" "${BROKER_A:-$broker}" "$b" "${BROKER_B:-$broker}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(label, rate, key):
    vals = [r[key] for r in rows if r.get("label") == label and r.get("rate") == rate and r.get(key) is not None]
    return statistics.median(vals) if vals else None
def cpu_per_k(label, rate):
    vals = [r["relay_cpu_cores"] * r.get("seconds", 10) / r["delivered"] * 1000 * 1000
            for r in rows if r.get("label") == label and r.get("rate") == rate and r.get("delivered")]
    return statistics.median(vals) if vals else None
print(f"A: {sys.argv[2]} on {sys.argv[3]}; B: {sys.argv[4]} on {sys.argv[5]}")
print("| deliveries/s | A p50 / p99 ms | B p50 / p99 ms | A / B CPU ms per 1k deliveries | B/A p99 | B/A CPU |")
print("|---|---|---|---|---|---|")
for rate in sorted({r["rate"] for r in rows if "rate" in r}):
    a50, a99, b50, b99 = (med(l, rate, k) for l in "AB" for k in ("p50_ms", "p99_ms"))
    ca, cb = cpu_per_k("A", rate), cpu_per_k("B", rate)
    r = lambda x, y: f"{y / x:.2f}" if x and y else "-"
    print(f"| {rate * 10:,} | {a50} / {a99} | {b50} / {b99} | {ca and round(ca, 2)} / {cb and round(cb, 2)} | {r(a99, b99)} | {r(ca, cb)} |")
PY
