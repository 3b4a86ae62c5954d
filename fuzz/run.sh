#!/usr/bin/env bash
# Bounded fuzzing of the X12 tokenizer and envelope parser (not part of CI).
#   fuzz/run.sh [seconds per target, default 300]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz wants a nightly compiler; on the
# stable toolchain RUSTC_BOOTSTRAP=1 lets it pass its -Z flags (sanitizer, coverage).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-300}"
export RUSTC_BOOTSTRAP=1
for target in tokenizer envelope; do
  mkdir -p "fuzz/corpus/$target"
  cargo fuzz run "$target" "fuzz/corpus/$target" crates/x12/testdata/inbound -- \
    -max_total_time="$secs" -max_len=16384 -print_final_stats=1
done
