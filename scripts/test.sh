#!/usr/bin/env bash
# The full test command (`make test`, `.ci/run`): bootstrap is done by make; this starts the stack,
# runs the static checks and the whole suite, and stops the stack even when something fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started_here=0
if ! python3 scripts/wait-broker.py "${KAFKA_BROKERS:-127.0.0.1:9092}" 0.5 2>/dev/null; then
  started_here=1
fi
cleanup() {
  if [ "$started_here" = 1 ]; then scripts/stack.sh down || true; fi
}
trap cleanup EXIT
scripts/stack.sh up
t0=$SECONDS
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== docker-compose config"
docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"
echo "== schemas (lint, catalog up to date)"
make --no-print-directory schemas-check
echo "== tests"
scripts/run-tests.sh
echo "test command finished in $((SECONDS - t0)) s (after bootstrap)"
