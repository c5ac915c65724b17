// Browser half of the jina-embeddings-v3 benchmark (not a test): the random full-size
// checkpoint (benches/v3/make_checkpoint.py into models/cache/_random) loaded through the npm
// package in headless Chromium, CPU and WebGPU; load time (first load: download + cache +
// build; second: from the Cache API), wasm memory, the Chromium processes' peak RSS, and
// emb/s at each token length and batch. Prints JSON lines.
//
//   node benches/v3/browser.mjs [seconds] [device,...] [skip]     e.g. 5 cpu,webgpu 512x8
//
// Needs pkg/build.sh --release and `npm ci` in tests/e2e (playwright-core).
import { runBench } from "../browser-driver.mjs";

const seconds = Number(process.argv[2] ?? 5);
const devices = (process.argv[3] ?? "cpu,webgpu").split(",");
const skip = process.argv[4] ?? "";

await runBench({
  page: "benches/v3/browser.html",
  name: "jina-embeddings-v3",
  devices,
  params: (device, first) => {
    const q = new URLSearchParams({ device, seconds: String(seconds), skip });
    // The first load is timed for loading only.
    if (first) { q.set("tokens", "32"); q.set("batches", "1"); }
    return q;
  },
});
