#!/usr/bin/env bash
# Runs the whole suite (unit, integration, doc tests) against the running stack.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${DSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distsync}/venv"
export PATH="$VENV/bin:$PATH"
# Clients nobody here wrote (confluent-kafka-python) against the schema registry binary; each
# test starts its own registry on a free port with a fresh schemas topic.
echo "== python client tests (tests/python)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
cargo build -p dsync-schema-registry
DSYNC_SCHEMA_REGISTRY_BIN="${DSYNC_SCHEMA_REGISTRY_BIN:-$TARGET_DIR/debug/schema-registry}" \
  "$VENV/bin/python" -m pytest tests/python -q
# The API contracts (tests/tests/api_contracts.rs) run in the suite below: schemathesis from the
# venv against every OpenAPI document, served by the real service on the stack.
export DSYNC_SCHEMATHESIS="${DSYNC_SCHEMATHESIS:-$VENV/bin/st}"
if cargo nextest --version >/dev/null 2>&1; then
  cargo test --workspace --doc
  cargo nextest run --workspace --no-fail-fast --test-threads "${DSYNC_TEST_THREADS:-4}"
else
  cargo test --workspace --no-fail-fast
fi
