#!/usr/bin/env bash
# Start-up time and memory of a relay with a long history behind it, before
# and after checkpoints, side by side in one run (issue #14).
#
# For each size N: a fresh broker gets N orders of three events each (open
# orders: created, processing, shipped). Then
#   before: a relay that reads the order topics from the beginning (as every
#           relay did before checkpoints; this one also writes a checkpoint
#           once it is caught up),
#   after:  a new relay that starts from that checkpoint,
# each timed from spawn to `/readyz` 200, with its RSS once ready.
#
#   bash bench/startup.sh                      # 100k, 300k and 1M orders (release)
#   bash bench/startup.sh --sizes "100000"     # chosen sizes
#   bash bench/startup.sh --smoke              # seconds-long, debug builds (CI)
#   BROKER=tansu bash bench/startup.sh         # on tansu instead of Apache Kafka
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env

sizes="100000 300000 1000000"; profile=release
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) sizes="2000"; profile=debug; shift ;;
    --sizes) sizes=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ "$profile" = release ]; then cargo build -q --release -p server -p bench; else cargo build -q -p server -p bench; fi
relay="$TARGET_DIR/$profile/relay"; loadgen="$TARGET_DIR/$profile/loadgen"
out=bench/results; mkdir -p "$out"; results="$out/startup.jsonl"; : >"$results"
export JWT_SECRET=bench-secret-0123456789abcdef RUST_LOG=warn

source bench/broker.sh
pids=()
stop() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; [ -z "${broker_pid:-}" ] || stop_broker; }
trap cleanup EXIT
now() { date +%s.%N; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1==m {print $2}'; }

# Spawns a relay; waits for /readyz 200; sets $ready_s and $rss_mb_now, and
# leaves its pid in $relay_pid, its port in $relay_port.
start_relay() { # kafka_port checkpoint_secs
  relay_port=$(free_port)
  local t0; t0=$(now)
  KAFKA_BROKERS="127.0.0.1:$1" LISTEN_ADDR="127.0.0.1:$relay_port" CHECKPOINT_INTERVAL_SECS=$2 \
    TOPIC_PARTITIONS=3 DRAIN_SECS=0 "$relay" >/dev/null 2>&1 &
  relay_pid=$!; pids+=("$relay_pid")
  until curl -sf "http://127.0.0.1:$relay_port/readyz" >/dev/null 2>&1; do
    kill -0 "$relay_pid" 2>/dev/null || { echo "relay exited" >&2; return 1; }
    sleep 0.02
  done
  local t1; t1=$(now)
  ready_s=$(python3 -c "print(round($t1 - $t0, 2))"); rss_mb_now=$(rss_mb "$relay_pid")
}

for n in $sizes; do
  start_broker "$broker"
  # Topics with the relay's layout first (a relay creates them), then the history.
  start_relay "$kport" 0; stop "$relay_pid"
  echo "== $n orders ($((n * 3)) events)"
  "$loadgen" --kafka "127.0.0.1:$kport" fill --orders "$n" | tee -a "$results"

  start_relay "$kport" 2; before_s=$ready_s; before_mb=$rss_mb_now
  # The same relay, caught up, writes a checkpoint covering everything.
  written=""
  for _ in $(seq 600); do
    written=$(metric "$relay_port" relay_checkpoints_written_total)
    [ "${written:-0}" != 0 ] && break; sleep 0.5
  done
  stop "$relay_pid"
  start_relay "$kport" 2; after_s=$ready_s; after_mb=$rss_mb_now
  restored=$(metric "$relay_port" relay_checkpoint_restored_orders)
  stop "$relay_pid"; stop_broker; broker_pid=
  line=$(printf '{"scenario":"startup","orders":%s,"before_ready_s":%s,"before_rss_mb":%s,"after_ready_s":%s,"after_rss_mb":%s,"restored_orders":%s}' \
    "$n" "$before_s" "$before_mb" "$after_s" "$after_mb" "${restored:-0}")
  echo "$line" | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"startup"' in l]
print("\n| orders (3 events each) | ready: re-read history | ready: from checkpoint | ratio | RSS re-read / checkpoint | KB per order |")
print("|---|---|---|---|---|---|")
for r in rows:
    ratio = r["before_ready_s"] / max(r["after_ready_s"], 0.01)
    per = r["after_rss_mb"] * 1024 / r["orders"]
    print(f'| {r["orders"]:,} | {r["before_ready_s"]} s | {r["after_ready_s"]} s | {ratio:.1f}× | {r["before_rss_mb"]} / {r["after_rss_mb"]} MB | {per:.2f} |')
PY
