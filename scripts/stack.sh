#!/usr/bin/env bash
# The local stack launcher: `stack.sh up|down|status|logs`.
# Runs in the background with logs and pid files under .run/ (git-ignored). Safe to call twice.
# Later components (schema registry, services) are added to COMPONENTS here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${DSYNC_RUN_DIR:-$ROOT/.run}"
BROKER_HOST="${DSYNC_BROKER_HOST:-127.0.0.1}"
BROKER_PORT="${DSYNC_BROKER_PORT:-9092}"
# memory:// is fast but not durable (tests, demo, benchmarks); sqlite:// is durable but slow.
STORAGE="${DSYNC_BROKER_STORAGE:-memory://tansu/}"
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

case "${1:-}" in
  up) broker_up ;;
  down) stop_pidfile broker ;;
  status)
    if pid_alive "$RUN_DIR/broker.pid"; then echo "broker: running (pid $(cat "$RUN_DIR/broker.pid"))"; else echo "broker: stopped"; fi
    ;;
  logs) tail -n "${2:-100}" "$RUN_DIR/broker.log" ;;
  *) echo "usage: $0 up|down|status|logs [lines]" >&2; exit 2 ;;
esac
