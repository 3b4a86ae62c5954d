#!/usr/bin/env bash
# Installs the tansu Kafka-protocol broker (the local/test broker) once into a cache
# location outside the work tree and reuses it afterwards. Idempotent.
set -euo pipefail
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
CACHE_ROOT="${DSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distsync}"
PREFIX="$CACHE_ROOT/tansu-$TANSU_VERSION"
BIN="$PREFIX/bin/tansu"

installed_version() {
  [ -x "$BIN" ] || return 1
  "$BIN" --version 2>/dev/null | awk '{print $NF}'
}

if [ "$(installed_version || true)" = "$TANSU_VERSION" ]; then
  echo "$BIN"
  exit 0
fi

echo "installing tansu $TANSU_VERSION into $PREFIX (about 13 minutes on 2 cores, once)" >&2
mkdir -p "$PREFIX"
CARGO_TARGET_DIR="$CACHE_ROOT/tansu-build" \
  cargo install --locked tansu --version "$TANSU_VERSION" \
  --features dynostore,libsql --root "$PREFIX" >&2
rm -rf "$CACHE_ROOT/tansu-build"
v="$(installed_version || true)"
if [ "$v" != "$TANSU_VERSION" ]; then
  echo "tansu install failed: $BIN reports version '$v'" >&2
  exit 1
fi
echo "$BIN"
