"""Jina's published schema (tests/fixtures/jina-openapi-2026.json) against `triage serve`,
through schemathesis: every operation triage serves, with the checks not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
negative_data_rejection and positive_data_acceptance. The deliberate differences are named in
schema_differences.py (and docs/api.md); nothing else is excused.

The server runs with an API key and schemathesis sends it, so requests without one are
tested for Jina's 401 as well.

    tests/py/.venv/bin/python tests/py/schema_test.py [--max-time 80] [--seed 20261202]

Prints the requests generated, the failures by kind (none, or the run fails) and how often
each named difference applied.
"""

import argparse
import collections
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import schema_differences
from serve import ROOT, TriageServer

SCHEMA = ROOT / "tests/fixtures/jina-openapi-2026.json"
SERVED = r"^/(health|live|ready|v1/(classify|train|classifiers(/\{classifier_id\})?|embeddings|models(/\{model_id\})?))$"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
]
KEY = "schema-test-key"


def models(base: str) -> list[dict]:
    request = urllib.request.Request(f"{base}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["data"]


def warm_up(base: str, model: str) -> None:
    """Loads `model` before the run, so no generated request pays for loading it."""
    body = json.dumps({"model": model, "input": ["warm-up"]}).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/v1/embeddings", body, headers), timeout=600):
        pass


def patched_schema(base: str, out: Path) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    jina_models = set(re.findall(r'"(jina-[a-z0-9.-]+|elser-v2)"', SCHEMA.read_text()))
    listed = models(base)
    served = [m["id"] for m in listed if m["available"]]
    own = [m for m in served if m not in jina_models]
    patched = copy.deepcopy(schema)
    for patch in schema_differences.SCHEMA_PATCHES:
        patch(patched, served, own)
    out.write_text(json.dumps(patched))
    return served


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-time", type=int, default=80, help="seconds schemathesis may run")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()

    with TriageServer("--api-key", KEY) as base, tempfile.TemporaryDirectory() as work:
        work = Path(work)
        served = patched_schema(base, work / "schema.json")
        for model in served:
            warm_up(base, model)
        excused = work / "excused.ndjson"
        env = dict(os.environ)
        env["SCHEMATHESIS_HOOKS"] = str(Path(__file__).with_name("schema_differences.py"))
        env["TRIAGE_SCHEMA_EXCUSED_LOG"] = str(excused)
        env["PYTHONPATH"] = str(Path(__file__).parent)
        command = [
            str(Path(sys.executable).with_name("st")), "run", str(work / "schema.json"),
            "--url", base,
            "--header", f"Authorization: Bearer {KEY}",
            "--include-path-regex", SERVED,
            "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing",
            "--seed", str(args.seed),
            "--max-time", str(args.max_time),
            "--workers", "1",
            # Generous: a 512-item batch on 2 cores takes seconds; a hang still fails.
            "--request-timeout", "120",
            "--generation-database", "none",
            "--no-color",
        ]
        print(f"schemathesis over {SCHEMA.name} against triage serve (models with files: {', '.join(served)})", flush=True)
        run = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
        output = run.stdout + run.stderr
        summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-4000:]
        if run.returncode != 0:
            # Failures with their reproducing curl; long lines (vectors) cut.
            lines = [line if len(line) <= 400 else line[:400] + " …" for line in output.splitlines() if line.strip()]
            print("\n".join(lines[-600:]))
        else:
            print(summary)
        counts = collections.Counter()
        details = collections.defaultdict(set)
        if excused.exists():
            for line in excused.read_text().splitlines():
                entry = json.loads(line)
                key = (entry["excuse"], entry["operation"], entry["status"])
                counts[key] += 1
                details[key].add(re.sub(r"'[^']*'|\d+", "…", entry["detail"]))
        print("named differences applied:" + ("" if counts else " none"))
        for key, n in sorted(counts.items()):
            name, operation, status = key
            print(f"  {name:<24} {operation:<22} {status}  ×{n}")
            for detail in sorted(details[key])[:4]:
                print(f"      {detail}")
        generated = re.search(r"(\d+) generated", output)
        print(f"requests generated: {generated.group(1) if generated else '?'}; schemathesis exit code {run.returncode}")
        return run.returncode


if __name__ == "__main__":
    sys.exit(main())
