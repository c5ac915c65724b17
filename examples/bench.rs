//! Embeddings per second at batch 1, 8 and 32 on ~64-token sentences (JSON lines); for models
//! with an image tower, images per second at the same batch sizes too (a benchmark, not a test).
//!
//! ```text
//! cargo run --release --example bench -- --model all-minilm-l6-v2 --batches 1,8,32
//! cargo run --release --features wgpu --example bench -- --backend wgpu
//! ```
//!
//! `benches/run.sh`, `benches/v3/run.sh` and `benches/clip/run.sh` run it beside the peers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use triage::TriageError;
use triage::engine::encoder::{Encoder, TaskChoice};
use triage::faces::cli::{Backend, device};
use triage::loader::weights::Precision;
use triage::registry;

#[derive(Parser)]
#[command(name = "bench", about = "Embeddings (and images) per second of one model, as JSON lines")]
struct BenchArgs {
    /// Directory holding one folder of files per model (`triage pull` fills it).
    #[arg(long, env = "TRIAGE_MODELS_DIR", default_value = "models/cache")]
    models_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Accepted for the bench scripts' sake: the bench never draws a progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[arg(long, default_value = registry::OFFLINE_DEFAULT_MODEL)]
    model: String,
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 8, 32])]
    batches: Vec<usize>,
    /// Seconds to spend per batch size (after one warm-up batch).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// File of sentences, one per line (default: generated ~64-token sentences).
    #[arg(long)]
    texts: Option<PathBuf>,
    /// Write the sentences used to this file (so peers can run the same ones).
    #[arg(long)]
    write_texts: Option<PathBuf>,
    /// Write the normalised embeddings of the first 32 sentences to this file (a JSON array
    /// of arrays), so a peer's output can be checked against triage's before it is timed.
    #[arg(long)]
    write_embeddings: Option<PathBuf>,
    /// Instead of sentences, synthetic inputs of exactly these many tokens each
    /// (special tokens included), one run per length.
    #[arg(long, value_delimiter = ',')]
    tokens: Vec<usize>,
    /// Keep the base weights and run every task, classification included, on the
    /// low-rank path (by default the classification adapter is folded in at load).
    #[arg(long)]
    unfolded: bool,
    /// Load the model, print the load time and exit (for peak-memory measurements).
    #[arg(long)]
    load_only: bool,
    /// Store (and compute) the weights in f16, as a browser page's CPU backend does for
    /// models whose f32 weights exceed its memory; embeddings are first compared with
    /// the f32 model on the CPU backend.
    #[arg(long)]
    f16: bool,
}

/// ~64-token English sentences, deterministic.
fn generated_sentences(n: usize) -> Vec<String> {
    #[rustfmt::skip]
    const WORDS: &[&str] = &[
        "the", "model", "classifies", "short", "texts", "into", "labels", "while", "keeping",
        "every", "document", "private", "on", "this", "machine", "and", "a", "browser", "tab",
        "runs", "it", "offline", "with", "weights", "cached", "locally", "for", "quick", "answers",
        "about", "support", "tickets", "invoices", "reviews", "news", "articles", "emails",
        "customers", "send", "daily",
    ];
    let mut state = 0x5eed_u64;
    (0..n)
        .map(|_| {
            (0..55)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    WORDS[(state >> 33) as usize % WORDS.len()]
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Calls `call(k)` once to warm up (k = 0), then with k = 1, 2, … until `seconds` have passed
/// (at least once): (items done, seconds) for calls of `batch` items each.
fn throughput(
    batch: usize,
    seconds: f64,
    mut call: impl FnMut(usize) -> Result<(), TriageError>,
) -> Result<(usize, f64), TriageError> {
    call(0)?;
    let (mut done, mut k, t) = (0usize, 1usize, Instant::now());
    while t.elapsed().as_secs_f64() < seconds || done == 0 {
        call(k)?;
        done += batch;
        k += 1;
    }
    Ok((done, t.elapsed().as_secs_f64()))
}

fn rounded(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn bench(args: &BenchArgs) -> Result<(), TriageError> {
    let BenchArgs {
        model,
        batches,
        seconds,
        texts,
        write_texts,
        write_embeddings,
        backend,
        models_dir,
        tokens,
        unfolded,
        load_only,
        f16,
        ..
    } = args;
    let (seconds, backend, unfolded, load_only, f16) = (*seconds, *backend, *unfolded, *load_only, *f16);
    let models_dir: &Path = models_dir;
    let spec = registry::find(model)?;
    let started = Instant::now();
    let precision = if f16 { Precision::F16 } else { Precision::F32 };
    let mut encoder = Encoder::from_dir_in(spec, &models_dir.join(spec.id), &device(backend)?, true, precision)?;
    if unfolded {
        encoder = encoder.fold_task(TaskChoice::NONE);
    }
    // Work is queued lazily on some backends: finish loading before the clock stops.
    pollster::block_on(encoder.embed_ids(&[vec![0, 2]], encoder.task(None)?))?;
    let load_s = started.elapsed().as_secs_f64();
    // Which adapter the weights carry: the model's classification task folded in at load.
    let lora = match (spec.tasks.is_empty(), unfolded) {
        (true, _) => None,
        (false, true) => Some("low-rank".to_string()),
        (false, false) => Some(format!("{} folded", spec.classification_task.unwrap_or(spec.tasks[0].name))),
    };
    let backend_name = match backend {
        Backend::Flex => "flex",
        Backend::Wgpu => "wgpu",
    };
    let impl_name = format!("triage-{backend_name}{}", if f16 { "-f16" } else { "" });
    println!(
        "{}",
        serde_json::json!({"impl": impl_name, "model": spec.id, "load_s": rounded(load_s, 3), "lora": lora})
    );
    if load_only {
        return Ok(());
    }
    let sentences = match texts.as_deref() {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| TriageError::internal("reading texts", e))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        None => generated_sentences(256),
    };
    if let Some(path) = write_texts.as_deref() {
        std::fs::write(path, sentences.join("\n")).map_err(|e| TriageError::internal("writing texts", e))?;
    }
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let task = encoder.task(None)?;
    let ids = encoder.tokenize(&refs, task)?;
    if let Some(path) = write_embeddings.as_deref() {
        let first = pollster::block_on(encoder.embed_ids(&ids[..ids.len().min(32)], task))?;
        std::fs::write(path, serde_json::json!(first).to_string())
            .map_err(|e| TriageError::internal("writing embeddings", e))?;
    }
    // Workloads: the sentences, or inputs of exactly N tokens (the start of all sentences
    // run together, ended by the end token).
    let workloads: Vec<Vec<Vec<u32>>> = if tokens.is_empty() {
        vec![ids.clone()]
    } else {
        let long = encoder.tokenize(&[sentences.join(" ").as_str()], task)?.remove(0);
        tokens
            .iter()
            .map(|&n| {
                if n < 2 || n > long.len() {
                    return Err(TriageError::validation(
                        "tokens",
                        format!("{n} tokens: this model reads 2 to {}", long.len()),
                    ));
                }
                let mut seq = long[..n - 1].to_vec();
                seq.push(long[long.len() - 1]);
                Ok(vec![seq])
            })
            .collect::<Result<_, _>>()?
    };
    // A 640×480 photo-like PNG, preprocessed for the image tower (if the model has one).
    let pixels = match encoder.image_size() {
        Some(size) => {
            let photo = image::RgbImage::from_fn(640, 480, |x, y| {
                image::Rgb([(x * 255 / 640) as u8, (y * 255 / 480) as u8, ((x ^ y) & 0xff) as u8])
            });
            let mut png = Vec::new();
            photo
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| TriageError::internal("encoding the bench image", e))?;
            let t = Instant::now();
            let pixels = triage::image::preprocess(&png, size).map_err(|e| TriageError::validation("image", e))?;
            Some((pixels, size, t.elapsed().as_secs_f64() * 1000.0))
        }
        None => None,
    };
    if backend != Backend::Flex || f16 {
        // Speed means nothing if the numbers are wrong: compare with f32 on the CPU backend first.
        // The reference folds as the default load does, so with --unfolded the check covers the refold too.
        let reference = Encoder::from_dir(spec, &models_dir.join(spec.id), &burn::tensor::Device::flex(), false)?;
        // A few texts: a software GPU (lavapipe) takes minutes per batch of the full model.
        let sample: Vec<Vec<u32>> = ids.iter().take(4).cloned().collect();
        let want = pollster::block_on(reference.embed_ids(&sample, task))?;
        let got = pollster::block_on(encoder.embed_ids(&sample, task))?;
        let (min_cos, max_diff) = triage::classify::agreement(&got, &want);
        println!(
            "{}",
            serde_json::json!({"check": "text embeddings vs f32 on flex", "texts": sample.len(), "min_cosine": min_cos, "max_abs_diff": max_diff})
        );
        if let Some((pixels, _, _)) = &pixels {
            let images = [pixels.clone()];
            let want = pollster::block_on(reference.embed_images(&images))?;
            let got = pollster::block_on(encoder.embed_images(&images))?;
            let (min_cos, max_diff) = triage::classify::agreement(&got, &want);
            println!(
                "{}",
                serde_json::json!({"check": "image embeddings vs f32 on flex", "images": 1, "min_cosine": min_cos, "max_abs_diff": max_diff})
            );
        }
    }
    for ids in &workloads {
        let mean_tokens = ids.iter().map(Vec::len).sum::<usize>() as f64 / ids.len() as f64;
        for &batch in batches {
            let chunk =
                |k: usize| -> Vec<Vec<u32>> { (0..batch).map(|j| ids[(k * batch + j) % ids.len()].clone()).collect() };
            let (done, secs) =
                throughput(batch, seconds, |k| pollster::block_on(encoder.embed_ids(&chunk(k), task)).map(drop))?;
            println!(
                "{}",
                serde_json::json!({
                    "impl": impl_name, "model": spec.id, "batch": batch,
                    "mean_tokens": rounded(mean_tokens, 1), "embeddings": done,
                    "seconds": rounded(secs, 3), "emb_per_s": rounded(done as f64 / secs, 2),
                    "load_s": rounded(load_s, 3), "lora": lora,
                })
            );
        }
    }
    // Decoding + resize + crop was timed apart from the tower.
    if let Some((pixels, size, preprocess_ms)) = pixels {
        for &batch in batches {
            let chunk = vec![pixels.clone(); batch];
            let (done, secs) =
                throughput(batch, seconds, |_| pollster::block_on(encoder.embed_images(&chunk)).map(drop))?;
            println!(
                "{}",
                serde_json::json!({
                    "impl": impl_name, "model": spec.id, "input": "image", "image_size": size,
                    "batch": batch, "images": done, "seconds": rounded(secs, 3),
                    "images_per_s": rounded(done as f64 / secs, 3), "preprocess_ms_640x480_png": rounded(preprocess_ms, 1),
                })
            );
        }
    }
    Ok(())
}

fn main() {
    let args = BenchArgs::parse();
    if let Err(e) = bench(&args) {
        eprintln!("bench: {} ({})", e, e.code());
        std::process::exit(1);
    }
}
