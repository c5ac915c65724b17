// What a webpack 5 user needs for triage-classify: nothing beyond an entry and an output.
// webpack bundles `new Worker(new URL("./worker.js", import.meta.url))` as a worker chunk and
// emits `new URL("….wasm", import.meta.url)` as an asset. The test builds it in both modes
// and under a public path (TRIAGE_BASE).
import { fileURLToPath } from "node:url";

export default (env, argv) => ({
  mode: argv.mode ?? "production",
  entry: "./app/main.js",
  output: {
    path: fileURLToPath(new URL(`./dist-webpack-${argv.mode ?? "production"}`, import.meta.url)),
    publicPath: process.env.TRIAGE_BASE ?? "auto",
    filename: "[name].[contenthash].js",
    clean: true,
  },
  devtool: false,
  performance: { hints: false },
});
