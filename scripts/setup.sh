#!/usr/bin/env bash
# Installs what building and testing triage need and this machine lacks, and nothing it
# has: each step checks first, says what it installs, and takes a moment when all is
# there. Sourced by pkg/build.sh (the wasm toolchain) and tests/run.sh (everything).
#
#   source scripts/setup.sh; setup_wasm_toolchain; setup_python_numpy; setup_browser
#
# Needs Rust by rustup, python3, and for the browser tests Debian's apt and Node.js + npm.

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

# A Python with numpy for models/fetch.py (multilingual-e5-small is dequantised with it):
# python3 itself if it has numpy, else a venv at $TRIAGE_VENV (default
# ~/.cache/triage/venv), put first on PATH.
setup_python_numpy() {
  python3 -c "import numpy" 2>/dev/null && return 0
  local venv="${TRIAGE_VENV:-$HOME/.cache/triage/venv}"
  if ! "$venv/bin/python" -c "import numpy" 2>/dev/null; then
    setup_say "creating a Python venv with numpy in $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet numpy
  fi
  export PATH="$venv/bin:$PATH"
}

# Debian's Chromium + ChromeDriver (headless, WebGPU on SwiftShader) and Node.js + npm.
setup_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    setup_say "installing Debian's chromium and chromium-driver (apt-get)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  command -v node >/dev/null && command -v npm >/dev/null || { setup_say "node/npm not found: install Node.js"; return 1; }
}
