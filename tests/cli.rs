//! The CLI as a user runs it: Jina's sample request on both models, the few-shot flow
//! across separate processes (state reloaded from disk), errors on bad input.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::{Value, json};

fn triage(store: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.args(args)
        .arg("--quiet")
        .env("TRIAGE_MODELS_DIR", models_dir())
        .env("TRIAGE_STORE", store)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample_request() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("jina-samples/classify-zero-shot-text.json")).unwrap())
        .unwrap()
}

/// Checks a response to the 6-text sample against the shape of Jina's answer.
fn check_sample_response(model: &str, resp: &Value) {
    let obj = resp.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["usage", "data"]);
    assert!(resp["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let data = resp["data"].as_array().unwrap();
    assert_eq!(data.len(), 6);
    let labels = ["Simple task", "Complex reasoning", "Creative writing"];
    let inputs = sample_request()["input"].as_array().unwrap().clone();
    println!("{model}: usage.total_tokens = {}", resp["usage"]["total_tokens"]);
    for (i, item) in data.iter().enumerate() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["object", "index", "prediction", "score", "predictions"]);
        assert_eq!(item["object"], "classification");
        assert_eq!(item["index"], i);
        let preds = item["predictions"].as_array().unwrap();
        let names: Vec<&str> = preds.iter().map(|p| p["label"].as_str().unwrap()).collect();
        assert_eq!(names, labels, "repeated labels folded, first occurrence keeps its place");
        let scores: Vec<f64> = preds.iter().map(|p| p["score"].as_f64().unwrap()).collect();
        let sum: f64 = scores.iter().sum();
        assert!((sum - 1.0).abs() <= 1e-5, "scores sum to {sum}");
        let best = scores.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(item["score"].as_f64().unwrap(), best);
        let text: String = inputs[i]["text"].as_str().unwrap().chars().take(48).collect();
        println!(
            "  [{i}] {:<17} {:.4}  ({})  {text}",
            item["prediction"].as_str().unwrap(),
            best,
            scores.iter().map(|s| format!("{s:.4}")).collect::<Vec<_>>().join(" / ")
        );
    }
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn jina_sample_request_on_both_models() {
    let store = tempfile::tempdir().unwrap();
    // Verbatim, as pasted from Jina's page: no model field, so the default model answers.
    let verbatim = ok_json(&triage(store.path(), &["classify"], Some(&sample_request().to_string())));
    check_sample_response("(default model, verbatim request)", &verbatim);
    for model in ["all-minilm-l6-v2", "multilingual-e5-small"] {
        let mut req = sample_request();
        req["model"] = json!(model);
        let file = store.path().join(format!("{model}.json"));
        std::fs::write(&file, req.to_string()).unwrap();
        let resp = ok_json(&triage(store.path(), &["classify", "-d", &format!("@{}", file.display())], None));
        check_sample_response(model, &resp);
    }
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn few_shot_flow_survives_process_restarts() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let train = json!({
        "model": "all-minilm-l6-v2",
        "access": "private",
        "num_iters": 10,
        "input": common::support_tickets()
    });
    let created = ok_json(&triage(s, &["train", "-d", &train.to_string()], None));
    let id = created["classifier_id"].as_str().unwrap().to_string();
    assert_eq!(created["num_samples"], 6);
    assert!(created["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let query = json!({"classifier_id": id, "input": ["I was billed two times this month", "The screen freezes when I tap the button"]});
    let first = ok_json(&triage(s, &["classify", "-d", &query.to_string()], None));
    let preds: Vec<&str> =
        first["data"].as_array().unwrap().iter().map(|d| d["prediction"].as_str().unwrap()).collect();
    println!("few-shot before update: {preds:?} {:?}", scores(&first));
    assert_eq!(preds, ["billing", "bug"]);

    // Same request, fresh process (state reloaded from disk): identical scores.
    let again = ok_json(&triage(s, &["classify", "-d", &query.to_string()], None));
    assert_eq!(scores(&first), scores(&again));

    let update = json!({
        "classifier_id": id,
        "num_iters": 10,
        "input": [
            {"text": "How do I change the language of the interface?", "label": "how-to"},
            {"text": "Where can I find the export button?", "label": "how-to"},
            {"text": "Is there a way to set up two-factor login?", "label": "how-to"}
        ]
    });
    let updated = ok_json(&triage(s, &["train", "-d", &update.to_string()], None));
    assert_eq!(updated["classifier_id"], id.as_str());
    assert_eq!(updated["num_samples"], 3);

    let query2 = json!({"classifier_id": id, "input": ["I was billed two times this month", "The screen freezes when I tap the button", "How can I switch the app to dark mode?"]});
    let after = ok_json(&triage(s, &["classify", "-d", &query2.to_string()], None));
    let preds: Vec<&str> =
        after["data"].as_array().unwrap().iter().map(|d| d["prediction"].as_str().unwrap()).collect();
    println!("few-shot after adding 'how-to': {preds:?}");
    assert_eq!(preds, ["billing", "bug", "how-to"]);
    for d in after["data"].as_array().unwrap() {
        let sum: f64 = d["predictions"].as_array().unwrap().iter().map(|p| p["score"].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() <= 1e-5);
    }
    let again = ok_json(&triage(s, &["classify", "-d", &query2.to_string()], None));
    assert_eq!(scores(&after), scores(&again));

    let list = ok_json(&triage(s, &["classifiers"], None));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["classifier_id"], id.as_str());
    assert_eq!(list[0]["labels"], json!(["billing", "bug", "how-to"]));
    assert_eq!(list[0]["access"], "private");
    assert_eq!(list[0]["updated_number"], 1);
    assert_eq!(list[0]["used_number"], 4);
    assert_eq!(list[0]["metadata_"]["num_samples"], 9);
    // Training texts are not stored.
    let stored = std::fs::read_to_string(s.join(format!("{id}.json"))).unwrap();
    assert!(!stored.contains("charged twice") && !stored.contains("export button"));

    let deleted = ok_json(&triage(s, &["delete", &id], None));
    assert_eq!(deleted, json!({"classifier_id": id, "deleted": true}));
    let gone = triage(s, &["classify", "-d", &query.to_string()], None);
    assert!(!gone.status.success());
    let err: Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(err["code"], "RESOURCE_NOT_FOUND");
    assert_eq!(ok_json(&triage(s, &["classifiers"], None)), json!([]));
}

#[test]
fn bad_input_exits_non_zero_with_error_response() {
    let store = tempfile::tempdir().unwrap();
    for (body, code) in [
        ("{not json", "INPUT_VALIDATION_ERROR"),
        (r#"{"model":"nope","input":"x","labels":["a","b"]}"#, "INPUT_MODEL_NOT_FOUND"),
        (r#"{"model":"all-minilm-l6-v2","input":"x","labels":[]}"#, "INPUT_INVALID_LABELS"),
    ] {
        let out = triage(store.path(), &["classify"], Some(body));
        assert_eq!(out.status.code(), Some(1), "{body}");
        let err: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(err["code"], code, "{body}");
        assert!(!err["detail"].as_str().unwrap().is_empty());
    }
}

/// `triage models` lists every registry model with its files' states; `triage pull` of an
/// unknown model is Jina's model-not-found error and writes nothing.
#[test]
fn models_lists_the_registry_and_pull_refuses_unknown_models() {
    let store = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(models.path().join("all-minilm-l6-v2")).unwrap();
    std::fs::write(models.path().join("all-minilm-l6-v2/config.json"), "{}").unwrap();
    std::fs::write(models.path().join("all-minilm-l6-v2/model.safetensors.part"), "half").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(args)
            .args(["--quiet", "--models-dir"])
            .arg(models.path())
            .env("TRIAGE_STORE", store.path())
            .output()
            .unwrap()
    };
    let listed = ok_json(&run(&["models"]));
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let known: Vec<&str> = triage::registry::MODELS.iter().map(|m| m.id).collect();
    assert_eq!(ids, known);
    let minilm = &listed[ids.iter().position(|id| *id == "all-minilm-l6-v2").unwrap()];
    assert_eq!(minilm["pulled"], false);
    let state =
        |name: &str| minilm["files"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()["state"].clone();
    assert_eq!(state("config.json"), "pulled");
    assert_eq!(state("model.safetensors"), "partial");
    assert_eq!(state("tokenizer.json"), "missing");
    assert_eq!(minilm["revision"].as_str().unwrap().len(), 40);

    let out = run(&["pull", "gpt-9"]);
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["code"], "INPUT_MODEL_NOT_FOUND");
    assert!(!models.path().join("gpt-9").exists());
}

/// `triage serve` as an orchestrator runs it: live at once, ready once the default model has
/// loaded (without any request asking for it), and on SIGTERM it answers the request in
/// flight before exiting cleanly.
#[cfg(unix)]
#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn serve_gets_ready_by_itself_and_finishes_in_flight_requests_on_sigterm() {
    use std::time::{Duration, Instant};
    let store = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["serve", "--quiet", "--port", &port.to_string()])
        .env("TRIAGE_MODELS_DIR", models_dir())
        .env("TRIAGE_STORE", store.path())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let status = |path: &str| agent.get(&format!("{base}{path}")).call().map(|r| r.status().as_u16()).unwrap_or(0);
    let until = |path: &str, want: u16| {
        let start = Instant::now();
        while status(path) != want {
            assert!(start.elapsed() < Duration::from_secs(120), "{path} never answered {want}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("/live", 200);
    until("/ready", 200);

    // A request that computes for seconds, then SIGTERM while it runs.
    let inputs: Vec<String> = (0..128).map(|i| format!("text number {i} {}", "with some words ".repeat(20))).collect();
    let body = json!({"model": "all-minilm-l6-v2", "input": inputs, "labels": ["a", "b"]});
    let url = format!("{base}/v1/classify");
    let in_flight = std::thread::spawn(move || {
        let mut response = ureq::post(&url).send_json(&body).unwrap();
        response.body_mut().read_json::<Value>().unwrap()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!in_flight.is_finished(), "the request should still be computing when SIGTERM arrives");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let answered = in_flight.join().unwrap();
    assert_eq!(answered["data"].as_array().unwrap().len(), 128);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
}

/// Secrets never reach the output: API keys given by flag or environment (accepted, refused,
/// or rate-limited requests alike) and the password of a PostgreSQL store's URL are in
/// nothing `triage` prints, `--help` included.
#[cfg(unix)]
#[test]
fn api_keys_and_store_passwords_are_never_printed() {
    use std::time::{Duration, Instant};
    let (store, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (flag_key, env_key, wrong_key) = ("flag-secret-7f3a", "env-secret-91cc", "wrong-secret-5d0e");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["serve", "--port", &port.to_string(), "--api-key", flag_key, "--rate-limit", "4"])
        .env("TRIAGE_MODELS_DIR", models.path())
        .env("TRIAGE_STORE", store.path())
        .env("TRIAGE_API_KEYS", env_key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let started = Instant::now();
    while agent.get(&format!("{base}/live")).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "serve never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut statuses = Vec::new();
    for key in [flag_key, env_key, wrong_key, flag_key, flag_key, flag_key, flag_key] {
        for (path, body) in
            [("/v1/classifiers", None), ("/v1/classify", Some(r#"{"input": ["x"], "labels": ["a", "b"]}"#))]
        {
            let auth = format!("Bearer {key}");
            let response = match body {
                None => agent.get(&format!("{base}{path}")).header("Authorization", &auth).call(),
                Some(b) => agent.post(&format!("{base}{path}")).header("Authorization", &auth).send(b),
            };
            let mut response = response.unwrap();
            statuses.push(response.status().as_u16());
            let text = response.body_mut().read_to_string().unwrap();
            for secret in [flag_key, env_key, wrong_key] {
                assert!(!text.contains(secret), "a response shows a key: {text}");
            }
        }
    }
    // Keys accepted (200 listing; 503 classifying, the model being absent), refused and limited.
    for status in [200, 503, 401, 429] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let help = triage(store.path(), &["serve", "--help"], None);
    let password = "pg-secret-4b2e";
    let unreachable = format!("postgres://triage:{password}@127.0.0.1:1/triage");
    let postgres =
        Command::new(env!("CARGO_BIN_EXE_triage")).args(["classifiers", "--store", &unreachable]).output().unwrap();
    assert!(!postgres.status.success(), "no PostgreSQL listens on port 1");
    for printed in [&out.stdout, &out.stderr, &help.stdout, &help.stderr, &postgres.stdout, &postgres.stderr] {
        let text = String::from_utf8_lossy(printed);
        for secret in [flag_key, env_key, wrong_key, password] {
            assert!(!text.contains(secret), "printed a secret: {text}");
        }
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("API keys required"), "the startup line is printed");
}
