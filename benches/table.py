#!/usr/bin/env python3
"""Markdown table of benches/run.sh results: emb/s per impl and batch, and triage's
ratio to the fastest peer at each batch size."""
import json
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
