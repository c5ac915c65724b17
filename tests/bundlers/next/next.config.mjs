// What a Next.js user adds for triage-classify: nothing but their own base path. Turbopack (the
// default bundler of `next dev` and `next build`) bundles the package's worker as its own entry
// and emits its wasm as a hashed asset from the `new URL(…, import.meta.url)` references.
// The test builds under a base path (TRIAGE_BASE, e.g. "/sub") to check the URLs survive it.
import { fileURLToPath } from "node:url";

const basePath = process.env.TRIAGE_BASE ?? "";

/** @type {import("next").NextConfig} */
export default {
  basePath,
  // The page finds the model files under its base path (public/models).
  env: { TRIAGE_BASE_PATH: basePath },
  // The app shares tests/bundlers/node_modules and app/exercise.js with the other bundlers.
  turbopack: { root: fileURLToPath(new URL("..", import.meta.url)) },
  distDir: process.env.TRIAGE_NEXT_DIST ?? ".next",
};
