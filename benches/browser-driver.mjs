// Shared driver of the browser benchmarks (not tests): serves the repository, opens a bench
// page in headless Chromium once per device with a fresh profile, twice (first load:
// download → Cache API + device; then a reload from the cache), samples the Chromium
// processes' RSS, and prints the page's `window.benchResult` as JSON lines.
//
// Needs `npm ci` in tests/e2e (playwright-core) and a built package (pkg/build.sh). A round
// waits at most BENCH_TIMEOUT_MINUTES (default 120) for its result.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "../tests/e2e/node_modules/playwright-core/index.mjs";
import { CHROMIUM_ARGS } from "../tests/e2e/browser.mjs";
import { serve } from "../tests/e2e/serve.mjs";

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

/// `page`: the bench page's path from the repository root; `params(device, first)`: its
/// query for one round (the first round may be limited to loading).
export async function runBench({ page: pagePath, devices, params, name }) {
  const server = await serve(0);
  const base = `http://127.0.0.1:${server.address().port}/${pagePath}`;
  for (const device of devices) {
    const profile = mkdtempSync(join(tmpdir(), "triage-bench-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS,
    });
    for (const round of ["first load (download → cache + device)", "reload (from the Cache API)"]) {
      let peak = 0;
      const timer = setInterval(() => { peak = Math.max(peak, chromiumRss(profile)); }, 250);
      const page = await context.newPage();
      page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") console.error(`[console] ${m.text()}`);
        // The page's progress lines, as they come (the result itself is printed below).
        if (m.type() === "info" && !m.text().startsWith("{")) console.error(`[${device}] ${m.text()}`);
      });
      await page.goto(`${base}?${params(device, round.startsWith("first"))}`);
      // jina-clip-v2 on the browser CPU backend took 27 minutes for one round.
      const minutes = Number(process.env.BENCH_TIMEOUT_MINUTES ?? 120);
      await page.waitForFunction(() => window.benchResult, null, { timeout: minutes * 60 * 1000, polling: 1000 });
      const r = await page.evaluate(() => window.benchResult);
      clearInterval(timer);
      await page.close();
      console.log(JSON.stringify({ impl: `triage-chromium-${device}`, name, round, chromiumPeakRssBytes: peak, ...r }));
    }
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  server.close();
}
