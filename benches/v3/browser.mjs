// Browser half of the jina-embeddings-v3 benchmark (not a test): the random full-size
// checkpoint (benches/v3/make_checkpoint.py into models/cache/_random) loaded through the npm
// package in headless Chromium, CPU and WebGPU; load time (first load: download + cache +
// build; second: from the Cache API), wasm memory, the Chromium processes' peak RSS, and
// emb/s at each token length and batch. Prints JSON lines.
//
//   node benches/v3/browser.mjs [seconds] [device,...] [skip]     e.g. 5 cpu,webgpu 512x8
//
// Needs pkg/build.sh --release and `npm ci` in tests/e2e (playwright-core).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "../../tests/e2e/node_modules/playwright-core/index.mjs";
import { CHROMIUM_ARGS } from "../../tests/e2e/browser.mjs";
import { serve } from "../../tests/e2e/serve.mjs";

const seconds = Number(process.argv[2] ?? 5);
const devices = (process.argv[3] ?? "cpu,webgpu").split(",");
const skip = process.argv[4] ?? "";

/// Sum of VmRSS over the processes of this Chromium profile (shared pages count once per process).
function chromiumRss(profile) {
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(profile)) continue;
      const m = readFileSync(`/proc/${pid}/status`, "latin1").match(/VmRSS:\s+(\d+)/);
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb * 1024;
}

const server = await serve(0);
const base = `http://127.0.0.1:${server.address().port}/benches/v3/browser.html`;
for (const device of devices) {
  const profile = mkdtempSync(join(tmpdir(), "triage-v3-bench-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS,
  });
  for (const round of ["first load (download → cache + device)", "reload (from the Cache API)"]) {
    let peak = 0;
    const timer = setInterval(() => { peak = Math.max(peak, chromiumRss(profile)); }, 250);
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    const first = round.startsWith("first");
    const q = new URLSearchParams({ device, seconds: String(seconds), skip });
    // The first load is timed for loading only.
    if (first) { q.set("tokens", "32"); q.set("batches", "1"); }
    await page.goto(`${base}?${q}`);
    await page.waitForFunction(() => window.benchResult, null, { timeout: 60 * 60 * 1000 });
    const r = await page.evaluate(() => window.benchResult);
    clearInterval(timer);
    await page.close();
    console.log(JSON.stringify({ impl: `triage-chromium-${device}`, round, chromiumPeakRssBytes: peak, ...r }));
  }
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
server.close();
