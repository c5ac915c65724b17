// The engine on the thread that imports it (a page, or the package's worker): the wasm
// module behind Jina's Classifier API shapes. index.js re-exports it and adds createWorker;
// this file holds no Worker construction, so a bundler's worker bundle (worker.js and what
// it imports) never contains a worker of its own. Failures reject with an Error named by
// Jina's error code (see index.js).

import init, * as wasm from "./wasm/triage.js";

let ready = null;
let exports = null;

/** An Error with Jina's code as its name, as every failure of this package has. */
export function codedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

/**
 * Fetches the wasm module itself, so a missing or misserved file is reported with its URL and
 * HTTP status instead of a compile error. The literal `new URL("./wasm/…", import.meta.url)`
 * is what bundlers (Vite, webpack, Rollup, esbuild's loaders) recognise and rewrite to the
 * hashed asset.
 */
async function fetchWasm(moduleOrPath) {
  if (moduleOrPath && !(typeof moduleOrPath === "string" || moduleOrPath instanceof URL)) return moduleOrPath;
  const url = moduleOrPath ?? new URL("./wasm/triage_bg.wasm", import.meta.url);
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw codedError("SERVICE_UNAVAILABLE", `cannot fetch the triage wasm module from ${url}: ${e.message}`);
  }
  if (!response.ok) {
    throw codedError("SERVICE_UNAVAILABLE", `cannot fetch the triage wasm module from ${url}: HTTP ${response.status}`);
  }
  return response;
}

/** `timings` (`{ total, phases }` of a ready event) with `phase` first, counted in the total. */
export function withPhase(timings, phase) {
  return { total: phase.ms + timings.total, phases: [phase, ...timings.phases] };
}

/** Loads the wasm module once per realm (page or worker); `moduleOrPath`: its URL, or a compiled module. */
export function initWasm(moduleOrPath) {
  if (!ready) {
    ready = fetchWasm(moduleOrPath)
      .then((source) => init({ module_or_path: source }))
      .then((e) => (exports = e))
      .catch((e) => {
        ready = null;
        throw e;
      });
  }
  return ready;
}

/** Bytes of the engine's wasm memory in this realm (it only grows: the current size is the peak). */
export function wasmMemoryBytes() {
  return exports ? exports.memory.buffer.byteLength : 0;
}

/** A Blob or File as a base64 `data:` URL (the engine takes images as URL or base64, as Jina's API). */
async function blobToDataUrl(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:${blob.type || "application/octet-stream"};base64,${btoa(binary)}`;
}

/**
 * Requests may give images as Blob or File (`{ image: file }`, or the file itself as an input):
 * they become data URLs here, so every other form of a request passes unchanged.
 */
export async function withImagesEncoded(request) {
  if (!request || typeof request !== "object" || request.input === undefined) return request;
  const isBlob = (v) => typeof Blob !== "undefined" && v instanceof Blob;
  const encode = async (item) => {
    if (isBlob(item)) return { image: await blobToDataUrl(item) };
    if (item && typeof item === "object" && isBlob(item.image)) return { ...item, image: await blobToDataUrl(item.image) };
    return item;
  };
  const input = Array.isArray(request.input) ? await Promise.all(request.input.map(encode)) : await encode(request.input);
  return { ...request, input };
}

/** The engine on this thread. Prefer `createWorker` in pages: model loading and inference block the thread they run on. */
export class Triage {
  #engine;

  constructor(engine) {
    this.#engine = engine;
  }

  /**
   * @param {object} [options] `{ model, baseUrl, backend: "auto"|"webgpu"|"cpu", onProgress, database, wasmUrl }`
   */
  static async create(options = {}) {
    const started = performance.now();
    await initWasm(options.wasmUrl);
    const { wasmUrl, ...engineOptions } = options;
    // The ready event of this load also counts the wasm module's fetch, compile and
    // instantiation (nothing when this realm already has it).
    const wasmMs = performance.now() - started;
    const { onProgress } = options;
    if (onProgress) {
      let first = true;
      engineOptions.onProgress = (event) => {
        if (first && event.status === "ready") {
          first = false;
          event.timings = withPhase(event.timings, { name: "wasm", ms: wasmMs });
        }
        onProgress(event);
      };
    }
    return new Triage(await wasm.Triage.create(engineOptions));
  }

  /** `{ name: "webgpu"|"cpu", adapter, fallbackAdapter, fallbackReason }` */
  get backend() { return this.#engine.backend; }
  /** The model used by requests that name none. */
  get model() { return this.#engine.model; }

  /** POST /v1/classify (images as URL, base64, data URL, Blob or File) */
  async classify(request) { return this.#engine.classify(await withImagesEncoded(request)); }
  /** POST /v1/train (images as URL, base64, data URL, Blob or File) */
  async train(request) { return this.#engine.train(await withImagesEncoded(request)); }
  /** POST /v1/embeddings */
  embeddings(request) { return this.#engine.embeddings(request); }
  /** GET /v1/classifiers */
  classifiers() { return this.#engine.classifiers(); }
  /** DELETE /v1/classifiers/{id} */
  deleteClassifier(id) { return this.#engine.deleteClassifier(id); }
  /** A classifier as a JSON document (to save as a file, or move to another browser). */
  exportClassifier(id) { return this.#engine.exportClassifier(id); }
  /** Stores an exported classifier (object or JSON string) under its id; resolves its summary. */
  importClassifier(document) { return this.#engine.importClassifier(document); }
  /** Loads a model now instead of on first use. */
  loadModel(id) { return this.#engine.loadModel(id); }
  /** Closes the IndexedDB connection. */
  close() { this.#engine.close(); }
}

/** The models triage knows: `[{ id, dim, maxTokens, sizeBytes, description, imageInputs, default }]`. */
export async function models(options = {}) {
  await initWasm(options.wasmUrl);
  return wasm.models();
}

/** Whether the model's files are all in the browser cache (its next load works offline). */
export async function hasModel(id, baseUrl, options = {}) {
  await initWasm(options.wasmUrl);
  return wasm.hasModel(id, baseUrl);
}

/** Removes the model's files from the browser cache. */
export async function deleteModel(id, baseUrl, options = {}) {
  await initWasm(options.wasmUrl);
  return wasm.deleteModel(id, baseUrl);
}

