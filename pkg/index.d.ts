// Types of triage-classify. Requests and responses follow Jina's Classifier API.

/** An image: an http(s) URL, base64 (with or without a `data:` prefix), or in the browser a Blob/File. */
export type ImageSource = string | Blob;
export type Input = string | { text: string } | { image: ImageSource } | Blob;

/** Jina's task adapters (jina-embeddings-v3, jina-clip-v2); a model without adapters refuses them. */
export type Task = "retrieval.query" | "retrieval.passage" | "text-matching" | "classification" | "separation";

export interface ZeroShotRequest {
  model?: string;
  input: Input | Input[];
  labels: string[] | Record<string, string[]>;
  /** Softmax temperature over cosine similarities (triage extension; default 1). */
  temperature?: number;
  /** Task adapter for inputs and labels (triage extension; default: the model's classification task). */
  task?: Task;
}

export interface FewShotRequest {
  classifier_id: string;
  input: Input | Input[];
}

export type ClassifyRequest = ZeroShotRequest | FewShotRequest;

export interface LabelScore { label: string; score: number }

export interface ClassificationPrediction {
  object: "classification";
  index: number;
  /** A label, or per label group when `labels` was a dict. */
  prediction: string | Record<string, string>;
  score: number | Record<string, number>;
  predictions: LabelScore[] | Record<string, LabelScore[]>;
}

export interface ClassificationResponse {
  usage: { total_tokens: number };
  data: ClassificationPrediction[];
}

export interface TrainItem { text?: string; image?: ImageSource; label: string }

export type TrainRequest =
  | {
      model?: string;
      access?: "public" | "private";
      input: TrainItem | TrainItem[];
      num_iters?: number;
      /** Task adapter the classifier's examples and later inputs are embedded with (triage
       * extension; default: the model's classification task). Chosen once, at creation. */
      task?: Task;
    }
  | {
      classifier_id: string;
      input: TrainItem | TrainItem[];
      num_iters?: number;
      /** Refused: an update embeds with the task the classifier was created with. */
      task?: never;
    };

export interface TrainingResponse {
  classifier_id: string;
  num_samples: number;
  usage: { total_tokens: number };
}

export interface EmbeddingsRequest {
  model?: string;
  input: string | { text: string } | Array<string | { text: string }>;
  normalized?: boolean;
  embedding_type?: EmbeddingType | EmbeddingType[];
  dimensions?: number;
  truncate?: boolean;
  /** Task adapter (jina-embeddings-v3, jina-clip-v2); default: the base weights. */
  task?: Task;
  /** Accepted when false; true is refused (not implemented). */
  late_chunking?: boolean;
  /** OpenAI's name for the encoding ("float" | "base64"); must agree with `embedding_type` if both are given. */
  encoding_format?: "float" | "base64";
  /** OpenAI's `user`: accepted and ignored, never stored. */
  user?: string;
}
export type EmbeddingType = "float" | "base64" | "binary" | "ubinary";

export interface EmbeddingResponse {
  model: string;
  object: "list";
  usage: { total_tokens: number; prompt_tokens: number };
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string | Record<string, number[] | string> }>;
}

export interface ClassifierSummary {
  classifier_id: string;
  user_id: string;
  model: string;
  labels: string[];
  access: "public" | "private";
  updated_number: number;
  used_number: number;
  created_at: string;
  updated_at: string;
  used_at: string | null;
  is_active: boolean;
  is_latest: boolean;
  metadata_: { num_samples: number; samples_per_label: Record<string, number>; dim: number };
}

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

export interface DeleteResponse { classifier_id: string; deleted: boolean }

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
