#!/usr/bin/env bash
# The local stack launcher: `stack.sh up|down|status|logs`.
# Runs in the background with logs and pid files under .run/ (git-ignored). Safe to call twice.
# Components: the broker (tansu), then the schema registry (services/schema-registry).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${DSYNC_RUN_DIR:-$ROOT/.run}"
BROKER_HOST="${DSYNC_BROKER_HOST:-127.0.0.1}"
BROKER_PORT="${DSYNC_BROKER_PORT:-9092}"
# memory:// is fast but not durable (tests, demo, benchmarks); sqlite:// is durable but slow.
STORAGE="${DSYNC_BROKER_STORAGE:-memory://tansu/}"
REGISTRY_ADDR="${DSYNC_REGISTRY_ADDR:-127.0.0.1:8081}"
REGISTRY_ADMIN_ADDR="${DSYNC_REGISTRY_ADMIN_ADDR:-127.0.0.1:9465}"
SCHEMAS_TOPIC="${DSYNC_SCHEMAS_TOPIC:-_schemas}"
mkdir -p "$RUN_DIR"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

broker_up() {
  local pidf="$RUN_DIR/broker.pid"
  if pid_alive "$pidf"; then
    echo "broker already running (pid $(cat "$pidf")) at $BROKER_HOST:$BROKER_PORT"
  else
    if python3 "$ROOT/scripts/wait-broker.py" "$BROKER_HOST:$BROKER_PORT" 0.5 2>/dev/null; then
      echo "a broker not started by this launcher already answers at $BROKER_HOST:$BROKER_PORT; using it"
      return 0
    fi
    local bin
    bin="$("$ROOT/scripts/install-broker.sh")"
    case "$STORAGE" in
      sqlite://*) mkdir -p "$RUN_DIR/data" ;;
    esac
    echo "starting tansu broker at $BROKER_HOST:$BROKER_PORT ($STORAGE)"
    (
      cd "$RUN_DIR"
      nohup "$bin" broker \
        --listener-url "tcp://$BROKER_HOST:$BROKER_PORT" \
        --advertised-listener-url "tcp://$BROKER_HOST:$BROKER_PORT" \
        --storage-engine "$STORAGE" \
        >>"$RUN_DIR/broker.log" 2>&1 &
      echo $! >"$RUN_DIR/broker.pid"
    )
  fi
  if ! python3 "$ROOT/scripts/wait-broker.py" "$BROKER_HOST:$BROKER_PORT" 60; then
    echo "broker did not become ready; last log lines:" >&2
    tail -n 30 "$RUN_DIR/broker.log" >&2 || true
    exit 1
  fi
  echo "broker ready at $BROKER_HOST:$BROKER_PORT"
}

# Whether GET http://$1/subjects answers 200 within $2 seconds.
registry_answers() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = f"http://{sys.argv[1]}/subjects", time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() >= deadline:
        sys.exit(1)
    time.sleep(0.2)
PY
}

# The registry binary: $DSYNC_SCHEMA_REGISTRY_BIN, else an up-to-date release build, else the
# debug build (built here when missing or older than its sources).
registry_bin() {
  if [ -n "${DSYNC_SCHEMA_REGISTRY_BIN:-}" ]; then
    echo "$DSYNC_SCHEMA_REGISTRY_BIN"
    return
  fi
  local srcs=("$ROOT/services/schema-registry" "$ROOT/crates/bus" "$ROOT/crates/telemetry" "$ROOT/Cargo.lock")
  local target="${CARGO_TARGET_DIR:-target}"
  case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
  local release="$target/release/schema-registry" debug="$target/debug/schema-registry"
  if [ -x "$release" ] && [ -z "$(find "${srcs[@]}" -newer "$release" -type f -print -quit)" ]; then
    echo "$release"
    return
  fi
  if [ ! -x "$debug" ] || [ -n "$(find "${srcs[@]}" -newer "$debug" -type f -print -quit)" ]; then
    echo "building the schema registry (cargo build -p dsync-schema-registry)" >&2
    (cd "$ROOT" && cargo build -q -p dsync-schema-registry) >&2
  fi
  echo "$debug"
}

registry_up() {
  local pidf="$RUN_DIR/schema-registry.pid"
  if pid_alive "$pidf"; then
    echo "schema registry already running (pid $(cat "$pidf")) at http://$REGISTRY_ADDR"
  else
    if registry_answers "$REGISTRY_ADDR" 0.5; then
      echo "a schema registry not started by this launcher already answers at http://$REGISTRY_ADDR; using it"
      return 0
    fi
    local bin
    bin="$(registry_bin)"
    echo "starting schema registry at http://$REGISTRY_ADDR (admin $REGISTRY_ADMIN_ADDR, topic $SCHEMAS_TOPIC)"
    (
      cd "$RUN_DIR"
      nohup "$bin" \
        --http-addr "$REGISTRY_ADDR" \
        --admin-addr "$REGISTRY_ADMIN_ADDR" \
        --schemas-topic "$SCHEMAS_TOPIC" \
        --kafka-brokers "$BROKER_HOST:$BROKER_PORT" \
        >>"$RUN_DIR/schema-registry.log" 2>&1 &
      echo $! >"$pidf"
    )
  fi
  local deadline=$((SECONDS + 60))
  until registry_answers "$REGISTRY_ADDR" 1; do
    if ! pid_alive "$pidf" || [ "$SECONDS" -ge "$deadline" ]; then
      echo "schema registry did not become ready; last log lines:" >&2
      tail -n 30 "$RUN_DIR/schema-registry.log" >&2 || true
      exit 1
    fi
  done
  echo "schema registry ready at http://$REGISTRY_ADDR"
}

stop_pidfile() {
  local name="$1" pidf="$RUN_DIR/$1.pid"
  if pid_alive "$pidf"; then
    local pid
    pid="$(cat "$pidf")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidf"
}

status_of() {
  if pid_alive "$RUN_DIR/$1.pid"; then echo "$1: running (pid $(cat "$RUN_DIR/$1.pid"))"; else echo "$1: stopped"; fi
}

case "${1:-}" in
  up) broker_up; registry_up ;;
  down) stop_pidfile schema-registry; stop_pidfile broker ;;
  status) status_of broker; status_of schema-registry ;;
  logs)
    for c in broker schema-registry; do
      if [ -f "$RUN_DIR/$c.log" ]; then echo "== $c"; tail -n "${2:-100}" "$RUN_DIR/$c.log"; fi
    done
    ;;
  *) echo "usage: $0 up|down|status|logs [lines]" >&2; exit 2 ;;
esac
