//! jina-embeddings-v3 against transformers' `JinaEmbeddingsV3Model` on tiny seeded configs
//! (tests/fixtures/gen_v3_fixtures.py): weights read under the released checkpoint's names,
//! f32 and bf16, no task and each of the five adapters, padded batches, one batch mixing tasks.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::block_on;

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;
use triage::loader::weights::Precision;
use triage::models::jina_v3::{JinaV3, JinaV3Config};

fn fixtures() -> std::path::PathBuf {
    // The tiny model's own directory (config.json, model.safetensors, tokenizer.json).
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3_tiny")
}

fn load(weights: &str, device: &Device) -> (JinaV3Config, JinaV3) {
    let cfg: JinaV3Config = serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    cfg.validate().unwrap();
    let mut file = std::fs::File::open(fixtures().join(weights)).unwrap();
    let model = pollster::block_on(cfg.load(&mut file, Precision::F32, device)).unwrap();
    (cfg, model)
}

fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect()
}

fn run(model: &JinaV3, ids: &Value, mask: &Value, tasks: &[Option<usize>], device: &Device) -> Vec<Vec<f32>> {
    let ids = rows(ids);
    let mask = rows(mask);
    let (b, s) = (ids.len(), ids[0].len());
    let flat = |m: &[Vec<f32>]| m.iter().flatten().map(|&x| x as i32).collect::<Vec<i32>>();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(flat(&ids), [b, s]), device);
    let mask = Tensor::<2, Int>::from_data(TensorData::new(flat(&mask), [b, s]), device);
    let out: Vec<f32> = model.forward(ids, mask, tasks).into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    out.chunks(out.len() / b).map(<[f32]>::to_vec).collect()
}

#[test]
fn tiny_v3_matches_transformers_on_every_task_and_dtype() {
    let device = Device::flex();
    let golden: Value = serde_json::from_slice(&std::fs::read(fixtures().join("outputs.json")).unwrap()).unwrap();
    let mut worst = 0f32;
    let mut checked = 0;
    for weights in ["model.safetensors", "model_bf16.safetensors"] {
        let (cfg, model) = load(weights, &device);
        for case in golden["cases"].as_array().unwrap().iter().filter(|c| c["weights"] == weights) {
            let task = case["task"].as_str().map(|t| cfg.task_index(t).unwrap());
            let n = case["ids"].as_array().unwrap().len();
            let got = run(&model, &case["ids"], &case["mask"], &vec![task; n], &device);
            let want = rows(&case["pooled"]);
            for (g, w) in got.iter().zip(&want) {
                for (x, y) in g.iter().zip(w) {
                    worst = worst.max((x - y).abs());
                }
            }
            checked += 1;
        }
    }
    println!("jina-embeddings-v3 tiny vs {}: {checked} cases, max |diff| {worst:.2e}", golden["reference"]);
    assert_eq!(checked, 36);
    assert!(worst <= 1e-4, "max abs diff {worst}");
}

#[test]
fn one_batch_can_mix_tasks() {
    let device = Device::flex();
    let golden: Value = serde_json::from_slice(&std::fs::read(fixtures().join("outputs.json")).unwrap()).unwrap();
    let (cfg, model) = load("model.safetensors", &device);
    let cases: Vec<&Value> = golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["weights"] == "model.safetensors" && c["batch"] == 0)
        .collect();
    let n = cases[0]["ids"].as_array().unwrap().len();
    // Row i takes the task of case i (none, retrieval.query, ...).
    let tasks: Vec<Option<usize>> =
        (0..n).map(|i| cases[i]["task"].as_str().map(|t| cfg.task_index(t).unwrap())).collect();
    // On the base weights, and with the classification adapter folded in (as triage loads
    // it): rows of other tasks and rows without one then subtract it on the low-rank path.
    let folded = model.clone().fold(cfg.task_index("classification"));
    for (label, model) in [("base weights", &model), ("classification folded", &folded)] {
        let got = run(model, &cases[0]["ids"], &cases[0]["mask"], &tasks, &device);
        for i in 0..n {
            let want = &rows(&cases[i]["pooled"])[i];
            let diff = got[i].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(diff <= 1e-4, "{label}, row {i} ({:?}): {diff}", cases[i]["task"]);
        }
    }
}

// ---- The engine's flows with jina-embeddings-v3 selected, on the tiny weights and the tiny
// XLM-R tokenizer (tests/fixtures/v3_tiny/flows.json: Python `tokenizers` ids and
// transformers' pooled vectors for the classification and retrieval.query adapters).

use serde_json::json;
use triage::Engine;
use triage::classify::fewshot::FewShot;
use triage::classify::{self, LabelSet};
use triage::engine::encoder::Encoder;
use triage::registry::{self, ModelSpec};
use triage::store::MemoryStore;

const V3: &str = "jina-embeddings-v3";

/// An engine whose jina-embeddings-v3 is the tiny fixture model.
fn tiny_engine() -> Engine<MemoryStore> {
    Engine::new(
        MemoryStore::new(),
        Box::new(|spec: &'static ModelSpec| Encoder::from_dir(spec, &fixtures(), &Device::flex(), false)),
    )
}

fn flows() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("flows.json")).unwrap()).unwrap()
}

/// The reference vector of `text` for `task`, L2-normalised.
fn reference(flows: &Value, task: &str, text: &str) -> Vec<f32> {
    let i = flows["texts"].as_array().unwrap().iter().position(|t| t == text).unwrap();
    let mut v = rows(&flows["tasks"][task]["pooled"])[i].clone();
    classify::l2_normalize(&mut v);
    v
}

fn reference_tokens(flows: &Value, task: &str, texts: &[&str]) -> usize {
    let all = flows["texts"].as_array().unwrap();
    texts
        .iter()
        .map(|t| {
            let i = all.iter().position(|x| x == t).unwrap();
            flows["tasks"][task]["ids"][i].as_array().unwrap().len()
        })
        .sum()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn tokenizer_ids_match_python_for_the_flow_texts() {
    let f = flows();
    let spec = registry::find(V3).unwrap();
    let enc = Encoder::from_dir(spec, &fixtures(), &Device::flex(), false).unwrap();
    let texts = strings(&f["texts"]);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for task in ["classification", "retrieval.query"] {
        let got = enc.tokenize(&refs, enc.task(Some(task)).unwrap()).unwrap();
        let want: Vec<Vec<u32>> = f["tasks"][task]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
            .collect();
        assert_eq!(got, want, "{task}");
    }
}

#[test]
fn zero_shot_with_v3_matches_the_reference_vectors() {
    let f = flows();
    let engine = tiny_engine();
    let inputs = strings(&f["inputs"]);
    let labels = strings(&f["labels"]);
    for task in [None, Some("retrieval.query")] {
        let mut body = json!({"model": V3, "input": inputs, "labels": labels});
        if let Some(t) = task {
            body["task"] = json!(t);
        }
        let got = serde_json::to_value(block_on(engine.classify_json(&body)).unwrap()).unwrap();
        // The default adapter for classification is `classification`.
        let task = task.unwrap_or("classification");
        let label_vectors: Vec<Vec<f32>> = labels.iter().map(|l| reference(&f, task, l)).collect();
        let sets = [LabelSet { group: None, labels: &labels, embeddings: &label_vectors }];
        let mut worst = 0f64;
        for (i, input) in inputs.iter().enumerate() {
            let want = serde_json::to_value(classify::zero_shot(i, &reference(&f, task, input), &sets, 1.0)).unwrap();
            for (g, w) in common::scores(&json!({"data": [got["data"][i].clone()]}))[0]
                .iter()
                .zip(&common::scores(&json!({"data": [want]}))[0])
            {
                assert_eq!(g.0, w.0, "{task} input {i}: label order");
                worst = worst.max((g.1 - w.1).abs());
            }
        }
        assert!(worst <= 1e-4, "{task}: scores differ by {worst}");
        let all: Vec<&str> = inputs.iter().chain(&labels).map(String::as_str).collect();
        assert_eq!(got["usage"]["total_tokens"], reference_tokens(&f, task, &all), "{task}");
    }
}

#[test]
fn few_shot_with_v3_matches_a_classifier_trained_on_the_reference_vectors() {
    let f = flows();
    let engine = tiny_engine();
    let train = f["train"].clone();
    let trained = block_on(engine.train_json(&json!({"model": V3, "input": train, "num_iters": 5}))).unwrap();
    let mut reference_fewshot = FewShot::new(64);
    let examples: Vec<(Vec<f32>, String)> = train
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (reference(&f, "classification", e["text"].as_str().unwrap()), e["label"].as_str().unwrap().to_string())
        })
        .collect();
    // The label-name prior: the engine's label embeddings, which the zero-shot test above
    // checks against the reference.
    let names = ["animals", "finance"];
    let spec = triage::registry::find(V3).unwrap();
    let priors: Vec<(String, Vec<f32>)> = names
        .iter()
        .map(|n| n.to_string())
        .zip(block_on(engine.label_embeddings(spec, None, &names)).unwrap())
        .collect();
    reference_fewshot.train(&examples, &priors, 5);
    let inputs = strings(&f["inputs"]);
    let got = serde_json::to_value(
        block_on(engine.classify_json(&json!({"classifier_id": trained.classifier_id, "input": inputs}))).unwrap(),
    )
    .unwrap();
    for (i, input) in inputs.iter().enumerate() {
        let probs = reference_fewshot.predict(&reference(&f, "classification", input));
        let (prediction, score, _) = classify::rank(&reference_fewshot.labels, &probs);
        assert_eq!(got["data"][i]["prediction"], prediction.as_str(), "input {i}");
        assert!((got["data"][i]["score"].as_f64().unwrap() - score as f64).abs() <= 1e-4, "input {i}");
    }
    // A classifier keeps the adapter it was made with; requests about it cannot switch it.
    let err = block_on(
        engine
            .classify_json(&json!({"classifier_id": trained.classifier_id, "input": ["x"], "task": "retrieval.query"})),
    )
    .unwrap_err();
    assert_eq!(err.code(), "INPUT_VALIDATION_ERROR");
}

#[test]
fn embeddings_with_v3_take_task_and_matryoshka_dimensions() {
    let f = flows();
    let engine = tiny_engine();
    let text = f["inputs"][4].as_str().unwrap();
    for (task, dims) in [("classification", 16usize), ("retrieval.query", 32), ("classification", 64)] {
        let got =
            block_on(engine.embeddings_json(&json!({"model": V3, "input": [text], "task": task, "dimensions": dims})))
                .unwrap();
        let got = serde_json::to_value(got).unwrap();
        let v: Vec<f32> =
            got["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let i = f["texts"].as_array().unwrap().iter().position(|t| t == text).unwrap();
        // Matryoshka: cut the pooled vector, then normalise.
        let mut want = rows(&f["tasks"][task]["pooled"])[i][..dims].to_vec();
        classify::l2_normalize(&mut want);
        assert_eq!(v.len(), dims);
        let diff = v.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-4, "{task}/{dims}: {diff}");
    }
    for (body, field) in [
        (json!({"model": V3, "input": ["x"], "dimensions": 65}), "dimensions"),
        (json!({"model": V3, "input": ["x"], "dimensions": 0}), "dimensions"),
        (json!({"model": V3, "input": ["x"], "task": "summarize"}), "task"),
    ] {
        let err = block_on(engine.embeddings_json(&body)).unwrap_err();
        assert_eq!(err.code(), "INPUT_VALIDATION_ERROR", "{body}");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn task_on_a_model_without_adapters_is_refused_and_nothing_is_stored() {
    let engine = common::engine(MemoryStore::new());
    let err = block_on(engine.train_json(&json!({
        "model": "all-minilm-l6-v2", "task": "classification",
        "input": [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    })))
    .unwrap_err();
    assert_eq!(err.code(), "INPUT_VALIDATION_ERROR");
    assert!(err.to_string().contains("no task adapters"), "{err}");
    assert!(block_on(engine.classifiers()).unwrap().is_empty());
}

/// Half-precision weights (what WebGPU adapters with `shader-f16` get) run the same code:
/// checked on flex, by cosine, since f16 rounds every weight.
#[test]
fn f16_weights_stay_close_to_the_reference() {
    let device = Device::flex();
    let golden: Value = serde_json::from_slice(&std::fs::read(fixtures().join("outputs.json")).unwrap()).unwrap();
    let cfg: JinaV3Config = serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    let mut file = std::fs::File::open(fixtures().join("model.safetensors")).unwrap();
    let model = pollster::block_on(cfg.load(&mut file, Precision::F16, &device)).unwrap();
    assert_eq!(model.dtype(), burn::tensor::DType::F16);
    let mut worst = 1f32;
    for case in golden["cases"].as_array().unwrap().iter().filter(|c| c["weights"] == "model.safetensors") {
        let task = case["task"].as_str().map(|t| cfg.task_index(t).unwrap());
        let n = case["ids"].as_array().unwrap().len();
        let got = run(&model, &case["ids"], &case["mask"], &vec![task; n], &device);
        let (cos, _) = triage::classify::agreement(&got, &rows(&case["pooled"]));
        worst = worst.min(cos);
    }
    println!("jina-embeddings-v3 tiny, f16 weights on flex: min cosine {worst:.6}");
    assert!(worst >= 0.999, "{worst}");
}

#[test]
fn requests_naming_no_model_use_jina_embeddings_v3_by_default() {
    let f = flows();
    let engine = tiny_engine();
    assert_eq!(engine.default_model().id, V3);
    let body = json!({"input": f["inputs"], "labels": f["labels"]});
    let implicit = serde_json::to_value(block_on(engine.classify_json(&body)).unwrap()).unwrap();
    let mut named = body.clone();
    named["model"] = json!(V3);
    let explicit = serde_json::to_value(block_on(engine.classify_json(&named)).unwrap()).unwrap();
    assert_eq!(implicit, explicit);
}

/// Embedding tables larger than a device buffer are stored in row blocks (the full model's
/// word table is 1 GB in f32): the tiny model cut into 37-row blocks (the last one 4 rows)
/// gives the reference vectors on every case, on the base weights and with each adapter in
/// turn folded into the blocks (every case's task then runs against the folded one).
#[test]
fn embedding_tables_in_row_blocks_give_the_same_vectors() {
    let device = Device::flex();
    let golden: Value = serde_json::from_slice(&std::fs::read(fixtures().join("outputs.json")).unwrap()).unwrap();
    let cfg: JinaV3Config = serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    let block_bytes = 37 * cfg.hidden_size * 4;
    assert_eq!(
        triage::loader::weights::row_blocks(cfg.vocab_size, cfg.hidden_size, Precision::F32, block_bytes).len(),
        9
    );
    let load = || {
        let mut file = std::fs::File::open(fixtures().join("model.safetensors")).unwrap();
        pollster::block_on(cfg.load_in_blocks(&mut file, Precision::F32, block_bytes, &device)).unwrap()
    };
    let model = load();
    let (mut worst, mut worst_merged, mut checked) = (0f32, 0f32, 0);
    let diff = |got: &[Vec<f32>], want: &[Vec<f32>]| {
        got.iter().flatten().zip(want.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
    };
    for case in golden["cases"].as_array().unwrap().iter().filter(|c| c["weights"] == "model.safetensors") {
        let task = case["task"].as_str().map(|t| cfg.task_index(t).unwrap());
        let n = case["ids"].as_array().unwrap().len();
        let want = rows(&case["pooled"]);
        worst = worst.max(diff(&run(&model, &case["ids"], &case["mask"], &vec![task; n], &device), &want));
        for fold in 0..cfg.lora_adaptations.len() {
            let folded = model.clone().fold(Some(fold));
            worst_merged =
                worst_merged.max(diff(&run(&folded, &case["ids"], &case["mask"], &vec![task; n], &device), &want));
        }
        checked += 1;
    }
    println!(
        "row-blocked tables: {checked} cases, max |diff| {worst:.2e} base weights, {worst_merged:.2e} each adapter folded"
    );
    assert_eq!(checked, 18);
    assert!(worst <= 1e-4 && worst_merged <= 1e-4, "{worst} {worst_merged}");
}
