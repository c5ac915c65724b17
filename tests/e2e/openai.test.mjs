// OpenAI's JS SDK (npm `openai`), as an application written for OpenAI's embeddings API
// calls it, pointed at `triage serve`: the default request (base64), explicit float,
// `dimensions`, one string, a batch, a bad model (the SDK's error class, Jina's code in the
// body), and `models.list()`.
//
//   node tests/e2e/openai.test.mjs      (TRIAGE_BIN: default target/debug/triage)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const bin = process.env.TRIAGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug/triage");
const store = mkdtempSync(join(tmpdir(), "triage-openai-store-"));
const server = spawn(bin, ["serve", "--port", "0", "--store", store], { cwd: ROOT, stdio: ["ignore", "inherit", "pipe"] });
const base = await new Promise((ok, fail) => {
  let text = "";
  server.stderr.on("data", (chunk) => {
    text += chunk;
    const m = text.match(/on (http:\/\/[0-9.:]+)\//);
    if (m) ok(m[1]);
  });
  server.on("exit", (code) => fail(new Error(`triage serve exited (${code}): ${text}`)));
});

const model = "all-minilm-l6-v2";
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "not-needed", maxRetries: 0 });
let failed = false;
try {
  // The SDK's default: it asks for base64 and decodes it to floats itself.
  const byDefault = await client.embeddings.create({ model, input: ["The meeting is at noon", "Pasta with garlic"] });
  assert.equal(byDefault.object, "list");
  assert.equal(byDefault.model, model);
  assert.equal(byDefault.data.length, 2);
  assert.deepEqual(byDefault.data.map((d) => [d.object, d.index]), [["embedding", 0], ["embedding", 1]]);
  assert.equal(byDefault.data[0].embedding.length, 384);
  assert.ok(byDefault.usage.prompt_tokens > 0 && byDefault.usage.total_tokens === byDefault.usage.prompt_tokens);

  const asFloat = await client.embeddings.create({ model, input: ["The meeting is at noon", "Pasta with garlic"], encoding_format: "float" });
  assert.deepEqual(asFloat.data.map((d) => d.embedding), byDefault.data.map((d) => d.embedding), "base64 and float agree");
  const norm = Math.hypot(...asFloat.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-5, `unit vectors (norm ${norm})`);

  const single = await client.embeddings.create({ model, input: "The meeting is at noon", user: "someone" });
  assert.deepEqual(single.data[0].embedding, asFloat.data[0].embedding, "one string is a batch of one");

  // all-minilm-l6-v2 is not Matryoshka-trained: only its own width is accepted.
  const sameWidth = await client.embeddings.create({ model, input: "x", dimensions: 384 });
  assert.equal(sameWidth.data[0].embedding.length, 384);
  await assert.rejects(client.embeddings.create({ model, input: "x", dimensions: 64 }), (e) => {
    assert.ok(e instanceof OpenAI.APIError && e.status >= 400 && e.status < 500, `${e}`);
    return true;
  });

  // Every error carries OpenAI's `error` object beside Jina's `code`/`detail`: the SDK's
  // error then has Jina's code and message.
  await assert.rejects(client.embeddings.create({ model: "gpt-9", input: "x" }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `${e.constructor.name}: ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, "INPUT_MODEL_NOT_FOUND");
    assert.equal(e.param, "model");
    assert.match(e.message, /Model 'gpt-9' not found/);
    return true;
  });
  const raw = await fetch(`${base}/v1/embeddings`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: "gpt-9", input: "x" }),
  });
  assert.equal(raw.status, 400);
  const body = await raw.json();
  assert.equal(body.code, "INPUT_MODEL_NOT_FOUND", "Jina's code stays where Jina puts it");
  assert.equal(body.detail, body.error.message);

  const listed = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, "model");
    assert.ok(Number.isInteger(m.created) && typeof m.owned_by === "string", JSON.stringify(m));
    listed.push(m.id);
  }
  assert.ok(listed.includes(model) && listed.includes("jina-embeddings-v3"), listed.join(", "));
  console.log(`OpenAI JS SDK: embeddings (base64, float, one string, dimensions), errors and models.list() against triage serve: ok`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  server.kill();
  rmSync(store, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
