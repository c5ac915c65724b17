//! Every validation rule: the bad request gets its Jina error code, and no stored
//! classifier changes (records compared byte for byte, versions included).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use serde_json::{Value, json};
use triage::engine::parse_body;
use triage::store::{ClassifierStore, FsStore};
use triage::{Engine, TriageError};

const MODEL: &str = "all-minilm-l6-v2";

fn snapshot(engine: &Engine<FsStore>) -> Vec<String> {
    let mut records: Vec<String> =
        block_on(engine.store().list()).unwrap().iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    records.sort();
    records
}

fn seeded() -> (tempfile::TempDir, Engine<FsStore>, String) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(FsStore::open(dir.path()).unwrap());
    let created = block_on(engine.train_json(&json!({
        "model": MODEL,
        "input": [{"text": "great product", "label": "positive"}, {"text": "awful service", "label": "negative"}]
    })))
    .unwrap();
    (dir, engine, created.classifier_id)
}

enum Call {
    Classify(Value),
    Train(Value),
    Delete(&'static str),
    Raw(&'static [u8]),
}

fn run(engine: &Engine<FsStore>, call: &Call) -> Result<(), TriageError> {
    match call {
        Call::Classify(v) => block_on(engine.classify_json(v)).map(drop),
        Call::Train(v) => block_on(engine.train_json(v)).map(drop),
        Call::Delete(id) => block_on(engine.delete_classifier(id)).map(drop),
        Call::Raw(bytes) => parse_body(bytes).and_then(|v| block_on(engine.classify_json(&v))).map(drop),
    }
}

fn labels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("label {i}")).collect()
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn every_rule_answers_its_code_and_changes_nothing() {
    let (_dir, engine, id) = seeded();
    let many_inputs: Vec<String> = (0..513).map(|i| format!("text {i}")).collect();
    let many_items: Vec<Value> =
        (0..513).map(|i| json!({"text": format!("t{i}"), "label": if i % 2 == 0 { "a" } else { "b" }})).collect();
    let nine_groups: serde_json::Map<String, Value> = (0..9).map(|g| (format!("g{g}"), json!(["x", "y"]))).collect();
    let cases: Vec<(&str, Call, &str)> = vec![
        ("body is not JSON", Call::Raw(b"{\"input\": [\"x\""), "INPUT_VALIDATION_ERROR"),
        ("body is not an object", Call::Classify(json!(["x"])), "INPUT_VALIDATION_ERROR"),
        (
            "unknown field",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": ["a"], "lables": []})),
            "INPUT_VALIDATION_ERROR",
        ),
        ("input missing", Call::Classify(json!({"model": MODEL, "labels": ["a", "b"]})), "INPUT_VALIDATION_ERROR"),
        (
            "input empty list",
            Call::Classify(json!({"model": MODEL, "input": [], "labels": ["a", "b"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "more than 512 inputs",
            Call::Classify(json!({"model": MODEL, "input": many_inputs, "labels": ["a", "b"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "input of the wrong type",
            Call::Classify(json!({"model": MODEL, "input": [42], "labels": ["a", "b"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "text over the byte limit",
            Call::Classify(json!({"model": MODEL, "input": ["ok", "x".repeat(10 << 20)], "labels": ["a", "b"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "training text over the byte limit",
            Call::Train(json!({"classifier_id": id, "input": [{"text": "x ".repeat(300_000), "label": "positive"}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "text and image in one item",
            Call::Classify(json!({"model": MODEL, "input": [{"text": "x", "image": "y"}], "labels": ["a"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "image on a model without image tower",
            Call::Classify(
                json!({"model": MODEL, "input": [{"image": "https://example.com/cat.png"}], "labels": ["a", "b"]}),
            ),
            "INPUT_VALIDATION_ERROR",
        ),
        ("labels missing", Call::Classify(json!({"model": MODEL, "input": "x"})), "INPUT_VALIDATION_ERROR"),
        ("labels empty", Call::Classify(json!({"model": MODEL, "input": "x", "labels": []})), "INPUT_INVALID_LABELS"),
        (
            "empty label",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": ["a", "  "]})),
            "INPUT_INVALID_LABELS",
        ),
        (
            "label not a string",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": ["a", 3]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "more than 512 labels",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": labels(513)})),
            "INPUT_LABEL_LIMIT_EXCEEDED",
        ),
        (
            "more than 8 label groups",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": nine_groups})),
            "INPUT_LABEL_LIMIT_EXCEEDED",
        ),
        (
            "more than 64 labels in a group",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": {"g": labels(65)}})),
            "INPUT_LABEL_LIMIT_EXCEEDED",
        ),
        (
            "empty label group",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": {"g": []}})),
            "INPUT_INVALID_LABELS",
        ),
        (
            "unknown model",
            Call::Classify(json!({"model": "jina-embeddings-v9", "input": "x", "labels": ["a", "b"]})),
            "INPUT_MODEL_NOT_FOUND",
        ),
        (
            "model and classifier_id",
            Call::Classify(json!({"model": MODEL, "classifier_id": id, "input": "x"})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "bad temperature",
            Call::Classify(json!({"model": MODEL, "input": "x", "labels": ["a", "b"], "temperature": 0})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "unknown classifier",
            Call::Classify(json!({"classifier_id": "00000000-dead-beef-0000-000000000000", "input": "x"})),
            "RESOURCE_NOT_FOUND",
        ),
        (
            "labels on a few-shot request",
            Call::Classify(json!({"classifier_id": id, "input": "x", "labels": ["a"]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "image on few-shot text classifier",
            Call::Classify(json!({"classifier_id": id, "input": [{"image": "aGVsbG8="}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "train with one distinct label",
            Call::Train(json!({"model": MODEL, "input": [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}]})),
            "INPUT_INVALID_LABELS",
        ),
        (
            "train item without label",
            Call::Train(json!({"model": MODEL, "input": [{"text": "a"}, {"text": "b", "label": "y"}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "train item with empty label",
            Call::Train(json!({"classifier_id": id, "input": [{"text": "a", "label": ""}]})),
            "INPUT_INVALID_LABELS",
        ),
        (
            "train item with neither text nor image",
            Call::Train(json!({"classifier_id": id, "input": [{"label": "positive"}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "num_iters 0",
            Call::Train(json!({"classifier_id": id, "num_iters": 0, "input": [{"text": "a", "label": "positive"}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "num_iters 101",
            Call::Train(json!({"classifier_id": id, "num_iters": 101, "input": [{"text": "a", "label": "positive"}]})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "num_iters not an integer",
            Call::Train(
                json!({"classifier_id": id, "num_iters": "ten", "input": [{"text": "a", "label": "positive"}]}),
            ),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "bad access",
            Call::Train(
                json!({"model": MODEL, "access": "secret", "input": [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]}),
            ),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "more than 512 training items",
            Call::Train(json!({"classifier_id": id, "input": many_items})),
            "INPUT_VALIDATION_ERROR",
        ),
        (
            "train unknown model",
            Call::Train(json!({"model": "nope", "input": [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]})),
            "INPUT_MODEL_NOT_FOUND",
        ),
        (
            "update unknown classifier",
            Call::Train(json!({"classifier_id": "nope", "input": [{"text": "a", "label": "x"}]})),
            "RESOURCE_NOT_FOUND",
        ),
        (
            "update with an image on a text model",
            Call::Train(
                json!({"classifier_id": id, "input": [{"text": "fine", "label": "positive"}, {"image": "aGVsbG8=", "label": "negative"}]}),
            ),
            "INPUT_VALIDATION_ERROR",
        ),
        ("delete unknown classifier", Call::Delete("0000-not-there"), "RESOURCE_NOT_FOUND"),
        ("delete with a path in the id", Call::Delete("../etc/passwd"), "RESOURCE_NOT_FOUND"),
    ];
    let before = snapshot(&engine);
    assert_eq!(before.len(), 1);
    for (name, call, code) in &cases {
        let err = run(&engine, call).expect_err(name);
        assert_eq!(err.code(), *code, "{name}: {err}");
        let body = err.to_response();
        assert!(!body.detail.is_empty(), "{name}");
        assert_eq!(snapshot(&engine), before, "{name} changed stored state");
        println!("{name:<40} {code:<28} {}", body.detail.chars().take(90).collect::<String>());
    }
    println!("{} rules checked", cases.len());
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn concurrent_update_is_reported_not_lost() {
    let (_dir, engine, id) = seeded();
    let record = block_on(engine.store().get(&id)).unwrap().unwrap();
    // Another writer lands an update between this writer's read and write.
    let update = json!({"classifier_id": id, "input": [{"text": "lovely", "label": "positive"}]});
    block_on(engine.train_json(&update)).unwrap();
    let stale = block_on(engine.store().put(record.clone(), Some(record.version))).unwrap_err();
    assert_eq!(stale.code(), "CONFLICT_RESOURCE_BUSY");
    assert_eq!(stale.http_status(), 409);
    let now = block_on(engine.store().get(&id)).unwrap().unwrap();
    assert_eq!(now.version, record.version + 1);
    assert_eq!(now.classifier.counts().iter().sum::<u64>(), 3, "the landed update is kept");
}

/// Export → delete → import gives back the same classifier (same answers); documents that
/// are not exports, name an unknown model, have the wrong width or an id already stored are
/// refused with nothing stored.
#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn classifiers_export_and_import_and_bad_documents_change_nothing() {
    let (dir, engine, id) = seeded();
    let ask = json!({"classifier_id": id, "input": ["what a wonderful day", "terrible, never again"]});
    let before = serde_json::to_value(block_on(engine.classify_json(&ask)).unwrap()).unwrap();
    let document = block_on(engine.export_classifier(&id)).unwrap();
    assert!(document.get("owner").is_none() && document.get("version").is_none(), "{document}");
    assert_eq!(document["model"], MODEL);

    // The document with one field replaced.
    let with = |path: &[&str], value: Value| {
        let mut d = document.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut d;
        for p in parents {
            at = &mut at[*p];
        }
        at[*last] = value;
        d
    };
    let refusals = [
        (json!("not an object"), "INPUT_VALIDATION_ERROR"),
        (json!({"classifier_id": "x"}), "INPUT_VALIDATION_ERROR"),
        (with(&["model"], json!("no-such-model")), "INPUT_MODEL_NOT_FOUND"),
        (with(&["model"], json!("jina-embeddings-v3")), "INPUT_VALIDATION_ERROR"), // 1024 dims, not 384
        (with(&["classifier", "dim"], json!(3)), "INPUT_VALIDATION_ERROR"),
        (with(&["classifier", "weights"], json!([[1.0], [2.0]])), "INPUT_VALIDATION_ERROR"),
        (with(&["format"], json!(99)), "INPUT_VALIDATION_ERROR"),
        (with(&["classifier_id"], json!("../escape")), "INPUT_VALIDATION_ERROR"),
        (with(&["task"], json!("retrieval.query")), "INPUT_VALIDATION_ERROR"),
        (document.clone(), "INPUT_VALIDATION_ERROR"), // its id is already stored
    ];
    let stored = snapshot(&engine);
    for (i, (bad, code)) in refusals.iter().enumerate() {
        let err = block_on(engine.import_classifier(bad)).unwrap_err();
        assert_eq!(err.code(), *code, "case {i}: {err}");
        assert_eq!(snapshot(&engine), stored, "case {i} changed the store");
    }
    block_on(engine.delete_classifier(&id)).unwrap();
    let summary = block_on(engine.import_classifier(&document)).unwrap();
    assert_eq!(summary.classifier_id, id);
    let after = serde_json::to_value(block_on(engine.classify_json(&ask)).unwrap()).unwrap();
    assert_eq!(after["data"], before["data"]);

    // A record that does not read back is reported, and can still be deleted.
    std::fs::write(dir.path().join("broken.json"), b"{\"format\": 1}").unwrap();
    assert!(block_on(engine.classifiers()).unwrap_err().to_string().contains("corrupt"));
    assert!(block_on(engine.delete_classifier("broken")).unwrap().deleted);
    assert_eq!(block_on(engine.classifiers()).unwrap().len(), 1);
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn long_inputs_are_truncated_and_counted_as_processed() {
    let (_dir, engine, _) = seeded();
    let long = "word ".repeat(20_000);
    let resp = block_on(engine.classify_json(&json!({"model": MODEL, "input": [long], "labels": ["a", "b"]}))).unwrap();
    let labels_tokens = 3 + 3; // [CLS] a [SEP], [CLS] b [SEP]
    assert_eq!(resp.usage.total_tokens, 256 + labels_tokens, "input truncated to the model's 256 tokens");
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn usage_counts_as_jina_counts() {
    let (_dir, engine, id) = seeded();
    // zero-shot = input tokens + label tokens: "hello world" → [CLS] hello world [SEP].
    let z = block_on(engine.classify_json(&json!({"model": MODEL, "input": "hello world", "labels": ["a", "b", "a"]})))
        .unwrap();
    assert_eq!(z.usage.total_tokens, 4 + 3 + 3);
    // few-shot classify = input tokens.
    let f = block_on(engine.classify_json(&json!({"classifier_id": id, "input": "hello world"}))).unwrap();
    assert_eq!(f.usage.total_tokens, 4);
    // train = input tokens × num_iters.
    let t = block_on(engine.train_json(
        &json!({"classifier_id": id, "num_iters": 7, "input": [{"text": "hello world", "label": "positive"}]}),
    ))
    .unwrap();
    assert_eq!(t.usage.total_tokens, 4 * 7);
    assert_eq!(t.num_samples, 1);
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn label_groups_classify_per_group() {
    let (_dir, engine, _) = seeded();
    let resp = block_on(engine.classify_json(&json!({
        "model": MODEL,
        "input": ["Awful news: I hate losing all my money on bank stocks", "I adore this wonderful sunny beach holiday"],
        "labels": {"topic": ["finance", "travel"], "reversed": ["travel", "finance", "travel"]}
    })))
    .unwrap();
    let v = serde_json::to_value(&resp).unwrap();
    println!("{}", serde_json::to_string(&v["data"]).unwrap());
    assert_eq!(v["data"][0]["prediction"], json!({"topic": "finance", "reversed": "finance"}));
    assert_eq!(v["data"][1]["prediction"], json!({"topic": "travel", "reversed": "travel"}));
    // Each group is scored on its own labels, in its own order (repeats folded).
    assert_eq!(v["data"][0]["predictions"]["reversed"][0]["label"], "travel");
    assert_eq!(v["data"][0]["predictions"]["reversed"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["score"]["topic"], v["data"][0]["score"]["reversed"]);
    for d in v["data"].as_array().unwrap() {
        for g in ["topic", "reversed"] {
            let sum: f64 = d["predictions"][g].as_array().unwrap().iter().map(|p| p["score"].as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-5);
            assert!(d["score"][g].as_f64().is_some());
        }
    }
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn missing_or_damaged_model_files_are_refused_clearly() {
    use triage::engine::encoder::Encoder;
    let spec = triage::registry::find(MODEL).unwrap();
    let device = burn::tensor::Device::flex();
    let empty = tempfile::tempdir().unwrap();
    let err = Encoder::from_dir(spec, empty.path(), &device, true).err().unwrap();
    assert_eq!(err.code(), "SERVICE_UNAVAILABLE");
    assert!(err.to_string().contains("triage pull"), "{err}");

    let damaged = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(models_dir().join(MODEL).join(f), damaged.path().join(f)).unwrap();
    }
    let mut weights = std::fs::OpenOptions::new().append(true).open(damaged.path().join("model.safetensors")).unwrap();
    std::io::Write::write_all(&mut weights, b"\0").unwrap();
    let err = Encoder::from_dir(spec, damaged.path(), &device, true).err().unwrap();
    assert_eq!(err.code(), "SERVICE_UNAVAILABLE");
    assert!(err.to_string().contains("sha256"), "{err}");
}
