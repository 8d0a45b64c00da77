#!/usr/bin/env bash
# The soak: our relay and the Node baseline side by side, each on its own
# fresh broker, under the same steady load for N minutes (both at once, so
# the machine's load drifts alike for both). Samples every 10 s; writes
# bench/results/soak.{jsonl,md,svg}.
#
#   bash bench/soak.sh                  # 30 minutes, 5,000 connections, 400 events/s (release)
#   bash bench/soak.sh --minutes 5      # shorter
#   bash bench/soak.sh --smoke          # 20 s, 200 connections, debug builds (CI)
#   RELAY_BIN=path/to/relay bash bench/soak.sh --only rust   # another relay build
#   BROKER=tansu bash bench/soak.sh    # on tansu instead of Apache Kafka (bench/broker.sh)
#   BROKER=tansu bash bench/soak.sh --storage sqlite # tansu on SQLite instead of memory
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env

minutes=30; conns=5000; per_user=10; rate=400; profile=release; only=""; storage=memory
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift ;;
    --smoke) minutes=0; conns=200; rate=50; profile=debug ;;
    --only) only=$2; shift ;;
    --storage) storage=$2; shift ;;
    *) echo "unknown option $1 (see the top of bench/soak.sh)" >&2; exit 2 ;;
  esac
  shift
done
seconds=$(( minutes * 60 )); [ "$seconds" -gt 0 ] || seconds=20
if [ "$profile" = release ]; then cargo build -q --release -p server -p bench; else cargo build -q -p server -p bench; fi
relay_bin="${RELAY_BIN:-$TARGET_DIR/$profile/relay}"
loadgen="$TARGET_DIR/$profile/loadgen"
# The relay's default fetch wait for both (the Node baseline's own default is
# 20 ms). tansu answers each fetch by reading its log; at 1 ms the two
# consumers' fetches alone keep it busy as the log grows.
fetch_wait="${FETCH_WAIT_MS:-10}"
out=bench/results
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"
export JWT_SECRET=bench-secret-0123456789abcdef RUST_BACKTRACE=0

source bench/broker.sh
wait_http() { for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
if [ ! -d bench/baseline-node/node_modules ]; then
  (cd bench/baseline-node && npm ci --silent --no-audit --no-fund)
fi

soak() { # label: a fresh broker, the relay, and the load generator; JSON to $out/soak-<label>.json
  label=$1
  relay_port=$(free_port)
  # tansu's storage: memory keeps its log in memory, and slows as it grows
  # (see docs/BENCHMARKS.md); sqlite: a fresh database file per run.
  case $storage in
    memory) engine=memory://tansu/ ;;
    sqlite) engine=sqlite://tansu.db ;;
    *) echo "unknown storage $storage (memory or sqlite)" >&2; exit 2 ;;
  esac
  start_broker "$broker" "$engine"
  trap 'kill ${relay_pid:-} 2>/dev/null || true; stop_broker' EXIT
  case $label in
    rust)
      RUST_LOG=warn "$relay_bin" --kafka-brokers "127.0.0.1:$kport" --listen "127.0.0.1:$relay_port" \
        --kafka-fetch-wait-ms "$fetch_wait" >"$out/soak-rust.log" 2>&1 &
      relay_pid=$! ;;
    node)
      KAFKA_BROKERS="127.0.0.1:$kport" PORT=$relay_port FETCH_WAIT_MS=$fetch_wait \
        node bench/baseline-node/server.mjs >"$out/soak-node.log" 2>&1 &
      relay_pid=$! ;;
  esac
  wait_http "http://127.0.0.1:$relay_port/readyz"
  "$loadgen" --relay "127.0.0.1:$relay_port" --kafka "127.0.0.1:$kport" --pid "$relay_pid" --label "$label" \
    soak --connections "$conns" --per-user "$per_user" --rate "$rate" --seconds "$seconds" \
    >"$out/soak-$label.json" 2>"$out/soak-$label.progress"
}

labels=(rust node)
[ -n "$only" ] && labels=("$only")
on=$broker; [ "$broker" = tansu ] && on="tansu ($storage)"
echo "== soak: ${labels[*]} side by side, $conns connections, $rate events/s x $per_user, $seconds s, on $on" >&2
jobs=()
trap 'kill "${jobs[@]}" 2>/dev/null || true' EXIT
for label in "${labels[@]}"; do (soak "$label") & jobs+=($!); done
failed=0
for j in "${jobs[@]}"; do wait "$j" || failed=1; done
: >"$out/soak.jsonl"
for label in "${labels[@]}"; do
  f="$out/soak-$label.json"
  if [ -s "$f" ]; then cat "$f" >>"$out/soak.jsonl"; else echo "{\"scenario\":\"soak\",\"label\":\"$label\",\"failed\":true}" >>"$out/soak.jsonl"; failed=1; fi
done
python3 bench/soak_report.py "$out/soak.jsonl" "$out/soak"
exit $failed
