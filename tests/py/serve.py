"""`triage serve` on a free loopback port for a test, with its own empty classifier store.

    with TriageServer() as base:   # base = "http://127.0.0.1:PORT"
        ...

The binary is TRIAGE_BIN, else $CARGO_TARGET_DIR/debug/triage, else target/debug/triage.
Model files come from TRIAGE_MODELS_DIR as `triage serve` reads it.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def triage_bin() -> str:
    if os.environ.get("TRIAGE_BIN"):
        return os.environ["TRIAGE_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "debug" / "triage")


class TriageServer:
    def __init__(self, *args: str):
        self.args = list(args)

    def __enter__(self) -> str:
        self.store = tempfile.mkdtemp(prefix="triage-py-store-")
        self.proc = subprocess.Popen(
            [triage_bin(), "serve", "--port", "0", "--store", self.store, *self.args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = []
        for line in self.proc.stderr:
            seen.append(line)
            found = re.search(r"on (http://[0-9.:]+)/", line)
            if found:
                # Keep draining stderr so the server never blocks on a full pipe.
                threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
                return found.group(1)
        raise RuntimeError(f"triage serve exited ({self.proc.wait()}): {''.join(seen)}")

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.store, ignore_errors=True)
