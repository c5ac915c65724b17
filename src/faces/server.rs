//! `triage serve`: Jina's Classifier API on a local port, so existing Jina clients (and the
//! Classifier page's `curl` sample, with only the URL changed) run against this machine, and
//! the demo page with the model files it loads in the browser.
//!
//! Endpoints and shapes follow Jina's published schema (`jina-openapi-2026.json`):
//! `POST /v1/classify`, `POST /v1/train`, `GET|POST /v1/classifiers`,
//! `DELETE /v1/classifiers/{id}`, `POST /v1/embeddings`, `GET /v1/models`,
//! `GET /v1/models/{id}`, `GET /health|/live|/ready`. Every error is Jina's `ErrorResponse`
//! with the status Jina uses ([`TriageError::http_status`]).
//!
//! Keys: without any, every caller is [`Caller::Local`] (any `Authorization` header, the
//! sample's empty `Bearer ` included, is accepted). With keys, `/v1/*` needs
//! `Authorization: Bearer <key>`; a classifier belongs to the key that trained it (see
//! [`Caller`]). Keys are kept only as SHA-256 digests.
//!
//! The engine computes synchronously: each request runs on tokio's blocking pool, at most
//! `max_concurrent` model computations at once (burn-flex already spreads one over every
//! core), each within `timeout` (queueing included). A computation cut off by the timeout
//! finishes in the background and is then dropped; it changes the store only if it was a
//! training that completed.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::api::{ClassifyRequest, TrainRequest};
use crate::engine::{Caller, Engine, parse_body};
use crate::error::{Result, TriageError};
use crate::registry::{self, ModelSpec};
use crate::store::ClassifierStore;

/// How the server behaves; [`ServerOptions::default`] is what `triage serve` starts with.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Accepted API keys; empty: no authentication.
    pub api_keys: Vec<String>,
    /// Largest request body read (larger ones are refused before they are read whole).
    pub max_body_bytes: usize,
    /// Longest a request may take, waiting for a compute slot included.
    pub timeout: Duration,
    /// Model computations (classify, train, embeddings) run at once; others queue.
    pub max_concurrent: usize,
    /// The demo page's files, served at `/`.
    pub www_dir: Option<PathBuf>,
    /// The npm package's files, served at `/pkg/`.
    pub pkg_dir: Option<PathBuf>,
    /// Model files, served at `/models/` (the page loads weights from here) and reported by
    /// `/v1/models` as present or not.
    pub models_dir: PathBuf,
    /// Requests a minute each API key may send to `/v1/*` (per client address on a server
    /// without keys); `None`: no limit.
    pub rate_limit_per_minute: Option<std::num::NonZeroU32>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            max_body_bytes: 32 << 20,
            timeout: Duration::from_secs(300),
            max_concurrent: 2,
            www_dir: None,
            pkg_dir: None,
            models_dir: PathBuf::from("models/cache"),
            rate_limit_per_minute: None,
        }
    }
}

struct App<S: ClassifierStore> {
    engine: Arc<Engine<S>>,
    /// SHA-256 of each accepted key, hex.
    keys: HashSet<String>,
    compute: Arc<Semaphore>,
    /// One request bucket per caller (a key's digest, or a client address), when limited.
    rate_limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    options: ServerOptions,
}

type Shared<S> = Arc<App<S>>;

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A JSON body with status 200, or Jina's error.
fn respond<T: Serialize>(result: Result<T>) -> Response {
    match result.and_then(|v| serde_json::to_vec(&v).map_err(|e| TriageError::internal("encoding response", e))) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &TriageError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], e.to_json()).into_response();
    match e {
        TriageError::Unauthorized { .. } => {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        TriageError::RateLimited { retry_after_secs, .. } => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    response
}

impl<S: ClassifierStore + Send + Sync + 'static> App<S> {
    /// Who is calling, from the `Authorization` header (Jina's 401 codes when keys are set).
    fn caller(&self, headers: &HeaderMap) -> Result<Caller> {
        if self.keys.is_empty() {
            return Ok(Caller::Local);
        }
        let unauthorized = |code, detail: &str| TriageError::Unauthorized { code, detail: detail.to_string() };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "AUTH_MISSING_API_KEY",
                "Authentication required. Provide your API key via the Authorization header: 'Authorization: Bearer <api-key>'.",
            ));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                unauthorized(
                    "AUTH_INVALID_FORMAT",
                    "Invalid authorization format. Use 'Authorization: Bearer <api-key>'.",
                )
            })?;
        let hashed = digest(key);
        if !self.keys.contains(&hashed) {
            return Err(unauthorized(
                "AUTH_INVALID_API_KEY",
                "Invalid API key. Verify the key this server was started with (--api-key or TRIAGE_API_KEYS).",
            ));
        }
        Ok(Caller::Key(hashed))
    }

    /// The body as JSON, read up to the limit.
    async fn json_body(&self, body: Body) -> Result<Value> {
        let limit = self.options.max_body_bytes;
        let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            TriageError::validation(
                "body",
                format!("The request body is larger than the {limit} bytes this server accepts (--max-body-bytes)"),
            )
        })?;
        parse_body(&bytes)
    }

    /// Runs `work` on the blocking pool within the timeout; with `compute`, only once a
    /// compute slot is free.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        compute: bool,
        work: impl FnOnce(&Engine<S>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let engine = self.engine.clone();
        let slots = self.compute.clone();
        let task = async move {
            let permit = if compute {
                Some(slots.acquire_owned().await.map_err(|e| TriageError::internal("compute slots", e))?)
            } else {
                None
            };
            let joined = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work(&engine)
            })
            .await;
            joined.map_err(|e| TriageError::internal("request worker", e))?
        };
        tokio::time::timeout(self.options.timeout, task)
            .await
            .unwrap_or_else(|_| Err(TriageError::Timeout(self.options.timeout.as_secs())))
    }

    /// Authorises, reads the JSON body, then runs `work` as a computation.
    async fn compute_json<T: Send + 'static>(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Body,
        work: impl FnOnce(&Engine<S>, &Caller, &Value) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let caller = self.caller(headers)?;
        let json = self.json_body(body).await?;
        self.run(true, move |engine| work(engine, &caller, &json)).await
    }
}

async fn classify<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        app.compute_json(&headers, body, |engine, caller, json| {
            let request = ClassifyRequest::from_json(json)?;
            pollster::block_on(engine.classify_as(caller, &request))
        })
        .await,
    )
}

async fn train<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        app.compute_json(&headers, body, |engine, caller, json| {
            let request = TrainRequest::from_json(json)?;
            pollster::block_on(engine.train_as(caller, &request))
        })
        .await,
    )
}

async fn embeddings<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(app.compute_json(&headers, body, |engine, _, json| pollster::block_on(engine.embeddings_json(json))).await)
}

async fn classifiers<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
) -> Response {
    let listed = async {
        let caller = app.caller(&headers)?;
        app.run(false, move |engine| pollster::block_on(engine.classifiers_as(&caller))).await
    };
    respond(listed.await)
}

async fn delete_classifier<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let deleted = async {
        let caller = app.caller(&headers)?;
        app.run(false, move |engine| pollster::block_on(engine.delete_classifier_as(&caller, &id))).await
    };
    respond(deleted.await)
}

/// Jina's `ModelInfo` for a registry entry (every field its schema requires), OpenAI's
/// `Model` fields (`object`, `owned_by`), and triage's `size_bytes` and `available` (whether
/// its files are in the models directory). `pricing` is all zeros and `datacenters` empty:
/// the model runs on this machine.
fn model_info(spec: &ModelSpec, models_dir: &Path) -> Value {
    let mut features = Vec::new();
    if !spec.tasks.is_empty() {
        features.push("task");
    }
    if !spec.matryoshka_dims.is_empty() {
        features.push("dimensions");
    }
    let modalities = if spec.has_image_tower() { json!(["text", "image"]) } else { json!(["text"]) };
    let owner = spec.hub.repo.split('/').next().unwrap_or_default();
    json!({
        "id": spec.id,
        "object": "model",
        "owned_by": owner,
        "name": spec.id,
        "created": spec.released,
        "description": spec.description,
        "context_length": spec.max_tokens,
        "max_output_length": spec.dim,
        "input_modalities": modalities,
        "output_modalities": ["embeddings"],
        "hugging_face_id": spec.hub.repo,
        "quantization": "",
        "pricing": {
            "prompt": "0", "completion": "0", "image": "0", "request": "0",
            "input_cache_read": "0", "input_cache_write": "0",
        },
        "supported_sampling_parameters": [],
        "supported_features": features,
        "datacenters": [],
        "size_bytes": spec.size_bytes(),
        "available": spec.files_in(models_dir),
    })
}

async fn models<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
) -> Response {
    respond(app.caller(&headers).map(|_| {
        json!({"object": "list", "data": registry::MODELS.iter().map(|m| model_info(m, &app.options.models_dir)).collect::<Vec<_>>()})
    }))
}

async fn model<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    // A model id in the path names a resource: an unknown one is 404 (as OpenAI's
    // `models.retrieve` expects), while an unknown `model` in a request body stays Jina's 400.
    let found = app
        .caller(&headers)
        .and_then(|_| registry::find(&id).map_err(|_| TriageError::NotFound { kind: "Model", id: id.clone() }));
    respond(found.map(|spec| model_info(spec, &app.options.models_dir)))
}

/// Liveness: the process answers (it checks nothing else, so a slow model load or a busy
/// store never gets the process restarted).
async fn live() -> Response {
    respond(Ok(json!({"status": "ok"})))
}

/// The rate limit of `/v1/*`: each key (a client address on a server without keys) may send
/// `--rate-limit` requests a minute, in bursts of as many; past it, Jina's 429 with
/// `Retry-After`. A request without a valid key is not counted: it is answered 401 below.
async fn rate_limit<S: ClassifierStore + Send + Sync + 'static>(
    State(app): State<Shared<S>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    use governor::clock::{Clock, DefaultClock};
    let (Some(limiter), Some(per_minute)) = (&app.rate_limiter, app.options.rate_limit_per_minute) else {
        return next.run(request).await;
    };
    let (bucket, code, whose) = match app.caller(request.headers()) {
        Ok(Caller::Key(digest)) => (digest, "RATE_REQUEST_LIMIT_EXCEEDED", "for this API key"),
        Ok(_) => {
            let address = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string())
                .unwrap_or_default();
            (address, "RATE_IP_LIMIT_EXCEEDED", "from this address")
        }
        Err(_) => return next.run(request).await,
    };
    // Buckets of callers quiet for a minute are full again: forget them.
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    match limiter.check_key(&bucket) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1;
            let error = TriageError::RateLimited {
                code,
                detail: format!(
                    "Request rate limit exceeded: at most {per_minute} requests per minute {whose}. Retry after {wait} s."
                ),
                retry_after_secs: wait,
            };
            error_response(&error)
        }
    }
}

/// Readiness: 200 once the default model is loaded and the store answers, else 503 with the
/// reasons, so an orchestrator sends no traffic to a replica still loading its model.
async fn ready<S: ClassifierStore + Send + Sync + 'static>(State(app): State<Shared<S>>) -> Response {
    let model = app.engine.default_model().id;
    let mut reasons = Vec::new();
    if !app.engine.is_loaded(model) {
        reasons.push(format!("the default model {model} is not loaded yet"));
    }
    // (The store's futures are not Send: read on the blocking pool, as requests are.)
    if let Err(e) = app.run(false, |engine| pollster::block_on(engine.store().check())).await {
        reasons.push(format!("the classifier store does not answer: {e}"));
    }
    let status = if reasons.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if reasons.is_empty() { "ready" } else { "not ready" },
        "default_model": model,
        "reasons": reasons,
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn health<S: ClassifierStore + Send + Sync + 'static>(State(app): State<Shared<S>>) -> Response {
    respond(Ok(json!({
        "status": "ok",
        "default_model": app.engine.default_model().id,
        "default_model_loaded": app.engine.is_loaded(app.engine.default_model().id),
    })))
}

/// The content type of a static file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// A static file's validator: its size and modification time (as nginx forms one).
fn etag(meta: &std::fs::Metadata) -> String {
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}\"", meta.len(), modified)
}

/// Whether an `If-None-Match` value (`*`, or a list of possibly weak tags) names `tag`.
fn etag_matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

/// `rel` under `root`, refusing anything that could leave it (`..`, absolute parts, hidden
/// files).
fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel.trim_start_matches('/'));
    let mut out = root.to_path_buf();
    for part in rel.components() {
        match part {
            Component::Normal(p) if !p.to_string_lossy().starts_with('.') => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

/// Static files: `/pkg/…` from the package, `/models/…` from the models directory, the
/// rest from the page (`/` is `index.html`). Unknown `/v1/…` routes get Jina's 404.
async fn files<S: ClassifierStore + Send + Sync + 'static>(State(app): State<Shared<S>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    drop(request);
    let not_found = || error_response(&TriageError::NotFound { kind: "Route", id: format!("{method} {path}") });
    if method != Method::GET && method != Method::HEAD || path.starts_with("/v1/") {
        return not_found();
    }
    let options = &app.options;
    let (root, rel) = if let Some(rest) = path.strip_prefix("/pkg/") {
        (options.pkg_dir.as_deref(), rest.to_string())
    } else if let Some(rest) = path.strip_prefix("/models/") {
        (Some(options.models_dir.as_path()), rest.to_string())
    } else if path.ends_with('/') {
        (options.www_dir.as_deref(), format!("{path}index.html"))
    } else {
        (options.www_dir.as_deref(), path.clone())
    };
    let Some(file) = root.and_then(|root| safe_join(root, &rel)) else { return not_found() };
    // Streamed, not read whole: model weights are up to a gigabyte.
    let opened = match tokio::fs::File::open(&file).await {
        Ok(f) => f.metadata().await.map(|m| (f, m)),
        Err(e) => Err(e),
    };
    match opened {
        Ok((f, meta)) if meta.is_file() => {
            // Model files are pinned by sha256: cached for good. The page and the package
            // change in place, so the browser revalidates them; the ETag makes that a 304
            // and keeps the response the browser's cached one, which is what lets it reuse
            // the wasm module's compiled code on a returning visit instead of compiling anew.
            let cache = if path.starts_with("/models/") { "public, max-age=31536000, immutable" } else { "no-cache" };
            let tag = etag(&meta);
            if if_none_match.as_deref().is_some_and(|tags| etag_matches(tags, &tag)) {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag), (header::CACHE_CONTROL, cache.to_string())])
                    .into_response();
            }
            let headers = [
                (header::CONTENT_TYPE, content_type(&file).to_string()),
                (header::CACHE_CONTROL, cache.to_string()),
                (header::CONTENT_LENGTH, meta.len().to_string()),
                (header::ETAG, tag),
            ];
            (headers, Body::from_stream(tokio_util::io::ReaderStream::new(f))).into_response()
        }
        _ => not_found(),
    }
}

/// The server's routes over `engine`.
pub fn router<S: ClassifierStore + Send + Sync + 'static>(engine: Arc<Engine<S>>, options: ServerOptions) -> Router {
    let app = Arc::new(App {
        engine,
        keys: options.api_keys.iter().map(|k| digest(k)).collect(),
        compute: Arc::new(Semaphore::new(options.max_concurrent.max(1))),
        rate_limiter: options
            .rate_limit_per_minute
            .map(|n| governor::RateLimiter::keyed(governor::Quota::per_minute(n))),
        options,
    });
    Router::new()
        .route("/v1/classify", post(classify::<S>))
        .route("/v1/train", post(train::<S>))
        .route("/v1/classifiers", get(classifiers::<S>).post(classifiers::<S>))
        .route("/v1/classifiers/{classifier_id}", delete(delete_classifier::<S>))
        .route("/v1/embeddings", post(embeddings::<S>))
        .route("/v1/models", get(models::<S>))
        .route("/v1/models/{model_id}", get(model::<S>))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), rate_limit::<S>))
        .route("/health", get(health::<S>))
        .route("/live", get(live))
        .route("/ready", get(ready::<S>))
        .fallback(files::<S>)
        .with_state(app)
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM (what an orchestrator sends): then
/// it stops accepting connections and returns once the requests in flight are answered.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    // With each connection's peer address, which the rate limit of a keyless server counts by.
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async {
            #[cfg(unix)]
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate => {}
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_names_the_tag() {
        let tag = "\"1f-2a\"";
        assert!(etag_matches("\"1f-2a\"", tag));
        assert!(etag_matches("\"0-0\", W/\"1f-2a\"", tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"1f-2b\"", tag));
        assert!(!etag_matches("", tag));
    }

    #[test]
    fn static_paths_stay_inside_their_root() {
        let root = Path::new("/srv/www");
        assert_eq!(safe_join(root, "/app/main.js"), Some(PathBuf::from("/srv/www/app/main.js")));
        assert_eq!(safe_join(root, "/../etc/passwd"), None);
        assert_eq!(safe_join(root, "a/../../b"), None);
        assert_eq!(safe_join(root, "/.git/config"), None);
        assert_eq!(content_type(Path::new("x/triage_bg.wasm")), "application/wasm");
    }
}
