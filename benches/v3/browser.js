// One case per page load: ?device=cpu|webgpu&tokens=32,512&batches=1,8&seconds=S&maxCalls=N
// Loads jina-embeddings-v3 (the random full-size checkpoint under /models/cache/_random)
// through the npm package and times the embeddings call (classification adapter) on inputs
// of exactly N tokens. Results go to window.benchResult for the driver.
import { timed } from "../timed.js";

const params = new URLSearchParams(location.search);
const device = params.get("device");
const tokens = (params.get("tokens") ?? "32,512").split(",").map(Number);
const batches = (params.get("batches") ?? "1,8").split(",").map(Number);
const seconds = Number(params.get("seconds") ?? 5);
const skip = new Set((params.get("skip") ?? "").split(",").filter(Boolean)); // "512x8": cases left out
// Shown on the page and passed to the driver as progress (a case can run for many minutes).
const log = (m) => { document.getElementById("log").textContent += m + "\n"; console.info(m); };

// XLM-R reads " the" as one piece: N−2 of them plus <s> and </s> are N tokens (checked below).
const text = (n) => Array(n - 2).fill("the").join(" ");

async function run() {
  const triage = await import("triage-classify");
  const t0 = performance.now();
  const engine = await triage.Triage.create({ model: "jina-embeddings-v3", baseUrl: "/models/cache/_random", backend: device });
  const loadMs = performance.now() - t0;
  const wasmAfterLoad = triage.wasmMemoryBytes();
  const results = [];
  for (const n of tokens) {
    for (const batch of batches) {
      if (skip.has(`${n}x${batch}`)) { results.push({ tokens: n, batch, skipped: true }); continue; }
      const input = Array(batch).fill(text(n));
      const call = async () => {
        const r = await engine.embeddings({ model: "jina-embeddings-v3", input, task: "classification" });
        if (r.usage.total_tokens !== n * batch) throw new Error(`${r.usage.total_tokens} tokens, wanted ${n * batch}`);
      };
      const { done, secs } = await timed(call, batch, seconds);
      results.push({ tokens: n, batch, embeddings: done, seconds: +secs.toFixed(2), emb_per_s: +(done / secs).toFixed(3) });
      log(`${n} tokens, batch ${batch}: ${(done / secs).toFixed(3)} emb/s`);
    }
  }
  return { device, info: engine.backend, loadMs, wasmAfterLoad, wasmAtEnd: triage.wasmMemoryBytes(), results };
}

run().then((r) => { window.benchResult = r; log(JSON.stringify(r)); })
  .catch((e) => { window.benchResult = { error: `${e.name}: ${e.message}` }; log(String(e.stack ?? e)); });
