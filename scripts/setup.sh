#!/usr/bin/env bash
# Installs what building and testing triage need and this machine lacks, and nothing it
# has: each step checks first, says what it installs, and takes a moment when all is
# there. Sourced by pkg/build.sh (the wasm toolchain) and tests/run.sh (everything).
#
#   source scripts/setup.sh; setup_wasm_toolchain; setup_browser; setup_postgres; setup_npm_packages DIR
#
# Needs Rust by rustup, and for the browser tests Debian's apt and Node.js + npm.

setup_say() { echo "setup: $*" >&2; }

# The wasm32 target and wasm-bindgen-cli at Cargo.lock's wasm-bindgen version.
setup_wasm_toolchain() {
  command -v cargo >/dev/null || { setup_say "cargo not found: install Rust with rustup (https://rustup.rs)"; return 1; }
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    setup_say "adding the wasm32-unknown-unknown target (rustup)"
    rustup target add wasm32-unknown-unknown
  fi
  local root version
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  version="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    setup_say "installing wasm-bindgen-cli $version (cargo install, a few minutes once)"
    # Not --locked: the registry index can lag behind wasm-bindgen-cli's lock file.
    cargo install wasm-bindgen-cli --version "$version"
  fi
}

# Debian's Chromium + ChromeDriver (headless, WebGPU on SwiftShader) and Node.js + npm.
# (TRIAGE_CHROMIUM / TRIAGE_CHROMEDRIVER: where they are looked for; tests/setup.test.sh
# points them at a scratch folder.)
setup_browser() {
  if [ ! -x "${TRIAGE_CHROMIUM:-/usr/bin/chromium}" ] || [ ! -x "${TRIAGE_CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
    setup_say "installing Debian's chromium and chromium-driver (apt-get)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  command -v node >/dev/null && command -v npm >/dev/null || { setup_say "node/npm not found: install Node.js"; return 1; }
}

# PostgreSQL's server binaries (Debian's postgresql) for the PostgreSQL store's tests, which
# start a throwaway cluster of their own on loopback. (TRIAGE_PG_LIB: where versions are
# looked for, default /usr/lib/postgresql; tests/setup.test.sh points it at a scratch folder.)
setup_postgres() {
  local lib="${TRIAGE_PG_LIB:-/usr/lib/postgresql}"
  if ! compgen -G "$lib/*/bin/initdb" >/dev/null; then
    setup_say "installing Debian's postgresql (apt-get; the tests start their own server)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
}

# A nightly toolchain and cargo-fuzz, for the fuzz targets' short run (fuzz/run.sh).
setup_fuzz() {
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    setup_say "installing a nightly Rust toolchain (rustup; cargo fuzz needs it)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! command -v cargo-fuzz >/dev/null; then
    setup_say "installing cargo-fuzz (cargo install, a minute once)"
    cargo install cargo-fuzz --version 0.13.2
  fi
}

# The npm packages of DIR's package-lock.json (npm ci), unless node_modules already holds
# exactly them: npm writes node_modules/.package-lock.json, which then matches the lock.
setup_npm_packages() {
  local dir="$1"
  if [ -f "$dir/node_modules/.package-lock.json" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    return 0
  fi
  setup_say "installing the npm packages of $dir (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
}

# A Python venv with tests/py/requirements.txt (the OpenAI Python SDK, schemathesis), at
# TRIAGE_VENV (default tests/py/.venv); reinstalled only when the requirements change.
setup_python_packages() {
  local root venv req
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="${TRIAGE_VENV:-$root/tests/py/.venv}"
  req="$root/tests/py/requirements.txt"
  if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/triage-requirements.txt"; then
    return 0
  fi
  command -v python3 >/dev/null || { setup_say "python3 not found: install Python 3.10 or later"; return 1; }
  setup_say "installing the Python packages of tests/py/requirements.txt (venv at $venv)"
  python3 -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
    && cp "$req" "$venv/triage-requirements.txt"
}
