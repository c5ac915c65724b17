// Every fenced code block of README.md and docs/*.md, run as a reader would run it:
// - `sh` blocks in bash, with `cargo run --release -- ARGS` standing for the triage binary
//   the test command built (TRIAGE_BIN), the port 8080 for a free one, and curl retrying
//   until the server is up; a block that starts `triage serve` is checked live (the API
//   answers, the demo page and the package are served) and then stopped. What a block
//   prints as JSON must parse and must not be an error. `bash tests/run.sh` is the command
//   running this test, so it counts as run when TRIAGE_TEST_COMMAND is set.
// - `js` blocks as a page's module under `triage serve` (the package at /pkg/, model files
//   at /models/) in headless Chromium: they must finish, log, and throw nothing.
// - `python` and `mjs` blocks are clients of a running `triage serve` (started for the block
//   on a free port that replaces 8080): `python` runs in the test venv (TRIAGE_VENV, default
//   tests/py/.venv: the OpenAI SDK, Haystack, LangChain), `mjs` in Node from tests/e2e (npm
//   `openai`). They must exit 0 and print something.
// A block in any other language fails the test: every block must be exercised (but the
// `text` diagram of docs/architecture.md, a picture).
//
//   node tests/e2e/docs.test.mjs      (TRIAGE_BIN: default target/debug/triage)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./browser.mjs";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const BIN = resolve(ROOT, process.env.TRIAGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? "target", "debug/triage"));

/** Every fenced block: `{ file, line, lang, code }`. */
function blocks() {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const found = [];
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const open = lines[i].match(/^```(\S*)/);
      if (!open) continue;
      const start = i;
      const body = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
      found.push({ file, line: start + 1, lang: open[1], code: body.join("\n") });
    }
  }
  return found;
}

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function get(url) {
  try {
    const r = await fetch(url);
    return { status: r.status, text: await r.text() };
  } catch {
    return null;
  }
}

/** Runs a shell block; returns its stdout once it exits, or once the server it started answers. */
async function runShell(block, port, store) {
  const prelude = `
set -e
cargo() {
  # Only the reader's \`cargo run --release -- …\` stands for the built binary; the scripts a
  # block calls (pkg/build.sh) run the real cargo.
  if [ "$1 $2 $3" != "run --release --" ]; then command cargo "$@"; return; fi
  shift 3; "${BIN}" "$@"
}
curl() { command curl --silent --show-error --retry 120 --retry-delay 1 --retry-connrefused "$@"; }
export -f cargo curl
`;
  const code = block.code.replaceAll("8080", String(port)).replace(/ serve(?=\s|$)(?!.*--port)/gm, ` serve --port ${port}`);
  const child = spawn("bash", ["-c", prelude + code], {
    cwd: ROOT,
    env: { ...process.env, TRIAGE_STORE: store },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  let exited = null;
  child.on("exit", (c) => (exited = c));
  const startsServer = /\bserve\b/.test(block.code);
  // The server is the block's last command (not put in the background): the block never ends.
  const lastLine = block.code.trimEnd().split("\n").at(-1);
  const endsInServer = /\bserve\b/.test(lastLine) && !lastLine.replace(/#.*$/, "").trimEnd().endsWith("&");
  const deadline = Date.now() + 20 * 60 * 1000;
  let served = null;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    if (endsInServer && (await get(`http://127.0.0.1:${port}/health`))?.status === 200) {
      // A block whose last command is the server: it never exits; check it live.
      break;
    }
    await sleep(500);
  }
  if (startsServer) {
    const health = await get(`http://127.0.0.1:${port}/health`);
    const page = await get(`http://127.0.0.1:${port}/`);
    const wasm = await get(`http://127.0.0.1:${port}/pkg/wasm/triage.js`);
    served = { health: health?.status, page: page?.text.includes("triage") ? 200 : page?.status, wasm: wasm?.status };
  }
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
  await sleep(300);
  return { exited, stdout, stderr, served };
}

/** Runs a js block as a module of a page under `triage serve`; returns what it logged. */
async function runModule(block, browser, port, store) {
  const www = mkdtempSync(join(tmpdir(), "triage-docs-www-"));
  writeFileSync(
    join(www, "index.html"),
    `<!doctype html><meta charset="utf-8"><title>docs example</title>
<script type="importmap">{ "imports": { "triage-classify": "/pkg/index.js" } }</script>
<script type="module">
  try { await import("./example.js"); document.title = "done"; }
  catch (e) { console.error("example threw: " + (e.name ?? "") + ": " + e.message); document.title = "failed"; }
</script>`,
  );
  writeFileSync(join(www, "example.js"), block.code);
  const server = spawn(BIN, ["serve", "--port", String(port), "--www", www, "--store", store], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    while ((await get(`http://127.0.0.1:${port}/health`))?.status !== 200) await sleep(300);
    const page = await browser.newPage();
    const logs = [];
    const errors = [];
    // The browser's own "Failed to load resource" console lines are reported by URL below.
    page.on("console", (m) => {
      if (m.type() !== "error") logs.push(m.text());
      else if (!m.text().startsWith("Failed to load resource")) errors.push(m.text());
    });
    page.on("response", (r) => {
      // The page asks for a favicon nobody wrote; anything else missing is a failure.
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) errors.push(`${r.url()}: HTTP ${r.status()}`);
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.title === "done" || document.title === "failed", null, { timeout: 15 * 60 * 1000 });
    const title = await page.title();
    await page.close();
    return { ok: title === "done", logs, errors };
  } finally {
    server.kill();
    rmSync(www, { recursive: true, force: true });
  }
}

const PYTHON = join(resolve(ROOT, process.env.TRIAGE_VENV ?? "tests/py/.venv"), "bin/python");

/** Runs a python or mjs block against `triage serve` on `port`; returns its exit code and output. */
async function runClient(block, port, store) {
  const server = spawn(BIN, ["serve", "--port", String(port), "--store", store], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  try {
    while ((await get(`http://127.0.0.1:${port}/health`))?.status !== 200) await sleep(300);
    const dir = mkdtempSync(join(ROOT, "tests/e2e/.docs-client-"));
    const file = join(dir, block.lang === "python" ? "example.py" : "example.mjs");
    writeFileSync(file, block.code.replaceAll("8080", String(port)));
    const [cmd, cwd] = block.lang === "python" ? [PYTHON, dir] : [process.execPath, dir];
    const child = spawn(cmd, [file], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((ok) => child.on("exit", ok));
    rmSync(dir, { recursive: true, force: true });
    return { code, stdout, stderr };
  } finally {
    server.kill();
  }
}

const all = blocks();
console.log(`${all.length} code blocks in README.md and docs/`);
let browser = null;
let failed = 0;
for (const block of all) {
  const where = `${block.file}:${block.line} (${block.lang || "no language"})`;
  const store = mkdtempSync(join(tmpdir(), "triage-docs-store-"));
  try {
    if ((block.lang === "sh" || block.lang === "bash") && block.code.trim() === "bash tests/run.sh") {
      assert.equal(process.env.TRIAGE_TEST_COMMAND, "1", "the test command runs this test");
      console.log(`ok ${where}: the test command itself, which is running this test`);
    } else if (block.lang === "sh" || block.lang === "bash") {
      const port = await freePort();
      const r = await runShell(block, port, store);
      if (r.exited !== null && r.exited !== 0) throw new Error(`exited ${r.exited}\n${r.stderr}`);
      if (r.served) {
        assert.equal(r.served.health, 200, "the server answers /health");
        assert.equal(r.served.page, 200, "the demo page is served");
        assert.equal(r.served.wasm, 200, "the package is served at /pkg/");
      }
      const out = r.stdout.trim();
      if (out.startsWith("{") || out.startsWith("[")) {
        const json = JSON.parse(out);
        assert.ok(!("detail" in json), `an error came back: ${out}`);
        if (json.data) assert.ok(json.data.length > 0 && json.data.every((d) => d.prediction || d.embedding), out);
      }
      console.log(`ok ${where}: ran${r.served ? ", server checked live" : ""}${out ? `, printed ${out.length} bytes` : ""}`);
    } else if (block.lang === "js") {
      // Without WebGPU: this machine's only adapter is a software one (minutes per call), so
      // the examples' `backend: "auto"` takes the CPU, as on a machine without a GPU.
      browser ??= await chromium.launch({
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        headless: true,
        args: CHROMIUM_ARGS.filter((a) => a !== "--enable-unsafe-webgpu"),
      });
      const r = await runModule(block, browser, await freePort(), store);
      assert.ok(r.ok && r.errors.length === 0, `the example failed: ${r.errors.join("; ")}`);
      assert.ok(r.logs.length > 0, "the example logged nothing");
      console.log(`ok ${where}: ran in Chromium, logged: ${r.logs.join(" | ").slice(0, 300)}`);
    } else if (block.lang === "python" || block.lang === "mjs") {
      const r = await runClient(block, await freePort(), store);
      if (r.code !== 0) throw new Error(`exited ${r.code}\n${r.stderr.slice(-3000)}`);
      assert.ok(r.stdout.trim().length > 0, "the example printed nothing");
      console.log(`ok ${where}: ran against triage serve, printed: ${r.stdout.trim().replaceAll("\n", " | ").slice(0, 200)}`);
    } else if (block.lang === "text" && block.file.endsWith("architecture.md")) {
      // The layout diagram: a picture of src/, nothing to run (tests/architecture.rs holds
      // the import graph it draws against the code).
      console.log(`picture ${where}: not run (a diagram)`);
    } else {
      throw new Error("no way to exercise a block in this language");
    }
  } catch (e) {
    failed++;
    console.log(`FAILED ${where}: ${e.message}`);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}
await browser?.close();
console.log(`docs: ${all.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
