#!/usr/bin/env bash
# Runs the same load against our relay and the Node baseline, on the same
# broker setup, one after the other, and prints a table with both and the
# ratio; writes bench/results/latest.{jsonl,md,svg}.
#
#   bash bench/run.sh           # the full run (release builds; ~7 minutes)
#   bash bench/run.sh --smoke   # seconds-long, debug builds: CI keeps it from rotting
#   bash bench/run.sh --only idle   # one kind of step (idle, load or resume), both relays
#   BROKER=tansu bash bench/run.sh  # on tansu instead of Apache Kafka (both relays)
#   bash bench/run.sh --socketio    # Socket.IO: ours on /ws and on /socket.io/, and the
#                                   # Node Socket.IO server the seed runs (idle, 20k and 50k
#                                   # deliveries/s); writes bench/results/socketio.{jsonl,md}
#   bash bench/run.sh --socketio --smoke
#   RELAY_BEFORE=/path/to/relay bash bench/run.sh --socketio   # also that build's /ws, side by
#                                   # side (label rust-before): did a change slow /ws down?
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env

smoke=false; only=""; socketio=false
[ "${1:-}" = "--socketio" ] && { socketio=true; shift; }
[ "${1:-}" = "--smoke" ] && smoke=true
# --only idle|load|resume: one kind of step (both relays), e.g. after a change
# that can only move that figure.
[ "${1:-}" = "--only" ] && only=${2:-}
if $smoke; then
  profile=debug; idle=200; hold=3; ping_ms=1000; conns=200; per_user=10; rates="200 1000"; seconds=2; missed=200
  cargo build -q -p server -p bench
else
  # The idle step holds its connections 30 s, each pinging every 15 s as a
  # page does against the default 45 s heartbeat window.
  profile=release; idle=10000; hold=30; ping_ms=15000; conns=10000; per_user=10; rates="1000 5000 6000 7500 10000 20000 30000 40000"; seconds=10; missed=1000
  cargo build -q --release -p server -p bench
fi
# Both relays get the same consumer fetch wait: a broker may hold a fetch that
# long when idle, so it bounds latency on both sides (ours defaults to 10 ms).
fetch_wait="${FETCH_WAIT_MS:-1}"
out=bench/results
mkdir -p "$out"
results="$out/latest.jsonl"
$socketio && results="$out/socketio.jsonl"
: >"$results"
ulimit -n "$(ulimit -Hn)"
export JWT_SECRET=bench-secret-0123456789abcdef RUST_BACKTRACE=0
loadgen="$TARGET_DIR/$profile/loadgen"

source bench/broker.sh
wait_http() { for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ -d bench/baseline-node ] && [ ! -d bench/baseline-node/node_modules ]; then
  (cd bench/baseline-node && npm ci --silent --no-audit --no-fund)
fi

# Every step gets a fresh broker and a fresh relay. tansu's in-memory log
# slows down as it grows: in a second identical 50k deliveries/s step on the
# same broker, events reached the relay ~150 ms after they were produced
# instead of ~6 ms, and a fresh relay on that broker saw the same. Sharing one
# broker would tax each step with the ones before it.
start_stack() { # label: sets kport, relay_port, relay_pid, broker_pid
  local label=$1
  relay_port=$(free_port)
  start_broker "$broker"
  pids+=("$broker_pid")
  case $label in
    rust|rust-sio|rust-before)
      local binary="$TARGET_DIR/$profile/relay"
      [ "$label" = rust-before ] && binary=$RELAY_BEFORE
      RUST_LOG=warn "$binary" --kafka-brokers "127.0.0.1:$kport" --listen "127.0.0.1:$relay_port" \
        --history-limit 50000 --kafka-fetch-wait-ms "$fetch_wait" >>"$out/$label.log" 2>&1 &
      relay_pid=$! ;;
    node|node-sio)
      [ "$label" = node-sio ] && transport=socketio || transport=ws
      TRANSPORT=$transport KAFKA_BROKERS="127.0.0.1:$kport" PORT=$relay_port FETCH_WAIT_MS=$fetch_wait \
        node bench/baseline-node/server.mjs >>"$out/$label.log" 2>&1 &
      relay_pid=$! ;;
  esac
  pids+=("$relay_pid")
  wait_http "http://127.0.0.1:$relay_port/readyz"
}

stop_stack() {
  kill "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
  stop_broker
}

step() { # label scenario [args...]: one measurement on a fresh stack
  local label=$1 scenario=$2
  shift 2
  start_stack "$label"
  local framing=ws
  case $label in *-sio) framing=socketio ;; esac
  "$loadgen" --framing "$framing" --relay "127.0.0.1:$relay_port" --kafka "127.0.0.1:$kport" --pid "$relay_pid" --label "$label" \
    "$scenario" "$@" >>"$results" \
    || echo "{\"scenario\":\"$scenario\",\"label\":\"$label\",\"failed\":true,\"rate\":${rate:-0},\"args\":\"$*\"}" >>"$results"
  stop_stack
}

labels=(rust)
[ -f bench/baseline-node/server.mjs ] && labels+=(node)
if $socketio; then
  # 20k and 50k deliveries/s: each event goes to $per_user connections.
  labels=(rust rust-sio node-sio)
  [ -n "${RELAY_BEFORE:-}" ] && labels=(rust-before "${labels[@]}")
  $smoke && rates="100" || rates="2000 5000"
fi
for label in "${labels[@]}"; do : >"$out/$label.log"; done
# The two relays take turns at each step, so a drift of the machine's load
# during the run hits both alike.
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
want idle && for label in "${labels[@]}"; do
  echo "== $label: idle $idle connections for ${hold}s, heartbeat ping every ${ping_ms} ms" >&2
  step "$label" idle --connections "$idle" --hold-secs "$hold" --ping-ms "$ping_ms"
done
want load && for rate in $rates; do
  for label in "${labels[@]}"; do
    echo "== $label: $conns connections, $rate events/s x $per_user connections per user" >&2
    step "$label" load --connections "$conns" --per-user "$per_user" --rate "$rate" --seconds "$seconds"
  done
done
! $socketio && want resume && for label in "${labels[@]}"; do
  echo "== $label: resume after $missed missed events" >&2
  step "$label" resume --missed "$missed"
done
if $socketio; then
  python3 bench/socketio_report.py "$results" "$out/socketio"
else
  python3 bench/report.py "$results" "$out/latest"
fi
