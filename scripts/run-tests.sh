#!/usr/bin/env bash
# Runs the whole suite (unit, integration, doc tests) against the running stack.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${DSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distsync}/venv/bin:$PATH"
if cargo nextest --version >/dev/null 2>&1; then
  cargo test --workspace --doc
  cargo nextest run --workspace --no-fail-fast --test-threads "${DSYNC_TEST_THREADS:-4}"
else
  cargo test --workspace --no-fail-fast
fi
