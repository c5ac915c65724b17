#!/usr/bin/env python3
"""A full-size jina-embeddings-v2-base-en checkpoint with the released shapes and names and
random weights, for benchmarks (never committed: 0.27 GB). Writes DEST/jina-embeddings-v2-base-en/:
model.safetensors (f16, under the masked-LM class's names `bert.…`, with the unused pooler),
config.json (the released config's fields) and tokenizer.json (a BERT WordPiece one, lower
case: all-minilm-l6-v2's, whose 30,522 ids fit the model's 30,528-row table).

    python benches/v2/make_checkpoint.py DEST [--tokenizer models/cache/all-minilm-l6-v2/tokenizer.json]

Needs numpy. Weights are N(0, 0.02), LayerNorm weights 1 + N(0, 0.02), from a fixed seed: the
network's numbers are meaningless, its cost is real.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
from gen_v2_fixtures import write_safetensors  # noqa: E402 (the one safetensors writer of the scripts)

HIDDEN, LAYERS, HEADS, INTER, VOCAB, TYPES = 768, 12, 12, 3072, 30528, 2
CONFIG = {
    "architectures": ["JinaBertForMaskedLM"], "model_type": "bert", "vocab_size": VOCAB,
    "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
    "intermediate_size": INTER, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 8192,
    "type_vocab_size": TYPES, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
    "pad_token_id": 0, "position_embedding_type": "alibi", "feed_forward_type": "geglu",
    "emb_pooler": "mean", "torch_dtype": "float16",
}


def shapes():
    yield "bert.embeddings.word_embeddings.weight", (VOCAB, HIDDEN)
    yield "bert.embeddings.token_type_embeddings.weight", (TYPES, HIDDEN)
    yield "bert.embeddings.LayerNorm.weight", (HIDDEN,)
    yield "bert.embeddings.LayerNorm.bias", (HIDDEN,)
    for layer in range(LAYERS):
        p = f"bert.encoder.layer.{layer}."
        for name in ("query", "key", "value"):
            yield p + f"attention.self.{name}.weight", (HIDDEN, HIDDEN)
            yield p + f"attention.self.{name}.bias", (HIDDEN,)
        yield p + "attention.output.dense.weight", (HIDDEN, HIDDEN)
        yield p + "attention.output.dense.bias", (HIDDEN,)
        yield p + "attention.output.LayerNorm.weight", (HIDDEN,)
        yield p + "attention.output.LayerNorm.bias", (HIDDEN,)
        yield p + "mlp.gated_layers.weight", (2 * INTER, HIDDEN)
        yield p + "mlp.wo.weight", (HIDDEN, INTER)
        yield p + "mlp.wo.bias", (HIDDEN,)
        yield p + "mlp.layernorm.weight", (HIDDEN,)
        yield p + "mlp.layernorm.bias", (HIDDEN,)
    yield "bert.pooler.dense.weight", (HIDDEN, HIDDEN)
    yield "bert.pooler.dense.bias", (HIDDEN,)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dest")
    parser.add_argument("--tokenizer", default="models/cache/all-minilm-l6-v2/tokenizer.json")
    args = parser.parse_args()
    out = os.path.join(args.dest, "jina-embeddings-v2-base-en")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20231027)
    tensors = {}
    for name, shape in shapes():
        values = rng.normal(0.0, 0.02, size=shape).astype(np.float16)
        if "LayerNorm.weight" in name or "layernorm.weight" in name:
            values += np.float16(1.0)
        tensors[name] = ("F16", list(shape), values.tobytes())
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    shutil.copyfile(args.tokenizer, os.path.join(out, "tokenizer.json"))
    params = sum(int(np.prod(s)) for _, s in shapes())
    size = sum(len(raw) for _, _, raw in tensors.values())
    print(f"wrote {out}: {params:,} parameters, {size:,} bytes of f16 tensors")


if __name__ == "__main__":
    main()
