#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time or number of executions from
# the seeds in fuzz/seeds/<target>, on a scratch corpus, and fails on the first crash (the
# input that crashed is kept under fuzz/artifacts/<target>/). Needs a nightly toolchain and
# cargo-fuzz (scripts/setup.sh: setup_fuzz). Built without a sanitizer: triage's code is safe
# Rust, so what is looked for is panics, endless loops (-timeout) and runaway allocations
# (-rss_limit_mb, -malloc_limit_mb).
#
#   bash fuzz/run.sh [seconds per target, default 20] [target…]
#   FUZZ_RUNS=10000000 bash fuzz/run.sh 0 request_parsing     (a fixed number of executions)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request_parsing safetensors_reader image_decoding store_record)
# Apart from the stable toolchain's artifacts, which the instrumented build would evict.
export CARGO_TARGET_DIR="${TRIAGE_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$(pwd)/../target}/fuzz}"
if ! cargo +nightly fuzz --version > /dev/null 2>&1; then
  echo "fuzz: cargo-fuzz or the nightly toolchain is missing (bash scripts/setup.sh installs both)" >&2
  exit 1
fi
if ! cargo +nightly fuzz build --sanitizer none -O 2> "${TMPDIR:-/tmp}/triage-fuzz-build.log"; then
  grep -v "^\s*Compiling" "${TMPDIR:-/tmp}/triage-fuzz-build.log" | tail -40 >&2
  echo "fuzz: the targets did not build" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  corpus="$(mktemp -d)"
  limit=(-max_total_time="$seconds")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  echo "fuzz: $target (${FUZZ_RUNS:-$seconds s}${FUZZ_RUNS:+ executions})"
  if ! cargo +nightly fuzz run --sanitizer none -O "$target" "$corpus" "seeds/$target" -- \
      "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 2> "$corpus.log"; then
    tail -40 "$corpus.log" >&2
    echo "fuzz: $target FAILED (the crashing input is in fuzz/artifacts/$target/)" >&2
    rm -rf "$corpus" "$corpus.log"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^Done" "$corpus.log" | tr '\n' ' '; echo
  rm -rf "$corpus" "$corpus.log"
done
