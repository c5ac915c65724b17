#!/usr/bin/env bash
# The set-up logic (scripts/setup.sh) on a machine that lacks things: stub rustup, cargo,
# wasm-bindgen and python3 on PATH pretend the wasm32 target, wasm-bindgen-cli and numpy
# are missing; each setup step must install exactly the missing piece (the stubs log what
# they were asked), and must ask nothing when everything is there.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1" >&2; fi; }

version="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
stubs="$work/bin"; mkdir -p "$stubs"; log="$work/log"; : > "$log"
# State files say what the stubs' machine has.
cat > "$stubs/rustup" <<STUB
#!/usr/bin/env bash
echo "rustup \$*" >> "$log"
case "\$*" in
  "target list --installed") echo x86_64-unknown-linux-gnu; [ -f "$work/has-target" ] && echo wasm32-unknown-unknown ;;
  "target add wasm32-unknown-unknown") touch "$work/has-target" ;;
esac
STUB
cat > "$stubs/cargo" <<STUB
#!/usr/bin/env bash
echo "cargo \$*" >> "$log"
[ "\$1" = install ] && echo "\$4" > "$work/bindgen-version"
exit 0
STUB
cat > "$stubs/wasm-bindgen" <<STUB
#!/usr/bin/env bash
echo "wasm-bindgen \$(cat "$work/bindgen-version" 2>/dev/null || echo 0.0.1)"
STUB
# python3 without numpy, whose venv module makes a venv whose python has "numpy".
cat > "$stubs/python3" <<STUB
#!/usr/bin/env bash
echo "python3 \$*" >> "$log"
if [ "\$1" = -m ] && [ "\$2" = venv ]; then
  mkdir -p "\$3/bin"
  printf '#!/usr/bin/env bash\necho "venv-python \$*" >> "$log"\nexit 0\n' > "\$3/bin/python"
  chmod +x "\$3/bin/python"
  exit 0
fi
exit 1
STUB
chmod +x "$stubs"/*
run() { PATH="$stubs:/usr/bin:/bin" TRIAGE_VENV="$work/venv" bash -c "source '$root/scripts/setup.sh'; $1" 2>> "$work/said"; }

run setup_wasm_toolchain
check "adds the missing wasm32 target" 'grep -qx "rustup target add wasm32-unknown-unknown" "$log"'
check "installs wasm-bindgen-cli at Cargo.lock's version ($version)" 'grep -qx "cargo install wasm-bindgen-cli --version $version" "$log"'
check "says what it installs" 'grep -q "installing wasm-bindgen-cli $version" "$work/said"'
: > "$log"
run setup_wasm_toolchain
check "asks nothing once both are there" '! grep -q "target add\|cargo install" "$log"'

: > "$log"
run 'setup_python_numpy; command -v python' > "$work/python-path"
check "makes a venv when python3 has no numpy" 'grep -q "python3 -m venv $work/venv" "$log"'
check "installs numpy into it" 'grep -q "venv-python -m pip install --quiet numpy" "$log"'
: > "$log"
run setup_python_numpy
check "reuses the venv next time" '! grep -q "python3 -m venv" "$log"'

echo "setup: $passed passed, $failed failed"
[ "$failed" = 0 ]
