// The npm package as `npm publish` would ship it (packed into a tarball, installed from it,
// never linked), in the ways users build pages: Vite's dev server, a Vite production build
// under a base path (`vite build` + `vite preview`), webpack 5 development and production
// builds under a public path, esbuild (development and minified) and Rollup builds, Next.js
// (app router, a client component: `next build` + `next start` and `next dev`, under a base
// path), and a plain static folder with an import map and no bundler. Each opens the app
// (app/exercise.js) in headless Chromium: createWorker and Triage.create each classify, train,
// classify with the trained classifier and delete it (CPU backend).
//
//   node tests/bundlers/bundlers.test.mjs    (needs pkg/wasm: bash pkg/build.sh; model files
//                                             in TRIAGE_MODELS_DIR or models/cache)

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../e2e/browser.mjs";
import { serve } from "../e2e/serve.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = resolve(HERE, "../..");
const MODELS = resolve(ROOT, process.env.TRIAGE_MODELS_DIR ?? "models/cache");
const MODEL = "all-minilm-l6-v2";
const work = mkdtempSync(join(tmpdir(), "triage-bundlers-"));

// The package as published: `npm pack`, then installed from the tarball.
const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work, join(ROOT, "pkg")], { encoding: "utf8" }));
// Only what a user needs: no build script, no sources, no wasm-bindgen's .d.ts leftovers.
assert.deepEqual(
  packed.files.map((f) => f.path).sort(),
  ["README.md", "api.d.ts", "engine.js", "index.d.ts", "index.js", "package.json", "wasm/triage.js", "wasm/triage_bg.wasm", "worker.js"],
  "the packed package's files",
);
console.log(`packed ${packed.filename}: ${packed.files.length} files, ${(packed.size / 1e6).toFixed(1)} MB compressed`);

// `npm publish` ships only the optimised release build (pkg/scripts/check-release.mjs, run as
// prepublishOnly): it refuses the dev build these tests use, and accepts a module whose record
// says release + wasm-opt, whose sha256 matches and which has no debug names left.
{
  const copy = join(work, "publish-check");
  cpSync(join(ROOT, "pkg"), copy, { recursive: true, dereference: true });
  const record = JSON.parse(readFileSync(join(copy, "wasm/build.json"), "utf8"));
  assert.equal(record.profile, "dev", "the tests run on pkg/build.sh's dev build");
  const publish = spawnSync("npm", ["publish", "--dry-run"], { cwd: copy, encoding: "utf8" });
  assert.notEqual(publish.status, 0, "npm publish --dry-run accepted a dev build");
  assert.match(publish.stderr, /refusing to publish: .*triage_bg\.wasm is a dev build without wasm-opt: build it with `bash pkg\/build\.sh --release --wasm-opt`/);
  console.log(`ok npm publish refuses the dev build: ${publish.stderr.split("\n")[0]}`);

  const { releaseProblem } = await import(join(ROOT, "pkg/scripts/check-release.mjs"));
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const custom = (name) => [0x00, name.length + 1, name.length, ...Buffer.from(name)];
  const install = (bytes, fields) => {
    writeFileSync(join(copy, "wasm/triage_bg.wasm"), Buffer.from(bytes));
    const sha256 = createHash("sha256").update(Buffer.from(bytes)).digest("hex");
    writeFileSync(join(copy, "wasm/build.json"), JSON.stringify({ profile: "release", wasm_opt: true, sha256, bytes: bytes.length, ...fields }));
  };
  install([...header, ...custom("producers")], {});
  assert.equal(releaseProblem(copy), null, "an optimised release module");
  install([...header, ...custom("name")], {});
  assert.match(releaseProblem(copy) ?? "", /still has the custom sections name \(wasm-opt did not run on it\)/);
  install([...header, ...custom(".debug_info")], { wasm_opt: false });
  assert.match(releaseProblem(copy) ?? "", /is a release build without wasm-opt/);
  install(header, { sha256: "0".repeat(64) });
  assert.match(releaseProblem(copy) ?? "", /is not the module pkg\/build\.sh recorded/);
  rmSync(join(copy, "wasm/build.json"));
  assert.match(releaseProblem(copy) ?? "", /build\.json is missing/);
  console.log("ok the release check accepts only a recorded, optimised release module");
}
const tarball = join(work, packed.filename);
execFileSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--silent", tarball], { cwd: HERE, stdio: "inherit" });
// The app's code against the package's types, as a TypeScript user compiles it.
execFileSync(join(HERE, "node_modules/.bin/tsc"), ["-p", join(HERE, "tsconfig.json")], { cwd: HERE, stdio: "inherit" });
console.log("ok tsc --strict on the app's code against the packed index.d.ts");

// Model files where the app looks for them (models/ beside the page), linked, not copied.
const publicModels = join(HERE, "app/public/models");
rmSync(join(HERE, "app/public"), { recursive: true, force: true });
mkdirSync(publicModels, { recursive: true });
symlinkSync(join(MODELS, MODEL), join(publicModels, MODEL));
// The Next.js app's public folder, likewise.
const NEXT = join(HERE, "next");
rmSync(join(NEXT, "public"), { recursive: true, force: true });
mkdirSync(join(NEXT, "public/models"), { recursive: true });
symlinkSync(join(MODELS, MODEL), join(NEXT, "public/models", MODEL));

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Starts `tool args` (a binary of node_modules/.bin) in `cwd` and resolves once `url` answers. */
async function startServer(args, url, env = {}, tool = "vite", cwd = HERE) {
  const child = spawn(join(HERE, "node_modules/.bin", tool), args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`${tool} ${args[0]} exited: ${log}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return { stop: () => process.kill(-child.pid, "SIGTERM"), log: () => log };
    await new Promise((r) => setTimeout(r, 250));
  }
  process.kill(-child.pid, "SIGTERM");
  throw new Error(`${tool} ${args[0]} did not answer at ${url}: ${log}`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });

/** Opens the app at `url` in a fresh context and returns what it recorded. */
async function runApp(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.result, null, { timeout: 10 * 60 * 1000 });
  const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
  await context.close();
  return { result, errors };
}

function check(name, { result, errors }) {
  assert.equal(result.error, undefined, `${name}: ${result.error}; console: ${errors.join(" | ")}`);
  for (const face of ["worker", "main"]) {
    assert.deepEqual(result[face], { zeroShot: "billing", fewShot: "bug" }, `${name}, ${face}`);
  }
  console.log(`ok ${name}: createWorker and Triage.create classify, train and classify again`);
}

let failed = 0;
const cases = {
  "Vite dev server": async () => {
    const port = await freePort();
    const server = await startServer(["--port", String(port), "--strictPort", "--host", "127.0.0.1"], `http://127.0.0.1:${port}/`);
    try {
      check("Vite dev server", await runApp(`http://127.0.0.1:${port}/`));
    } finally {
      server.stop();
    }
  },
  "Vite production build under /sub/": async () => {
    execFileSync(join(HERE, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], { cwd: HERE, env: { ...process.env, TRIAGE_BASE: "/sub/" }, stdio: "inherit" });
    const emitted = readdirSync(join(HERE, "dist/assets"));
    assert.ok(emitted.some((f) => /^worker-.*\.js$/.test(f)), `the worker is bundled as its own entry: ${emitted.join(", ")}`);
    assert.ok(emitted.some((f) => f.endsWith(".wasm")), `the wasm is emitted as a hashed asset: ${emitted.join(", ")}`);
    const port = await freePort();
    const server = await startServer(["preview", "--port", String(port), "--strictPort", "--host", "127.0.0.1"], `http://127.0.0.1:${port}/sub/`, { TRIAGE_BASE: "/sub/" });
    try {
      check("Vite production build under /sub/", await runApp(`http://127.0.0.1:${port}/sub/`));
    } finally {
      server.stop();
    }
  },
  ...Object.fromEntries(
    ["development", "production"].map((mode) => [
      `webpack 5 ${mode} build under /sub/`,
      async () => {
        execFileSync(join(HERE, "node_modules/.bin/webpack"), ["--mode", mode], { cwd: HERE, env: { ...process.env, TRIAGE_BASE: "/sub/" }, stdio: ["ignore", "ignore", "inherit"] });
        const dist = join(HERE, `dist-webpack-${mode}`);
        const emitted = readdirSync(dist);
        const main = emitted.find((f) => /^main\..*\.js$/.test(f));
        assert.ok(emitted.length >= 3 && emitted.some((f) => f.endsWith(".wasm")), `a worker chunk and the wasm asset beside the entry: ${emitted.join(", ")}`);
        writeFileSync(join(dist, "index.html"), `<!doctype html><meta charset="utf-8"><base href="/sub/"><title>triage, webpack</title>
<output id="worker"></output><output id="main"></output><script src="/sub/${main}"></script>`);
        symlinkSync(publicModels, join(dist, "models"));
        const root = mkdtempSync(join(work, "webpack-"));
        symlinkSync(dist, join(root, "sub"));
        const server = await serve(0, root);
        try {
          check(`webpack 5 ${mode} build under /sub/`, await runApp(`http://127.0.0.1:${server.address().port}/sub/`));
        } finally {
          server.close();
          rmSync(dist, { recursive: true, force: true });
        }
      },
    ]),
  ),
  ...Object.fromEntries(
    [
      ["esbuild development build", ["esbuild", "app/main.js", "--bundle", "--format=esm", "--log-level=warning", "--outdir=dist-esbuild"]],
      ["esbuild production build", ["esbuild", "app/main.js", "--bundle", "--format=esm", "--minify", "--log-level=warning", "--outdir=dist-esbuild"]],
      ["Rollup build", ["rollup", "-c", "rollup.config.mjs", "--silent"]],
    ].map(([name, [tool, ...args]]) => [
      name,
      async () => {
        const dist = join(HERE, tool === "rollup" ? "dist-rollup" : "dist-esbuild");
        rmSync(dist, { recursive: true, force: true });
        execFileSync(join(HERE, "node_modules/.bin", tool), args, { cwd: HERE, stdio: ["ignore", "ignore", "inherit"] });
        // Neither bundles `new URL(…, import.meta.url)` references: the package's worker and
        // wasm go beside the bundle (docs/browser.md), as a copy step in the user's build.
        for (const part of ["worker.js", "engine.js", "wasm"]) {
          cpSync(join(HERE, "node_modules/triage-classify", part), join(dist, part), { recursive: true, dereference: true });
        }
        writeFileSync(join(dist, "index.html"), `<!doctype html><meta charset="utf-8"><title>triage, ${name}</title>
<output id="worker"></output><output id="main"></output><script type="module" src="./main.js"></script>`);
        symlinkSync(publicModels, join(dist, "models"));
        const server = await serve(0, dist);
        try {
          check(name, await runApp(`http://127.0.0.1:${server.address().port}/`));
        } finally {
          server.close();
          rmSync(dist, { recursive: true, force: true });
        }
      },
    ]),
  ),
  // Next.js (app router): a client component (next/app/page.tsx) in `next build` + `next start`
  // and `next dev`, both Turbopack, under a base path; the model files in next/public/models.
  ...Object.fromEntries(
    [
      ["Next.js production build under /sub", "start"],
      ["Next.js dev server under /sub", "dev"],
    ].map(([name, command]) => [
      name,
      async () => {
        const env = { TRIAGE_BASE: "/sub", NEXT_TELEMETRY_DISABLED: "1" };
        if (command === "start") {
          execFileSync(join(HERE, "node_modules/.bin/next"), ["build"], { cwd: NEXT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
          const media = readdirSync(join(NEXT, ".next/static/media"));
          assert.ok(media.some((f) => /^triage_bg\..*\.wasm$/.test(f)), `the wasm is emitted as a hashed asset: ${media.join(", ")}`);
          // The page's code (and app/exercise.js it imports) against the packed index.d.ts.
          execFileSync(join(HERE, "node_modules/.bin/tsc"), ["-p", join(NEXT, "tsconfig.json")], { cwd: NEXT, stdio: "inherit" });
          console.log("ok tsc --strict on the Next.js page against the packed index.d.ts");
        }
        const port = await freePort();
        const server = await startServer([command, "--port", String(port), "--hostname", "127.0.0.1"], `http://127.0.0.1:${port}/sub`, env, "next", NEXT);
        try {
          check(name, await runApp(`http://127.0.0.1:${port}/sub`));
        } finally {
          server.stop();
        }
      },
    ]),
  ),
  "plain static folder with an import map": async () => {
    const www = join(work, "www");
    mkdirSync(www, { recursive: true });
    cpSync(join(HERE, "node_modules/triage-classify"), join(www, "triage-classify"), { recursive: true, dereference: true });
    for (const file of ["main.js", "exercise.js"]) cpSync(join(HERE, "app", file), join(www, file));
    symlinkSync(publicModels, join(www, "models"));
    writeFileSync(
      join(www, "index.html"),
      `<!doctype html><meta charset="utf-8"><title>triage, no bundler</title>
<script type="importmap">{ "imports": { "triage-classify": "./triage-classify/index.js" } }</script>
<output id="worker"></output><output id="main"></output>
<script type="module" src="./main.js"></script>`,
    );
    const server = await serve(0, www);
    try {
      const base = `http://127.0.0.1:${server.address().port}/`;
      check("plain static folder", await runApp(base));

      // Failures name their cause: a worker script that is not there, and a wasm module that
      // is not there (on the main thread and inside the worker).
      rmSync(join(www, "triage-classify/wasm/triage_bg.wasm"));
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(base + "triage-classify/package.json");
      const errors = await page.evaluate(async (options) => {
        const { Triage, createWorker } = await import("/triage-classify/index.js");
        const caught = (promise) => promise.then(() => null, (e) => `${e.name}: ${e.message}`);
        return {
          workerScript: await caught(createWorker({ ...options, workerUrl: "/no-such-worker.js" })),
          mainWasm: await caught(Triage.create(options)),
          workerWasm: await caught(createWorker(options)),
        };
      }, { model: MODEL, baseUrl: base + "models/", backend: "cpu" });
      await context.close();
      const wasmUrl = `${base}triage-classify/wasm/triage_bg.wasm`;
      assert.equal(errors.workerScript, `INTERNAL_ERROR: triage worker failed: its script /no-such-worker.js did not load: HTTP 404`);
      assert.equal(errors.mainWasm, `SERVICE_UNAVAILABLE: cannot fetch the triage wasm module from ${wasmUrl}: HTTP 404`);
      assert.equal(errors.workerWasm, errors.mainWasm, "the worker's failure reaches the caller as it is");
      console.log(`ok errors name their cause: ${Object.values(errors).join(" | ")}`);
    } finally {
      server.close();
    }
  },
};
for (const [name, run] of Object.entries(cases)) {
  try {
    await run();
  } catch (e) {
    failed++;
    console.log(`FAILED ${name}: ${e.message}`);
  }
}
await browser.close();
rmSync(work, { recursive: true, force: true });
rmSync(join(HERE, "app/public"), { recursive: true, force: true });
rmSync(join(HERE, "dist"), { recursive: true, force: true });
for (const made of ["public", ".next", "next-env.d.ts", "tsconfig.tsbuildinfo"]) rmSync(join(NEXT, made), { recursive: true, force: true });
console.log(`bundlers: ${Object.keys(cases).length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
