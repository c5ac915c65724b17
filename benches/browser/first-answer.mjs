// First-answer benchmark (not a test): the demo page served by `triage serve` on loopback,
// opened in headless Chromium as a user would: a first visit on a fresh profile, then
// returning visits (the weights in the Cache API, the page and the package revalidated).
// For each: navigation → ready, ready → the first answer of Jina's 6-text sample (the
// page's prefilled sample, run at once), and the ready event's phases. The peer's cold start
// (transformers.js, same browser, same machine) is benches/browser/run.mjs's.
//
//   node benches/browser/first-answer.mjs [returning visits (3)] [backend (cpu)]
//   (TRIAGE_BIN: default target/release/triage; bash pkg/build.sh [--release] first; `npm ci`
//   in benches/browser with ONNXRUNTIME_NODE_INSTALL=skip, for playwright-core)

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../../tests/e2e/browser.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const returning = Number(process.argv[2] ?? 3);
const backend = process.argv[3] ?? "cpu";
const bin = process.env.TRIAGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "release/triage");

const port = await new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => ok(port));
  });
});
const store = mkdtempSync(join(tmpdir(), "triage-first-answer-store-"));
const server = spawn(bin, ["--quiet", "--models-dir", join(ROOT, "models/cache"), "--store", store, "serve", "--port", String(port)], { cwd: ROOT, stdio: "inherit" });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; !(await fetch(`${base}/health`).then((r) => r.ok, () => false)); i++) {
  if (i > 600) throw new Error("triage serve did not start");
  await new Promise((r) => setTimeout(r, 100));
}

const profile = mkdtempSync(join(tmpdir(), "triage-first-answer-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: CHROMIUM_ARGS,
});
const rows = [];
try {
  for (let visit = 0; visit <= returning; visit++) {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    await page.goto(`${base}/?backend=${backend}`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 20 * 60 * 1000 });
    if (!(await page.locator("#error").isHidden())) throw new Error(await page.locator("#error").textContent());
    await page.click("#run");
    await page.waitForFunction(() => performance.getEntriesByName("triage-answered").length || !document.getElementById("error").hidden, null, { timeout: 20 * 60 * 1000 });
    const row = await page.evaluate(() => ({
      readyMs: performance.getEntriesByName("triage-ready")[0].startTime,
      answeredMs: performance.getEntriesByName("triage-answered")[0]?.startTime,
      phases: document.getElementById("load-timings-phases").textContent,
      badge: document.getElementById("backend").textContent,
    }));
    row.visit = visit === 0 ? "first visit" : `returning visit ${visit}`;
    console.log(JSON.stringify(row));
    rows.push(row);
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.kill();
  rmSync(store, { recursive: true, force: true });
}
console.log(`\nthe demo page on ${rows[0]?.badge}, all-minilm-l6-v2, ${bin}`);
console.log("| visit | navigation → ready | → first answer (6 texts) | ready event's phases |");
console.log("|---|---:|---:|---|");
for (const r of rows) {
  console.log(`| ${r.visit} | ${(r.readyMs / 1000).toFixed(2)} s | ${(r.answeredMs / 1000).toFixed(2)} s | ${r.phases} |`);
}
