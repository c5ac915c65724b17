#!/usr/bin/env python3
"""A full-size jina-embeddings-v3 checkpoint with the released shapes and names and random
weights, for benchmarks (never committed: 1.1 GB). Writes DEST/jina-embeddings-v3/:
model.safetensors (bf16, the released dtype, original names incl. LoRA A/B and the unused
pooler), config.json (the released config's fields), tokenizer.json (the real XLM-R one).

    python benches/v3/make_checkpoint.py DEST [--tokenizer models/cache/multilingual-e5-small/tokenizer.json]

Needs torch and safetensors. Weights are N(0, 0.02) (LoRA B N(0, 0.02) too, non-zero),
LayerNorm weights 1 + N(0, 0.02); the network's numbers are meaningless, its cost is real.
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file

HIDDEN, LAYERS, HEADS, INTER, VOCAB, RANK = 1024, 24, 16, 4096, 250002, 4
TASKS = ["retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"]
CONFIG = {
    "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": VOCAB,
    "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
    "intermediate_size": INTER, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 8194, "type_vocab_size": 1,
    "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
    "position_embedding_type": "rotary", "rotary_emb_base": 20000.0, "lora_adaptations": TASKS,
    "lora_rank": RANK, "lora_alpha": 1, "lora_dropout_p": 0.0,
    "task_instructions": {"retrieval.query": "Represent the query for retrieving evidence documents: ",
                          "retrieval.passage": "Represent the document for retrieval: ",
                          "separation": "", "classification": "", "text-matching": ""},
    "matryoshka_dimensions": [32, 64, 128, 256, 512, 768, 1024], "torch_dtype": "bfloat16",
}


def tensors(seed):
    g = torch.Generator().manual_seed(seed)
    n = lambda *shape: (torch.randn(*shape, generator=g) * 0.02).to(torch.bfloat16)
    w = {}

    def lora(prefix, weight_shape, a_shape, b_shape):
        w[f"{prefix}.parametrizations.weight.original"] = n(*weight_shape)
        w[f"{prefix}.parametrizations.weight.0.lora_A"] = n(*a_shape)
        w[f"{prefix}.parametrizations.weight.0.lora_B"] = n(*b_shape)

    t = len(TASKS)
    lora("roberta.embeddings.word_embeddings", (VOCAB, HIDDEN), (t, VOCAB, RANK), (t, RANK, HIDDEN))
    lora("roberta.embeddings.token_type_embeddings", (1, HIDDEN), (t, 1, RANK), (t, RANK, HIDDEN))
    w["roberta.emb_ln.weight"] = (1 + n(HIDDEN).float()).to(torch.bfloat16)
    w["roberta.emb_ln.bias"] = n(HIDDEN)
    for i in range(LAYERS):
        p = f"roberta.encoder.layers.{i}"
        for name, out_dim, in_dim in [("mixer.Wqkv", 3 * HIDDEN, HIDDEN), ("mixer.out_proj", HIDDEN, HIDDEN),
                                      ("mlp.fc1", INTER, HIDDEN), ("mlp.fc2", HIDDEN, INTER)]:
            lora(f"{p}.{name}", (out_dim, in_dim), (t, RANK, in_dim), (t, out_dim, RANK))
            w[f"{p}.{name}.bias"] = n(out_dim)
        for norm in ["norm1", "norm2"]:
            w[f"{p}.{norm}.weight"] = (1 + n(HIDDEN).float()).to(torch.bfloat16)
            w[f"{p}.{norm}.bias"] = n(HIDDEN)
    w["roberta.pooler.dense.weight"] = n(HIDDEN, HIDDEN)
    w["roberta.pooler.dense.bias"] = n(HIDDEN)
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dest")
    ap.add_argument("--tokenizer", default="models/cache/multilingual-e5-small/tokenizer.json")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    out = os.path.join(args.dest, "jina-embeddings-v3")
    os.makedirs(out, exist_ok=True)
    w = tensors(args.seed)
    print(f"{sum(v.numel() for v in w.values()):,} parameters")
    save_file(w, os.path.join(out, "model.safetensors"))
    json.dump(CONFIG, open(os.path.join(out, "config.json"), "w"), indent=2)
    shutil.copyfile(args.tokenizer, os.path.join(out, "tokenizer.json"))
    print(f"wrote {out}: {os.path.getsize(os.path.join(out, 'model.safetensors')):,} bytes of weights")


if __name__ == "__main__":
    main()
