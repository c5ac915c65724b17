"""Writes the safetensors seeds of fuzz/seeds/safetensors_reader (plain Python, no packages):
small checkpoints in the layout the loader reads (F32, F16 and BF16 tensors, one stored in
row blocks, metadata, a gap before a tensor).

    python3 fuzz/seeds/make_seeds.py
"""
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).parent / "safetensors_reader"


def checkpoint(tensors, metadata=None, gap=0):
    """tensors: name -> (dtype, shape, raw bytes), laid out in order."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        data += b"\0" * gap
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


f32 = lambda values: struct.pack(f"<{len(values)}f", *values)
f16 = lambda values: struct.pack(f"<{len(values)}e", *values)
bf16 = lambda values: b"".join(struct.pack("<f", v)[2:] for v in values)

HERE.mkdir(parents=True, exist_ok=True)
(HERE / "mixed.safetensors").write_bytes(checkpoint({
    "rows.embeddings": ("F32", [6, 4], f32([i / 7 for i in range(24)])),
    "layer.weight": ("F16", [2, 3], f16([0.5, -1.0, 2.0, 0.25, 3.0, -0.125])),
    "layer.bias": ("BF16", [3], bf16([1.0, -2.0, 0.5])),
    "position_ids": ("I64", [1, 2], struct.pack("<2q", 0, 1)),
}, metadata={"format": "pt"}))
(HERE / "gap.safetensors").write_bytes(checkpoint({
    "a": ("F32", [2], f32([1.0, 2.0])),
    "rows.b": ("F16", [3, 2], f16([1, 2, 3, 4, 5, 6])),
}, gap=8))
(HERE / "empty-tensor.safetensors").write_bytes(checkpoint({"rows.z": ("F32", [0, 4], b""), "s": ("F32", [], f32([4.0]))}))
