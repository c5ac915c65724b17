// Generated from src/api.rs by `TRIAGE_WRITE_TYPES=1 cargo test --lib api::typescript`: do not edit.
// The wire shapes of Jina's Classifier API as triage reads (…Body) and writes them.

/** Jina's task adapters. */
export type Task = "retrieval.query" | "retrieval.passage" | "text-matching" | "classification" | "separation";
export type Access = "public" | "private";
export type EmbeddingType = "float" | "base64" | "binary" | "ubinary";
export type OneOrMany<T> = T | Array<T>;
export type DocBody = { text?: string, image?: string, };
export type InputItem = string | DocBody;
export type LabelsBody = Array<string> | Record<string, string[]>;
export type ClassifyBody = { model?: string, classifier_id?: string, input: OneOrMany<InputItem>, labels?: LabelsBody, 
/**
 * Softmax temperature over cosine similarities (triage extension; default 1).
 */
temperature?: number, 
/**
 * Task adapter for inputs and labels (triage extension; default: the model's
 * classification task).
 */
task?: Task, };
export type TrainItemBody = { text?: string, image?: string, label: string, };
export type TrainBody = { model?: string, classifier_id?: string, input: OneOrMany<TrainItemBody>, access?: Access, 
/**
 * Training passes, 1–100 (default 10).
 */
num_iters?: number, 
/**
 * Task adapter the classifier's examples and later inputs are embedded with (triage
 * extension; default: the model's classification task). Chosen once, at creation.
 */
task?: Task, };
export type EmbeddingsBody = { model?: string, input: OneOrMany<InputItem>, 
/**
 * L2-normalise each vector (default true).
 */
normalized?: boolean, embedding_type?: OneOrMany<EmbeddingType>, dimensions?: number, truncate?: boolean, 
/**
 * Task adapter (jina-embeddings-v3, jina-clip-v2); default: the base weights.
 */
task?: Task, 
/**
 * Accepted when false; true is refused (not implemented).
 */
late_chunking?: boolean, 
/**
 * OpenAI's name for the encoding; must agree with `embedding_type` if both are given.
 */
encoding_format?: "float" | "base64", 
/**
 * OpenAI's end-user id: accepted, never stored or logged.
 */
user?: string, };
export type LabelScore = { label: string, score: number, };
export type ClassificationPrediction = { object: "classification", index: number, 
/**
 * A label, or one per label group when `labels` was a dict.
 */
prediction: string | Record<string, string>, score: number | Record<string, number>, predictions: LabelScore[] | Record<string, LabelScore[]>, };
export type Usage = { total_tokens: number, };
export type ClassificationResponse = { usage: Usage, data: Array<ClassificationPrediction>, };
export type TrainingResponse = { classifier_id: string, num_samples: number, usage: Usage, };
export type ClassifierSummary = { classifier_id: string, user_id: string, model: string, labels: Array<string>, access: Access, updated_number: number, used_number: number, created_at: string, updated_at: string, used_at: string | null, is_active: boolean, is_latest: boolean, metadata_: { num_samples: number; samples_per_label: Record<string, number>; dim: number }, };
export type DeleteResponse = { classifier_id: string, deleted: boolean, };
export type EmbeddingUsage = { total_tokens: number, prompt_tokens: number, };
export type EmbeddingData = { object: "embedding", index: number, embedding: number[] | string | Record<string, number[] | string>, };
export type EmbeddingResponse = { model: string, object: "list", usage: EmbeddingUsage, data: Array<EmbeddingData>, };
