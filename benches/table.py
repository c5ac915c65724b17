#!/usr/bin/env python3
"""Markdown table of benches/run.sh results: emb/s per impl and batch, triage's ratio to
the fastest peer at each batch size, and each one's share of the CPU's f32 limit:
all-MiniLM-L6-v2's multiply-adds per embedding at the sentences' mean length (6 layers of
4·384² + 2·384·1536 weights per token, attention 2·2·tokens·384 per token) against
PEAK_GFLOPS (default 190: 2 cores × 2 FMA units × 8 lanes × 2 at ~3 GHz)."""
import json
import os
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "emb_per_s" in r]
impls = list(dict.fromkeys(r["impl"] for r in runs))
batches = sorted({r["batch"] for r in runs})
rate = {(r["impl"], r["batch"]): r["emb_per_s"] for r in runs}
for r in rows:
    if "emb_per_s" not in r:
        print(f"<!-- {json.dumps(r, ensure_ascii=False)} -->")
print("| implementation | " + " | ".join(f"batch {b}" for b in batches) + " |")
print("|---|" + "---:|" * len(batches))
for i in impls:
    print(f"| {i} | " + " | ".join(f"{rate.get((i, b), float('nan')):.1f}" for b in batches) + " |")
peers = [i for i in impls if not i.startswith("triage")]
for i in [i for i in impls if i.startswith("triage")]:
    cells = []
    for b in batches:
        best = max((rate[(p, b)] for p in peers if (p, b) in rate), default=None)
        cells.append(f"{rate[(i, b)] / best:.2f}×" if best and (i, b) in rate else "–")
    print(f"| {i} ÷ fastest peer | " + " | ".join(cells) + " |")

tokens = next((r["mean_tokens"] for r in runs if "mean_tokens" in r), None)
if tokens:
    peak = float(os.environ.get("PEAK_GFLOPS", 190))
    flop = 6 * tokens * 2 * (4 * 384 * 384 + 2 * 384 * 1536 + 2 * tokens * 384)
    limit = peak * 1e9 / flop
    print(f"\nCPU limit at {tokens} tokens and {peak:.0f} GFLOP/s: {limit:.0f} emb/s.\n")
    print("| share of the CPU limit | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|" + "---:|" * len(batches))
    for i in impls:
        print(f"| {i} | " + " | ".join(f"{rate[(i, b)] / limit:.0%}" if (i, b) in rate else "–" for b in batches) + " |")
