// Types of triage-classify. Requests and responses follow Jina's Classifier API.

import type * as Api from "./api.js";
import type {
  Task, ClassificationResponse, TrainingResponse, EmbeddingResponse, ClassifierSummary, DeleteResponse,
} from "./api.js";

// The wire shapes, generated from the engine's Rust types (src/api.rs) into api.d.ts.
export type {
  Task, Access, EmbeddingType, OneOrMany, DocBody, InputItem, LabelsBody, ClassifyBody, TrainItemBody, TrainBody,
  EmbeddingsBody, LabelScore, ClassificationPrediction, Usage, ClassificationResponse, TrainingResponse,
  ClassifierSummary, DeleteResponse, EmbeddingUsage, EmbeddingData, EmbeddingResponse,
} from "./api.js";

// The requests as a page writes them: the wire shapes, narrowed to what each kind of request
// may carry, with images also as a Blob/File in the browser.

/** An image: an http(s) URL, base64 (with or without a `data:` prefix), or in the browser a Blob/File. */
export type ImageSource = string | Blob;
export type Input = Api.InputItem | { image: ImageSource } | Blob;

export interface ZeroShotRequest extends Pick<Api.ClassifyBody, "model" | "temperature" | "task"> {
  input: Input | Input[];
  labels: Api.LabelsBody;
}

export interface FewShotRequest {
  classifier_id: string;
  input: Input | Input[];
}

export type ClassifyRequest = ZeroShotRequest | FewShotRequest;

export type TrainItem = Omit<Api.TrainItemBody, "image"> & { image?: ImageSource };

export type TrainRequest =
  | (Pick<Api.TrainBody, "model" | "access" | "num_iters" | "task"> & { input: TrainItem | TrainItem[] })
  | (Pick<Api.TrainBody, "num_iters"> & {
      classifier_id: string;
      input: TrainItem | TrainItem[];
      /** Refused: an update embeds with the task the classifier was created with. */
      task?: never;
    });

export type EmbeddingsRequest = Api.EmbeddingsBody;

/** A classifier's full stored form: model, task, labels, weights, sample counts and dates. */
export interface ClassifierExport {
  format: number;
  classifier_id: string;
  model: string;
  task?: Task;
  access: "public" | "private";
  classifier: { dim: number; labels: string[]; weights: number[][]; centroids: number[][]; counts: number[] };
  created_at: string;
  updated_at: string;
  used_at: string | null;
  updated_number: number;
  used_number: number;
}

export interface ProgressEvent {
  status: "initiate" | "progress" | "done" | "ready";
  model: string;
  file?: string;
  loaded: number;
  total: number;
  progress?: number;
  /** With "ready": the dtype the weights are stored in. "f16" on WebGPU adapters with
   * shader-f16, and on the CPU backend for models whose f32 weights exceed what a page's
   * WebAssembly memory holds (jina-clip-v2). */
  dtype?: "f32" | "f16";
  /** With "ready": where the load's time went. */
  timings?: LoadTimings;
}

/** Where a load's time went, in milliseconds; the phases are consecutive and sum to `total`. */
export interface LoadTimings {
  total: number;
  phases: LoadPhase[];
}

/**
 * `worker`: starting the Web Worker and loading its script (createWorker's ready event only);
 * `wasm`: fetching, compiling and instantiating the wasm module (the first create in a page or
 * worker); `backend`: choosing the device (WebGPU adapter or CPU); `store`: opening IndexedDB;
 * `read` (with `file`): the Cache API or the network, copying into wasm memory and hashing;
 * `tokenizer`: building the tokenizer; `weights`: decoding the weights into the network and
 * uploading them to the device.
 */
export interface LoadPhase {
  name: "worker" | "wasm" | "backend" | "store" | "read" | "tokenizer" | "weights";
  file?: string;
  ms: number;
}

export interface BackendInfo {
  name: "webgpu" | "cpu";
  adapter: string | null;
  fallbackAdapter: boolean;
  /** Why `auto` did not use WebGPU. */
  fallbackReason: string | null;
  /** The wasm module's cargo profile: "release" (shipped) or "dev" (`pkg/build.sh` without --release). */
  build: "release" | "dev";
}

export interface Options {
  /** Loaded by `create` and used by requests that name no model (default: the registry's default). */
  model?: string;
  /** Where model files are: `{baseUrl}/{model id}/{file}`. Default: each model's public hub URL. */
  baseUrl?: string;
  backend?: "auto" | "webgpu" | "cpu";
  onProgress?: (event: ProgressEvent) => void;
  /** IndexedDB database holding classifiers (default "triage"). */
  database?: string;
  /** URL of triage_bg.wasm, if not next to the package's wasm/triage.js. */
  wasmUrl?: string | URL;
}

/** An Error whose name is Jina's error code (INPUT_VALIDATION_ERROR, RESOURCE_NOT_FOUND, ...). */
export interface TriageError extends Error {
  status: number;
  response: {
    code: string;
    detail: string;
    errors?: Array<{ field: string; message: string; type: string }>;
    /** OpenAI's error object: `code` is Jina's code, `param` the field at fault. */
    error: { message: string; type: string; code: string; param: string | null };
  };
}

export interface ModelInfo {
  id: string; dim: number; maxTokens: number; sizeBytes: number; description: string; imageInputs: boolean; default: boolean;
}

export interface TriageApi {
  readonly backend: BackendInfo;
  readonly model: string;
  classify(request: ClassifyRequest | string): Promise<ClassificationResponse>;
  train(request: TrainRequest | string): Promise<TrainingResponse>;
  embeddings(request: EmbeddingsRequest | string): Promise<EmbeddingResponse>;
  classifiers(): Promise<ClassifierSummary[]>;
  deleteClassifier(id: string): Promise<DeleteResponse>;
  /** A classifier as a JSON document (to save as a file, or move to another browser). */
  exportClassifier(id: string): Promise<ClassifierExport>;
  /** Stores an exported classifier under its id (refused if that id is already stored). */
  importClassifier(document: ClassifierExport | string): Promise<ClassifierSummary>;
  /** Loads a model now (else it loads on first use); resolves with its weights' dtype and
   * where the load that made it ready spent its time (its own phases: `read`, `tokenizer`,
   * `weights`). */
  loadModel(id: string): Promise<{ model: string; dtype: "f32" | "f16"; timings: LoadTimings }>;
}

/** The engine on the calling thread (`createWorker` runs the same in a Web Worker). */
export declare class Triage {
  static create(options?: Options): Promise<Triage>;
}
export interface Triage extends TriageApi {
  /** Closes the IndexedDB connection. */
  close(): void;
}

export interface TriageWorker extends TriageApi {
  hasModel(id: string, baseUrl?: string): Promise<boolean>;
  deleteModel(id: string, baseUrl?: string): Promise<boolean>;
  models(): Promise<ModelInfo[]>;
  close(): Promise<void>;
  terminate(): void;
}

/** The engine in a Web Worker; `baseUrl` and `wasmUrl` relative to the page, as for `Triage.create`. */
export function createWorker(options?: Options & { workerUrl?: string | URL }): Promise<TriageWorker>;
export function initWasm(moduleOrPath?: string | URL): Promise<unknown>;
export function models(options?: { wasmUrl?: string | URL }): Promise<ModelInfo[]>;
export function hasModel(id: string, baseUrl?: string, options?: { wasmUrl?: string | URL }): Promise<boolean>;
export function deleteModel(id: string, baseUrl?: string, options?: { wasmUrl?: string | URL }): Promise<boolean>;
export function wasmMemoryBytes(): number;
