#!/usr/bin/env bash
# jina-embeddings-v3 benchmark (not a test), natively: a full-size checkpoint with random
# weights (benches/v3/make_checkpoint.py, generated once into DIR, never committed) loaded by
# triage (flex: classification adapter folded at load, and --unfolded; wgpu) and by
# transformers' JinaEmbeddingsV3Model
# (PyTorch CPU, f32, merged adapter) in the same run: load time, peak RSS while loading
# (/usr/bin/time -v, a process that only loads), emb/s at each token length and batch.
#
#   bash benches/v3/run.sh [DIR] [seconds-per-case] [tokens] [batches]
#   (WGPU_TOKENS / WGPU_BATCHES: fewer cases on wgpu — a software Vulkan takes minutes each)
#
# Needs: a Python with torch, transformers==5.23.0, safetensors (PYTHON=...), the XLM-R
# tokenizer (triage pull multilingual-e5-small), /usr/bin/time; for wgpu a
# Vulkan driver (Debian: mesa-vulkan-drivers).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${1:-models/cache/_random}"
SECS="${2:-5}"
TOKENS="${3:-32,512}"
BATCHES="${4:-1,8}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[ -f "$DIR/jina-embeddings-v3/model.safetensors" ] || "$PYTHON" benches/v3/make_checkpoint.py "$DIR"
cargo build --release --features wgpu --quiet --bin triage --example bench
BIN="$CARGO_TARGET_DIR/release/examples/bench"
source benches/peak.sh
for args in "--backend flex" "--backend flex --unfolded" "--backend wgpu"; do
  with_peak "$BIN" --quiet --models-dir "$DIR" --model jina-embeddings-v3 --load-only $args
done
with_peak "$PYTHON" benches/v3/peer.py "$DIR" --load-only
"$BIN" --quiet --models-dir "$DIR" --model jina-embeddings-v3 --tokens "$TOKENS" --batches "$BATCHES" --seconds "$SECS" --backend flex
"$BIN" --quiet --models-dir "$DIR" --model jina-embeddings-v3 --tokens "$TOKENS" --batches "$BATCHES" --seconds "$SECS" --backend flex --unfolded
"$PYTHON" benches/v3/peer.py "$DIR" --tokens "$TOKENS" --batches "$BATCHES" --seconds "$SECS"
"$BIN" --quiet --models-dir "$DIR" --model jina-embeddings-v3 --tokens "${WGPU_TOKENS:-$TOKENS}" --batches "${WGPU_BATCHES:-$BATCHES}" --seconds "$SECS" --backend wgpu \
  || echo '{"note": "wgpu backend unavailable on this machine"}'
