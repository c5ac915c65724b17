// A web app as a user writes it: the package imported by name, the engine in a worker and on
// the main thread, classifying and training once each. The result lands in
// `document.body.dataset.result` for the test to read. Shared by the bundlers' entry
// (app/main.js) and the Next.js page (next/app/page.tsx); type-checked with `tsc --strict`
// against the package's index.d.ts, as a TypeScript user's code would be.
import { Triage, createWorker } from "triage-classify";

const labels = ["billing", "bug"];
const examples = [
  { text: "I was charged twice this month", label: "billing" },
  { text: "Where is my refund?", label: "billing" },
  { text: "The app crashes when I log in", label: "bug" },
  { text: "Nothing happens when I press save", label: "bug" },
];

/** @param {import("triage-classify").TriageApi} engine */
async function exercise(engine) {
  const zeroShot = await engine.classify({ input: ["My card was charged twice"], labels });
  const trained = await engine.train({ input: examples });
  const fewShot = await engine.classify({ classifier_id: trained.classifier_id, input: ["The screen freezes on start"] });
  await engine.deleteClassifier(trained.classifier_id);
  return { zeroShot: zeroShot.data[0].prediction, fewShot: fewShot.data[0].prediction };
}

/** @param {string} id @param {unknown} value */
const show = (id, value) => {
  const out = document.getElementById(id);
  if (out) out.textContent = JSON.stringify(value);
};

/**
 * Runs the exercise with the model files under `modelsUrl` (absolute) on the CPU backend.
 * @param {string} modelsUrl
 */
export async function runExercise(modelsUrl) {
  /** @type {import("triage-classify").Options} */
  const options = { model: "all-minilm-l6-v2", baseUrl: modelsUrl, backend: "cpu" };
  /** @type {{ worker?: object, main?: object, error?: string }} */
  const result = {};
  try {
    const worker = await createWorker(options);
    result.worker = await exercise(worker);
    worker.terminate();
    show("worker", result.worker);
    const local = await Triage.create(options);
    result.main = await exercise(local);
    local.close();
    show("main", result.main);
  } catch (e) {
    const err = /** @type {import("triage-classify").TriageError} */ (e);
    result.error = `${err.name}: ${err.message}`;
  }
  document.body.dataset.result = JSON.stringify(result);
}
