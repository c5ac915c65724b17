//! jina-embeddings-v3 against transformers' `JinaEmbeddingsV3Model` on tiny seeded configs
//! (tests/fixtures/gen_v3_fixtures.py): weights read under the released checkpoint's names,
//! f32 and bf16, no task and each of the five adapters, padded batches, one batch mixing tasks.
#![cfg(not(target_arch = "wasm32"))]

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;
use triage::models::jina_v3::{JinaV3, JinaV3Config, KEY_MAP};

fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3_tiny")
}

fn load(weights: &str, device: &Device) -> (JinaV3Config, JinaV3) {
    let cfg: JinaV3Config = serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    cfg.validate().unwrap();
    let mut model = cfg.init(device);
    let mut store = KEY_MAP
        .iter()
        .fold(SafetensorsStore::from_file(fixtures().join(weights)), |s, (from, to)| s.with_key_remapping(*from, *to))
        .with_from_adapter(PyTorchToBurnAdapter);
    let result = model.load_from(&mut store).unwrap();
    assert!(result.missing.is_empty() && result.errors.is_empty(), "{result:?}");
    (cfg, model.into_f32())
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
    let got = run(&model, &cases[0]["ids"], &cases[0]["mask"], &tasks, &device);
    for i in 0..n {
        let want = &rows(&cases[i]["pooled"])[i];
        let diff = got[i].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-4, "row {i}: {diff}");
    }
}
