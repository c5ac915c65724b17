//! Image inputs through the engine, as requests arrive: jina-clip (tiny fixture weights)
//! classifying and training on text and images mixed, images given as base64, data URLs and
//! http URLs (a local server), usage counted per the registry's rule, and a matrix of bad
//! images each refused with its error while nothing stored changes; and the text-only
//! jina-embeddings-v2-base-en through the same requests.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use base64::Engine as _;
use common::{block_on, fixtures};
use serde_json::{Value, json};
use triage::engine::encoder::Encoder;
use triage::image::UrlPolicy;
use triage::registry::{self, ModelSpec};
use triage::store::{ClassifierStore, FsStore};
use triage::{Engine, TriageError};

fn tiny_engine(dir: &std::path::Path) -> Engine<FsStore> {
    Engine::new(
        FsStore::open(dir).unwrap(),
        Box::new(|spec: &'static ModelSpec| {
            Encoder::from_dir(spec, &fixtures().join("tiny-models").join(spec.id), &burn::tensor::Device::flex(), false)
        }),
    )
    .with_default_model(registry::find("jina-clip-v2").unwrap())
    // The test's image server is on loopback.
    .with_image_urls(UrlPolicy::AnyHost)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn image(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("images").join(path)).unwrap()
}

/// A local HTTP server: `/clip.png`, `/big.png` (9 MB), `/page.html`; anything else 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let png = image("CLIP.png");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let n = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..n]).lines().next().unwrap_or("").to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let (status, kind, body): (&str, &str, Vec<u8>) = match path {
                "/clip.png" => ("200 OK", "image/png", png.clone()),
                "/big.png" => ("200 OK", "image/png", vec![0u8; 9 << 20]),
                "/page.html" => ("200 OK", "text/html", b"<html>not an image</html>".to_vec()),
                _ => ("404 Not Found", "text/plain", b"no".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn mixed_text_and_images_classify_and_train() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path());
    let server = serve();
    let png = image("CLIP.png");
    for model in ["jina-clip-v1", "jina-clip-v2"] {
        let labels = ["a diagram", "a photo of fabric", "text"];
        let request = json!({
            "model": model,
            "input": [
                {"text": "a diagram of a neural network"},
                {"image": b64(&png)},
                {"image": format!("data:image/png;base64,{}", b64(&png))},
                {"image": format!("{server}/clip.png")},
                "plain string input",
                {"image": b64(&image("textile/local/textile_0001.jpg"))},
            ],
            "labels": labels,
        });
        let r = serde_json::to_value(block_on(engine.classify_json(&request)).unwrap()).unwrap();
        let s = common::scores(&r);
        assert_eq!(s.len(), 6, "{model}");
        for (i, input) in s.iter().enumerate() {
            let total: f64 = input.iter().map(|(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-4, "{model} input {i}: scores sum to {total}");
            assert_eq!(input.len(), 3);
        }
        // The same image by base64, data URL and URL gives the same answer.
        assert_eq!(s[1], s[2], "{model}");
        assert_eq!(s[1], s[3], "{model}");
        assert_ne!(s[1], s[5], "{model}: two different images scored alike");
        // Usage: the texts' and labels' tokens plus each image's count.
        let spec = registry::find(model).unwrap();
        let model_ = engine.model(spec).unwrap();
        let task = model_.task(None).unwrap();
        let text_tokens: usize = model_
            .tokenize(&["a diagram of a neural network", "plain string input"], task)
            .unwrap()
            .iter()
            .chain(model_.tokenize(&labels, task).unwrap().iter())
            .map(Vec::len)
            .sum();
        let per_image = match model {
            // 1,000 per image.
            "jina-clip-v1" => [1000, 1000, 1000, 1000],
            // 4,000 per 512×512 tile: CLIP.png's tiles from its decoded size; the 250×250 textile is one.
            _ => {
                let d = triage::image::decode(&png).unwrap();
                let tiles = (d.width().div_ceil(512) * d.height().div_ceil(512)) as usize;
                [4000 * tiles, 4000 * tiles, 4000 * tiles, 4000]
            }
        };
        assert_eq!(r["usage"]["total_tokens"], text_tokens + per_image.iter().sum::<usize>(), "{model}");
    }

    // Few-shot on jina-clip-v2: textile images of three classes mixed with text items.
    let mut items = Vec::new();
    for class in ["nominal", "local", "global"] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures().join("images/textile").join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files.iter().take(4) {
            items.push(json!({"image": b64(&std::fs::read(f).unwrap()), "label": class}));
        }
        items.push(json!({"text": format!("a {class} textile defect"), "label": class}));
    }
    let trained =
        block_on(engine.train_json(&json!({"model": "jina-clip-v2", "input": items.clone(), "num_iters": 20})))
            .unwrap();
    assert_eq!(trained.num_samples, items.len());
    let inputs: Vec<Value> = items
        .iter()
        .map(|i| if let Some(img) = i.get("image") { json!({"image": img}) } else { json!({"text": i["text"]}) })
        .collect();
    let r = serde_json::to_value(
        block_on(engine.classify_json(&json!({"classifier_id": trained.classifier_id, "input": inputs}))).unwrap(),
    )
    .unwrap();
    let data = r["data"].as_array().unwrap();
    assert_eq!(data.len(), items.len());
    let right = data.iter().zip(&items).filter(|(d, i)| d["prediction"] == i["label"]).count();
    println!("few-shot on the training items: {right}/{} predicted back", items.len());
    assert!(data.iter().all(|d| ["nominal", "local", "global"].contains(&d["prediction"].as_str().unwrap())));
}

fn snapshot(engine: &Engine<FsStore>) -> Vec<String> {
    let mut records: Vec<String> =
        block_on(engine.store().list()).unwrap().iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    records.sort();
    records
}

/// A PNG whose header declares `w × h` (then a tiny, wrong IDAT): a decompression bomb's shape.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let crc = crc32(&ihdr);
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc.to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01".to_vec();
    out.extend(((idat.len() - 4) as u32).to_be_bytes());
    out.extend(&idat);
    out.extend(crc32(&idat).to_be_bytes());
    out.extend(0u32.to_be_bytes());
    out.extend(b"IEND");
    out.extend(crc32(b"IEND").to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn bad_images_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path());
    let server = serve();
    let png = image("CLIP.png");
    let jpg = image("textile/local/textile_0001.jpg");
    let created = block_on(engine.train_json(&json!({
        "model": "jina-clip-v2",
        "input": [{"image": b64(&png), "label": "diagram"}, {"text": "woven cloth", "label": "fabric"}]
    })))
    .unwrap();
    let before = snapshot(&engine);
    let mut corrupt = png.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 64].iter_mut().for_each(|b| *b ^= 0x5a);
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "must not be empty"),
        ("blank", "   ".into(), "must not be empty"),
        ("not base64", "not base64 at all!!".into(), "neither an http(s) URL nor valid base64"),
        ("data URL, not base64", "data:image/png,abc".into(), "not base64"),
        ("data URL, not an image", format!("data:text/plain;base64,{}", b64(b"hello")), "not an image"),
        ("file URL", "file:///etc/passwd".into(), "are not fetched"),
        ("ftp URL", "ftp://example.org/a.png".into(), "are not fetched"),
        ("text bytes", b64(b"hello world, I am not an image"), "not an image in a known format"),
        ("TIFF", b64(b"II*\x00\x08\x00\x00\x00\x00\x00"), "TIFF images are not supported"),
        ("truncated PNG", b64(&png[..100]), "cannot decode the PNG image"),
        ("truncated JPEG", b64(&jpg[..jpg.len() / 3]), "cannot decode the JPEG image"),
        ("corrupt PNG data", b64(&corrupt), "cannot decode the PNG image"),
        ("decompression bomb", b64(&png_header(100_000, 100_000)), "at most 50000000 are decoded"),
        ("zero width", b64(&png_header(0, 10)), "PNG image"),
        ("over 8 MB", b64(&vec![0u8; 9 << 20]), "8 MB"),
        ("URL 404", format!("{server}/missing.png"), "answered HTTP 404"),
        ("URL unreachable", "http://127.0.0.1:9/a.png".into(), "cannot fetch the image URL"),
        ("URL over 8 MB", format!("{server}/big.png"), "larger than 8 MB"),
        ("URL not an image", format!("{server}/page.html"), "not an image in a known format"),
    ];
    assert!(cases.len() >= 15);
    for (name, value, expected) in &cases {
        let calls = [
            json!({"model": "jina-clip-v2", "input": ["fine text", {"image": value}], "labels": ["a", "b"]}),
            json!({"model": "jina-clip-v2", "input": [{"text": "ok", "label": "a"}, {"image": value, "label": "b"}]}),
            json!({"classifier_id": created.classifier_id, "input": [{"text": "ok", "label": "fabric"}, {"image": value, "label": "diagram"}]}),
            json!({"classifier_id": created.classifier_id, "input": [{"image": value}]}),
        ];
        for (k, call) in calls.iter().enumerate() {
            let result: Result<(), TriageError> = if k == 0 || k == 3 {
                block_on(engine.classify_json(call)).map(drop)
            } else {
                block_on(engine.train_json(call)).map(drop)
            };
            let err = result.err().unwrap_or_else(|| panic!("{name} (call {k}) accepted"));
            assert_eq!(err.code(), "INPUT_VALIDATION_ERROR", "{name} (call {k}): {err}");
            assert_eq!(err.http_status(), 422);
            assert!(err.to_string().contains(expected), "{name} (call {k}): {err}");
            // The bad image is item 1 of calls 0–2 and item 0 of call 3.
            let field = if k == 3 { "input[0]" } else { "input[1]" };
            assert!(err.to_string().starts_with(&format!("{field}: ")), "{name} (call {k}): {err}");
        }
        assert_eq!(snapshot(&engine), before, "{name} changed the store");
        println!("{name}: {}", block_on(engine.classify_json(&calls[0])).err().unwrap());
    }
    // An image for a text-only model.
    let err =
        block_on(engine.classify_json(
            &json!({"model": "jina-embeddings-v3", "input": [{"image": b64(&png)}], "labels": ["a", "b"]}),
        ))
        .err()
        .unwrap();
    assert!(err.to_string().contains("has no image tower"), "{err}");
    assert_eq!(snapshot(&engine), before);
}

#[test]
fn image_urls_reaching_this_servers_network_are_refused_by_default() {
    let server = serve();
    let port = server.rsplit(':').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let shared = tiny_engine(dir.path()).with_image_urls(UrlPolicy::default());
    for url in [
        format!("{server}/clip.png"),
        format!("http://localhost:{port}/clip.png"),
        format!("http://[::1]:{port}/clip.png"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/a.png".to_string(),
        "http://192.168.1.1/a.png".to_string(),
        "http://[::ffff:127.0.0.1]:9/a.png".to_string(),
    ] {
        let call = json!({"model": "jina-clip-v2", "input": [{"image": url}], "labels": ["a", "b"]});
        let before = snapshot(&shared);
        let err = block_on(shared.classify_json(&call)).unwrap_err();
        assert_eq!(err.code(), "INPUT_VALIDATION_ERROR", "{url}");
        assert!(err.to_string().contains("not on the public internet"), "{url}: {err}");
        assert_eq!(snapshot(&shared), before);
    }
    // The same URL is fetched once allowed (local use).
    let local = tiny_engine(dir.path());
    let call =
        json!({"model": "jina-clip-v2", "input": [{"image": format!("{server}/clip.png")}], "labels": ["a", "b"]});
    assert!(block_on(local.classify_json(&call)).is_ok());
}

/// jina-embeddings-v2-base-en (the tiny JinaBERT fixture) through the same requests: zero-shot,
/// training then few-shot, embeddings of its width; a `task` (it has no adapters) and an image
/// (it has no image tower) are refused on their fields and store nothing.
#[test]
fn jina_embeddings_v2_classifies_trains_and_embeds_text_only() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path());
    let model = "jina-embeddings-v2-base-en";
    let zero =
        serde_json::to_value(
            block_on(engine.classify_json(
                &json!({"model": model, "input": ["a photo of a cat", "x"], "labels": ["cat", "weave"]}),
            ))
            .unwrap(),
        )
        .unwrap();
    assert_eq!(zero["data"].as_array().unwrap().len(), 2);
    for row in zero["data"].as_array().unwrap() {
        let total: f64 = row["predictions"].as_array().unwrap().iter().map(|p| p["score"].as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{row}");
    }
    let trained = block_on(engine.train_json(&json!({
        "model": model,
        "input": [{"text": "a photo of a cat", "label": "animal"}, {"text": "global pattern shift", "label": "fabric"}],
    })))
    .unwrap();
    let few = serde_json::to_value(
        block_on(engine.classify_json(&json!({"classifier_id": trained.classifier_id, "input": ["a photo of a cat"]})))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(few["data"][0]["prediction"], "animal");
    let embedded = block_on(engine.embeddings_json(&json!({"model": model, "input": ["nominal"]}))).unwrap();
    let embedded = serde_json::to_value(embedded).unwrap();
    assert_eq!(embedded["data"][0]["embedding"].as_array().unwrap().len(), 48);

    let before = snapshot(&engine);
    let with_task = json!({"model": model, "input": ["x"], "labels": ["a", "b"], "task": "classification"});
    let err = block_on(engine.classify_json(&with_task)).unwrap_err();
    assert_eq!(err.code(), "INPUT_VALIDATION_ERROR", "{err}");
    assert!(err.to_string().contains("no task adapters"), "{err}");
    let with_image = json!({"model": model, "input": [{"image": b64(&image("CLIP.png")), "label": "a"}, {"text": "x", "label": "b"}]});
    let err = block_on(engine.train_json(&with_image)).unwrap_err();
    assert_eq!(err.code(), "INPUT_VALIDATION_ERROR", "{err}");
    assert!(err.to_string().contains("image"), "{err}");
    assert_eq!(snapshot(&engine), before);
}
