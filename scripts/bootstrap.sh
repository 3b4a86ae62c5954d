#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, idempotently:
# Debian build dependencies (for rdkafka's bundled librdkafka), docker-compose (to validate the
# production compose file), the tansu broker (cached), and the Python test clients (a venv in the
# cache). Every step checks first and does nothing when already done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distsync}"
mkdir -p "$CACHE_ROOT"

DEBS=(build-essential pkg-config libssl-dev zlib1g-dev libzstd-dev python3-venv docker-compose)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The broker: built once into the cache, reused afterwards.
"$ROOT/scripts/install-broker.sh" >/dev/null

# Python test clients (confluent-kafka from PyPI) in a venv under the cache.
VENV="$CACHE_ROOT/venv"
REQS="$ROOT/scripts/requirements-test.txt"
STAMP="$VENV/.reqs-$(sha256sum "$REQS" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "installing Python test clients into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$REQS"
  touch "$STAMP"
fi

# cargo-nextest runs the suite when present; plain cargo test otherwise.
echo "bootstrap complete"
