// User-style test: the app in tests/e2e/app imports the package like a web app, loads
// all-MiniLM-L6-v2 from the local server, classifies Jina's sample, trains a classifier,
// reloads, and classifies with the stored classifier. Screenshots go to
// tests/e2e/screenshots/ (printed at the end).
//
//   node tests/e2e/app.test.mjs            (BACKEND=cpu|webgpu|auto, default auto)

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./browser.mjs";
import { assertJinaShape, responseSchemaOf } from "./jina-schema.mjs";
import { serve } from "./serve.mjs";

const backend = process.env.BACKEND ?? "auto";
const shots = fileURLToPath(new URL("./screenshots/", import.meta.url));
mkdirSync(shots, { recursive: true });
const server = await serve(0);
const url = `http://127.0.0.1:${server.address().port}/tests/e2e/app/?backend=${backend}`;
// A persistent profile, as a user's browser has: IndexedDB, localStorage and the Cache API survive the reload.
const profile = mkdtempSync(join(tmpdir(), "triage-e2e-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: CHROMIUM_ARGS,
});
const TIMEOUT = 15 * 60 * 1000;

// Where a load's time went (the ready event's `timings`): every phase, in order, each
// non-negative, summing to the total; and the total accounts for the time the app measured
// around createWorker (what it misses is the create call's reply message, not a phase).
const MODEL_PHASES = ["read config.json", "read tokenizer.json", "tokenizer", "read model.safetensors", "weights"];
const phaseNames = (timings) => timings.phases.map((p) => (p.file ? `${p.name} ${p.file}` : p.name));
function assertSums(what, timings) {
  for (const p of timings.phases) assert.ok(Number.isFinite(p.ms) && p.ms >= 0, `${what}: ${JSON.stringify(p)}`);
  const sum = timings.phases.reduce((s, p) => s + p.ms, 0);
  assert.ok(Math.abs(sum - timings.total) <= 1e-6 * Math.max(1, timings.total), `${what}: phases sum to ${sum}, total ${timings.total}`);
}
function checkLoadReport(what, { timings, elapsed }) {
  assert.ok(timings, `${what}: the ready event carries timings`);
  assert.deepEqual(phaseNames(timings), ["worker", "wasm", "backend", "store", ...MODEL_PHASES], `${what}: the phases`);
  assertSums(what, timings);
  assert.ok(timings.total <= elapsed + 1 && elapsed - timings.total < 250, `${what}: ${timings.total} ms of phases against ${elapsed} ms measured around createWorker`);
  console.log(`${what}: ready in ${(timings.total / 1000).toFixed(2)} s (${timings.phases.map((p) => `${p.file ?? p.name} ${(p.ms / 1000).toFixed(2)}`).join(", ")})`);
}
let failed = false;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => console.log(`[page] ${m.text()}`));
  page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#error").textContent(), "", "no error on load");
  checkLoadReport("first visit", await page.evaluate(() => window.loadReport));
  const backendShown = await page.locator("#backend").textContent();
  console.log(`backend: ${backendShown}; first answer after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (backend !== "auto") assert.ok(backendShown.startsWith(backend), backendShown);
  await page.screenshot({ path: join(shots, "1-zero-shot.png"), fullPage: true });

  const zeroShot = JSON.parse(await page.locator("#zero-shot").textContent());
  assert.equal(zeroShot.data.length, 6);
  for (const d of zeroShot.data) {
    assert.equal(d.predictions.length, 3);
    assert.ok(["Simple task", "Complex reasoning", "Creative writing"].includes(d.prediction));
    const sum = d.predictions.reduce((s, p) => s + p.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
  }
  assert.ok(zeroShot.usage.total_tokens > 0);
  // What the package returns has the shapes of Jina's schema, as `triage serve` does.
  assertJinaShape("ClassificationResponse", zeroShot);
  console.log("zero-shot predictions:", zeroShot.data.map((d) => d.prediction).join(", "));
  assert.equal(await page.locator("#few-shot").textContent(), "", "no classifier before training");

  await page.click("#train");
  await page.waitForFunction(() => document.getElementById("few-shot").textContent || document.getElementById("error").textContent, null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#error").textContent(), "");
  const trained = JSON.parse(await page.locator("#trained").textContent());
  assert.equal(trained.num_samples, 6);
  assertJinaShape("TrainingResponse", trained);
  const before = JSON.parse(await page.locator("#few-shot").textContent());
  assertJinaShape("ClassificationResponse", before);
  assert.deepEqual(before.data.map((d) => d.prediction), ["billing", "bug"]);
  await page.screenshot({ path: join(shots, "2-trained.png"), fullPage: true });

  // Reload: the classifier comes back from IndexedDB, the model from the Cache API.
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: TIMEOUT });
  checkLoadReport("returning visit", await page.evaluate(() => window.loadReport));
  const loaded = await page.evaluate(() => window.triage.loadModel("all-minilm-l6-v2"));
  assert.equal(loaded.dtype, "f32");
  assert.deepEqual(phaseNames(loaded.timings), MODEL_PHASES, "loadModel: the model's own phases");
  assertSums("loadModel", loaded.timings);
  await page.waitForFunction(() => document.getElementById("few-shot").textContent, null, { timeout: TIMEOUT });
  const after = JSON.parse(await page.locator("#few-shot").textContent());
  assert.deepEqual(after.data.map((d) => d.prediction), ["billing", "bug"]);
  for (const [a, b] of after.data.map((d, i) => [d, before.data[i]])) {
    assert.deepEqual(a.predictions, b.predictions, "same scores after reload");
  }
  const cached = await page.evaluate(() => window.triage.hasModel("all-minilm-l6-v2", "/models/cache"));
  assert.equal(cached, true, "model files cached for offline use");
  const listed = await page.evaluate(() => window.triage.classifiers());
  assert.deepEqual(listed.map((c) => c.classifier_id), [trained.classifier_id]);
  assertJinaShape(responseSchemaOf("get", "/v1/classifiers"), listed);
  const embedded = await page.evaluate(() => window.triage.embeddings({ input: ["The meeting is at noon", "Pasta"], embedding_type: "float" }));
  assertJinaShape("EmbeddingResponse", embedded);
  assert.equal(embedded.data[0].embedding.length, 384);
  const err = await page.evaluate(() => window.triage.classify({ input: [], labels: ["a", "b"] }).catch((e) => ({ name: e.name, status: e.status, message: e.message, response: e.response })));
  assert.equal(err.name, "INPUT_VALIDATION_ERROR");
  assert.equal(err.status, 422);
  assertJinaShape("HTTPValidationError", err.response);
  assertJinaShape("ErrorResponse", err.response);
  assert.equal(err.response.error.code, "INPUT_VALIDATION_ERROR", "OpenAI's error object, as the server sends it");
  await page.screenshot({ path: join(shots, "3-after-reload.png"), fullPage: true });

  // A full storage quota (forced through the DevTools protocol; the cached model already
  // uses far more): training reports AUTHZ_RESOURCE_LIMIT_EXCEEDED and stores nothing.
  // Chromium lets small writes through its quota check, so this classifier is large:
  // 256 classes × 769 numbers; a second engine on the CPU backend embeds its 256 texts
  // quickly whatever backend the app chose (software WebGPU here is slow).
  const cdp = await context.newCDPSession(page);
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(url).origin, quotaSize: 1024 });
  const full = await page.evaluate(async () => {
    const { createWorker } = await import("triage-classify");
    const cpu = await createWorker({ model: "all-minilm-l6-v2", baseUrl: "/models/cache", backend: "cpu" });
    return cpu
      .train({ input: Array.from({ length: 256 }, (_, i) => ({ text: `example ${i}`, label: `label ${i}` })) })
      .then((r) => ({ stored: r }), (e) => ({ name: e.name, status: e.status, message: e.message }))
      .finally(() => cpu.terminate());
  });
  console.log("training with a full quota:", JSON.stringify(full));
  assert.equal(full.name, "AUTHZ_RESOURCE_LIMIT_EXCEEDED");
  assert.equal(full.status, 403);
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(url).origin });
  const still = await page.evaluate(() => window.triage.classifiers());
  assert.deepEqual(still.map((c) => c.classifier_id), [trained.classifier_id], "nothing stored by the failed write");
  console.log("few-shot after reload:", after.data.map((d) => d.prediction).join(", "));
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`screenshots: ${shots}`);
if (failed) process.exit(1);
console.log(`PASS user-style app test (backend ${backend})`);
