#!/usr/bin/env bash
# Benchmark (not a test): all-MiniLM-L6-v2 embeddings/s at batch 1, 8, 32 on ~64-token
# sentences, triage (flex, and wgpu when built with it) side by side with
# sentence-transformers and onnxruntime in the same run, then a table.
#
#   bash benches/run.sh [seconds-per-case]
#
# Needs: a Python with torch, sentence-transformers, onnxruntime, tokenizers
# (PYTHON=/path/to/python to choose it); for wgpu natively, a Vulkan driver
# (Debian: mesa-vulkan-drivers gives lavapipe on machines without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_CASE="${1:-10}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --features wgpu --quiet --bin triage --example bench
BIN="$CARGO_TARGET_DIR/release/examples/bench"
OUT="$(mktemp -d)"
"$BIN" --quiet --write-texts "$OUT/texts.txt" --write-embeddings "$OUT/embeddings.json" --batches 1,8,32 --seconds "$SECONDS_PER_CASE" --backend flex | tee "$OUT/results.jsonl"
"$BIN" --quiet --batches 1,8,32 --seconds "$SECONDS_PER_CASE" --backend wgpu | tee -a "$OUT/results.jsonl" \
  || echo '{"note": "wgpu backend unavailable on this machine"}'
"$PYTHON" benches/peers.py --texts "$OUT/texts.txt" --reference "$OUT/embeddings.json" --batches 1,8,32 --seconds "$SECONDS_PER_CASE" | tee -a "$OUT/results.jsonl"
"$PYTHON" benches/table.py "$OUT/results.jsonl"
