// The engine in a Web Worker: messages `{ id, method, args }` in, `{ id, result }` or
// `{ id, error: { name, message, status, response } }` out; progress events as `{ progress }`.

import { Triage, models, hasModel, deleteModel } from "./engine.js";

let engine = null;

const methods = {
  async create(options) {
    const { progress, ...rest } = options ?? {};
    if (progress) rest.onProgress = (event) => self.postMessage({ progress: event });
    engine = await Triage.create(rest);
    return { backend: engine.backend, model: engine.model };
  },
  classify: (request) => engine.classify(request),
  train: (request) => engine.train(request),
  embeddings: (request) => engine.embeddings(request),
  classifiers: () => engine.classifiers(),
  deleteClassifier: (id) => engine.deleteClassifier(id),
  exportClassifier: (id) => engine.exportClassifier(id),
  importClassifier: (document) => engine.importClassifier(document),
  loadModel: (id) => engine.loadModel(id),
  hasModel: (id, baseUrl) => hasModel(id, baseUrl),
  deleteModel: (id, baseUrl) => deleteModel(id, baseUrl),
  models: () => models(),
  close: () => engine && engine.close(),
};

self.onmessage = async ({ data }) => {
  const { id, method, args } = data;
  try {
    const fn = methods[method];
    if (!fn) throw Object.assign(new Error(`unknown method '${method}'`), { name: "INTERNAL_ERROR" });
    if (method !== "create" && !["models", "hasModel", "deleteModel"].includes(method) && !engine) {
      throw Object.assign(new Error("the engine is not created"), { name: "INTERNAL_ERROR" });
    }
    self.postMessage({ id, result: await fn(...(args ?? [])) });
  } catch (e) {
    self.postMessage({
      id,
      error: { name: e?.name ?? "INTERNAL_ERROR", message: e?.message ?? String(e), status: e?.status, response: e?.response },
    });
  }
};
