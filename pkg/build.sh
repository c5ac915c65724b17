#!/usr/bin/env bash
# Builds the npm package's wasm: the crate for wasm32 (no CLI) and wasm-bindgen's ES-module
# glue into pkg/wasm/. `--release` builds the release profile (what is shipped; ~20 min
# from nothing on 2 cores); the default is the dev profile, whose dependencies are
# optimised (Cargo.toml) and which shares its build with the browser tests.
# wasm-opt is not run here (it takes ~9 minutes on a burn module); see README.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
args=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  args+=(--release)
fi
cargo build --lib --target wasm32-unknown-unknown --no-default-features "${args[@]}"
target="${CARGO_TARGET_DIR:-target}"
wasm-bindgen --target web --out-dir pkg/wasm --out-name triage \
  "$target/wasm32-unknown-unknown/$profile/triage.wasm"
ls -l pkg/wasm/triage_bg.wasm
