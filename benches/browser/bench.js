// One benchmark case per page load: ?impl=triage|transformersjs&device=cpu|webgpu|wasm&threads=N
// &batches=1,8,32&seconds=S. Results are posted on window.benchResult for the driver.
const params = new URLSearchParams(location.search);
const impl = params.get("impl");
const device = params.get("device");
const batches = (params.get("batches") ?? "1,8,32").split(",").map(Number);
const seconds = Number(params.get("seconds") ?? 10);
const threads = Number(params.get("threads") ?? 1);
const log = (m) => { document.getElementById("log").textContent += m + "\n"; };

async function memory() {
  const out = { jsHeapBytes: performance.memory?.usedJSHeapSize ?? null, pageBytes: null };
  if (self.crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
    try { out.pageBytes = (await performance.measureUserAgentSpecificMemory()).bytes; } catch {}
  }
  return out;
}

async function setup() {
  const texts = (await (await fetch("./texts.txt")).text()).split("\n").filter(Boolean);
  if (impl === "triage") {
    const triage = await import("triage-classify");
    let timings = null; // where the load's time went (the ready event's phases)
    const onProgress = (e) => { if (e.status === "ready") timings = e.timings; };
    const engine = await triage.Triage.create({ model: "all-minilm-l6-v2", baseUrl: "/models/cache", backend: device, onProgress });
    return {
      texts,
      timings,
      info: engine.backend,
      embed: async (batch) => (await engine.embeddings({ input: batch })).data.map((d) => d.embedding),
      wasmBytes: () => triage.wasmMemoryBytes(),
    };
  }
  const { pipeline, env } = await import("/benches/browser/node_modules/@huggingface/transformers/dist/transformers.js");
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = "/models/cache/_peers/transformersjs/";
  env.backends.onnx.wasm.wasmPaths = "/benches/browser/node_modules/onnxruntime-web/dist/";
  env.backends.onnx.wasm.numThreads = threads;
  const extractor = await pipeline("feature-extraction", "all-minilm-l6-v2", { device, dtype: "fp32" });
  return {
    texts,
    info: { name: device, threads },
    embed: async (batch) => (await extractor(batch, { pooling: "mean", normalize: true })).tolist(),
    wasmBytes: () => null,
  };
}

async function run() {
  const t0 = performance.now();
  const s = await setup();
  const first = await s.embed([s.texts[0]]);
  const coldStartMs = performance.now(); // navigation start → first answer
  const loadMs = performance.now() - t0;
  const results = [];
  let peak = await memory();
  for (const batch of batches) {
    let done = 0, calls = 0, i = 0;
    const start = performance.now();
    while (calls === 0 || performance.now() - start < seconds * 1000) {
      const slice = [];
      for (let k = 0; k < batch; k++) slice.push(s.texts[(i++) % s.texts.length]);
      const out = await s.embed(slice);
      if (out.length !== batch) throw new Error("wrong count");
      done += batch;
      calls++;
    }
    const secs = (performance.now() - start) / 1000;
    results.push({ batch, embeddings: done, seconds: +secs.toFixed(2), emb_per_s: +(done / secs).toFixed(2) });
    log(`batch ${batch}: ${(done / secs).toFixed(2)} emb/s`);
    const m = await memory();
    peak = { jsHeapBytes: Math.max(peak.jsHeapBytes ?? 0, m.jsHeapBytes ?? 0), pageBytes: Math.max(peak.pageBytes ?? 0, m.pageBytes ?? 0) };
  }
  const wasmFiles = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".wasm"));
  return { impl, device, threads, wasmFiles, info: s.info, coldStartMs, loadMs, timings: s.timings ?? null, first: first[0].slice(0, 4), results, memory: peak, wasmMemoryBytes: s.wasmBytes() };
}

run().then((r) => { window.benchResult = r; log(JSON.stringify(r)); })
  .catch((e) => { window.benchResult = { error: `${e.name}: ${e.message}` }; log(String(e.stack ?? e)); });
