#!/usr/bin/env bash
# Builds the npm package's wasm: the crate for wasm32 (no CLI) and wasm-bindgen's ES-module
# glue into pkg/wasm/. `--release` builds the release profile (what is shipped; ~20 min
# from nothing on 2 cores); the default is the dev profile, whose dependencies are
# optimised (Cargo.toml) and which shares its build with the browser tests.
# `--wasm-opt` (with --release) then runs binaryen's `wasm-opt -Oz` (use npm's binaryen;
# Debian's v108 breaks current wasm-bindgen output). It takes 9–17 minutes here and halves
# the module, so it is for shipping, never part of the tests. pkg/wasm/build.json records
# which build it is: `npm publish` refuses anything but `--release --wasm-opt`.
#
#   bash pkg/build.sh [--release [--wasm-opt]]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
args=()
opt=no
for a in "$@"; do
  case "$a" in
    --release) profile=release; args+=(--release) ;;
    --wasm-opt) opt=yes ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
# The wasm32 target and wasm-bindgen-cli, installed if missing.
source scripts/setup.sh
setup_wasm_toolchain
cargo build --lib --target wasm32-unknown-unknown --no-default-features "${args[@]}"
target="${CARGO_TARGET_DIR:-target}"
wasm-bindgen --target web --out-dir pkg/wasm --out-name triage \
  "$target/wasm32-unknown-unknown/$profile/triage.wasm"
if [ "$opt" = yes ]; then
  wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    pkg/wasm/triage_bg.wasm -o pkg/wasm/triage_bg.opt.wasm
  mv pkg/wasm/triage_bg.opt.wasm pkg/wasm/triage_bg.wasm
fi
# How this module was built, for `npm publish` to check (scripts/check-release.mjs).
sha256="$(sha256sum pkg/wasm/triage_bg.wasm | cut -d' ' -f1)"
if [ "$opt" = yes ]; then wasm_opt=true; else wasm_opt=false; fi
if [ "$profile" = release ]; then profile_name=release; else profile_name=dev; fi
printf '{ "profile": "%s", "wasm_opt": %s, "sha256": "%s", "bytes": %s }\n' \
  "$profile_name" "$wasm_opt" "$sha256" "$(stat -c %s pkg/wasm/triage_bg.wasm)" > pkg/wasm/build.json
ls -l pkg/wasm/triage_bg.wasm
