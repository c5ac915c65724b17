//! Model files in the browser: fetched from a base URL with progress events, checked
//! against the registry's sha256, and kept in the Cache API so a reload is offline.
//!
//! Layout: by default each model's own hub URL (`{hub_url}/{file}`); with a base URL the
//! local models directory's layout, `{base}/{model id}/{file}` (what `models/fetch.py`
//! writes), so `baseUrl: "/models/"` serves a copy next to the app.
//!
//! Files are verified when downloaded, before they enter the cache; a cache hit was
//! verified on its way in (the Cache API stores a response whole or not at all).
//! Progress events follow transformers.js' shape: `{status, file, loaded, total}` with
//! status `initiate`, `progress` (at most every 1 %), `done`, and `ready` once built.

use js_sys::{Function, Object, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, Response};

use super::idb::js_error_text;
use crate::error::{Result, TriageError};
use crate::registry::{ModelFile, ModelSpec};

/// Name of the Cache API bucket holding model files.
pub const CACHE_NAME: &str = "triage-models-v1";

/// Where a model's files are read from.
pub fn file_url(spec: &ModelSpec, base_url: Option<&str>, file: &str) -> String {
    match base_url {
        Some(base) => format!("{}/{}/{file}", base.trim_end_matches('/'), spec.id),
        None => format!("{}/{file}", spec.hub_url.trim_end_matches('/')),
    }
}

/// Reports progress to an optional JS callback; a throwing callback is ignored.
pub struct Progress<'a> {
    pub callback: Option<&'a Function>,
    pub model: &'a str,
}

impl Progress<'_> {
    pub fn emit(&self, status: &str, file: Option<&str>, loaded: f64, total: f64) {
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

async fn global_fetch(url: &str) -> Result<Response, JsValue> {
    let fetch: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))?.dyn_into()?;
    let promise: js_sys::Promise = fetch.call1(&JsValue::NULL, &JsValue::from_str(url))?.dyn_into()?;
    JsFuture::from(promise).await?.dyn_into()
}

/// Reads a response body chunk by chunk into memory, reporting progress.
async fn read_body(response: &Response, file: &ModelFile, progress: &Progress<'_>) -> Result<Vec<u8>, JsValue> {
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<f64>().ok())
        .unwrap_or(file.size as f64);
    let Some(body) = response.body() else {
        let buf = JsFuture::from(response.array_buffer()?).await?;
        return Ok(Uint8Array::new(&buf).to_vec());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
    let mut bytes = Vec::with_capacity(total as usize);
    let mut last_reported = 0.0;
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))?.as_bool().unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))?.dyn_into()?;
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        let loaded = bytes.len() as f64;
        if loaded - last_reported >= total / 100.0 {
            last_reported = loaded;
            progress.emit("progress", Some(file.name), loaded, total);
        }
    }
    Ok(bytes)
}

/// One model file's bytes: from the cache, else downloaded, verified and cached.
pub async fn load_file(
    spec: &'static ModelSpec,
    file: &ModelFile,
    base_url: Option<&str>,
    progress: &Progress<'_>,
) -> Result<Vec<u8>> {
    let url = file_url(spec, base_url, file.name);
    let cache = cache_storage().await;
    progress.emit("initiate", Some(file.name), 0.0, file.size as f64);
    if let Some(cache) = &cache
        && let Ok(hit) = JsFuture::from(cache.match_with_str(&url)).await
        && let Ok(response) = hit.dyn_into::<Response>()
    {
        let bytes = read_body(&response, file, progress)
            .await
            .map_err(|e| unavailable(spec, format!("cannot read cached {url}: {}", js_error_text(&e))))?;
        progress.emit("done", Some(file.name), bytes.len() as f64, bytes.len() as f64);
        return Ok(bytes);
    }
    let response = global_fetch(&url)
        .await
        .map_err(|e| unavailable(spec, format!("cannot fetch {url}: {}", js_error_text(&e))))?;
    if !response.ok() {
        return Err(unavailable(spec, format!("{url} answered HTTP {} {}", response.status(), response.status_text())));
    }
    let bytes = read_body(&response, file, progress)
        .await
        .map_err(|e| unavailable(spec, format!("download of {url} failed: {}", js_error_text(&e))))?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != file.sha256 {
        return Err(unavailable(
            spec,
            format!("{url} has sha256 {got}, expected {}: the file is damaged or not this model's", file.sha256),
        ));
    }
    if let Some(cache) = &cache {
        // A full quota only costs the offline copy; the model still loads.
        let copy = Uint8Array::from(bytes.as_slice());
        if let Ok(response) = Response::new_with_opt_buffer_source(Some(&copy)) {
            let _ = JsFuture::from(cache.put_with_str(&url, &response)).await;
        }
    }
    progress.emit("done", Some(file.name), bytes.len() as f64, bytes.len() as f64);
    Ok(bytes)
}

/// Whether every file of the model is in the cache (a reload would be offline).
pub async fn is_cached(spec: &'static ModelSpec, base_url: Option<&str>) -> bool {
    let Some(cache) = cache_storage().await else { return false };
    for file in spec.files {
        let hit = JsFuture::from(cache.match_with_str(&file_url(spec, base_url, file.name))).await;
        if !matches!(hit, Ok(v) if v.is_instance_of::<Response>()) {
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
        let removed = JsFuture::from(cache.delete_with_str(&file_url(spec, base_url, file.name))).await;
        any |= matches!(removed, Ok(v) if v.as_bool() == Some(true));
    }
    any
}
