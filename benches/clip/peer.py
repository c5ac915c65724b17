#!/usr/bin/env python3
"""The PyTorch peer for the jina-clip benchmark (not a test): the same full-size random
checkpoint triage reads (benches/clip/make_checkpoint.py), run by reference implementations
on the CPU in f32:
- image tower: timm's `Eva` built as EVA02 (the constructor of tests/fixtures/gen_clip_fixtures.py),
  the Jina-named weights read by timm's own `checkpoint_filter_fn`;
- jina-clip-v1 text tower: the plain-PyTorch JinaBERT of gen_clip_fixtures.py (the golden
  tests' reference; transformers has no JinaBERT class);
- jina-clip-v2 text tower: transformers' `JinaEmbeddingsV3Model` with the single adapter
  merged (benches/v3/peer.py's loader).
Inputs as the bench example's: preprocessed pixels (decoding and resizing are not timed) and texts
of exactly N tokens. Prints JSON lines.

    python benches/clip/peer.py MODEL_DIR v1|v2 [--tokens 32] [--batches 1,8] [--seconds 5] [--load-only]
"""
import argparse
import functools
import json
import os
import sys
import time

import timm
import torch
from safetensors import safe_open
from timm.models.eva import Eva, checkpoint_filter_fn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "v3"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
import gen_clip_fixtures as reference  # noqa: E402
import peer as v3_peer  # noqa: E402

# jina-embeddings-v3's config.json fields that jina-clip-v2's text tower keeps (see
# src/models/jina_clip.rs), with its one adapter.
V2_TEXT = dict(vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
               intermediate_size=4096, max_position_embeddings=8194, type_vocab_size=1, layer_norm_eps=1e-5,
               rotary_emb_base=20000.0, lora_rank=4, lora_alpha=4.0)
V1_TEXT = dict(vocab_size=30528, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072)


def load(model_dir, which):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    v = cfg["vision_config"]
    pt = v["pt_hw_seq_len"]
    vision = Eva(
        img_size=v["image_size"], patch_size=v["patch_size"], num_classes=0, embed_dim=v["width"], depth=v["layers"],
        num_heads=v["width"] // v["head_width"], qkv_bias=True, qkv_fused=False, mlp_ratio=v["mlp_ratio"],
        swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True, use_rot_pos_emb=True,
        ref_feat_shape=(pt, pt) if v["intp_freq"] else None, global_pool="token", use_fc_norm=False,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
    ).eval()
    with safe_open(os.path.join(model_dir, "model.safetensors"), "pt") as f:
        keys = list(f.keys())
        state = {"visual." + k[len("vision_model."):]: f.get_tensor(k).float() for k in keys
                 if k.startswith("vision_model.")}
        vision.load_state_dict(checkpoint_filter_fn(state, vision), assign=True)
        del state
        if which == "v1":
            reference.BERT.update(V1_TEXT)
            prefix = "text_model.transformer."
            weights = {k[len(prefix):]: f.get_tensor(k).float() for k in keys if k.startswith(prefix)}

            def text(ids, mask):
                return reference.jina_bert_forward(weights, ids, mask)
        else:
            model = v3_peer.build(V2_TEXT, lambda k: f.get_tensor("text_model.transformer.roberta." + k).float(), 0)

            def text(ids, mask):
                ids, mask = torch.tensor(ids), torch.tensor(mask)
                states = model(input_ids=ids, attention_mask=mask).last_hidden_state
                return (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    return vision, text, v["image_size"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("which", choices=["v1", "v2"])
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--load-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = f"jina-clip-{args.which}"
    started = time.perf_counter()
    vision, text, size = load(args.dir, args.which)
    load_s = time.perf_counter() - started
    name = f"timm-{timm.__version__}+torch-{torch.__version__.split('+')[0]}-cpu"
    print(json.dumps({"impl": name, "model": model, "load_s": round(load_s, 3)}), flush=True)
    if args.load_only:
        return
    (cls, sep, lo, hi) = (101, 102, 1000, 5000) if args.which == "v1" else (0, 2, 5, 1000)
    g = torch.Generator().manual_seed(0)

    for b in [int(x) for x in args.batches.split(",")]:
        ids = [[cls] + torch.randint(lo, hi, (args.tokens - 2,), generator=g).tolist() + [sep] for _ in range(b)]
        mask = [[1] * args.tokens] * b
        done, secs = v3_peer.timed(lambda: text(ids, mask), b, args.seconds)
        print(json.dumps({"impl": name, "model": model, "input": "text", "batch": b, "mean_tokens": float(args.tokens),
                          "embeddings": done, "seconds": round(secs, 3), "emb_per_s": round(done / secs, 2)}), flush=True)
    for b in [int(x) for x in args.batches.split(",")]:
        pixels = torch.randn(b, 3, size, size, generator=g)
        done, secs = v3_peer.timed(lambda: vision(pixels), b, args.seconds)
        print(json.dumps({"impl": name, "model": model, "input": "image", "image_size": size, "batch": b,
                          "images": done, "seconds": round(secs, 3), "images_per_s": round(done / secs, 3)}), flush=True)


if __name__ == "__main__":
    main()
