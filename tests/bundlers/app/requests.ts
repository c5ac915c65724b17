// Requests as a TypeScript user writes them, checked with `tsc --strict` against the packed
// index.d.ts (never bundled or run): every field the engine reads is typed, and a wrong value is
// refused (each `@ts-expect-error` fails the check if its line compiles).
import type {
  ClassifyBody, ClassifyRequest, EmbeddingsRequest, Task, TrainBody, TrainItem, TrainItemBody, TrainRequest,
} from "triage-classify";

const task: Task = "classification";

export const zeroShot: ClassifyRequest = {
  model: "jina-embeddings-v3",
  input: ["My card was charged twice", { text: "The app crashes" }],
  labels: { topic: ["billing", "bug"], tone: ["calm", "angry"] },
  temperature: 0.5,
  task,
};

export const fewShot: ClassifyRequest = { classifier_id: "0b1e6a6c-2f5e-4c4a-9a3e-1d2f3a4b5c6d", input: "Refund?" };

export const create: TrainRequest = {
  model: "jina-embeddings-v3",
  access: "private",
  input: [{ text: "I was charged twice", label: "billing" }],
  num_iters: 10,
  task: "separation",
};

export const update: TrainRequest = { classifier_id: "0b1e6a6c", input: { text: "Crash on save", label: "bug" } };

export const embeddings: EmbeddingsRequest = { input: ["a", { text: "b" }], task: "retrieval.query", embedding_type: ["float", "base64"] };

// @ts-expect-error: not one of Jina's task names
export const wrongTask: ClassifyRequest = { input: "x", labels: ["a"], task: "summarize" };

// @ts-expect-error: a classifier's task is chosen at creation; updates may not name one
export const updateWithTask: TrainRequest = { classifier_id: "0b1e6a6c", input: { text: "x", label: "a" }, task };

// The package's request types cover exactly the fields the engine reads (the generated wire
// shapes of api.d.ts): a field added to or dropped from one side fails this check.
type Keys<T> = T extends unknown ? keyof T : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const classifyFields: Same<Keys<ClassifyRequest>, keyof ClassifyBody> = true;
export const trainFields: Same<Keys<TrainRequest>, keyof TrainBody> = true;
export const trainItemFields: Same<keyof TrainItem, keyof TrainItemBody> = true;
