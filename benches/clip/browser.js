// One model per page load: ?model=jina-clip-v1|v2&device=cpu|webgpu&batches=1,8&seconds=S&load=1
// Loads the random full-size checkpoint under /models/cache/_random through the npm package
// and times, at each batch, texts of exactly 32 tokens (`embeddings`) and images (`classify`
// of N copies of a 250×250 textile JPEG against two labels, whose embeddings are cached after
// the warm-up call: decoding, preprocessing and the image tower are timed). Results go to
// window.benchResult for the driver (benches/clip/browser.mjs).
import { timed } from "../timed.js";

const params = new URLSearchParams(location.search);
const model = params.get("model");
const device = params.get("device");
const batches = (params.get("batches") ?? "1,8").split(",").map(Number);
const seconds = Number(params.get("seconds") ?? 5);
const loadOnly = params.get("load") === "1";
const skip = new Set((params.get("skip") ?? "").split(",").filter(Boolean)); // e.g. "image8"
// Shown on the page and passed to the driver as progress (a case can run for many minutes).
const log = (m) => { document.getElementById("log").textContent += m + "\n"; console.info(m); };

// Both tokenizers read " the" as one token: N−2 of them plus the two special tokens are N.
const TOKENS = 32;
const text = Array(TOKENS - 2).fill("the").join(" ");

async function run() {
  const triage = await import("triage-classify");
  const t0 = performance.now();
  let dtype = null; // the weights' dtype, from the "ready" event (f16 where f32 would not fit)
  const onProgress = (e) => { if (e.status === "ready" && e.model === model) dtype = e.dtype; };
  const engine = await triage.Triage.create({ model, baseUrl: "/models/cache/_random", backend: device, onProgress });
  const loadMs = performance.now() - t0;
  const wasmAfterLoad = triage.wasmMemoryBytes();
  const results = [];
  if (!loadOnly) {
    const jpeg = await (await fetch("/tests/fixtures/images/textile/local/textile_0001.jpg")).blob();
    for (const batch of batches) {
      if (skip.has(`text${batch}`)) { results.push({ input: "text", batch, skipped: true }); continue; }
      const input = Array(batch).fill(text);
      const { done, secs } = await timed(async () => {
        const r = await engine.embeddings({ model, input });
        if (r.usage.total_tokens !== TOKENS * batch) throw new Error(`${r.usage.total_tokens} tokens, wanted ${TOKENS * batch}`);
      }, batch, seconds);
      results.push({ input: "text", tokens: TOKENS, batch, embeddings: done, seconds: +secs.toFixed(2), emb_per_s: +(done / secs).toFixed(3) });
      log(`text ×${batch}: ${(done / secs).toFixed(3)} emb/s`);
    }
    for (const batch of batches) {
      if (skip.has(`image${batch}`)) { results.push({ input: "image", batch, skipped: true }); continue; }
      const input = Array(batch).fill({ image: jpeg });
      const { done, secs } = await timed(async () => {
        const r = await engine.classify({ model, input, labels: ["nominal", "defect"] });
        if (r.data.length !== batch) throw new Error(`${r.data.length} results for ${batch} images`);
      }, batch, seconds);
      results.push({ input: "image", batch, images: done, seconds: +secs.toFixed(2), images_per_s: +(done / secs).toFixed(4) });
      log(`image ×${batch}: ${(done / secs).toFixed(4)} images/s`);
    }
  }
  return { model, device, info: engine.backend, dtype, loadMs, wasmAfterLoad, wasmAtEnd: triage.wasmMemoryBytes(), results };
}

run().then((r) => { window.benchResult = r; log(JSON.stringify(r)); })
  .catch((e) => { window.benchResult = { error: `${e.name}: ${e.message}` }; log(String(e.stack ?? e)); });
