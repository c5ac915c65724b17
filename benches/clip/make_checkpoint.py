#!/usr/bin/env python3
"""A full-size jina-clip checkpoint with random weights and the released shapes and names,
for benchmarks (no registry package ships the real weights). Sizes come from
../../../shared/spec/models.md §3–§4: v1 = JinaBERT base (vocab 30528, 768, 12 layers,
intermediate 3072) + EVA02-B/16 at 224 (width 768, 12 blocks, mlp 2048), f32 as released;
v2 = the jina-embeddings-v3 architecture (vocab 250002, 1024, 24 layers, one adapter, rank 4,
alpha 4) + EVA02-L/14 at 512 (width 1024, 24 blocks, mlp 2730), bf16 as released.

    python benches/clip/make_checkpoint.py v1|v2 OUT_DIR [TOKENIZER_JSON]

Writes OUT_DIR/model.safetensors and config.json (jina-clip's layout, no size overrides: the
loader's released defaults size the text tower), and copies TOKENIZER_JSON as tokenizer.json.
Needs torch and safetensors; tensors are generated one at a time.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

VISION = {
    "v1": dict(width=768, layers=12, head_width=64, mlp_ratio=2.6667, patch_size=16, image_size=224, pt_hw_seq_len=14,
               intp_freq=False),
    "v2": dict(width=1024, layers=24, head_width=64, mlp_ratio=2.6667, patch_size=14, image_size=512, pt_hw_seq_len=16,
               intp_freq=True),
}


def main():
    which, out = sys.argv[1], sys.argv[2]
    dtype = torch.float32 if which == "v1" else torch.bfloat16
    g = torch.Generator().manual_seed(7)
    t = {}

    def r(name, *shape, std=0.02):
        t[name] = (torch.randn(*shape, generator=g) * std).to(dtype)

    def ln(prefix, n):
        t[prefix + ".weight"] = torch.ones(n, dtype=dtype)
        t[prefix + ".bias"] = torch.zeros(n, dtype=dtype)

    v = VISION[which]
    w, hidden, grid = v["width"], int(v["width"] * v["mlp_ratio"]), v["image_size"] // v["patch_size"]
    p = "vision_model."
    r(p + "cls_token", 1, 1, w)
    r(p + "pos_embed", 1, 1 + grid * grid, w)
    r(p + "patch_embed.proj.weight", w, 3, v["patch_size"], v["patch_size"])
    r(p + "patch_embed.proj.bias", w)
    for i in range(v["layers"]):
        b = f"{p}blocks.{i}."
        ln(b + "norm1", w)
        ln(b + "norm2", w)
        for n in ["q_proj", "k_proj", "v_proj"]:
            r(b + f"attn.{n}.weight", w, w)
        r(b + "attn.q_bias", w)
        r(b + "attn.v_bias", w)
        ln(b + "attn.inner_attn_ln", w)
        r(b + "attn.proj.weight", w, w)
        r(b + "attn.proj.bias", w)
        r(b + "mlp.w1.weight", hidden, w)
        r(b + "mlp.w1.bias", hidden)
        r(b + "mlp.w2.weight", hidden, w)
        r(b + "mlp.w2.bias", hidden)
        ln(b + "mlp.ffn_ln", hidden)
        r(b + "mlp.w3.weight", w, hidden)
        r(b + "mlp.w3.bias", w)
    ln(p + "norm", w)
    p = "text_model.transformer."
    if which == "v1":
        h, inter = 768, 3072
        r(p + "embeddings.word_embeddings.weight", 30528, h)
        r(p + "embeddings.token_type_embeddings.weight", 2, h)
        ln(p + "embeddings.LayerNorm", h)
        for i in range(12):
            b = f"{p}encoder.layer.{i}."
            for n in ["query", "key", "value"]:
                r(b + f"attention.self.{n}.weight", h, h)
                r(b + f"attention.self.{n}.bias", h)
            r(b + "attention.output.dense.weight", h, h)
            r(b + "attention.output.dense.bias", h)
            ln(b + "attention.output.LayerNorm", h)
            r(b + "mlp.gated_layers.weight", 2 * inter, h)
            r(b + "mlp.wo.weight", h, inter)
            r(b + "mlp.wo.bias", h)
            ln(b + "mlp.layernorm", h)
        text_config = {"hf_model_name_or_path": "jinaai/jina-bert-flash-implementation", "embed_dim": 768,
                       "pooler_type": "mean_pooler", "proj_type": None, "hf_model_config_kwargs": {}}
    else:
        h, inter, rank = 1024, 4096, 4

        def lora_linear(prefix, o, i):
            r(prefix + ".parametrizations.weight.original", o, i)
            r(prefix + ".parametrizations.weight.0.lora_A", 1, rank, i)
            r(prefix + ".parametrizations.weight.0.lora_B", 1, o, rank)
            r(prefix + ".bias", o)

        def lora_embedding(prefix, rows):
            r(prefix + ".parametrizations.weight.original", rows, h)
            r(prefix + ".parametrizations.weight.0.lora_A", 1, rows, rank)
            r(prefix + ".parametrizations.weight.0.lora_B", 1, rank, h)

        lora_embedding(p + "roberta.embeddings.word_embeddings", 250002)
        lora_embedding(p + "roberta.embeddings.token_type_embeddings", 1)
        ln(p + "roberta.emb_ln", h)
        for i in range(24):
            b = f"{p}roberta.encoder.layers.{i}."
            lora_linear(b + "mixer.Wqkv", 3 * h, h)
            lora_linear(b + "mixer.out_proj", h, h)
            lora_linear(b + "mlp.fc1", inter, h)
            lora_linear(b + "mlp.fc2", h, inter)
            ln(b + "norm1", h)
            ln(b + "norm2", h)
        text_config = {"hf_model_name_or_path": "jinaai/jina-embeddings-v3", "default_lora_task": "retrieval.query",
                       "embed_dim": 1024, "pooler_type": "mean_pooler", "proj_type": None,
                       "hf_model_config_kwargs": {"load_trained_adapters": False, "lora_adaptations": ["retrieval.query"],
                                                  "lora_alpha": 4, "lora_dropout_p": 0.0, "use_flash_attn": False}}
    t["logit_scale"] = torch.tensor(4.6052, dtype=torch.float32)
    os.makedirs(out, exist_ok=True)
    save_file(t, os.path.join(out, "model.safetensors"))
    config = {"architectures": ["JinaCLIPModel"], "model_type": "jina_clip", "logit_scale_init_value": 2.6592,
              "projection_dim": w, "add_projections": False, "text_config": text_config,
              "vision_config": dict(v, rope_embeddings=True, naive_swiglu=True, subln=True, ls_init_value=None,
                                    proj_type=None, embed_dim=w)}
    if which == "v2":
        config["matryoshka_dimensions"] = [32, 64, 128, 256, 512, 768, 1024]
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    if len(sys.argv) > 3:
        shutil.copy(sys.argv[3], os.path.join(out, "tokenizer.json"))
    params = sum(x.numel() for k, x in t.items() if k != "logit_scale")
    print(f"{out}: {params:,} parameters, {os.path.getsize(os.path.join(out, 'model.safetensors')):,} bytes")


if __name__ == "__main__":
    main()
