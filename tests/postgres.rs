//! The PostgreSQL classifier store (`--store postgres://…`) on a real, throwaway PostgreSQL
//! (tests/common/postgres.rs): the compare-and-swap contract, concurrent writers from separate
//! connections pools (as replicas are) losing no update, a corrupt row reported whole, and
//! three `triage serve` replicas on one database with one killed by SIGKILL mid-way.
#![cfg(all(not(target_arch = "wasm32"), feature = "postgres"))]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::models_dir;
use common::postgres::Postgres;
use serde_json::{Value, json};
use triage::api::Access;
use triage::classify::fewshot::Classifier;
use triage::error::TriageError;
use triage::store::postgres::PgStore;
use triage::store::{ClassifierRecord, ClassifierStore};

const NEEDS_POSTGRES: &str = "needs PostgreSQL's server binaries: `bash tests/run.sh` installs them and runs it";

fn record(id: &str, labels: &[&str]) -> ClassifierRecord {
    let mut classifier = Classifier::new(2);
    let examples: Vec<(Vec<f32>, String)> =
        labels.iter().enumerate().map(|(i, l)| (vec![1.0, i as f32], l.to_string())).collect();
    classifier.train(&examples, &[], 1);
    ClassifierRecord::new(id.into(), "all-minilm-l6-v2".into(), Access::Public, classifier)
}

#[test]
#[ignore = "needs PostgreSQL's server binaries: `bash tests/run.sh` installs them and runs it"]
fn compare_and_swap_contract_and_corrupt_rows() {
    let _ = NEEDS_POSTGRES;
    let pg = Postgres::start();
    let store = PgStore::connect(&pg.url()).unwrap();
    // A second connect applies no migration twice.
    let again = PgStore::connect(&pg.url()).unwrap();
    pollster::block_on(async {
        store.check().await.unwrap();
        let first = store.put(record("c1", &["a", "b"]), None).await.unwrap();
        assert_eq!(first.version, 1);
        let taken = store.put(record("c1", &["x", "y"]), None).await;
        assert!(matches!(taken, Err(TriageError::Conflict { .. })), "{taken:?}");
        let second = again.put(first.clone(), Some(1)).await.unwrap();
        assert_eq!(second.version, 2);
        // A writer that read version 1 loses, and is told so; the row keeps version 2.
        assert!(matches!(store.put(first, Some(1)).await, Err(TriageError::Conflict { .. })));
        let read = store.get("c1").await.unwrap().unwrap();
        assert_eq!(read, second, "the record reads back exactly as written");
        store.put(record("c2", &["c", "d"]), None).await.unwrap();
        let listed: Vec<String> = again.list().await.unwrap().into_iter().map(|r| r.classifier_id).collect();
        assert_eq!(listed, ["c1", "c2"]);
        assert!(store.get("missing").await.unwrap().is_none());
        assert!(store.put(record("../x", &["a", "b"]), None).await.is_err());

        // A row no triage could have written is an error naming it, not a half-read record.
        pg.psql(
            "UPDATE triage_classifiers SET record = jsonb_set(record, '{classifier,weights}', '[[1]]') WHERE classifier_id = 'c2'",
        );
        let err = store.get("c2").await.unwrap_err();
        assert_eq!(err.code(), "INTERNAL_ERROR");
        assert!(err.to_string().contains("corrupt"), "{err}");

        assert!(store.delete("c1").await.unwrap());
        assert!(!again.delete("c1").await.unwrap());
        assert!(matches!(store.put(second, Some(2)).await, Err(TriageError::Conflict { .. })), "deleted meanwhile");
    });
    assert_eq!(pg.psql("SELECT count(*) FROM _sqlx_migrations"), "1");
    drop(store);
    // The database gone: the probe says so instead of hanging.
    drop(pg);
    let started = Instant::now();
    assert!(pollster::block_on(again.check()).is_err());
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Sixteen writers, each on its own connection pool (as separate replicas are), add a label
/// each to one classifier by read → train → compare-and-swap, retrying on conflict: every
/// label is there at the end.
#[test]
#[ignore = "needs PostgreSQL's server binaries: `bash tests/run.sh` installs them and runs it"]
fn concurrent_writers_on_separate_pools_lose_no_update() {
    let pg = Postgres::start();
    let url = pg.url();
    pollster::block_on(PgStore::connect(&url).unwrap().put(record("shared", &["seed", "seed-2"]), None)).unwrap();
    let conflicts = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (url, conflicts) = (url.clone(), conflicts.clone());
            std::thread::spawn(move || {
                let store = PgStore::connect(&url).unwrap();
                pollster::block_on(async {
                    loop {
                        let mut current = store.get("shared").await.unwrap().unwrap();
                        let expected = current.version;
                        current.classifier.train(&[(vec![0.5, w as f32], format!("label-{w}"))], &[], 1);
                        match store.put(current, Some(expected)).await {
                            Ok(_) => break,
                            Err(TriageError::Conflict { .. }) => conflicts.fetch_add(1, Ordering::Relaxed),
                            Err(e) => panic!("{e}"),
                        };
                    }
                })
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let last = pollster::block_on(PgStore::connect(&url).unwrap().get("shared")).unwrap().unwrap();
    let labels: BTreeSet<&str> = last.classifier.labels().iter().map(String::as_str).collect();
    assert_eq!(labels.len(), 18, "{labels:?}");
    assert_eq!(last.version, 17, "one version per update");
    println!("16 concurrent writers: {} conflicts retried, 0 updates lost", conflicts.load(Ordering::Relaxed));
}

/// A `triage serve` replica on `url`, on a free port.
struct Replica {
    child: std::process::Child,
    base: String,
}

impl Replica {
    fn start(url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["serve", "--quiet", "--port", &port.to_string(), "--store", url])
            .env("TRIAGE_MODELS_DIR", models_dir())
            .spawn()
            .unwrap();
        Replica { child, base: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three replicas on one PostgreSQL, clients rotating over them as a round-robin balancer
/// does: concurrent trains (each adding a new label to one of four shared classifiers) and
/// classifies, and one replica killed with SIGKILL half-way. Afterwards every label whose
/// train was answered 200 is in its classifier (no lost update), the only failures are
/// requests to the killed replica, and every classifier reads back on each survivor.
#[cfg(unix)]
#[test]
#[ignore = "needs PostgreSQL and the real model files: `bash tests/run.sh` provides both and runs it"]
fn three_replicas_one_database_one_killed_mid_way() {
    let pg = Postgres::start();
    let url = pg.url();
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&url)).collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let started = Instant::now();
    for r in &replicas {
        while agent.get(&format!("{}/ready", r.base)).call().map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
            assert!(started.elapsed() < Duration::from_secs(180), "{} never got ready", r.base);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let post = |base: &str, path: &str, body: &Value| -> Result<(u16, Value), String> {
        let mut response = agent.post(&format!("{base}{path}")).send_json(body).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_json::<Value>().unwrap_or(Value::Null)))
    };
    // Four classifiers, created through different replicas.
    let ids: Vec<String> = (0..4)
        .map(|c| {
            let body = json!({"model": "all-minilm-l6-v2", "access": "public",
                "input": [{"text": format!("seed text of classifier {c}"), "label": "seed"},
                          {"text": format!("another seed of classifier {c}"), "label": "seed-2"}]});
            let (status, answer) = post(&replicas[c % 3].base, "/v1/train", &body).unwrap();
            assert_eq!(status, 200, "{answer}");
            answer["classifier_id"].as_str().unwrap().to_string()
        })
        .collect();

    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let killed_base = bases[2].clone();
    let (clients, per_client) = (8, 12);
    let answered = std::sync::Mutex::new(Vec::<(usize, String)>::new());
    let failures = std::sync::Mutex::new(Vec::<(String, String)>::new());
    let requests = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let mut replicas = replicas;
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (bases, ids, answered, failures, requests, done) =
                (&bases, &ids, &answered, &failures, &requests, &done);
            let post = &post;
            scope.spawn(move || {
                for n in 0..per_client {
                    let base = &bases[(client + n) % 3];
                    let c = (client * 7 + n) % ids.len();
                    requests.fetch_add(1, Ordering::Relaxed);
                    let (path, body, label) = if n % 3 == 2 {
                        let body = json!({"classifier_id": ids[c], "input": [format!("what is {client} {n}?")]});
                        ("/v1/classify", body, None)
                    } else {
                        let label = format!("label-{client}-{n}");
                        let body = json!({"classifier_id": ids[c],
                            "input": [{"text": format!("a text for {label}"), "label": label}]});
                        ("/v1/train", body, Some(label))
                    };
                    match post(base, path, &body) {
                        Ok((200, _)) => {
                            if let Some(label) = label {
                                answered.lock().unwrap().push((c, label));
                            }
                        }
                        Ok((status, answer)) => {
                            failures.lock().unwrap().push((base.clone(), format!("{status} {answer}")))
                        }
                        Err(e) => failures.lock().unwrap().push((base.clone(), e)),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // SIGKILL the third replica half-way through.
        while done.load(Ordering::Relaxed) < clients * per_client / 2 {
            std::thread::sleep(Duration::from_millis(10));
        }
        replicas[2].child.kill().unwrap();
        replicas[2].child.wait().unwrap();
    });

    let failures = failures.into_inner().unwrap();
    let answered = answered.into_inner().unwrap();
    let others: Vec<_> = failures.iter().filter(|(base, _)| *base != killed_base).collect();
    assert!(others.is_empty(), "failures on surviving replicas: {others:?}");
    let mut lost = 0;
    for survivor in &bases[..2] {
        for (c, id) in ids.iter().enumerate() {
            let mut response = agent.get(&format!("{survivor}/v1/classifiers")).call().unwrap();
            let list: Value = response.body_mut().read_json().unwrap();
            let summary = list.as_array().unwrap().iter().find(|s| s["classifier_id"] == id.as_str()).unwrap().clone();
            let labels: BTreeSet<&str> =
                summary["labels"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            lost += answered.iter().filter(|(at, label)| *at == c && !labels.contains(label.as_str())).count();
            let (status, answer) =
                post(survivor, "/v1/classify", &json!({"classifier_id": id, "input": ["a question"]})).unwrap();
            assert_eq!(status, 200, "{answer}");
        }
    }
    println!(
        "3 replicas, 1 killed half-way: {} requests, {} trains answered 200, {} failed (all on the killed replica), {lost} lost updates",
        requests.load(Ordering::Relaxed),
        answered.len(),
        failures.len()
    );
    assert_eq!(lost, 0, "updates answered 200 but missing afterwards");
    assert!(pg.psql("SELECT count(*) FROM triage_classifiers") == "4");
}
