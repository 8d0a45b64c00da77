# Sourced by the benchmark scripts: a fresh broker per step, of either kind.
#
#   start_broker apache|tansu [ENGINE]  sets kport (its port) and broker_pid;
#                               ENGINE: tansu's storage (memory://tansu/ by
#                               default, or sqlite://tansu.db in a fresh
#                               directory)
#   stop_broker                 kills it (and removes the broker's directory)
#
# BROKER (apache unless set) chooses the broker in every script that sources
# this: Apache Kafka is what shops run and what .ci/install installs; tansu
# needs `bash .ci/install-tansu` (~25 minutes cold).
broker=${BROKER:-apache}
#
# tansu keeps its log in memory; Apache Kafka (installed by .ci/install-kafka)
# runs as a one-node KRaft broker with a 1 GB heap and the G1 collector, as
# its own scripts default to (the tests use a smaller one).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_broker() { # apache|tansu [ENGINE]
  kport=$(free_port)
  broker_dir=
  case $1 in
    tansu)
      local engine=${2:-memory://tansu/} dir=.
      case $engine in sqlite*) broker_dir=$(mktemp -d); dir=$broker_dir ;; esac
      (cd "$dir" && exec tansu broker --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
        --storage-engine "$engine") >/dev/null 2>&1 &
      broker_pid=$!
      for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && break; sleep 0.1; done ;;
    apache)
      broker_dir=$(mktemp -d)
      broker_pid=$(KAFKA_JVM_OPTS="-Xms1g -Xmx1g -XX:+UseG1GC" bash .ci/kafka/start-broker "$broker_dir" "$kport") ;;
    *) echo "unknown broker $1: say tansu or apache" >&2; return 1 ;;
  esac
}

stop_broker() {
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  # Not a child of this shell when started by .ci/kafka/start-broker.
  while kill -0 "$broker_pid" 2>/dev/null; do sleep 0.1; done
  [ -z "$broker_dir" ] || rm -rf "$broker_dir"
}
