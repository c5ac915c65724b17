#!/usr/bin/env python3
"""The PyTorch peer for the jina-embeddings-v3 benchmark: transformers' JinaEmbeddingsV3Model
(f32, CPU) on the same checkpoint triage reads (benches/v3/make_checkpoint.py), with the
classification adapter merged into its weights at load (transformers' class has no LoRA).
Prints JSON lines like the bench example.

    python benches/v3/peer.py DIR [--tokens 32,512] [--batches 1,8] [--seconds 5] [--load-only]
"""
import argparse
import json
import os
import time

import torch
from safetensors import safe_open
from transformers import JinaEmbeddingsV3Config, JinaEmbeddingsV3Model
from transformers.initialization import no_init_weights

TASK = "classification"


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    with safe_open(os.path.join(model_dir, "model.safetensors"), "pt") as f:
        return build(cfg, lambda k: f.get_tensor("roberta." + k).float(), cfg["lora_adaptations"].index(TASK))


def build(cfg, get, t):
    """`JinaEmbeddingsV3Model` (eval, f32) from jina-embeddings-v3's config.json fields and a
    reader of its `roberta.`-relative tensors, with adapter `t` merged into the weights."""
    s = cfg["lora_alpha"] / cfg["lora_rank"]
    h, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    config = JinaEmbeddingsV3Config(
        vocab_size=cfg["vocab_size"], hidden_size=h, num_hidden_layers=layers,
        num_attention_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
        hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        max_position_embeddings=cfg["max_position_embeddings"], type_vocab_size=cfg["type_vocab_size"],
        layer_norm_eps=cfg["layer_norm_eps"], pad_token_id=1,
        rope_parameters={"rope_type": "default", "rope_theta": cfg["rotary_emb_base"]},
    )
    config._attn_implementation = "sdpa"
    st = {}

    def linear(p):
        w = get(f"{p}.parametrizations.weight.original")
        return w + s * get(f"{p}.parametrizations.weight.0.lora_B")[t] @ get(f"{p}.parametrizations.weight.0.lora_A")[t]

    def embedding(p):
        w = get(f"{p}.parametrizations.weight.original")
        return w + s * get(f"{p}.parametrizations.weight.0.lora_A")[t] @ get(f"{p}.parametrizations.weight.0.lora_B")[t]

    st["embeddings.word_embeddings.weight"] = embedding("embeddings.word_embeddings")
    st["embeddings.token_type_embeddings.weight"] = embedding("embeddings.token_type_embeddings")
    st["embeddings.LayerNorm.weight"] = get("emb_ln.weight")
    st["embeddings.LayerNorm.bias"] = get("emb_ln.bias")
    for i in range(layers):
        p, q = f"encoder.layers.{i}", f"layers.{i}"
        qkv, qkv_b = linear(f"{p}.mixer.Wqkv"), get(f"{p}.mixer.Wqkv.bias")
        for j, name in enumerate(["q_proj", "k_proj", "v_proj"]):
            st[f"{q}.self_attn.{name}.weight"] = qkv[j * h:(j + 1) * h].clone()
            st[f"{q}.self_attn.{name}.bias"] = qkv_b[j * h:(j + 1) * h].clone()
        del qkv
        st[f"{q}.self_attn.o_proj.weight"] = linear(f"{p}.mixer.out_proj")
        st[f"{q}.self_attn.o_proj.bias"] = get(f"{p}.mixer.out_proj.bias")
        for fc in ["fc1", "fc2"]:
            st[f"{q}.mlp.{fc}.weight"] = linear(f"{p}.mlp.{fc}")
            st[f"{q}.mlp.{fc}.bias"] = get(f"{p}.mlp.{fc}.bias")
        for a, b in [("norm1", "post_attention_layernorm"), ("norm2", "post_mlp_layernorm")]:
            st[f"{q}.{b}.weight"] = get(f"{p}.{a}.weight")
            st[f"{q}.{b}.bias"] = get(f"{p}.{a}.bias")
    # As from_pretrained does: no random initialisation of weights about to be replaced.
    with no_init_weights():
        model = JinaEmbeddingsV3Model(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(st, strict=False, assign=True)
    assert not [k for k in missing if "position_ids" not in k and "token_type_ids" not in k], missing
    return model.eval()


def timed(run, batch, seconds):
    """One warm-up call, then calls of `batch` items until `seconds` have passed (at least
    one): (items done, seconds), without autograd."""
    with torch.inference_mode():
        run()
        done, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds or done == 0:
            run()
            done += batch
        return done, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", help="directory holding jina-embeddings-v3/")
    ap.add_argument("--tokens", default="32,512")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--load-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load(os.path.join(args.dir, "jina-embeddings-v3"))
    load_s = time.perf_counter() - started
    name = f"transformers-{__import__('transformers').__version__}-torch-cpu"
    print(json.dumps({"impl": name, "model": "jina-embeddings-v3", "load_s": round(load_s, 3), "lora": "merged"}), flush=True)
    if args.load_only:
        return
    g = torch.Generator().manual_seed(0)
    for n in [int(x) for x in args.tokens.split(",")]:
        for b in [int(x) for x in args.batches.split(",")]:
            ids = torch.cat([torch.zeros(b, 1, dtype=torch.long), torch.randint(5, 1000, (b, n - 2), generator=g),
                             torch.full((b, 1), 2, dtype=torch.long)], 1)
            mask = torch.ones_like(ids)

            def embed():
                states = model(input_ids=ids, attention_mask=mask).last_hidden_state
                return (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)

            done, secs = timed(embed, b, args.seconds)
            print(json.dumps({"impl": name, "model": "jina-embeddings-v3", "batch": b, "mean_tokens": float(n),
                              "embeddings": done, "seconds": round(secs, 3), "emb_per_s": round(done / secs, 2),
                              "load_s": round(load_s, 3), "lora": "merged"}), flush=True)


if __name__ == "__main__":
    main()
