#!/usr/bin/env bash
# jina-clip benchmark (not a test), natively: full-size checkpoints with the released shapes,
# names and dtypes and random weights (benches/clip/make_checkpoint.py, generated once into
# DIR/jina-clip-v1 and DIR/jina-clip-v2, never committed) loaded by triage (flex) and by the
# PyTorch peer (benches/clip/peer.py: timm's Eva, the reference JinaBERT, transformers'
# JinaEmbeddingsV3Model) in the same run: load time, peak RSS of a process that only loads
# (/usr/bin/time -v), texts/s at N tokens and images/s (preprocessed pixels), at each batch.
#
#   bash benches/clip/run.sh [DIR] [seconds-per-case] [batches] [models]
#
# Needs: a Python with torch, timm, transformers==5.23.0, safetensors, torchvision and pillow
# (PYTHON=...); for new checkpoints the tokenizers of all-minilm-l6-v2 (v1's WordPiece vocabulary
# is BERT's) and multilingual-e5-small (XLM-R's, as v2) from `triage pull`.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${1:-models/cache/_random}"
SECS="${2:-5}"
BATCHES="${3:-1,8}"
MODELS="${4:-v1,v2}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
source benches/peak.sh
declare -A TOKENIZER=([v1]=models/cache/all-minilm-l6-v2/tokenizer.json [v2]=models/cache/multilingual-e5-small/tokenizer.json)
cargo build --release --features wgpu --quiet --bin triage --example bench  # the binary benches/v3/run.sh builds
BIN="$CARGO_TARGET_DIR/release/examples/bench"
for v in ${MODELS//,/ }; do
  m="jina-clip-$v"
  [ -f "$DIR/$m/model.safetensors" ] || "$PYTHON" benches/clip/make_checkpoint.py "$v" "$DIR/$m" "${TOKENIZER[$v]}"
  with_peak "$BIN" --quiet --models-dir "$DIR" --model "$m" --load-only
  with_peak "$PYTHON" benches/clip/peer.py "$DIR/$m" "$v" --load-only
  "$BIN" --quiet --models-dir "$DIR" --model "$m" --tokens 32 --batches "$BATCHES" --seconds "$SECS"
  "$PYTHON" benches/clip/peer.py "$DIR/$m" "$v" --tokens 32 --batches "$BATCHES" --seconds "$SECS"
done
