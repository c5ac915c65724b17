// Browser benchmark (not a test): all-MiniLM-L6-v2 embeddings/s at batch 1, 8, 32 in the
// same headless Chromium and the same run, triage (WebGPU, CPU) against transformers.js
// (wasm with 1 and 2 threads, webgpu) on the same weights; cold start with cached weights;
// .wasm sizes; memory. Prints JSON lines, then a table.
//
//   node benches/browser/run.mjs [seconds-per-case] [cases]
//   cases: comma list of triage-cpu,triage-webgpu,tjs-wasm-1,tjs-wasm-2,tjs-webgpu (default all)
//
// Needs: pkg/build.sh (the package), benches/browser/export_onnx.py (the peer's ONNX), and
// `npm ci` here (ONNXRUNTIME_NODE_INSTALL=skip).

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../../tests/e2e/browser.mjs";
import { serve } from "../../tests/e2e/serve.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const seconds = Number(process.argv[2] ?? 10);
const ALL = {
  "triage-cpu": { impl: "triage", device: "cpu" },
  "triage-webgpu": { impl: "triage", device: "webgpu" },
  "tjs-wasm-1": { impl: "transformersjs", device: "wasm", threads: 1 },
  "tjs-wasm-2": { impl: "transformersjs", device: "wasm", threads: 2 },
  "tjs-webgpu": { impl: "transformersjs", device: "webgpu" },
};
const cases = (process.argv[3] ?? Object.keys(ALL).join(",")).split(",");
// SwiftShader (software WebGPU) is slow: fewer, smaller batches keep the run bounded.
const gpuBatches = process.env.GPU_BATCHES ?? "1,8,32";

const server = await serve(0);
const base = `http://127.0.0.1:${server.address().port}/benches/browser/bench.html`;
const profile = mkdtempSync(join(tmpdir(), "triage-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [...CHROMIUM_ARGS, "--enable-precise-memory-info"],
});

async function once(query, timeoutMs = 30 * 60 * 1000) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${base}?${query}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout: timeoutMs });
  const r = await page.evaluate(() => window.benchResult);
  await page.close();
  return r;
}

const rows = [];
const warmed = new Set();
for (const name of cases) {
  const c = ALL[name];
  const q = new URLSearchParams({ impl: c.impl, device: c.device, threads: String(c.threads ?? 1), seconds: String(seconds) });
  q.set("batches", c.device === "webgpu" ? gpuBatches : "1,8,32");
  // First page of an implementation: downloads and caches the weights. Every timed page
  // after it is a cold start with cached weights (navigation → first answer).
  if (!warmed.has(c.impl)) {
    const device = c.impl === "triage" ? "cpu" : "wasm";
    const warm = await once(new URLSearchParams({ impl: c.impl, device, batches: "1", seconds: "0" }).toString());
    if (warm.error) console.log(JSON.stringify({ case: name, warmup_error: warm.error }));
    warmed.add(c.impl);
  }
  const r = await once(q.toString());
  if (r.error) {
    console.log(JSON.stringify({ case: name, error: r.error }));
    rows.push({ name, error: r.error });
    continue;
  }
  const row = { case: name, ...r, coldStartMs: Math.round(r.coldStartMs) };
  console.log(JSON.stringify(row));
  rows.push(row);
}
await context.close();
server.close();
rmSync(profile, { recursive: true, force: true });

const size = (p) => {
  const bytes = readFileSync(join(root, p));
  return { file: p, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const loaded = [...new Set(rows.flatMap((r) => r.wasmFiles ?? []))];
const sizes = loaded.map((p) => size(p.replace(/^\//, "")));
for (const s of sizes) console.log(JSON.stringify({ size: s }));

const mib = (b) => (b ? (b / 2 ** 20).toFixed(0) : "–");
console.log("\n| case | backend | emb/s b1 | b8 | b32 | cold start (cached) | JS heap peak | wasm memory | page memory |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  if (r.error) { console.log(`| ${r.name} | error: ${r.error} |||||||`); continue; }
  const at = (b) => r.results.find((x) => x.batch === b)?.emb_per_s ?? "–";
  const backend = r.info?.adapter ? `${r.info.name} (${r.info.adapter})` : r.info?.name ?? r.device;
  console.log(`| ${r.case} | ${backend} | ${at(1)} | ${at(8)} | ${at(32)} | ${(r.coldStartMs / 1000).toFixed(2)} s | ${mib(r.memory.jsHeapBytes)} MiB | ${mib(r.wasmMemoryBytes)} MiB | ${mib(r.memory.pageBytes)} MiB |`);
}
console.log("\ntriage's load, cached weights (the ready event's phases, seconds):");
for (const r of rows.filter((r) => !r.error && r.timings)) {
  const phases = r.timings.phases.map((p) => `${p.file ?? p.name} ${(p.ms / 1000).toFixed(2)}`).join(", ");
  console.log(`${r.case}: ${(r.timings.total / 1000).toFixed(2)} s to ready (${phases}); first answer ${(r.loadMs / 1000).toFixed(2)} s after the script started`);
}
const best = (pred, b) => Math.max(...rows.filter((r) => !r.error && pred(r)).map((r) => r.results.find((x) => x.batch === b)?.emb_per_s ?? 0));
console.log("\nratios (triage ÷ transformers.js, same backend kind):");
for (const b of [1, 8, 32]) {
  // A side not run (a case left out) has no ratio.
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "–");
  const cpu = ratio(best((r) => r.case === "triage-cpu", b), best((r) => r.case.startsWith("tjs-wasm"), b));
  const gpu = ratio(best((r) => r.case === "triage-webgpu", b), best((r) => r.case === "tjs-webgpu", b));
  console.log(`batch ${b}: cpu ÷ best tjs wasm ${cpu}, webgpu ÷ tjs webgpu ${gpu}`);
}
for (const s of sizes) console.log(`${s.file}: ${(s.raw / 2 ** 20).toFixed(1)} MiB raw, ${(s.gzip / 2 ** 20).toFixed(1)} MiB gzip`);
