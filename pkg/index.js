// triage in the browser: the wasm engine behind Jina's Classifier API shapes.
//
//   import { Triage, createWorker } from "triage-classify";
//   const triage = await Triage.create({ model: "all-minilm-l6-v2", onProgress: console.log });
//   const result = await triage.classify({ input: ["..."], labels: ["a", "b"] });
//
// Requests and responses are Jina's JSON; failures reject with an Error whose `name` is
// Jina's error code, `message` the detail, `status` the HTTP status Jina would send and
// `response` the ErrorResponse object.

import init, * as wasm from "./wasm/triage.js";

let ready = null;
let exports = null;

/** Loads the wasm module once per realm (page or worker). */
export function initWasm(moduleOrPath) {
  if (!ready) {
    ready = init(moduleOrPath ? { module_or_path: moduleOrPath } : undefined).then((e) => (exports = e));
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
    await initWasm(options.wasmUrl);
    const { wasmUrl, ...engineOptions } = options;
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
  const { onProgress, workerUrl, ...rest } = options;
  const worker = new Worker(workerUrl ?? new URL("./worker.js", import.meta.url), { type: "module" });
  let nextId = 0;
  const pending = new Map();
  worker.onmessage = ({ data }) => {
    if (data.progress) {
      if (onProgress) onProgress(data.progress);
      return;
    }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(reviveError(data.error)); else p.resolve(data.result);
  };
  worker.onerror = (event) => {
    const err = new Error(`triage worker failed: ${event.message ?? "unknown error"}`);
    err.name = "INTERNAL_ERROR";
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const call = (method, ...args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  const info = await call("create", { ...rest, progress: Boolean(onProgress) });
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
