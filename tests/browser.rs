//! The engine in headless Chromium (wasm-bindgen-test), on WebGPU and on the CPU backend:
//! the native golden fixtures (tokenizers, all-MiniLM-L6-v2 vs sentence-transformers),
//! the JS API (zero-shot, few-shot, embeddings, errors as Jina-coded `Error`s), model
//! files (progress, cache, sha256), and the IndexedDB store (persistence across a
//! reopened database, two writers, a corrupt record).
//!
//! Files are fetched from the test server, which serves the crate root: fixtures from
//! `/tests/fixtures/`, model files from `/models/cache/<id>/` (`triage pull all-minilm-l6-v2 multilingual-e5-small`).
//! Each test first runs the module's static constructors, as the package's start function
//! does: the test runner calls no start function.
//! Run: `bash tests/run.sh` (README, "Two commands"; docs/testing.md) or the cargo command it shows.
#![cfg(target_arch = "wasm32")]

mod common;

use burn::tensor::Device;
use js_sys::{Function, Promise, Reflect};
use serde_json::{Value, json};
use triage::classify::agreement;
use triage::engine::backend::{self, BackendChoice};
use triage::engine::encoder::{BATCH_SIZE, Encoder, TaskChoice, load_tokenizer};
use triage::error::TriageError;
use triage::faces::web::Triage;
use triage::loader::weights::{MAX_BLOCK_BYTES, Precision};
use triage::registry;
use triage::store::ClassifierStore;
use triage::store::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MODELS: &str = "/models/cache";
const MINILM: &str = "all-minilm-l6-v2";
/// Sentences of the golden fixture run on WebGPU: Chromium's WebGPU here is SwiftShader
/// (software), where the whole fixture would take many minutes. The CPU runs all of it.
const WEBGPU_SENTENCES: usize = 48;
const SAMPLE: &str = include_str!("fixtures/jina-samples/classify-zero-shot-text.json");

#[wasm_bindgen(inline_js = r#"
export function idb_put_raw(db_name, id, value) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(db_name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("classifiers");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction("classifiers", "readwrite");
      tx.objectStore("classifiers").put(value, id);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
export function idb_delete(db_name) {
  return new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(db_name);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
}
export function error_parts(e) {
  return [String(e && e.name), String(e && e.message), Number(e && e.status)];
}
"#)]
extern "C" {
    fn idb_put_raw(db_name: &str, id: &str, value: JsValue) -> Promise;
    fn idb_delete(db_name: &str) -> Promise;
    fn error_parts(e: &JsValue) -> js_sys::Array;
}

async fn fetch_bytes(url: &str) -> Vec<u8> {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().into();
    let response: web_sys::Response =
        JsFuture::from(Promise::from(fetch.call1(&JsValue::NULL, &url.into()).unwrap())).await.unwrap().into();
    assert!(
        response.ok(),
        "{url}: HTTP {} (run `triage pull all-minilm-l6-v2 multilingual-e5-small`)",
        response.status()
    );
    let buf = JsFuture::from(response.array_buffer().unwrap()).await.unwrap();
    js_sys::Uint8Array::new(&buf).to_vec()
}

async fn fetch_json(url: &str) -> Value {
    serde_json::from_slice(&fetch_bytes(url).await).unwrap()
}

/// Fixture vectors as native tests read them (`<stem>.json` + `<stem>.f32`).
async fn read_vectors(stem: &str) -> (Value, Vec<Vec<f32>>) {
    let meta = fetch_json(&format!("/tests/fixtures/{stem}.json")).await;
    let bytes = fetch_bytes(&format!("/tests/fixtures/{stem}.f32")).await;
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let flat: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    (meta, flat.chunks(dim).map(<[f32]>::to_vec).collect())
}

async fn encoder(id: &str, device: &Device) -> Encoder {
    let spec = registry::find(id).unwrap();
    let dir = format!("{MODELS}/{id}");
    let config = fetch_bytes(&format!("{dir}/config.json")).await;
    let tokenizer = fetch_bytes(&format!("{dir}/tokenizer.json")).await;
    let weights = fetch_bytes(&format!("{dir}/model.safetensors")).await;
    Encoder::load(spec, &config, &tokenizer, &mut weights.as_slice(), device, Precision::F32).await.unwrap()
}

fn log(msg: &str) {
    web_sys::console::log_1(&msg.into());
}

async fn tokenizer_golden(model: &str) {
    let bytes = fetch_bytes(&format!("{MODELS}/{model}/tokenizer.json")).await;
    let golden = fetch_json(&format!("/tests/fixtures/tokenizer_{model}.json")).await;
    let tokenizer = load_tokenizer(&bytes, None).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= 2000);
    let mut mismatches = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        if tokenizer.encode(text, true).unwrap().get_ids() != want.as_slice() {
            mismatches.push(text.chars().take(60).collect::<String>());
        }
    }
    log(&format!("{model} tokenizer in wasm: {} strings, {} mismatches", cases.len(), mismatches.len()));
    assert!(mismatches.is_empty(), "{model}: ids differ from Python tokenizers for {mismatches:?}");
}

#[wasm_bindgen_test]
async fn tokenizer_goldens_minilm() {
    triage::js::run_static_constructors_once();
    tokenizer_golden(MINILM).await;
}

#[wasm_bindgen_test]
async fn tokenizer_goldens_xlmr() {
    triage::js::run_static_constructors_once();
    tokenizer_golden("multilingual-e5-small").await;
}

/// Resolves on a fresh macrotask (`setTimeout(0)`), so the page can answer in between.
async fn yield_to_event_loop() {
    let set_timeout: Function = Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap().into();
    let tick = Promise::new(&mut |resolve, _reject| {
        set_timeout.call2(&JsValue::NULL, &resolve, &JsValue::from(0)).unwrap();
    });
    JsFuture::from(tick).await.unwrap();
}

async fn minilm_golden(device: &Device, label: &str, limit: usize) {
    let (meta, want) = read_vectors("minilm_embeddings").await;
    let sentences: Vec<&str> =
        meta["sentences"].as_array().unwrap().iter().take(limit).map(|s| s.as_str().unwrap()).collect();
    let enc = encoder(MINILM, device).await;
    let ids = enc.tokenize(&sentences, TaskChoice::NONE).unwrap();
    let start = web_time::Instant::now();
    // One batch at a time, back to the event loop between them: on the CPU backend a call
    // runs to its end without yielding, and a renderer busy for 30 s makes ChromeDriver give
    // up on the page (the test runner reads its output through it).
    let mut got = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH_SIZE) {
        got.extend(enc.embed_ids(chunk, TaskChoice::NONE).await.unwrap());
        yield_to_event_loop().await;
    }
    let secs = start.elapsed().as_secs_f64();
    let (min_cos, max_diff) = agreement(&got, &want[..got.len()]);
    log(&format!(
        "{MINILM} on {label} vs {}: {} sentences in {secs:.1} s, min cosine {min_cos:.8}, max |diff| {max_diff:.2e}",
        meta["reference"],
        got.len()
    ));
    assert!(max_diff <= 1e-4, "{label}: max abs diff {max_diff}");
    assert!(min_cos >= 0.99999, "{label}: min cosine {min_cos}");
}

#[wasm_bindgen_test]
async fn minilm_golden_cpu() {
    triage::js::run_static_constructors_once();
    minilm_golden(&Device::flex(), "cpu (flex, wasm)", usize::MAX).await;
}

#[wasm_bindgen_test]
async fn minilm_golden_webgpu() {
    triage::js::run_static_constructors_once();
    let backend = backend::select(BackendChoice::WebGpu).await.expect("WebGPU adapter (--enable-unsafe-webgpu)");
    log(&format!("WebGPU adapter: {:?} (fallback: {})", backend.adapter, backend.fallback_adapter));
    minilm_golden(&backend.device, "webgpu", WEBGPU_SENTENCES).await;
}

// ---------- the JS API ----------

fn options(backend: &str, database: &str) -> JsValue {
    let o = js_sys::Object::new();
    Reflect::set(&o, &"backend".into(), &backend.into()).unwrap();
    Reflect::set(&o, &"model".into(), &MINILM.into()).unwrap();
    Reflect::set(&o, &"baseUrl".into(), &MODELS.into()).unwrap();
    Reflect::set(&o, &"database".into(), &database.into()).unwrap();
    o.into()
}

fn js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap()
}

fn rust(v: &JsValue) -> Value {
    serde_json::from_str(&String::from(js_sys::JSON::stringify(v).unwrap())).unwrap()
}

async fn call(p: Promise) -> Result<Value, (String, String, u16)> {
    match JsFuture::from(p).await {
        Ok(v) => Ok(if v.is_undefined() { Value::Null } else { rust(&v) }),
        Err(e) => {
            let parts = error_parts(&e);
            Err((
                parts.get(0).as_string().unwrap(),
                parts.get(1).as_string().unwrap(),
                parts.get(2).as_f64().unwrap() as u16,
            ))
        }
    }
}

async fn fresh_db(name: &str) -> String {
    JsFuture::from(idb_delete(name)).await.unwrap();
    name.to_string()
}

#[wasm_bindgen_test]
async fn zero_shot_sample_same_on_webgpu_and_cpu() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-zero-shot").await;
    let sample: Value = serde_json::from_str(SAMPLE).unwrap();
    let mut by_backend = Vec::new();
    for name in ["cpu", "webgpu"] {
        let triage = Triage::create(options(name, &db)).await.unwrap();
        let backend = rust(&triage.backend());
        assert_eq!(backend["name"], name);
        let response = call(triage.classify(js(&sample))).await.unwrap();
        let data = response["data"].as_array().unwrap();
        assert_eq!(data.len(), 6);
        for d in data {
            assert_eq!(d["object"], "classification");
            let preds = d["predictions"].as_array().unwrap();
            assert_eq!(preds.len(), 3, "repeated labels are folded");
            let sum: f64 = preds.iter().map(|p| p["score"].as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-5);
        }
        assert!(response["usage"]["total_tokens"].as_u64().unwrap() > 0);
        log(&format!("sample on {name}: {:?}", common::scores(&response)));
        by_backend.push(response);
        triage.close();
    }
    let (cpu, gpu) = (common::scores(&by_backend[0]), common::scores(&by_backend[1]));
    for (c, g) in cpu.iter().zip(&gpu) {
        for ((lc, sc), (lg, sg)) in c.iter().zip(g) {
            assert_eq!(lc, lg);
            assert!((sc - sg).abs() < 1e-4, "score {sc} vs {sg}");
        }
    }
    assert_eq!(by_backend[0]["usage"], by_backend[1]["usage"]);
}

#[wasm_bindgen_test]
async fn few_shot_flow_cpu() {
    triage::js::run_static_constructors_once();
    few_shot_flow_persists_across_engines("cpu").await;
}

#[wasm_bindgen_test]
async fn few_shot_flow_webgpu() {
    triage::js::run_static_constructors_once();
    few_shot_flow_persists_across_engines("webgpu").await;
}

async fn few_shot_flow_persists_across_engines(backend: &str) {
    let db = fresh_db(&format!("triage-test-few-shot-{backend}")).await;
    let triage = Triage::create(options(backend, &db)).await.unwrap();
    assert_eq!(rust(&triage.backend())["name"], backend);
    let train = json!({
        "model": MINILM,
        "access": "private",
        "input": common::support_tickets()
    });
    let created = call(triage.train(js(&train))).await.unwrap();
    let id = created["classifier_id"].as_str().unwrap().to_string();
    assert_eq!(created["num_samples"], 6);
    let query = json!({"classifier_id": id, "input": ["I was billed two times this month", "The screen freezes when I tap the button"]});
    let first = call(triage.classify(js(&query))).await.unwrap();
    let preds: Vec<&str> =
        first["data"].as_array().unwrap().iter().map(|d| d["prediction"].as_str().unwrap()).collect();
    assert_eq!(preds, ["billing", "bug"]);
    triage.close();

    // A new engine on the same database (a reloaded page) sees the classifier.
    let reopened = Triage::create(options(backend, &db)).await.unwrap();
    let again = call(reopened.classify(js(&query))).await.unwrap();
    assert_eq!(common::scores(&first), common::scores(&again));
    log(&format!("few-shot on {backend}: {:?}", common::scores(&again)));
    let update = json!({"classifier_id": id, "input": [
        {"text": "How do I change the language of the interface?", "label": "how-to"},
        {"text": "Where can I find the export button?", "label": "how-to"}
    ]});
    assert_eq!(call(reopened.train(js(&update))).await.unwrap()["num_samples"], 2);
    let list = call(reopened.classifiers()).await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["labels"], json!(["billing", "bug", "how-to"]));
    assert_eq!(list[0]["access"], "private");
    assert_eq!(list[0]["updated_number"], 1);
    assert_eq!(list[0]["used_number"], 2);
    let deleted = call(reopened.delete_classifier(JsValue::from_str(&id))).await.unwrap();
    assert_eq!(deleted, json!({"classifier_id": id, "deleted": true}));
    let gone = call(reopened.classify(js(&query))).await.unwrap_err();
    assert_eq!((gone.0.as_str(), gone.2), ("RESOURCE_NOT_FOUND", 404));
    reopened.close();
}

#[wasm_bindgen_test]
async fn errors_are_jina_coded_and_change_nothing() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-errors").await;
    let triage = Triage::create(options("cpu", &db)).await.unwrap();
    let cases = [
        (JsValue::from_str("{not json"), "INPUT_VALIDATION_ERROR", 422),
        (js(&json!({"model": "nope", "input": "x", "labels": ["a", "b"]})), "INPUT_MODEL_NOT_FOUND", 400),
        (js(&json!({"input": "x", "labels": []})), "INPUT_INVALID_LABELS", 400),
        (js(&json!({"input": [], "labels": ["a", "b"]})), "INPUT_VALIDATION_ERROR", 422),
        (js(&json!({"classifier_id": "no-such-id", "input": "x"})), "RESOURCE_NOT_FOUND", 404),
        (JsValue::NULL, "INPUT_VALIDATION_ERROR", 422),
    ];
    for (request, code, status) in cases {
        let err = call(triage.classify(request)).await.unwrap_err();
        assert_eq!((err.0.as_str(), err.2), (code, status), "{}", err.1);
        assert!(!err.1.is_empty());
    }
    let bad_train = js(&json!({"input": [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}]}));
    assert_eq!(call(triage.train(bad_train)).await.unwrap_err().0, "INPUT_INVALID_LABELS");
    assert_eq!(call(triage.classifiers()).await.unwrap(), json!([]));
    let e = call(triage.embeddings(js(&json!({"input": "x", "dimensions": 7})))).await.unwrap_err();
    assert_eq!(e.0, "INPUT_VALIDATION_ERROR");
    triage.close();
}

#[wasm_bindgen_test]
async fn embeddings_match_the_golden_fixture() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-embeddings").await;
    let triage = Triage::create(options("cpu", &db)).await.unwrap();
    let (meta, want) = read_vectors("minilm_embeddings").await;
    let sentences: Vec<&str> =
        meta["sentences"].as_array().unwrap().iter().take(8).map(|s| s.as_str().unwrap()).collect();
    let response = call(triage.embeddings(js(&json!({"input": sentences, "embedding_type": ["float", "ubinary"]}))))
        .await
        .unwrap();
    assert_eq!(response["model"], MINILM);
    let got: Vec<Vec<f32>> = response["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["embedding"]["float"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect();
    let (min_cos, max_diff) = agreement(&got, &want[..8]);
    assert!(max_diff <= 1e-4 && min_cos >= 0.99999, "{min_cos} {max_diff}");
    assert_eq!(response["data"][0]["embedding"]["ubinary"].as_array().unwrap().len(), 384 / 8);
    let long = "word ".repeat(400);
    let e = call(triage.embeddings(js(&json!({"input": long})))).await.unwrap_err();
    assert_eq!(e.0, "INPUT_VALIDATION_ERROR", "over-long input without truncate");
    let cut = call(triage.embeddings(js(&json!({"input": long, "truncate": true})))).await.unwrap();
    assert_eq!(cut["usage"]["total_tokens"], 256);
    triage.close();
}

#[wasm_bindgen_test]
async fn model_files_progress_cache_and_errors() {
    triage::js::run_static_constructors_once();
    let _ = JsFuture::from(triage::faces::web::delete_model(MINILM.into(), Some(MODELS.into()))).await;
    assert_eq!(JsFuture::from(triage::faces::web::has_model(MINILM.into(), Some(MODELS.into()))).await.unwrap(), false);
    let events = js_sys::Array::new();
    let sink = events.clone();
    let on_progress = Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
        sink.push(&e);
    });
    let opts = options("cpu", &fresh_db("triage-test-files").await);
    Reflect::set(&opts, &"onProgress".into(), on_progress.as_ref()).unwrap();
    let triage = Triage::create(opts.clone()).await.unwrap();
    // loadModel resolves with what the weights are stored in (f32 on the CPU for this model)
    // and with where that load spent its time: the model's own phases, summing to the total.
    let loaded = call(triage.load_model(MINILM.into())).await.unwrap();
    assert_eq!((&loaded["model"], &loaded["dtype"]), (&json!(MINILM), &json!("f32")));
    let phases = loaded["timings"]["phases"].as_array().expect("timings.phases");
    let named: Vec<String> = phases
        .iter()
        .map(|p| {
            format!("{} {}", p["name"].as_str().unwrap_or("?"), p["file"].as_str().unwrap_or("")).trim().to_string()
        })
        .collect();
    assert_eq!(named, ["read config.json", "read tokenizer.json", "tokenizer", "read model.safetensors", "weights"]);
    let sum: f64 = phases.iter().map(|p| p["ms"].as_f64().unwrap_or(-1.0)).sum();
    assert!(phases.iter().all(|p| p["ms"].as_f64().is_some_and(|ms| ms >= 0.0)), "{phases:?}");
    let total = loaded["timings"]["total"].as_f64().expect("timings.total");
    assert!((sum - total).abs() <= 1e-6 * total.max(1.0), "phases sum to {sum}, total {total}");
    triage.close();
    let statuses: Vec<String> =
        events.iter().map(|e| Reflect::get(&e, &"status".into()).unwrap().as_string().unwrap()).collect();
    assert_eq!(statuses.first().map(String::as_str), Some("initiate"));
    assert_eq!(statuses.last().map(String::as_str), Some("ready"));
    let ready = events.get(events.length() - 1);
    assert_eq!(Reflect::get(&ready, &"dtype".into()).unwrap().as_string().as_deref(), Some("f32"));
    assert_eq!(statuses.iter().filter(|s| *s == "done").count(), 3);
    assert!(statuses.iter().filter(|s| *s == "progress").count() >= 10, "weights report progress");
    let last_weights = events
        .iter()
        .rev()
        .find(|e| Reflect::get(e, &"file".into()).unwrap().as_string().as_deref() == Some("model.safetensors"))
        .unwrap();
    assert_eq!(Reflect::get(&last_weights, &"loaded".into()).unwrap().as_f64(), Some(90_868_376.0));
    assert_eq!(JsFuture::from(triage::faces::web::has_model(MINILM.into(), Some(MODELS.into()))).await.unwrap(), true);

    // A server without the files, and one whose file does not match the registry's sha256.
    let missing = options("cpu", &fresh_db("triage-test-files").await);
    Reflect::set(&missing, &"baseUrl".into(), &"/no/such/dir".into()).unwrap();
    let err = Triage::create(missing).await.err().unwrap();
    let parts = error_parts(&err);
    assert_eq!(parts.get(0).as_string().unwrap(), "SERVICE_UNAVAILABLE");
    assert!(parts.get(1).as_string().unwrap().contains("HTTP 404"));
    let damaged = options("cpu", &fresh_db("triage-test-files").await);
    Reflect::set(&damaged, &"baseUrl".into(), &"/tests/fixtures/damaged-models".into()).unwrap();
    let err = Triage::create(damaged).await.err().unwrap();
    let parts = error_parts(&err);
    assert_eq!(parts.get(0).as_string().unwrap(), "SERVICE_UNAVAILABLE");
    assert!(parts.get(1).as_string().unwrap().contains("sha256"), "{:?}", parts.get(1));
    let bad_backend = options("quantum", "x");
    assert_eq!(
        error_parts(&Triage::create(bad_backend).await.err().unwrap()).get(0).as_string().unwrap(),
        "INPUT_VALIDATION_ERROR"
    );
}

// ---------- the few-shot learner ----------

/// The learner in WebAssembly gives the scores the native build recorded in the fixture.
#[wasm_bindgen_test]
fn fewshot_learner_gives_the_native_scores() {
    triage::js::run_static_constructors_once();
    let f = common::fewshot_fixture();
    let mut learner = triage::classify::fewshot::FewShot::new(f.train[0].0.len());
    learner.train(&f.train, &f.priors, f.num_iters);
    let mut worst = 0.0f32;
    for ((x, _), want) in f.test.iter().zip(&f.expected) {
        let got = common::scores_in_order(&learner, &f.labels, x);
        worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
    }
    log(&format!("few-shot scores in wasm vs native: largest difference {worst:e}"));
    assert!(worst <= 1e-5, "{worst}");
}

// ---------- IndexedDB ----------

async fn trained_record(id: &str) -> triage::store::ClassifierRecord {
    let mut classifier = triage::classify::fewshot::Classifier::new(4);
    classifier.train(
        &[(vec![1.0, 0.0, 0.0, 0.0], "a".to_string()), (vec![0.0, 1.0, 0.0, 0.0], "b".to_string())],
        &[],
        3,
    );
    triage::store::ClassifierRecord::new(id.to_string(), MINILM.to_string(), triage::api::Access::Public, classifier)
}

#[wasm_bindgen_test]
async fn indexeddb_persists_across_a_reopened_database() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-persist").await;
    let store = IdbStore::open(&db).await.unwrap();
    let stored = store.put(trained_record("c1").await, None).await.unwrap();
    assert_eq!(stored.version, 1);
    store.close();
    drop(store);
    let reopened = IdbStore::open(&db).await.unwrap();
    assert_eq!(reopened.get("c1").await.unwrap(), Some(stored.clone()));
    assert_eq!(reopened.list().await.unwrap(), vec![stored]);
    assert!(reopened.delete("c1").await.unwrap());
    assert!(!reopened.delete("c1").await.unwrap());
    assert_eq!(reopened.get("c1").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn indexeddb_two_writers_second_gets_conflict() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-writers").await;
    // Two connections, as two tabs have.
    let tab_a = IdbStore::open(&db).await.unwrap();
    let tab_b = IdbStore::open(&db).await.unwrap();
    tab_a.put(trained_record("shared").await, None).await.unwrap();
    let read_a = tab_a.get("shared").await.unwrap().unwrap();
    let read_b = tab_b.get("shared").await.unwrap().unwrap();
    let mut update_a = read_a.clone();
    update_a.updated_number = 10;
    let mut update_b = read_b.clone();
    update_b.updated_number = 20;
    // Both writes in flight at once.
    let (ra, rb) = futures::join!(tab_a.put(update_a, Some(read_a.version)), tab_b.put(update_b, Some(read_b.version)));
    let (won, lost) = if ra.is_ok() { (ra, rb) } else { (rb, ra) };
    let won = won.unwrap();
    assert_eq!(lost.unwrap_err(), TriageError::Conflict { kind: "Classifier", id: "shared".into() });
    assert_eq!(won.version, 2);
    // The winner's update is what is stored; nothing was lost silently.
    assert_eq!(tab_b.get("shared").await.unwrap().unwrap(), won);
    // A create racing an existing record is a conflict too.
    assert!(tab_b.put(trained_record("shared").await, None).await.is_err());
}

#[wasm_bindgen_test]
async fn indexeddb_corrupt_record_is_reported_not_loaded() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-corrupt").await;
    let store = IdbStore::open(&db).await.unwrap();
    let good = store.put(trained_record("good").await, None).await.unwrap();
    store.close();
    let garbage =
        js(&json!({"format": 1, "classifier_id": "bad", "model": MINILM, "classifier": {"dim": 4, "labels": ["a"]}}));
    JsFuture::from(idb_put_raw(&db, "bad", garbage)).await.unwrap();
    let mut record = trained_record("nan").await;
    record.version = 1;
    let nan = js(&serde_json::to_value(&record).unwrap());
    let weights = Reflect::get(&Reflect::get(&nan, &"classifier".into()).unwrap(), &"weights".into()).unwrap();
    Reflect::set(&Reflect::get(&weights, &0.into()).unwrap(), &1.into(), &JsValue::from_f64(f64::NAN)).unwrap();
    JsFuture::from(idb_put_raw(&db, "nan", nan)).await.unwrap();

    let store = IdbStore::open(&db).await.unwrap();
    for id in ["bad", "nan"] {
        let err = store.get(id).await.unwrap_err();
        assert_eq!(err.code(), "INTERNAL_ERROR");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
    assert!(store.list().await.unwrap_err().to_string().contains("corrupt"));
    assert_eq!(store.get("good").await.unwrap(), Some(good));
    store.close();

    // Through the JS API: classify with the corrupt classifier fails clearly; deleting it works.
    let triage = Triage::create(options("cpu", &db)).await.unwrap();
    let err = call(triage.classify(js(&json!({"classifier_id": "bad", "input": "x"})))).await.unwrap_err();
    assert_eq!(err.0, "INTERNAL_ERROR");
    assert!(err.1.contains("corrupt"));
    call(triage.delete_classifier("bad".into())).await.unwrap();
    call(triage.delete_classifier("nan".into())).await.unwrap();
    assert_eq!(call(triage.classifiers()).await.unwrap().as_array().unwrap().len(), 1);
    triage.close();
}

// ---------- jina-embeddings-v3 (tiny seeded fixtures, tests/fixtures/gen_v3_fixtures.py) ----------

/// Pooled vectors against transformers' for every case of the given weight files, with the
/// weights stored in `precision`: f32 within 1e-4; f16 (WebGPU with `shader-f16`) by cosine.
/// Embedding tables are cut into row blocks of at most `block_bytes`.
async fn v3_golden(device: &Device, label: &str, precision: Precision, block_bytes: usize, weight_files: &[&str]) {
    use burn::tensor::{Int, Tensor, TensorData};
    use triage::models::jina_v3::JinaV3Config;
    let dir = "/tests/fixtures/v3_tiny";
    let cfg: JinaV3Config = serde_json::from_slice(&fetch_bytes(&format!("{dir}/config.json")).await).unwrap();
    let golden = fetch_json(&format!("{dir}/outputs.json")).await;
    let mut worst = 0f32;
    let mut worst_cos = 1f32;
    let mut checked = 0;
    for weights in weight_files {
        let bytes = fetch_bytes(&format!("{dir}/{weights}")).await;
        let model = cfg.load_in_blocks(&mut bytes.as_slice(), precision, block_bytes, device).await.unwrap();
        for case in golden["cases"].as_array().unwrap().iter().filter(|c| c["weights"] == *weights) {
            let task = case["task"].as_str().map(|t| cfg.task_index(t).unwrap());
            let rows = |v: &Value| -> Vec<Vec<f64>> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
                    .collect()
            };
            let (ids, mask) = (rows(&case["ids"]), rows(&case["mask"]));
            let (b, s) = (ids.len(), ids[0].len());
            let flat = |m: &[Vec<f64>]| m.iter().flatten().map(|&x| x as i32).collect::<Vec<i32>>();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(flat(&ids), [b, s]), device);
            let mask = Tensor::<2, Int>::from_data(TensorData::new(flat(&mask), [b, s]), device);
            let out = model.forward(ids, mask, &vec![task; b]).into_data_async().await.unwrap();
            let got: Vec<f32> = out.convert::<f32>().try_to_vec::<f32>().unwrap();
            let got: Vec<Vec<f32>> = got.chunks(got.len() / b).map(<[f32]>::to_vec).collect();
            let want: Vec<Vec<f32>> =
                rows(&case["pooled"]).into_iter().map(|r| r.into_iter().map(|x| x as f32).collect()).collect();
            let (cos, diff) = agreement(&got, &want);
            worst = worst.max(diff);
            worst_cos = worst_cos.min(cos);
            checked += 1;
        }
    }
    log(&format!(
        "jina-embeddings-v3 tiny on {label} ({precision:?}, blocks ≤ {block_bytes} B): {checked} cases {weight_files:?}, max |diff| {worst:.2e}, min cosine {worst_cos:.6}"
    ));
    assert!(checked > 0);
    match precision {
        Precision::F32 => assert!(worst <= 1e-4, "{label}: max abs diff {worst}"),
        Precision::F16 => assert!(worst_cos >= 0.999, "{label}: min cosine {worst_cos}"),
    }
}

#[wasm_bindgen_test]
async fn v3_tiny_golden_cpu() {
    triage::js::run_static_constructors_once();
    let files = ["model.safetensors", "model_bf16.safetensors"];
    v3_golden(&Device::flex(), "cpu (flex, wasm)", Precision::F32, MAX_BLOCK_BYTES, &files).await;
}

#[wasm_bindgen_test]
async fn v3_tiny_golden_webgpu() {
    triage::js::run_static_constructors_once();
    let backend = backend::select(BackendChoice::WebGpu).await.expect("WebGPU adapter");
    // WGSL has no bf16: the loader widens bf16 on the host (to f32, or f16 where the
    // adapter has shader-f16) before upload.
    let files = ["model.safetensors", "model_bf16.safetensors"];
    v3_golden(&backend.device, "webgpu", Precision::F32, MAX_BLOCK_BYTES, &files).await;
    // The full model's word table exceeds a WebGPU buffer and is stored in row blocks: the
    // tiny one in 37-row blocks (hidden 64, f32) runs the same gather.
    v3_golden(&backend.device, "webgpu", Precision::F32, 37 * 64 * 4, &files[..1]).await;
    if backend.precision == Precision::F16 {
        v3_golden(&backend.device, "webgpu", Precision::F16, MAX_BLOCK_BYTES, &files).await;
    } else {
        log("this WebGPU adapter has no shader-f16: f16 weights not checked here");
    }
}

/// jina-embeddings-v3 through the JS API: weights streamed from the server into the Cache
/// API and the network at once, then a reload from the cache; zero-shot on the sample and
/// few-shot, scores against transformers' vectors (tests/fixtures/v3_tiny/flows.json).
#[wasm_bindgen_test]
async fn v3_tiny_through_the_js_api() {
    triage::js::run_static_constructors_once();
    let db = fresh_db("triage-test-v3").await;
    let flows = fetch_json("/tests/fixtures/v3_tiny/flows.json").await;
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect() };
    let (inputs, labels) = (strings(&flows["inputs"]), strings(&flows["labels"]));
    let reference = |text: &str| -> Vec<f32> {
        let i = flows["texts"].as_array().unwrap().iter().position(|t| t == text).unwrap();
        let mut v: Vec<f32> = flows["tasks"]["classification"]["pooled"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        triage::classify::l2_normalize(&mut v);
        v
    };
    let label_vectors: Vec<Vec<f32>> = labels.iter().map(|l| reference(l)).collect();
    let sets = [triage::classify::LabelSet { group: None, labels: &labels, embeddings: &label_vectors }];
    for round in ["download", "cache"] {
        let o = options("cpu", &db);
        Reflect::set(&o, &"baseUrl".into(), &"/tests/fixtures/tiny-models".into()).unwrap();
        Reflect::set(&o, &"model".into(), &"jina-embeddings-v3".into()).unwrap();
        let triage = Triage::create(o).await.unwrap();
        let request = json!({"model": "jina-embeddings-v3", "input": inputs, "labels": labels});
        let got = call(triage.classify(js(&request))).await.unwrap();
        let mut worst = 0f64;
        for (i, input) in inputs.iter().enumerate() {
            let want = serde_json::to_value(triage::classify::zero_shot(i, &reference(input), &sets, 1.0)).unwrap();
            let (g, w) = (common::scores(&json!({"data": [got["data"][i]]})), common::scores(&json!({"data": [want]})));
            for (a, b) in g[0].iter().zip(&w[0]) {
                assert_eq!(a.0, b.0);
                worst = worst.max((a.1 - b.1).abs());
            }
        }
        log(&format!("jina-embeddings-v3 tiny via the JS API ({round}): max score diff {worst:.2e}"));
        assert!(worst <= 1e-4, "{round}: {worst}");
        if round == "download" {
            let trained =
                call(triage.train(js(&json!({"model": "jina-embeddings-v3", "input": flows["train"]})))).await.unwrap();
            let id = trained["classifier_id"].as_str().unwrap();
            let classified =
                call(triage.classify(js(&json!({"classifier_id": id, "input": ["the dog runs", "rates and bonds"]}))))
                    .await
                    .unwrap();
            assert_eq!(classified["data"].as_array().unwrap().len(), 2);
        }
        triage.close();
    }
    assert!(
        JsFuture::from(triage::faces::web::has_model(
            "jina-embeddings-v3".into(),
            Some("/tests/fixtures/tiny-models".into())
        ))
        .await
        .unwrap()
        .as_bool()
        .unwrap()
    );
}

// ---------- jina-clip-v1 / v2, jina-embeddings-v2-base-en (tiny seeded fixtures,
// tests/fixtures/gen_clip_fixtures.py, gen_v2_fixtures.py) ----------

/// Both towers of a tiny jina-clip (the text one alone for jina-embeddings-v2-base-en, which
/// is JinaBERT) against the references (timm Eva, the PyTorch JinaBERT, transformers'
/// JinaEmbeddingsV3Model): random pixels, fixture PNGs through triage's own preprocessing,
/// padded text batches; within 1e-4 with f32 weights, by cosine ≥ 0.999 with f16 weights
/// (computed in f16).
async fn clip_golden(device: &Device, label: &str, id: &str, precision: Precision) {
    use triage::engine::encoder::Encoder;
    let dir = format!("/tests/fixtures/tiny-models/{id}");
    let spec = triage::registry::find(id).unwrap();
    let (config, tokenizer, weights) = (
        fetch_bytes(&format!("{dir}/config.json")).await,
        fetch_bytes(&format!("{dir}/tokenizer.json")).await,
        fetch_bytes(&format!("{dir}/model.safetensors")).await,
    );
    let encoder = Encoder::load(spec, &config, &tokenizer, &mut weights.as_slice(), device, precision).await.unwrap();
    let golden = fetch_json(&format!("{dir}/outputs.json")).await;
    let rows = |v: &Value| -> Vec<Vec<f32>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
            .collect()
    };
    let (mut worst_image, mut worst_text) = (0f32, 0f32);
    let (mut cos_image, mut cos_text) = (1f32, 1f32);
    let vision_cases = golden.get("vision").and_then(Value::as_array).cloned().unwrap_or_default();
    assert_eq!(vision_cases.is_empty(), encoder.image_size().is_none(), "{id}: image cases without a tower");
    for case in &vision_cases {
        let size = encoder.image_size().unwrap();
        let pixels: Vec<Vec<f32>> = if let Some(p) = case.get("pixels") {
            rows(&json!([p])).remove(0).chunks(3 * size * size).map(<[f32]>::to_vec).collect()
        } else {
            let mut out = Vec::new();
            for p in case["images"].as_array().unwrap() {
                let bytes = fetch_bytes(&format!("/tests/fixtures/{}", p.as_str().unwrap())).await;
                out.push(triage::image::preprocess(&bytes, size).unwrap());
            }
            out
        };
        let got = encoder.pooled_images(&pixels).await.unwrap();
        let (cos, diff) = agreement(&got, &rows(&case["embeddings"]));
        (worst_image, cos_image) = (worst_image.max(diff), cos_image.min(cos));
    }
    let task = encoder.task(None).unwrap();
    for case in golden["text"].as_array().unwrap() {
        let (ids, mask) = (rows(&case["ids"]), rows(&case["mask"]));
        let seqs: Vec<Vec<u32>> = ids
            .iter()
            .zip(&mask)
            .map(|(i, m)| i.iter().zip(m).filter(|(_, m)| **m > 0.0).map(|(i, _)| *i as u32).collect())
            .collect();
        let got = encoder.pooled_ids(&seqs, task).await.unwrap();
        let (cos, diff) = agreement(&got, &rows(&case["pooled"]));
        (worst_text, cos_text) = (worst_text.max(diff), cos_text.min(cos));
    }
    log(&format!(
        "{id} tiny on {label} ({precision:?}): image max |diff| {worst_image:.2e} min cosine {cos_image:.6}, \
         text max |diff| {worst_text:.2e} min cosine {cos_text:.6}"
    ));
    match precision {
        Precision::F32 => {
            assert!(worst_image <= 1e-4 && worst_text <= 1e-4, "{id} on {label}: {worst_image} / {worst_text}")
        }
        Precision::F16 => assert!(cos_image >= 0.999 && cos_text >= 0.999, "{id} on {label}: {cos_image} / {cos_text}"),
    }
}

#[wasm_bindgen_test]
async fn clip_tiny_golden_cpu() {
    triage::js::run_static_constructors_once();
    for id in ["jina-clip-v1", "jina-clip-v2", "jina-embeddings-v2-base-en"] {
        clip_golden(&Device::flex(), "cpu (flex, wasm)", id, Precision::F32).await;
        // f16: how a page's CPU backend stores jina-clip-v2, whose f32 weights exceed wasm32
        // memory (the loader chooses it from the checkpoint's header).
        clip_golden(&Device::flex(), "cpu (flex, wasm)", id, Precision::F16).await;
    }
}

#[wasm_bindgen_test]
async fn clip_tiny_golden_webgpu() {
    triage::js::run_static_constructors_once();
    let backend = backend::select(BackendChoice::WebGpu).await.expect("WebGPU adapter");
    for id in ["jina-clip-v1", "jina-clip-v2", "jina-embeddings-v2-base-en"] {
        clip_golden(&backend.device, "webgpu", id, Precision::F32).await;
        if backend.precision == Precision::F16 {
            clip_golden(&backend.device, "webgpu", id, Precision::F16).await;
        }
    }
    if backend.precision != Precision::F16 {
        log("this WebGPU adapter has no shader-f16: f16 weights not checked here");
    }
}

/// jina-clip-v2 through the JS API: a zero-shot request mixing text and images (base64, a
/// data URL, an http URL fetched by the browser), then few-shot on the textile images
/// (3 classes: 4 training images each plus a text item, 2 held-out images each).
#[wasm_bindgen_test]
async fn clip_tiny_mixed_and_textile_few_shot_through_the_js_api() {
    triage::js::run_static_constructors_once();
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let db = fresh_db("triage-test-clip").await;
    let o = options("cpu", &db);
    Reflect::set(&o, &"baseUrl".into(), &"/tests/fixtures/tiny-models".into()).unwrap();
    Reflect::set(&o, &"model".into(), &"jina-clip-v2".into()).unwrap();
    let triage = Triage::create(o).await.unwrap();
    let origin = Reflect::get(&Reflect::get(&js_sys::global(), &"location".into()).unwrap(), &"origin".into())
        .unwrap()
        .as_string()
        .unwrap();
    let png = fetch_bytes("/tests/fixtures/images/CLIP.png").await;
    let request = json!({
        "model": "jina-clip-v2",
        "input": [
            {"text": "a diagram"},
            {"image": b64(&png)},
            {"image": format!("data:image/png;base64,{}", b64(&png))},
            {"image": format!("{origin}/tests/fixtures/images/CLIP.png")},
        ],
        "labels": ["diagram", "fabric", "cat"],
    });
    let got = call(triage.classify(js(&request))).await.unwrap();
    let s = common::scores(&got);
    assert_eq!(s.len(), 4);
    assert_eq!(s[1], s[2]);
    assert_eq!(s[1], s[3], "the URL image scored unlike the same image in base64");
    let bad = call(triage.classify(js(
        &json!({"model": "jina-clip-v2", "input": [{"image": "bm90IGFuIGltYWdl"}], "labels": ["a", "b"]}),
    )))
    .await;
    assert!(format!("{bad:?}").contains("INPUT_VALIDATION_ERROR"), "{bad:?}");

    let classes = ["nominal", "local", "global"];
    let index = fetch_json("/tests/fixtures/images/textile/index.json").await;
    let mut train = Vec::new();
    let mut held_out = Vec::new();
    for class in classes {
        for (i, name) in index[class].as_array().unwrap().iter().enumerate() {
            let bytes =
                fetch_bytes(&format!("/tests/fixtures/images/textile/{class}/{}", name.as_str().unwrap())).await;
            if i < 4 {
                train.push(json!({"image": b64(&bytes), "label": class}));
            } else {
                held_out.push((class, b64(&bytes)));
            }
        }
        train.push(json!({"text": format!("{class} textile"), "label": class}));
    }
    assert!(train.len() == 15 && held_out.len() == 6, "textile fixtures: {} / {}", train.len(), held_out.len());
    let trained =
        call(triage.train(js(&json!({"model": "jina-clip-v2", "input": train, "num_iters": 20})))).await.unwrap();
    let id = trained["classifier_id"].as_str().unwrap();
    let inputs: Vec<Value> = held_out.iter().map(|(_, b)| json!({"image": b})).collect();
    let classified = call(triage.classify(js(&json!({"classifier_id": id, "input": inputs})))).await.unwrap();
    let data = classified["data"].as_array().unwrap();
    assert_eq!(data.len(), held_out.len());
    assert!(data.iter().all(|d| classes.contains(&d["prediction"].as_str().unwrap())));
    let right = data.iter().zip(&held_out).filter(|(d, (c, _))| d["prediction"] == *c).count();
    log(&format!(
        "jina-clip-v2 tiny, textile few-shot through the JS API: {right}/{} held-out images (random tiny weights)",
        held_out.len()
    ));
    triage.close();
}
