#!/usr/bin/env bash
# The set-up logic (scripts/setup.sh) on a machine that lacks things: stub rustup, cargo,
# wasm-bindgen, apt-get and npm on PATH pretend the wasm32 target, wasm-bindgen-cli,
# Chromium + ChromeDriver, PostgreSQL and the npm packages are missing; each setup step must install
# exactly the missing piece (the stubs log what they were asked), and must ask nothing when
# everything is there.
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
  "toolchain list") echo stable-x86_64-unknown-linux-gnu; [ -f "$work/has-nightly" ] && echo nightly-x86_64-unknown-linux-gnu ;;
  "toolchain install nightly --profile minimal") touch "$work/has-nightly" ;;
esac
STUB
cat > "$stubs/cargo" <<STUB
#!/usr/bin/env bash
echo "cargo \$*" >> "$log"
[ "\$1 \$2" = "install wasm-bindgen-cli" ] && echo "\$4" > "$work/bindgen-version"
[ "\$1 \$2" = "install cargo-fuzz" ] && printf '#!/bin/sh\n' > "$stubs/cargo-fuzz" && chmod +x "$stubs/cargo-fuzz"
exit 0
STUB
cat > "$stubs/wasm-bindgen" <<STUB
#!/usr/bin/env bash
echo "wasm-bindgen \$(cat "$work/bindgen-version" 2>/dev/null || echo 0.0.1)"
STUB
# apt-get "installs" chromium and chromium-driver where TRIAGE_CHROMIUM(DRIVER) point.
cat > "$stubs/apt-get" <<STUB
#!/usr/bin/env bash
echo "apt-get \$*" >> "$log"
if [ "\$1" = install ] && [ "\$*" != "\${*%postgresql}" ]; then
  mkdir -p "$work/pg/15/bin"; printf '#!/bin/sh\n' > "$work/pg/15/bin/initdb"; chmod +x "$work/pg/15/bin/initdb"
elif [ "\$1" = install ]; then
  printf '#!/bin/sh\n' > "$work/chromium"; printf '#!/bin/sh\n' > "$work/chromedriver"
  chmod +x "$work/chromium" "$work/chromedriver"
fi
STUB
cat > "$stubs/id" <<STUB
#!/usr/bin/env bash
echo 0
STUB
for tool in node npm; do
  cat > "$stubs/$tool" <<STUB
#!/usr/bin/env bash
echo "$tool \$*" >> "$log"
[ "\$1" = ci ] && mkdir -p node_modules && echo '{}' > node_modules/.package-lock.json
exit 0
STUB
done
# python3 -m venv makes a venv whose python logs what pip is asked.
cat > "$stubs/python3" <<STUB
#!/usr/bin/env bash
echo "python3 \$*" >> "$log"
if [ "\$1 \$2" = "-m venv" ]; then
  mkdir -p "\$3/bin"; printf '#!/usr/bin/env bash\necho "venv-python \$*" >> "$log"\n' > "\$3/bin/python"; chmod +x "\$3/bin/python"
fi
STUB
chmod +x "$stubs"/*
run() { PATH="$stubs:/usr/bin:/bin" TRIAGE_PG_LIB="$work/pg" TRIAGE_CHROMIUM="$work/chromium" TRIAGE_CHROMEDRIVER="$work/chromedriver" bash -c "source '$root/scripts/setup.sh'; $1" 2>> "$work/said"; }

run setup_wasm_toolchain
check "adds the missing wasm32 target" 'grep -qx "rustup target add wasm32-unknown-unknown" "$log"'
check "installs wasm-bindgen-cli at Cargo.lock's version ($version)" 'grep -qx "cargo install wasm-bindgen-cli --version $version" "$log"'
check "says what it installs" 'grep -q "installing wasm-bindgen-cli $version" "$work/said"'
: > "$log"
run setup_wasm_toolchain
check "asks nothing once both are there" '! grep -q "target add\|cargo install" "$log"'

: > "$log"
run setup_browser
check "installs chromium and chromium-driver when they are missing" 'grep -q "apt-get install -y -qq chromium chromium-driver" "$log"'
: > "$log"
run setup_browser
check "asks apt nothing once they are there" '! grep -q "apt-get" "$log"'

: > "$log"
run setup_fuzz
check "installs a nightly toolchain when missing" 'grep -qx "rustup toolchain install nightly --profile minimal" "$log"'
check "installs cargo-fuzz when missing" 'grep -qx "cargo install cargo-fuzz --version 0.13.2" "$log"'
: > "$log"
run setup_fuzz
check "asks nothing once nightly and cargo-fuzz are there" '! grep -q "toolchain install\|cargo install" "$log"'

: > "$log"
run setup_postgres
check "installs postgresql when its server binaries are missing" 'grep -q "apt-get install -y -qq postgresql" "$log"'
: > "$log"
run setup_postgres
check "asks apt nothing once postgresql is there" '! grep -q "apt-get" "$log"'

mkdir -p "$work/app"; echo '{}' > "$work/app/package-lock.json"; touch -d '1 hour ago' "$work/app/package-lock.json"
: > "$log"
run "setup_npm_packages '$work/app'"
check "installs the npm packages when node_modules is missing" 'grep -qx "npm ci --no-audit --no-fund --silent" "$log"'
: > "$log"
run "setup_npm_packages '$work/app'"
check "leaves node_modules alone when it matches the lock" '! grep -q "npm" "$log"'

: > "$log"
run "TRIAGE_VENV='$work/venv' setup_python_packages"
check "makes the venv and installs the requirements" 'grep -q "^python3 -m venv $work/venv" "$log" && grep -q "venv-python -m pip install .*-r .*tests/py/requirements.txt" "$log"'
: > "$log"
run "TRIAGE_VENV='$work/venv' setup_python_packages"
check "leaves the venv alone when the requirements are unchanged" '! grep -q "python" "$log"'
touch "$work/app/package-lock.json"; sleep 1; touch "$work/app/package-lock.json"
: > "$log"
run "setup_npm_packages '$work/app'"
check "installs again when the lock changed" 'grep -q "npm ci" "$log"'

echo "setup: $passed passed, $failed failed"
[ "$failed" = 0 ]
