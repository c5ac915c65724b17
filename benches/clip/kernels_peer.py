"""PyTorch's side of `cargo run --release --example kernels` (a benchmark, not a test): the
same linear and attention cases of the EVA02 image tower at jina-clip's shapes, on the CPU
with a thread per core as the Rust side (F.linear and scaled_dot_product_attention, as
timm's Eva runs them).

    python benches/clip/kernels_peer.py [repeats]
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(os.cpu_count())
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def seconds(f):
    f()
    t = time.perf_counter()
    for _ in range(repeats):
        f()
    return (time.perf_counter() - t) / repeats


def report(model, case, flops, secs):
    print(json.dumps({"impl": f"pytorch-{torch.__version__}", "model": model, "case": case,
                      "ms": round(secs * 1e3, 1), "gflop_per_s": round(flops / secs / 1e9, 1)}, ensure_ascii=False))


with torch.inference_mode():
    for model, tokens, width, heads, hidden in [("jina-clip-v1", 197, 768, 12, 2048), ("jina-clip-v2", 1297, 1024, 16, 2730)]:
        x, h = torch.randn(tokens, width), torch.randn(tokens, hidden)
        for case, inp, out in [("q/k/v/proj", x, width), ("swiglu w1/w2", x, hidden), ("swiglu w3", h, width)]:
            k = inp.shape[1]
            w = torch.randn(out, k)
            secs = seconds(lambda: F.linear(inp, w))
            report(model, f"linear {case} [{tokens}×{k}]·[{k}×{out}]", 2 * tokens * k * out, secs)
        head_dim = width // heads
        q, k, v = (torch.randn(1, heads, tokens, head_dim) for _ in range(3))
        secs = seconds(lambda: F.scaled_dot_product_attention(q, k, v))
        report(model, f"attention {heads} heads × {tokens} tokens × {head_dim}",
               4 * heads * tokens * tokens * head_dim, secs)
