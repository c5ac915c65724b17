//! The few-shot quality benchmark's Rust side (driven by `benches/fewshot/run.py`; a
//! benchmark, not a test).
//!
//!   fewshot_quality embed MODELS_DIR MODEL DATA.jsonl OUT_PREFIX
//!     embeds every text of DATA.jsonl (`{"text", "label"}` lines) as few-shot training
//!     and classification embed them, and every label name as zero-shot embeds it; writes
//!     OUT_PREFIX.f32 (rows of little-endian f32) and OUT_PREFIX.json (dim, labels,
//!     label embeddings).
//!
//!   fewshot_quality eval OUT_PREFIX PLAN.json RESULT.json
//!     for every split of the plan (`{"splits": [{"train": [row, ...], "test": [row, ...]}],
//!     "num_iters": 10}`), trains triage's few-shot classifier and the earlier
//!     passive-aggressive one on the training rows and writes each one's scores for the
//!     test rows (`{"triage": [[[p, ...], ...], ...], "passive-aggressive": ...}`, in the
//!     order of the labels in OUT_PREFIX.json).

use std::io::{BufRead, Write};

use serde_json::{Value, json};
use triage::Engine;
use triage::api::Input;
use triage::classify::fewshot::{FewShot, PassiveAggressive};
use triage::engine::encoder::Encoder;
use triage::registry;
use triage::store::MemoryStore;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("fewshot_quality: {msg}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["embed", models_dir, model, data, out] => embed(models_dir, model, data, out),
        ["eval", prefix, plan, result] => eval(prefix, plan, result),
        _ => fail(
            "usage: fewshot_quality embed MODELS_DIR MODEL DATA.jsonl OUT_PREFIX | eval OUT_PREFIX PLAN.json RESULT.json",
        ),
    }
}

fn embed(models_dir: &str, model: &str, data: &str, out: &str) {
    let spec = registry::find(model).unwrap_or_else(|e| fail(e));
    let dir = std::path::PathBuf::from(models_dir);
    let device = burn::tensor::Device::flex();
    let engine = Engine::new(
        MemoryStore::new(),
        Box::new(move |spec| Encoder::from_dir(spec, &dir.join(spec.id), &device, true)),
    );
    let file = std::fs::File::open(data).unwrap_or_else(|e| fail(format!("{data}: {e}")));
    let mut texts = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut row_labels: Vec<String> = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap_or_else(|e| fail(e));
        let row: Value = serde_json::from_str(&line).unwrap_or_else(|e| fail(e));
        let (Some(text), Some(label)) = (row["text"].as_str(), row["label"].as_str()) else {
            fail(format!("{data}: a line without text and label"))
        };
        texts.push(Input::Text(text.to_string()));
        row_labels.push(label.to_string());
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    }
    let started = std::time::Instant::now();
    let mut writer = std::io::BufWriter::new(
        std::fs::File::create(format!("{out}.f32")).unwrap_or_else(|e| fail(format!("{out}.f32: {e}"))),
    );
    let mut dim = 0;
    for (n, chunk) in texts.chunks(256).enumerate() {
        let vectors = pollster::block_on(engine.classification_embeddings(spec, chunk)).unwrap_or_else(|e| fail(e));
        for v in &vectors {
            dim = v.len();
            for x in v {
                writer.write_all(&x.to_le_bytes()).unwrap_or_else(|e| fail(e));
            }
        }
        eprintln!(
            "{model}: {} / {} texts, {:.0} s",
            (n * 256 + chunk.len()),
            texts.len(),
            started.elapsed().as_secs_f64()
        );
    }
    writer.flush().unwrap_or_else(|e| fail(e));
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let label_embeddings =
        pollster::block_on(engine.label_embeddings(spec, None, &label_refs)).unwrap_or_else(|e| fail(e));
    let meta = json!({ "model": model, "dim": dim, "rows": texts.len(), "labels": labels, "row_labels": row_labels, "label_embeddings": label_embeddings });
    std::fs::write(format!("{out}.json"), meta.to_string()).unwrap_or_else(|e| fail(e));
}

fn eval(prefix: &str, plan: &str, result: &str) {
    let meta: Value = serde_json::from_slice(&std::fs::read(format!("{prefix}.json")).unwrap_or_else(|e| fail(e)))
        .unwrap_or_else(|e| fail(e));
    let dim = meta["dim"].as_u64().unwrap_or_else(|| fail("no dim")) as usize;
    let labels: Vec<String> = serde_json::from_value(meta["labels"].clone()).unwrap_or_else(|e| fail(e));
    let label_embeddings: Vec<Vec<f32>> =
        serde_json::from_value(meta["label_embeddings"].clone()).unwrap_or_else(|e| fail(e));
    let bytes = std::fs::read(format!("{prefix}.f32")).unwrap_or_else(|e| fail(e));
    let rows: Vec<Vec<f32>> = bytes
        .chunks_exact(4 * dim)
        .map(|row| row.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        .collect();
    let row_labels: Vec<String> = serde_json::from_value(meta["row_labels"].clone()).unwrap_or_else(|e| fail(e));
    let plan: Value =
        serde_json::from_slice(&std::fs::read(plan).unwrap_or_else(|e| fail(e))).unwrap_or_else(|e| fail(e));
    let num_iters = plan["num_iters"].as_u64().unwrap_or(10) as u32;
    let splits = plan["splits"].as_array().unwrap_or_else(|| fail("no splits"));
    let mut ours = Vec::new();
    let mut pa_scores = Vec::new();
    let started = std::time::Instant::now();
    for split in splits {
        let index = |key: &str| -> Vec<usize> {
            serde_json::from_value(split[key].clone()).unwrap_or_else(|e| fail(format!("{key}: {e}")))
        };
        let (train, test) = (index("train"), index("test"));
        let examples: Vec<(Vec<f32>, String)> =
            train.iter().map(|&i| (rows[i].clone(), row_labels[i].clone())).collect();
        let mut fewshot = FewShot::new(dim);
        let prior: Vec<(String, Vec<f32>)> = labels.iter().cloned().zip(label_embeddings.iter().cloned()).collect();
        fewshot.train(&examples, &prior, num_iters);
        let mut pa = PassiveAggressive::new(dim);
        pa.train(&examples, num_iters);
        // Scores in the order of the benchmark's labels (the classifiers order classes as
        // first seen).
        let reorder = |own: &[String], probs: Vec<f32>| -> Vec<f32> {
            labels.iter().map(|l| own.iter().position(|x| x == l).map_or(0.0, |i| probs[i])).collect()
        };
        ours.push(test.iter().map(|&i| reorder(fewshot.labels(), fewshot.predict(&rows[i]))).collect::<Vec<_>>());
        pa_scores.push(test.iter().map(|&i| reorder(&pa.labels, pa.predict(&rows[i]))).collect::<Vec<_>>());
    }
    eprintln!("{} splits trained and scored in {:.1} s", splits.len(), started.elapsed().as_secs_f64());
    std::fs::write(result, json!({ "triage": ours, "passive-aggressive": pa_scores }).to_string())
        .unwrap_or_else(|e| fail(e));
}
