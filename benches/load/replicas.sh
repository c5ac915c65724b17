#!/usr/bin/env bash
# Load runs of `triage serve` (a benchmark, not a test): one replica, then three, on one
# throwaway PostgreSQL on loopback (Debian's postgresql; stopped and removed at the end),
# at 1, 8 and 32 concurrent clients, with two requests: a few-shot classification of two short
# texts (one store read and one usage write per request) and the demo page's 6-text zero-shot
# sample. Clients rotate over the replicas request by request (examples/load.rs). Prints one
# JSON line per run and each replica's resident memory before and after its runs.
#
#   bash benches/load/replicas.sh [seconds per run, default 15] [passes, default 2]
# (Each pass runs every request at every client count; resident memory is printed after each,
# so growth that goes on pass after pass, a leak, shows apart from warm-up.)
#   LOAD_BUILD=debug bash benches/load/replicas.sh   (the test build: dependencies optimised,
#                                                     triage itself not)
set -euo pipefail
cd "$(dirname "$0")/../.."
per_run="${1:-15}"
passes="${2:-2}"
target="${CARGO_TARGET_DIR:-target}"
if [ "${LOAD_BUILD:-release}" = debug ]; then
  cargo build --quiet --bin triage --example load
  bin="$target/debug/triage"; load="$target/debug/examples/load"
else
  cargo build --release --quiet --bin triage --example load
  bin="$target/release/triage"; load="$target/release/examples/load"
fi
models="${TRIAGE_MODELS_DIR:-models/cache}"

work="$(mktemp -d)"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$work"; as_pg=(runuser -u postgres --); fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port="$(free_port)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -o "-h 127.0.0.1 -p $pg_port -k $work" -l "$work/pg.log" -w start >/dev/null
store="postgres://postgres@127.0.0.1:$pg_port/postgres"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_replicas() {
  bases=(); pids=()
  for _ in $(seq "$1"); do
    local port; port="$(free_port)"
    TRIAGE_MODELS_DIR="$models" "$bin" --quiet serve --port "$port" --store "$store" --max-concurrent 2 &
    pids+=($!); bases+=("http://127.0.0.1:$port")
  done
  for base in "${bases[@]}"; do
    until curl -sf "$base/ready" >/dev/null; do sleep 0.2; done
  done
}

train='{"model": "all-minilm-l6-v2", "access": "public", "input": [
  {"text": "my card was charged twice", "label": "billing"}, {"text": "refund my last invoice", "label": "billing"},
  {"text": "the app crashes on start", "label": "bug"}, {"text": "error 500 when saving", "label": "bug"}]}'

for replicas in 1 3; do
  start_replicas "$replicas"
  joined="$(IFS=,; echo "${bases[*]}")"
  id="$(curl -sf "${bases[0]}/v1/train" -H 'Content-Type: application/json' -d "$train" | python3 -c 'import json,sys; print(json.load(sys.stdin)["classifier_id"])')"
  echo "{\"classifier_id\": \"$id\", \"input\": [\"I was billed twice this month\", \"the page shows an error\"]}" > "$work/few-shot.json"
  before=(); for pid in "${pids[@]}"; do before+=("$(rss_kb "$pid")"); done
  for pass in $(seq "$passes"); do
    for body in "$work/few-shot.json" tests/fixtures/jina-samples/classify-zero-shot-text.json; do
      for clients in 1 8 32; do
        printf '{"replicas": %s, "pass": %s, "request": "%s", ' "$replicas" "$pass" "$(basename "$body" .json)"
        "$load" "$joined" "$body" "$clients" "$per_run" /v1/classify | sed 's/^{//'
      done
    done
    for i in "${!pids[@]}"; do
      echo "{\"replicas\": $replicas, \"replica\": $i, \"rss_mb_before\": $(( before[i] / 1024 )), \"rss_mb_after_pass_$pass\": $(( $(rss_kb "${pids[i]}") / 1024 ))}"
    done
  done
  for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
  pids=()
done
