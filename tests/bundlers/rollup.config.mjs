// What a Rollup user needs for triage-classify: node-resolve to find the package, and the
// package's worker.js, engine.js and wasm/ copied beside the bundle (Rollup leaves
// `new URL("./worker.js", import.meta.url)` as it is, so the worker and the wasm are looked
// up next to the bundle; bundlers.test.mjs copies them, as a copy plugin would).
import { nodeResolve } from "@rollup/plugin-node-resolve";

export default {
  input: "app/main.js",
  output: { dir: "dist-rollup", format: "es" },
  plugins: [nodeResolve({ browser: true })],
};
