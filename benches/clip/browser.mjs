// Browser half of the jina-clip benchmark (not a test): the random full-size checkpoints
// (benches/clip/make_checkpoint.py into models/cache/_random/jina-clip-vN) loaded through the
// npm package in headless Chromium; load time (first load only loads; the reload then
// reads the Cache API and runs the cases), wasm memory, the Chromium processes' peak RSS,
// texts/s and images/s at each batch. Prints JSON lines.
//
//   node benches/clip/browser.mjs MODEL [seconds] [device,...] [batches] [skip]
//   e.g. node benches/clip/browser.mjs jina-clip-v1 5 cpu 1,8
//
// Needs pkg/build.sh (--release for shipped figures) and `npm ci` in tests/e2e.
import { runBench } from "../browser-driver.mjs";

const model = process.argv[2] ?? "jina-clip-v1";
const seconds = process.argv[3] ?? "5";
const devices = (process.argv[4] ?? "cpu").split(",");
const batches = process.argv[5] ?? "1,8";
const skip = process.argv[6] ?? "";

await runBench({
  page: "benches/clip/browser.html",
  name: model,
  devices,
  params: (device, first) => new URLSearchParams({ model, device, seconds, batches, skip, load: first ? "1" : "0" }),
});
