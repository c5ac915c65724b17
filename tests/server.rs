//! `triage serve` through a real HTTP client on loopback, with all-MiniLM-L6-v2 from the
//! models directory: every endpoint in Jina's shapes, the Classifier page's `curl` sample
//! verbatim (only the URL changed), API keys and classifier ownership, limits, and many
//! parallel trainings and classifications of one classifier.
#![cfg(all(not(target_arch = "wasm32"), feature = "serve"))]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use triage::faces::server::{ServerOptions, router};
use triage::store::FsStore;

/// A server on 127.0.0.1 with its own store, stopped when dropped.
struct Server {
    base: String,
    runtime: Option<tokio::runtime::Runtime>,
    _store: tempfile::TempDir,
}

impl Server {
    fn start(options: ServerOptions) -> Self {
        let store_dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(engine(FsStore::open(store_dir.path()).unwrap()));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(engine, ServerOptions { models_dir: models_dir(), ..options });
        runtime.spawn(async move { triage::faces::server::serve(listener, app).await.unwrap() });
        Server { base, runtime: Some(runtime), _store: store_dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// `(status, JSON body)` of a request; `body` is sent raw when it is a string.
fn call(method: &str, url: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let agent = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut response = match (method, body) {
        ("GET" | "DELETE", _) => {
            let r = if method == "GET" { agent.get(url) } else { agent.delete(url) };
            match &auth {
                Some(a) => r.header("Authorization", a).call(),
                None => r.call(),
            }
        }
        (_, body) => {
            let mut r = agent.post(url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            match body {
                Some(Value::String(raw)) => r.send(raw.as_str()),
                Some(v) => r.send(serde_json::to_vec(&v).unwrap().as_slice()),
                None => r.send_empty(),
            }
        }
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {url} → {status}: not JSON: {text}"));
    (status, json)
}

fn post(server: &Server, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    call("POST", &server.url(path), key, Some(body))
}

fn ok(result: (u16, Value)) -> Value {
    assert_eq!(result.0, 200, "{}", result.1);
    result.1
}

fn error_code(result: (u16, Value), status: u16) -> String {
    assert_eq!(result.0, status, "{}", result.1);
    assert!(result.1["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", result.1);
    result.1["code"].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn every_endpoint_answers_in_jinas_shapes() {
    let server = Server::start(ServerOptions { max_body_bytes: 64 << 10, ..Default::default() });
    let health = ok(call("GET", &server.url("/health"), None, None));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["default_model"], "all-minilm-l6-v2");

    let models = ok(call("GET", &server.url("/v1/models"), None, None));
    let minilm = models["data"].as_array().unwrap().iter().find(|m| m["id"] == "all-minilm-l6-v2").unwrap();
    assert_eq!(minilm["available"], true);
    assert_eq!(minilm["max_output_length"], 384);
    // Every field Jina's ModelInfo requires, and OpenAI's Model fields.
    for field in [
        "id",
        "hugging_face_id",
        "name",
        "created",
        "input_modalities",
        "output_modalities",
        "quantization",
        "context_length",
        "max_output_length",
        "pricing",
        "supported_sampling_parameters",
        "supported_features",
        "description",
        "datacenters",
        "object",
        "owned_by",
    ] {
        assert!(models["data"].as_array().unwrap().iter().all(|m| m.get(field).is_some()), "{field}");
    }
    assert_eq!((models["object"].as_str(), minilm["owned_by"].as_str()), (Some("list"), Some("sentence-transformers")));
    let clip = models["data"].as_array().unwrap().iter().find(|m| m["id"] == "jina-clip-v2").unwrap();
    assert_eq!(clip["input_modalities"], json!(["text", "image"]));
    assert_eq!(ok(call("GET", &server.url("/v1/models/all-minilm-l6-v2"), None, None))["context_length"], 256);
    assert_eq!(error_code(call("GET", &server.url("/v1/models/nope"), None, None), 404), "RESOURCE_NOT_FOUND");

    // Zero-shot on the model named, and on the default one.
    let zero = ok(post(
        &server,
        "/v1/classify",
        None,
        json!({
            "model": "all-minilm-l6-v2",
            "input": ["The refund never reached my card", "The app crashes on start"],
            "labels": ["billing", "bug"]
        }),
    ));
    assert_eq!(zero["data"].as_array().unwrap().len(), 2);
    assert_eq!(zero["data"][0]["prediction"], "billing");
    assert_eq!(zero["data"][1]["prediction"], "bug");
    assert!(zero["usage"]["total_tokens"].as_u64().unwrap() > 0);

    // Few-shot: train, list, classify, update, delete.
    let trained = ok(post(
        &server,
        "/v1/train",
        None,
        json!({
            "model": "all-minilm-l6-v2", "access": "private", "num_iters": 5, "input": support_tickets()
        }),
    ));
    let id = trained["classifier_id"].as_str().unwrap().to_string();
    assert_eq!(trained["num_samples"], 6);
    let listed = ok(call("GET", &server.url("/v1/classifiers"), None, None));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["classifier_id"], id.as_str());
    assert_eq!(ok(post(&server, "/v1/classifiers", None, json!({}))), listed, "POST lists too");
    let few = ok(post(
        &server,
        "/v1/classify",
        None,
        json!({
            "classifier_id": id, "input": [{"text": "I was billed twice this month"}]
        }),
    ));
    assert_eq!(few["data"][0]["prediction"], "billing");
    ok(post(
        &server,
        "/v1/train",
        None,
        json!({
            "classifier_id": id, "input": [{"text": "Charged again after cancelling", "label": "billing"}]
        }),
    ));
    let listed = ok(call("GET", &server.url("/v1/classifiers"), None, None));
    assert_eq!(listed[0]["metadata_"]["num_samples"], 7);

    let embedded = ok(post(&server, "/v1/embeddings", None, json!({"model": "all-minilm-l6-v2", "input": ["hello"]})));
    assert_eq!(embedded["data"][0]["embedding"].as_array().unwrap().len(), 384);
    // What OpenAI's SDKs send by default: `encoding_format: "base64"` (little-endian f32),
    // and a `user`; the answer carries OpenAI's fields too.
    let openai = ok(post(
        &server,
        "/v1/embeddings",
        None,
        json!({"model": "all-minilm-l6-v2", "input": ["hello"], "encoding_format": "base64", "user": "someone"}),
    ));
    use base64::Engine as _;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(openai["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let floats: Vec<f32> =
        embedded["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(decoded, floats);
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][0]["object"], "embedding");
    assert_eq!(openai["data"][0]["index"], 0);
    assert!(openai["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(openai["usage"]["total_tokens"], openai["usage"]["prompt_tokens"]);
    assert_eq!(openai["model"], "all-minilm-l6-v2");

    let deleted = ok(call("DELETE", &server.url(&format!("/v1/classifiers/{id}")), None, None));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        error_code(call("DELETE", &server.url(&format!("/v1/classifiers/{id}")), None, None), 404),
        "RESOURCE_NOT_FOUND"
    );
    let gone = post(&server, "/v1/classify", None, json!({"classifier_id": id, "input": ["x"]}));
    assert_eq!(error_code(gone, 404), "RESOURCE_NOT_FOUND");

    // Bad input: Jina's errors, nothing stored.
    assert_eq!(error_code(post(&server, "/v1/classify", None, json!("{\"input\": [")), 422), "INPUT_VALIDATION_ERROR");
    assert_eq!(error_code(post(&server, "/v1/train", None, json!({"input": []})), 422), "INPUT_VALIDATION_ERROR");
    let big = json!({"input": ["x".repeat(70 << 10)], "labels": ["a", "b"]});
    let too_big = post(&server, "/v1/classify", None, big);
    assert_eq!(error_code(too_big.clone(), 422), "INPUT_VALIDATION_ERROR");
    assert!(too_big.1["detail"].as_str().unwrap().contains("larger than"), "{}", too_big.1);
    assert_eq!(error_code(call("GET", &server.url("/v1/nothing"), None, None), 404), "RESOURCE_NOT_FOUND");
    assert!(ok(call("GET", &server.url("/v1/classifiers"), None, None)).as_array().unwrap().is_empty());
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn the_classifier_pages_curl_sample_runs_verbatim() {
    let server = Server::start(ServerOptions::default());
    let sample = std::fs::read_to_string(fixtures().join("jina-samples/classify-curl.sh")).unwrap();
    assert!(sample.contains("https://api.jina.ai/v1/classify"));
    let script = sample.replace("https://api.jina.ai", &server.base);
    let out = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let response: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)));
    let data = response["data"].as_array().unwrap();
    assert_eq!(data.len(), 6);
    for item in data {
        let labels: Vec<&str> =
            item["predictions"].as_array().unwrap().iter().map(|p| p["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["Simple task", "Complex reasoning", "Creative writing"]);
    }
    println!("curl sample via triage serve: {} tokens", response["usage"]["total_tokens"]);
}

/// `--rate-limit`: per key with keys (a request without a valid key is answered 401, not
/// counted), per client address without; Jina's 429 codes with `Retry-After`; probes are
/// never limited.
#[test]
fn rate_limits_count_per_key_or_per_address() {
    let per_minute = std::num::NonZeroU32::new(3);
    let keyed = Server::start(ServerOptions {
        api_keys: vec!["key-a".into(), "key-b".into()],
        rate_limit_per_minute: per_minute,
        ..Default::default()
    });
    let list = |server: &Server, key| call("GET", &server.url("/v1/classifiers"), key, None);
    for _ in 0..3 {
        ok(list(&keyed, Some("key-a")));
        assert_eq!(error_code(list(&keyed, Some("key-c")), 401), "AUTH_INVALID_API_KEY");
    }
    let (status, body) = list(&keyed, Some("key-a"));
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_REQUEST_LIMIT_EXCEEDED")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("3 requests per minute"), "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let limited = agent().get(&keyed.url("/v1/models")).header("Authorization", "Bearer key-a").call().unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=21).contains(&retry), "one request back every 20 s: Retry-After {retry}");
    ok(list(&keyed, Some("key-b")));
    for _ in 0..5 {
        ok(call("GET", &keyed.url("/health"), None, None));
    }

    let keyless = Server::start(ServerOptions { rate_limit_per_minute: per_minute, ..Default::default() });
    for _ in 0..3 {
        ok(list(&keyless, None));
    }
    assert_eq!(error_code(list(&keyless, None), 429), "RATE_IP_LIMIT_EXCEEDED");
    let unlimited = Server::start(ServerOptions::default());
    for _ in 0..10 {
        ok(list(&unlimited, None));
    }
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn api_keys_guard_the_api_and_private_classifiers_stay_with_their_key() {
    let server = Server::start(ServerOptions { api_keys: vec!["key-a".into(), "key-b".into()], ..Default::default() });
    let body = json!({"input": ["hello"], "labels": ["a", "b"]});
    let classify = |key: Option<&str>| post(&server, "/v1/classify", key, body.clone());
    assert_eq!(error_code(classify(None), 401), "AUTH_MISSING_API_KEY");
    assert_eq!(error_code(classify(Some("")), 401), "AUTH_INVALID_FORMAT");
    assert_eq!(error_code(classify(Some("key-c")), 401), "AUTH_INVALID_API_KEY");
    let basic = agent()
        .post(&server.url("/v1/classify"))
        .header("Authorization", "Basic a2V5LWE=")
        .send(serde_json::to_vec(&body).unwrap().as_slice())
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    ok(classify(Some("key-a")));
    ok(call("GET", &server.url("/health"), None, None));
    assert_eq!(error_code(call("GET", &server.url("/v1/models"), None, None), 401), "AUTH_MISSING_API_KEY");

    let train = |key, access| {
        let r = ok(post(&server, "/v1/train", Some(key), json!({"access": access, "input": support_tickets()})));
        r["classifier_id"].as_str().unwrap().to_string()
    };
    let private = train("key-a", "private");
    let public = train("key-a", "public");
    let ids = |key| -> Vec<String> {
        let listed = ok(call("GET", &server.url("/v1/classifiers"), Some(key), None));
        listed.as_array().unwrap().iter().map(|c| c["classifier_id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids("key-a").len(), 2);
    assert!(ids("key-b").is_empty(), "another key's classifiers are not listed");
    let few =
        |key, id: &str| post(&server, "/v1/classify", Some(key), json!({"classifier_id": id, "input": ["refund"]}));
    ok(few("key-a", &private));
    assert_eq!(error_code(few("key-b", &private), 404), "RESOURCE_NOT_FOUND");
    ok(few("key-b", &public));
    // A public classifier is used, not changed, by other keys.
    let update = json!({"classifier_id": public, "input": [{"text": "double charge", "label": "billing"}]});
    assert_eq!(error_code(post(&server, "/v1/train", Some("key-b"), update.clone()), 404), "RESOURCE_NOT_FOUND");
    let delete = |key, id: &str| call("DELETE", &server.url(&format!("/v1/classifiers/{id}")), Some(key), None);
    assert_eq!(error_code(delete("key-b", &public), 404), "RESOURCE_NOT_FOUND");
    assert_eq!(ids("key-a").len(), 2, "refused calls changed nothing");
    ok(post(&server, "/v1/train", Some("key-a"), update));
    ok(delete("key-a", &public));
    assert_eq!(ids("key-a"), [private]);
}

/// Many clients train and classify with one classifier at once: every update lands (none
/// lost to a concurrent write, none refused), and every answer is well formed.
#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn parallel_training_and_classifying_of_one_classifier_lose_nothing() {
    let server = Server::start(ServerOptions { max_concurrent: 2, ..Default::default() });
    let created = ok(post(&server, "/v1/train", None, json!({"input": support_tickets(), "num_iters": 1})));
    let id = created["classifier_id"].as_str().unwrap().to_string();
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 3;
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let (server, id) = (&server, &id);
            scope.spawn(move || {
                for r in 0..ROUNDS {
                    let label = if (c + r) % 2 == 0 { "billing" } else { "bug" };
                    let trained = post(
                        server,
                        "/v1/train",
                        None,
                        json!({
                            "classifier_id": id, "num_iters": 1,
                            "input": [{"text": format!("client {c} round {r} ticket about {label}"), "label": label}]
                        }),
                    );
                    assert_eq!(ok(trained)["num_samples"], 1);
                    let classified = ok(post(
                        server,
                        "/v1/classify",
                        None,
                        json!({"classifier_id": id, "input": ["refund please"]}),
                    ));
                    let scores = scores(&classified);
                    assert_eq!(scores[0].len(), 2, "{classified}");
                }
            });
        }
    });
    let listed = ok(call("GET", &server.url("/v1/classifiers"), None, None));
    let summary = &listed[0];
    assert_eq!(summary["updated_number"], CLIENTS * ROUNDS, "{summary}");
    assert_eq!(summary["metadata_"]["num_samples"], 6 + CLIENTS * ROUNDS, "{summary}");
    println!(
        "{CLIENTS} clients × {ROUNDS} rounds: updated_number {}, samples {}, used_number {} (usage counts are best effort)",
        summary["updated_number"], summary["metadata_"]["num_samples"], summary["used_number"]
    );
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn a_request_over_the_time_limit_gets_jinas_timeout() {
    let server = Server::start(ServerOptions { timeout: Duration::from_millis(1), ..Default::default() });
    let long: Vec<String> = (0..64).map(|i| format!("sentence number {i} about nothing in particular")).collect();
    let result = post(&server, "/v1/classify", None, json!({"input": long, "labels": ["a", "b"]}));
    assert_eq!(error_code(result, 504), "SERVICE_TIMEOUT");
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn the_page_and_the_model_files_are_served_and_nothing_outside() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "<!doctype html><title>triage</title>").unwrap();
    let server = Server::start(ServerOptions { www_dir: Some(www.path().to_path_buf()), ..Default::default() });
    let mut page = agent().get(&server.url("/")).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.body_mut().read_to_string().unwrap().contains("<title>triage</title>"));
    let mut config = agent().get(&server.url("/models/all-minilm-l6-v2/config.json")).call().unwrap();
    assert_eq!(config.status().as_u16(), 200);
    let on_disk = std::fs::read(models_dir().join("all-minilm-l6-v2/config.json")).unwrap();
    assert_eq!(config.headers()["content-length"], on_disk.len().to_string().as_str());
    assert_eq!(config.body_mut().read_to_vec().unwrap(), on_disk);
    for path in ["/models/../Cargo.toml", "/models/%2e%2e/Cargo.toml", "/.hidden", "/missing.js"] {
        let r = agent().get(&server.url(path)).call().unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }

    // The page revalidates: its ETag answers a 304 with no body until the file changes.
    let tag = page.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let mut again = agent().get(&server.url("/")).header("If-None-Match", &tag).call().unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["etag"], tag.as_str());
    assert!(again.body_mut().read_to_vec().unwrap().is_empty());
    std::fs::write(www.path().join("index.html"), "<!doctype html><title>triage, changed</title>").unwrap();
    let mut changed = agent().get(&server.url("/")).header("If-None-Match", &tag).call().unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    assert_ne!(changed.headers()["etag"], tag.as_str());
    assert!(changed.body_mut().read_to_string().unwrap().contains("changed"));
    assert_eq!(config.headers()["cache-control"], "public, max-age=31536000, immutable");
}

#[test]
#[ignore = "needs the real model files: `bash tests/run.sh` fetches them and runs it"]
fn live_answers_at_once_and_ready_waits_for_the_default_model() {
    let server = Server::start(ServerOptions::default());
    assert_eq!(ok(call("GET", &server.url("/live"), None, None))["status"], "ok");
    // Nothing has loaded the default model yet (this test's server does not preload it).
    let (status, not_ready) = call("GET", &server.url("/ready"), None, None);
    assert_eq!(status, 503, "{not_ready}");
    assert!(not_ready["reasons"][0].as_str().unwrap().contains("all-minilm-l6-v2 is not loaded"), "{not_ready}");
    ok(post(&server, "/v1/classify", None, json!({"input": "x", "labels": ["a", "b"]})));
    let ready = ok(call("GET", &server.url("/ready"), None, None));
    assert_eq!((ready["status"].as_str(), ready["reasons"].as_array().map(Vec::len)), (Some("ready"), Some(0)));
}
