//! Model files in the browser: fetched from a base URL with progress events, checked
//! against the registry's sha256, and kept in the Cache API so a reload is offline.
//!
//! Layout: by default the model's hub repository at its pinned commit
//! (`{hub}/{repo}/resolve/{revision}/{file}`); with a base URL the local models directory's
//! layout, `{base}/{model id}/{file}` (what `triage pull` writes), so `baseUrl: "/models/"`
//! serves a copy next to the app.
//!
//! Files stream: a download is read once, split between the Cache API and the reader, and
//! hashed as it goes; the weights are built tensor by tensor from that stream, so a 1 GB
//! checkpoint never sits whole in wasm memory. Files with a pinned digest are checked at
//! the end of the stream, and one that fails is dropped from the cache with the model
//! built from it; a cached copy that passed is marked so (a second cache entry keyed by
//! the digest) and is not hashed again on later loads.
//! Progress events follow transformers.js' shape: `{status, file, loaded, total}` with
//! status `initiate`, `progress` (at most every 1 %), `done`, and `ready` once built.

use js_sys::{Function, Object, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, Response};

use super::timings;
use crate::error::{Result, TriageError};
use crate::js::{global_fetch, js_error_text};
use crate::loader::weights::ByteSource;
use crate::registry::{ModelFile, ModelSpec};

/// Name of the Cache API bucket holding model files.
pub const CACHE_NAME: &str = "triage-models-v1";

/// Where a model's files are read from.
pub fn file_url(spec: &ModelSpec, base_url: Option<&str>, file: &str) -> String {
    match base_url {
        Some(base) => format!("{}/{}/{file}", base.trim_end_matches('/'), spec.id),
        None => spec.hub.file_url(crate::registry::HUB_ENDPOINT, file),
    }
}

/// Reports progress to an optional JS callback; a throwing callback is ignored.
pub struct Progress<'a> {
    pub callback: Option<&'a Function>,
    pub model: &'a str,
}

impl Progress<'_> {
    pub fn emit(&self, status: &str, file: Option<&str>, loaded: f64, total: f64) {
        self.emit_with(status, file, loaded, total, None);
    }

    /// The model is built: `dtype` is what its weights are stored in (`"f32"` or `"f16"`),
    /// `timings` where the load's time went ([`super::timings::LoadTimings::to_js`]).
    pub fn ready(&self, dtype: &str, timings: &JsValue) {
        self.emit_with("ready", None, 1.0, 1.0, Some((dtype, timings)));
    }

    fn emit_with(&self, status: &str, file: Option<&str>, loaded: f64, total: f64, ready: Option<(&str, &JsValue)>) {
        let Some(cb) = self.callback else { return };
        let event = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&event, &JsValue::from_str(k), &v);
        };
        set("status", JsValue::from_str(status));
        set("model", JsValue::from_str(self.model));
        if let Some(f) = file {
            set("file", JsValue::from_str(f));
        }
        set("loaded", JsValue::from_f64(loaded));
        set("total", JsValue::from_f64(total));
        if total > 0.0 {
            set("progress", JsValue::from_f64(100.0 * loaded / total));
        }
        if let Some((dtype, timings)) = ready {
            set("dtype", JsValue::from_str(dtype));
            set("timings", timings.clone());
        }
        let _ = cb.call1(&JsValue::NULL, &event);
    }
}

fn unavailable(spec: &ModelSpec, what: String) -> TriageError {
    TriageError::ModelUnavailable(format!("Model '{}' is not available: {what}", spec.id))
}

async fn cache_storage() -> Option<Cache> {
    let caches = Reflect::get(&js_sys::global(), &JsValue::from_str("caches")).ok()?;
    if caches.is_undefined() || caches.is_null() {
        return None; // insecure context, or a browser without the Cache API
    }
    let caches: CacheStorage = caches.dyn_into().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

/// One model file read front to back from the cache or the network, hashed as it goes.
/// A download is split (`tee`) so one branch streams into the Cache API while the other is
/// read here: neither the file nor its cached copy ever sits whole in wasm memory.
pub struct ModelFileStream<'a> {
    spec: &'static ModelSpec,
    file: &'static ModelFile,
    url: String,
    reader: web_sys::ReadableStreamDefaultReader,
    /// The chunk being read and how far into it.
    chunk: Option<(Uint8Array, u32)>,
    /// `None` when the cached copy was already checked against the pinned digest.
    hasher: Option<Sha256>,
    loaded: f64,
    total: f64,
    last_reported: f64,
    /// The Cache API bucket (none outside a secure context), and whether this file is read
    /// from it.
    cache: Option<Cache>,
    from_cache: bool,
    /// The cache write of a download (its other branch), awaited at the end.
    caching: Option<js_sys::Promise>,
    finished: bool,
    progress: &'a Progress<'a>,
    /// Milliseconds spent opening and reading this file (waiting for the cache or the
    /// network, copying into wasm memory, hashing).
    read_ms: f64,
}

impl<'a> ModelFileStream<'a> {
    /// Opens a model file: the cached copy, else a download (which is cached as it is read).
    pub async fn open(
        spec: &'static ModelSpec,
        file: &'static ModelFile,
        base_url: Option<&str>,
        progress: &'a Progress<'a>,
    ) -> Result<Self> {
        let opened_at = timings::now_ms();
        let url = file_url(spec, base_url, file.name);
        let cache = cache_storage().await;
        progress.emit("initiate", Some(file.name), 0.0, file.size as f64);
        let cached = match &cache {
            Some(cache) => {
                JsFuture::from(cache.match_with_str(&url)).await.ok().and_then(|r| r.dyn_into::<Response>().ok())
            }
            None => None,
        };
        // A cached copy that passed its digest check once (the marker is written after the
        // check) is not hashed again: hashing 90 MB costs ~0.25 s of every returning visit.
        let verified = match (&cache, &cached, file.sha256) {
            (Some(cache), Some(_), Some(expected)) => cache_has(cache, &verified_marker_url(&url, expected)).await,
            _ => false,
        };
        let from_cache = cached.is_some();
        let (response, caching) = match cached {
            Some(hit) => (hit, None),
            None => {
                let response = global_fetch(&url)
                    .await
                    .map_err(|e| unavailable(spec, format!("cannot fetch {url}: {}", js_error_text(&e))))?;
                if !response.ok() {
                    return Err(unavailable(
                        spec,
                        format!("{url} answered HTTP {} {}", response.status(), response.status_text()),
                    ));
                }
                match (&cache, response.body()) {
                    (Some(cache), Some(body)) => {
                        let branches = body.tee();
                        let to_cache: web_sys::ReadableStream = branches.get(0).unchecked_into();
                        let to_read: web_sys::ReadableStream = branches.get(1).unchecked_into();
                        let headers = web_sys::ResponseInit::new();
                        headers.set_headers(&response.headers());
                        let copy = Response::new_with_opt_readable_stream_and_init(Some(&to_cache), &headers)
                            .map_err(|e| TriageError::internal("caching a model file", js_error_text(&e)))?;
                        let put = cache.put_with_str(&url, &copy);
                        let read = Response::new_with_opt_readable_stream_and_init(Some(&to_read), &headers)
                            .map_err(|e| TriageError::internal("reading a model file", js_error_text(&e)))?;
                        (read, Some(put))
                    }
                    _ => (response, None),
                }
            }
        };
        let total = response
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|l| l.parse::<f64>().ok())
            .unwrap_or(file.size as f64);
        let body = match response.body() {
            Some(body) => body,
            // A body-less response (an empty file) reads as an empty stream.
            None => web_sys::ReadableStream::new()
                .map_err(|e| TriageError::internal("empty model file", js_error_text(&e)))?,
        };
        let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        Ok(Self {
            spec,
            file,
            url,
            reader,
            chunk: None,
            hasher: (!verified).then(Sha256::new),
            loaded: 0.0,
            total,
            last_reported: 0.0,
            cache,
            from_cache,
            caching,
            finished: false,
            progress,
            read_ms: timings::now_ms() - opened_at,
        })
    }

    /// Milliseconds spent opening and reading this file so far.
    pub fn read_ms(&self) -> f64 {
        self.read_ms
    }

    /// Next chunk of the body, `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<Uint8Array>> {
        let failed = |e: JsValue| unavailable(self.spec, format!("reading {} failed: {}", self.url, js_error_text(&e)));
        let chunk = JsFuture::from(self.reader.read()).await.map_err(failed)?;
        if Reflect::get(&chunk, &JsValue::from_str("done")).map_err(failed)?.as_bool().unwrap_or(true) {
            return Ok(None);
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value")).map_err(failed)?.unchecked_into();
        Ok(Some(value))
    }

    /// Reads to the end, then checks the pinned digest and lets the cache write finish. A
    /// file that fails its digest is removed from the cache.
    pub async fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        let mut sink = vec![0u8; 1 << 20];
        while self.read(&mut sink).await? > 0 {}
        Ok(())
    }

    async fn at_end(&mut self) -> Result<()> {
        self.finished = true;
        // Whether the cache holds the bytes just read: the cached copy, or a download whose
        // cache write succeeded (a full quota only costs the offline copy; the model loads).
        let mut in_cache = self.from_cache;
        if let Some(put) = self.caching.take() {
            in_cache = JsFuture::from(put).await.is_ok();
        }
        if let (Some(hasher), Some(expected)) = (self.hasher.take(), self.file.sha256) {
            let got = hex::encode(hasher.finalize());
            if got != expected {
                if let Some(cache) = &self.cache {
                    let _ = JsFuture::from(cache.delete_with_str(&self.url)).await;
                    let _ = JsFuture::from(cache.delete_with_str(&verified_marker_url(&self.url, expected))).await;
                }
                return Err(unavailable(
                    self.spec,
                    format!(
                        "{} has sha256 {got}, expected {expected}: the file is damaged or not this model's",
                        self.url
                    ),
                ));
            }
            if in_cache && let Some(cache) = &self.cache {
                mark_verified(cache, &self.url, expected).await;
            }
        }
        self.progress.emit("done", Some(self.file.name), self.loaded, self.loaded);
        Ok(())
    }
}

impl Drop for ModelFileStream<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Stop a download nobody reads any more (a failed load); the cache branch errors
            // and nothing half-written is kept.
            let _ = self.reader.cancel();
        }
    }
}

impl ByteSource for ModelFileStream<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let started = timings::now_ms();
        let n = self.read_timed(buf).await;
        self.read_ms += timings::now_ms() - started;
        n
    }
}

impl ModelFileStream<'_> {
    async fn read_timed(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        let (chunk, offset) = match self.chunk.take() {
            Some(c) => c,
            None => match self.next_chunk().await? {
                Some(c) => (c, 0),
                None => {
                    self.at_end().await?;
                    return Ok(0);
                }
            },
        };
        let n = (chunk.length() - offset).min(buf.len() as u32);
        chunk.subarray(offset, offset + n).copy_to(&mut buf[..n as usize]);
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n as usize]);
        }
        if offset + n < chunk.length() {
            self.chunk = Some((chunk, offset + n));
        }
        self.loaded += n as f64;
        if self.loaded - self.last_reported >= self.total / 100.0 {
            self.last_reported = self.loaded;
            self.progress.emit("progress", Some(self.file.name), self.loaded, self.total);
        }
        Ok(n as usize)
    }
}

/// The cache key of the marker saying the cached copy of `url` matched `sha256`.
fn verified_marker_url(url: &str, sha256: &str) -> String {
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}triage-verified-sha256={sha256}")
}

/// Whether `cache` holds a response for `url`.
async fn cache_has(cache: &Cache, url: &str) -> bool {
    let hit = JsFuture::from(cache.match_with_str(url)).await;
    matches!(hit, Ok(v) if v.is_instance_of::<Response>())
}

/// Records that the cached copy of `url` matched `sha256` (best effort: without the marker
/// the next load hashes the copy again).
async fn mark_verified(cache: &Cache, url: &str, sha256: &str) {
    if let Ok(marker) = Response::new_with_opt_str(Some("")) {
        let _ = JsFuture::from(cache.put_with_str(&verified_marker_url(url, sha256), &marker)).await;
    }
}

/// Whether every file of the model is in the cache (a reload would be offline).
pub async fn is_cached(spec: &'static ModelSpec, base_url: Option<&str>) -> bool {
    let Some(cache) = cache_storage().await else { return false };
    for file in spec.files {
        if !cache_has(&cache, &file_url(spec, base_url, file.name)).await {
            return false;
        }
    }
    true
}

/// Removes the model's files from the cache; returns whether any was there.
pub async fn delete_cached(spec: &'static ModelSpec, base_url: Option<&str>) -> bool {
    let Some(cache) = cache_storage().await else { return false };
    let mut any = false;
    for file in spec.files {
        let url = file_url(spec, base_url, file.name);
        let removed = JsFuture::from(cache.delete_with_str(&url)).await;
        any |= matches!(removed, Ok(v) if v.as_bool() == Some(true));
        if let Some(sha256) = file.sha256 {
            let _ = JsFuture::from(cache.delete_with_str(&verified_marker_url(&url, sha256))).await;
        }
    }
    any
}
