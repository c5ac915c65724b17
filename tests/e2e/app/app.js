// A small app using the package as any web app would: the engine in a worker, models from
// the app's own server, a classifier trained once and reused after reloads.
import { createWorker } from "triage-classify";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const show = (id, value) => { $(id).textContent = JSON.stringify(value, null, 2); };

const SAMPLE = {
  input: [
    { text: "Calculate the compound interest on a principal of $10,000 invested for 5 years at an annual rate of 5%, compounded quarterly." },
    { text: "分析使用CRISPR基因编辑技术在人类胚胎中的伦理影响。考虑潜在的医疗益处和长期社会后果。" },
    { text: "AIが自意識を持つディストピアの未来を舞台にした短編小説を書いてください。人間とAIの関係や意識の本質をテーマに探求してください。" },
    { text: "Erklären Sie die Unterschiede zwischen Merge-Sort und Quicksort-Algorithmen in Bezug auf Zeitkomplexität, Platzkomplexität und Leistung in der Praxis." },
    { text: "Write a poem about the beauty of nature and its healing power on the human soul." },
    { text: "Translate the following sentence into French: The quick brown fox jumps over the lazy dog." },
  ],
  labels: ["Simple task", "Complex reasoning", "Creative writing", "Complex reasoning", "Creative writing", "Simple task"],
};

const TRAINING = [
  { text: "My card was charged twice for the same order", label: "billing" },
  { text: "Please send me a copy of last month's invoice", label: "billing" },
  { text: "The refund has not arrived on my credit card", label: "billing" },
  { text: "The app crashes when I open the settings page", label: "bug" },
  { text: "Clicking save shows an error and nothing is stored", label: "bug" },
  { text: "The page stays blank after the latest update", label: "bug" },
];
const QUERIES = ["I was billed two times this month", "The screen freezes when I tap the button"];

async function main() {
  // The ready event's account of the load, beside the time the app measured around it.
  const started = performance.now();
  let ready = null;
  const triage = await createWorker({
    model: "all-minilm-l6-v2",
    baseUrl: "/models/cache",
    backend: params.get("backend") ?? "auto",
    onProgress: (e) => {
      if (e.status === "progress") $("progress").value = e.progress ?? 0;
      if (e.status === "ready") ready = e.timings;
    },
  });
  window.loadReport = { timings: ready, elapsed: performance.now() - started };
  $("backend").textContent = `${triage.backend.name}${triage.backend.adapter ? ` (${triage.backend.adapter})` : ""}`;
  window.triage = triage;

  show("zero-shot", await triage.classify(SAMPLE));

  const stored = localStorage.getItem("classifier_id");
  if (stored) {
    const known = (await triage.classifiers()).some((c) => c.classifier_id === stored);
    if (known) show("few-shot", await triage.classify({ classifier_id: stored, input: QUERIES }));
  }
  $("train").disabled = false;
  $("train").onclick = async () => {
    $("train").disabled = true;
    try {
      const trained = await triage.train({ model: "all-minilm-l6-v2", access: "private", input: TRAINING });
      localStorage.setItem("classifier_id", trained.classifier_id);
      show("trained", trained);
      show("few-shot", await triage.classify({ classifier_id: trained.classifier_id, input: QUERIES }));
    } catch (e) {
      show("error", { name: e.name, message: e.message });
    }
  };
  document.body.dataset.ready = "true";
}

main().catch((e) => { show("error", { name: e.name, message: e.message, status: e.status }); document.body.dataset.ready = "error"; });
