// The demo page (www/) end to end, as a person uses it, served by `triage serve` (the page,
// the npm package at /pkg/, all-MiniLM-L6-v2's files at /models/): run the prefilled
// zero-shot sample; send malformed JSON and see the error; train a classifier from the form;
// reload and find it listed and classifying; export it, delete it, import it back; go
// offline and classify again. Screenshots of each step go to tests/e2e/screenshots/page/.
//
//   node tests/e2e/page.test.mjs     (TRIAGE_BIN: the triage binary, default target/debug/triage;
//                                     BACKEND=cpu|webgpu|auto, default cpu)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./browser.mjs";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const backend = process.env.BACKEND ?? "cpu";
const bin = process.env.TRIAGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug/triage");
const shots = join(ROOT, "tests/e2e/screenshots/page");
mkdirSync(shots, { recursive: true });
const store = mkdtempSync(join(tmpdir(), "triage-page-store-"));
const profile = mkdtempSync(join(tmpdir(), "triage-page-profile-"));
const TIMEOUT = 15 * 60 * 1000;

// `triage serve` on a free port; its first stderr line names the address.
const server = spawn(bin, ["serve", "--port", "0", "--store", store], { cwd: ROOT, stdio: ["ignore", "inherit", "pipe"] });
const base = await new Promise((ok, fail) => {
  let text = "";
  server.stderr.on("data", (chunk) => {
    text += chunk;
    process.stderr.write(chunk);
    const m = text.match(/on (http:\/\/[0-9.:]+)\//);
    if (m) ok(m[1]);
  });
  server.on("exit", (code) => fail(new Error(`triage serve exited (${code}): ${text}`)));
});

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: CHROMIUM_ARGS,
  acceptDownloads: true,
  viewport: { width: 1100, height: 900 },
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("console", (m) => console.log(`[page] ${m.text()}`));
page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));
let step = 0;
const shot = async (name) => {
  step += 1;
  await page.screenshot({ path: join(shots, `${step}-${name}.png`), fullPage: true });
};
const answered = () => page.evaluate(() => Number(document.body.dataset.answered ?? 0));
/** Clicks `selector`, then waits for the next response or an error. */
async function runAndWait(selector) {
  const before = await answered();
  await page.click(selector);
  await page.waitForFunction(
    (n) => Number(document.body.dataset.answered ?? 0) > n || !document.getElementById("error").hidden,
    before, { timeout: TIMEOUT });
}
const response = async () => JSON.parse(await page.locator("#response").textContent());
const errorShown = async () => (await page.locator("#error").isHidden()) ? "" : await page.locator("#error").textContent();
async function load() {
  await page.goto(`${base}/?backend=${backend}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: TIMEOUT });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), "yes", await errorShown());
  assert.equal(await errorShown(), "", "no error on load");
  assert.equal(await page.locator("#progress-row").isHidden(), true, `the progress bar goes once the model is loaded: ${await page.locator("#progress-label").textContent()}`);
}

let failed = false;
try {
  const t0 = Date.now();
  await load();
  const badge = await page.locator("#backend").textContent();
  console.log(`page ready after ${((Date.now() - t0) / 1000).toFixed(1)} s on ${badge}`);
  assert.ok(backend === "auto" || badge.toLowerCase().includes(backend === "cpu" ? "cpu" : "webgpu"), badge);
  // The test command builds pkg/ in the dev profile; the page must say so.
  assert.ok(badge.endsWith(" · dev build"), badge);
  assert.match(await page.locator("#model option:checked").textContent(), /all-minilm-l6-v2 · \d+ MB · cached/);
  // Where the load's time went, in a collapsible line.
  assert.match(await page.locator("#load-timings-summary").textContent(), /^all-minilm-l6-v2 ready in \d+\.\d\d s$/);
  assert.match(await page.locator("#load-timings-phases").textContent(), /^worker [\d.]+ s · wasm [\d.]+ s · backend [\d.]+ s · store [\d.]+ s · read config\.json [\d.]+ s · .* · weights [\d.]+ s$/);
  assert.match(await page.locator("#curl").textContent(), /\/v1\/classify/);
  await shot("loaded");

  // 1. The prefilled zero-shot sample.
  await runAndWait("#run");
  assert.equal(await errorShown(), "");
  const zero = await response();
  assert.equal(zero.data.length, 6);
  for (const d of zero.data) {
    assert.deepEqual(d.predictions.map((p) => p.label), ["Simple task", "Complex reasoning", "Creative writing"]);
  }
  assert.equal(await page.locator("#chart figure").count(), 6);
  assert.match(await page.locator("#timing").textContent(), /zero-shot · \d+ ms/);
  console.log("zero-shot:", zero.data.map((d) => d.prediction).join(", "));
  await shot("zero-shot");

  // 2. Malformed JSON: Jina's validation error, shown.
  await page.check('input[name="mode"][value="json"]');
  await page.fill("#request", '{"input": ["unterminated"');
  await runAndWait("#run");
  assert.equal(await page.evaluate(() => document.getElementById("error").dataset.code), "INPUT_VALIDATION_ERROR");
  console.log("malformed JSON:", (await errorShown()).slice(0, 120));
  await shot("malformed-json");

  // 3. Train a classifier from the form (the prefilled support tickets).
  await page.click("#tab-few");
  await page.click("#train");
  await page.waitForFunction(() => document.getElementById("train-result").dataset.classifierId
    || !document.getElementById("error").hidden, null, { timeout: TIMEOUT });
  assert.equal(await errorShown(), "");
  const id = await page.evaluate(() => document.getElementById("train-result").dataset.classifierId);
  assert.equal(await page.locator("#classifiers tbody tr").count(), 1);
  await shot("trained");

  // 4. Reload: the classifier is listed and classifies.
  await load();
  await page.click("#tab-few");
  assert.equal(await page.locator("#classifiers tbody tr").count(), 1);
  assert.equal(await page.locator("#classifiers tbody tr").getAttribute("data-id"), id);
  await runAndWait("#few-run");
  assert.equal(await errorShown(), "");
  const few = await response();
  assert.equal(few.data.length, 2);
  assert.equal(few.data[0].prediction, "billing");
  assert.equal(few.data[1].prediction, "bug");
  await shot("reloaded-few-shot");

  // 5. Export, delete, import.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(`tr[data-id="${id}"] button[data-action="export"]`)]);
  const exported = join(shots, "exported-classifier.json");
  await download.saveAs(exported);
  const doc = JSON.parse(readFileSync(exported, "utf8"));
  assert.equal(doc.classifier_id, id);
  assert.deepEqual(doc.classifier.labels, ["billing", "bug"]);
  await page.click(`tr[data-id="${id}"] button[data-action="delete"]`);
  await page.waitForFunction(() => document.body.dataset.classifiers === "0", null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#no-classifiers").isVisible(), true);
  await shot("deleted");
  await page.setInputFiles("#import", exported);
  await page.waitForFunction(() => document.body.dataset.classifiers === "1", null, { timeout: TIMEOUT });
  await runAndWait("#few-run");
  assert.equal(await errorShown(), "");
  assert.deepEqual((await response()).data.map((d) => d.prediction), few.data.map((d) => d.prediction));
  await shot("imported");

  // 6. Offline: the page, the package and the weights come from the browser's caches.
  await context.setOffline(true);
  await load();
  await page.click("#tab-few");
  await runAndWait("#few-run");
  assert.equal(await errorShown(), "");
  assert.equal((await response()).data[0].prediction, "billing");
  await shot("offline");
  await context.setOffline(false);

  // 7. A narrow screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 380, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than a 380px screen`);
  await shot("narrow");
  console.log("PASS: demo page end to end");
} catch (e) {
  failed = true;
  console.error("FAIL:", e);
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  console.log(`screenshots: ${shots}`);
  await context.close();
  server.kill("SIGINT");
  rmSync(profile, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
