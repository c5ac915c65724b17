// triage in the browser: the wasm engine behind Jina's Classifier API shapes, on this
// thread (`Triage`, from engine.js) or in a Web Worker (`createWorker`).
//
//   import { Triage, createWorker } from "triage-classify";
//   const triage = await createWorker({ model: "all-minilm-l6-v2", onProgress: console.log });
//   const result = await triage.classify({ input: ["..."], labels: ["a", "b"] });
//
// Failures reject with an Error whose `name` is Jina's error code, `message` the detail,
// `status` the HTTP status Jina would send and `response` the ErrorResponse object.

import { codedError, withImagesEncoded, withPhase } from "./engine.js";

export { Triage, initWasm, wasmMemoryBytes, withImagesEncoded, models, hasModel, deleteModel } from "./engine.js";

/** Rebuilds a Jina-coded Error that crossed a worker boundary. */
function reviveError(e) {
  const err = new Error(e.message);
  err.name = e.name;
  err.status = e.status;
  err.response = e.response;
  return err;
}

/**
 * The same interface as `Triage`, with the engine in a Web Worker so the page never blocks.
 * @param {object} [options] as `Triage.create`, plus `workerUrl` (default: this package's worker.js)
 */
export async function createWorker(options = {}) {
  const started = performance.now();
  const { onProgress, workerUrl, ...rest } = options;
  // One literal `new Worker(new URL(...), { type: "module" })`: the form Vite, webpack and
  // Rollup recognise as a worker entry (they bundle worker.js with its imports).
  const worker = workerUrl
    ? new Worker(workerUrl, { type: "module" })
    : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  // (Not a second `new URL("./worker.js", …)`: a bundler would take that for a plain asset.)
  const scriptUrl = workerUrl ? String(workerUrl) : "the package's worker.js";
  let nextId = 0;
  let createdReady = false;
  const pending = new Map();
  const failAll = (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.onmessage = ({ data }) => {
    if (data.progress) {
      const event = data.progress;
      if (!createdReady && event.status === "ready") {
        // The first ready event is the create call's: what the worker's load does not
        // count (starting the worker, loading its script, messages) is the `worker` phase.
        createdReady = true;
        event.timings = withPhase(event.timings, { name: "worker", ms: Math.max(0, performance.now() - started - event.timings.total) });
      }
      if (onProgress) onProgress(event);
      return;
    }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(reviveError(data.error)); else p.resolve(data.result);
  };
  worker.onerror = async (event) => {
    // A module worker that fails to load gets an ErrorEvent without a message: find the
    // cause (the script's HTTP status, or that one of its imports failed).
    event.preventDefault?.();
    let cause = event.message;
    if (!cause) {
      const status = workerUrl
        ? await fetch(workerUrl).then((r) => (r.ok ? null : `HTTP ${r.status}`), (e) => e.message)
        : null;
      cause = status
        ? `its script ${scriptUrl} did not load: ${status}`
        : `its script ${scriptUrl} or a module it imports did not load or threw on start (see the browser console); pass workerUrl if you host worker.js yourself`;
    }
    failAll(codedError("INTERNAL_ERROR", `triage worker failed: ${cause}`));
  };
  worker.onmessageerror = () => failAll(codedError("INTERNAL_ERROR", "triage worker sent a message that could not be read"));
  const call = (method, ...args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  // URLs cross to the worker as absolute strings: a URL object cannot be posted, and a
  // relative one would resolve against the worker's script instead of the page.
  const page = globalThis.document?.baseURI ?? globalThis.location?.href;
  for (const key of ["wasmUrl", "baseUrl"]) {
    if (rest[key] !== undefined) rest[key] = new URL(String(rest[key]), page).href;
  }
  const info = await call("create", { ...rest, progress: Boolean(onProgress) }).catch((e) => {
    worker.terminate();
    throw e;
  });
  return {
    backend: info.backend,
    model: info.model,
    classify: async (request) => call("classify", await withImagesEncoded(request)),
    train: async (request) => call("train", await withImagesEncoded(request)),
    embeddings: (request) => call("embeddings", request),
    classifiers: () => call("classifiers"),
    deleteClassifier: (id) => call("deleteClassifier", id),
    exportClassifier: (id) => call("exportClassifier", id),
    importClassifier: (document) => call("importClassifier", document),
    loadModel: (id) => call("loadModel", id),
    hasModel: (id, baseUrl) => call("hasModel", id, baseUrl),
    deleteModel: (id, baseUrl) => call("deleteModel", id, baseUrl),
    models: () => call("models"),
    close: () => call("close"),
    terminate: () => worker.terminate(),
  };
}
