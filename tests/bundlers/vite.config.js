// What a Vite user adds for triage-classify: keep the package out of dependency
// pre-bundling, so its worker.js and wasm stay beside index.js (`new URL(…, import.meta.url)`).
// The test builds it under a base path (TRIAGE_BASE, e.g. "/sub/") to check the URLs survive.
import { defineConfig } from "vite";

export default defineConfig({
  root: "app",
  base: process.env.TRIAGE_BASE ?? "/",
  optimizeDeps: { exclude: ["triage-classify"] },
  worker: { format: "es" },
  build: { outDir: "../dist", emptyOutDir: true },
});
