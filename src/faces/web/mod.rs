//! The browser face: a thin wasm-bindgen facade over [`crate::Engine`].
//!
//! Requests and responses are Jina's JSON: a request object (or JSON string) is turned
//! into the same `serde_json::Value` the native server parses, and responses are the
//! same serialised structs, so the two faces answer alike. A failure rejects with a JS
//! `Error` whose `name` is Jina's error code (`INPUT_VALIDATION_ERROR`, ...), whose
//! `message` is the detail, and which carries `status` (the HTTP status Jina would send)
//! and `response` (the `ErrorResponse` object).
//!
//! Models load before the request that needs them: `Triage.create` loads the default
//! model, any other is fetched on first use (concurrent requests share one download).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Once;

use futures::future::{FutureExt, Shared};
use js_sys::{Function, Object, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::api::{ClassifyRequest, EmbeddingsRequest, TrainRequest};
use crate::engine::backend::{self, Backend, BackendChoice};
use crate::engine::encoder::Encoder;
use crate::engine::{Engine, parse_body};
use crate::error::{Result, TriageError};
use crate::loader::timings::{LoadTimings, Phase};
use crate::loader::web_files::{self, Progress};
use crate::registry::{self, ModelSpec};
use crate::store::idb::IdbStore;

/// Default IndexedDB database name.
pub const DEFAULT_DATABASE: &str = "triage";

#[wasm_bindgen(start)]
fn start() {
    crate::js::run_static_constructors_once();
}

static PANIC_HOOK: Once = Once::new();

/// A panic is a bug in triage, never an answer: report it loudly on the console (the
/// module cannot continue after one, so the page must reload).
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = format!(
                "triage: internal error (a bug; please report it): {info}. The engine has stopped; reload the page."
            );
            web_sys::console::error_1(&JsValue::from_str(&msg));
        }));
    });
}

/// A triage error as a JS `Error` named by its Jina code.
pub fn to_js_error(e: &TriageError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.code());
    let _ = Reflect::set(&err, &"status".into(), &JsValue::from(e.http_status()));
    if let Ok(response) = js_sys::JSON::parse(&e.to_json()) {
        let _ = Reflect::set(&err, &"response".into(), &response);
    }
    err.into()
}

/// A request given as an object or a JSON string, as the JSON value the engine parses.
fn request_json(request: &JsValue) -> Result<Value> {
    if let Some(text) = request.as_string() {
        return parse_body(text.as_bytes());
    }
    if request.is_undefined() || request.is_null() {
        return Err(TriageError::validation("body", "The request body must be a JSON object"));
    }
    let text = js_sys::JSON::stringify(request)
        .map_err(|_| TriageError::validation("body", "The request cannot be serialised as JSON (a cycle?)"))?;
    parse_body(String::from(text).as_bytes())
}

/// A response struct as a plain JS object (through JSON, exactly as the server sends it).
fn response_js(value: &impl serde::Serialize) -> Result<JsValue> {
    let text = serde_json::to_string(value).map_err(|e| TriageError::internal("encoding the response", e))?;
    js_sys::JSON::parse(&text).map_err(|_| TriageError::Internal("encoding the response".into()))
}

fn option(options: &JsValue, key: &str) -> Option<JsValue> {
    if options.is_undefined() || options.is_null() {
        return None;
    }
    Reflect::get(options, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn string_option(options: &JsValue, key: &str) -> Result<Option<String>> {
    match option(options, key) {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| TriageError::validation(key, format!("option '{key}' must be a string"))),
    }
}

type Loading = Shared<Pin<Box<dyn Future<Output = Result<()>>>>>;

struct Inner {
    engine: Engine<IdbStore>,
    backend: Backend,
    base_url: Option<String>,
    on_progress: Option<Function>,
    loading: RefCell<HashMap<&'static str, Loading>>,
    /// Where each loaded model's load spent its time (what `loadModel` reports).
    load_timings: RefCell<HashMap<&'static str, JsValue>>,
}

impl Inner {
    /// Loads `spec` unless loaded; concurrent callers share one load.
    async fn ensure_model(self: &Rc<Self>, spec: &'static ModelSpec) -> Result<()> {
        self.ensure_model_after(spec, Vec::new()).await
    }

    /// [`Inner::ensure_model`]; a load it starts reports `before` (phases that ran before
    /// it, e.g. `Triage.create`'s set-up) ahead of its own in the ready event.
    async fn ensure_model_after(self: &Rc<Self>, spec: &'static ModelSpec, before: Vec<Phase>) -> Result<()> {
        if self.engine.is_loaded(spec.id) {
            return Ok(());
        }
        let pending = self.loading.borrow().get(spec.id).cloned();
        let load = match pending {
            Some(load) => load,
            None => {
                let me = self.clone();
                let fut: Pin<Box<dyn Future<Output = Result<()>>>> =
                    Box::pin(async move { me.load(spec, before).await });
                let shared = fut.shared();
                self.loading.borrow_mut().insert(spec.id, shared.clone());
                shared
            }
        };
        let result = load.await;
        self.loading.borrow_mut().remove(spec.id);
        result
    }

    async fn load(&self, spec: &'static ModelSpec, before: Vec<Phase>) -> Result<()> {
        let progress = Progress { callback: self.on_progress.as_ref(), model: spec.id };
        let (encoder, timings) =
            Encoder::fetch(spec, self.base_url.as_deref(), &progress, &self.backend.device, self.backend.precision)
                .await?;
        let dtype = dtype_name(encoder.weight_dtype());
        self.engine.add_model(encoder)?;
        self.load_timings.borrow_mut().insert(spec.id, timings.to_js(&[]));
        progress.ready(dtype, &timings.to_js(&before));
        Ok(())
    }
}

/// How a weight dtype is named to JS.
fn dtype_name(dtype: burn::tensor::DType) -> &'static str {
    match dtype {
        burn::tensor::DType::F16 => "f16",
        _ => "f32",
    }
}

/// The engine in a page or a worker. Create with `await Triage.create(options)`.
#[wasm_bindgen]
pub struct Triage {
    inner: Rc<Inner>,
}

/// Runs `f` as a JS promise, rejecting with a Jina-coded `Error`.
fn promise<F>(f: F) -> Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { f.await.map_err(|e| to_js_error(&e)) })
}

#[wasm_bindgen]
impl Triage {
    /// `options`: `{ model?, baseUrl?, backend?: "auto"|"webgpu"|"cpu", onProgress?, database? }`.
    /// Resolves once the default model (`model`, else the registry's default) is loaded.
    pub async fn create(options: JsValue) -> std::result::Result<Triage, JsValue> {
        install_panic_hook();
        Self::create_inner(options).await.map_err(|e| to_js_error(&e))
    }

    async fn create_inner(options: JsValue) -> Result<Triage> {
        let model = string_option(&options, "model")?;
        let default_model = registry::find(model.as_deref().unwrap_or(registry::DEFAULT_MODEL))?;
        let choice = match string_option(&options, "backend")? {
            Some(b) => BackendChoice::parse(&b)?,
            None => BackendChoice::Auto,
        };
        let base_url = string_option(&options, "baseUrl")?;
        let database = string_option(&options, "database")?.unwrap_or_else(|| DEFAULT_DATABASE.to_string());
        let on_progress = match option(&options, "onProgress") {
            None => None,
            Some(f) => Some(
                f.dyn_into::<Function>()
                    .map_err(|_| TriageError::validation("onProgress", "option 'onProgress' must be a function"))?,
            ),
        };
        let mut setup = LoadTimings::start();
        let backend = backend::select(choice).await?;
        setup.mark("backend", None);
        let store = IdbStore::open(&database).await?;
        setup.mark("store", None);
        let loader: crate::engine::ModelLoader = Box::new(|spec| {
            Err(TriageError::ModelUnavailable(format!("Model '{}' is not loaded in this page", spec.id)))
        });
        let inner = Rc::new(Inner {
            engine: Engine::new(store, loader).with_default_model(default_model),
            backend,
            base_url,
            on_progress,
            loading: RefCell::default(),
            load_timings: RefCell::default(),
        });
        inner.ensure_model_after(default_model, setup.phases().to_vec()).await?;
        Ok(Triage { inner })
    }

    /// `{ name: "webgpu"|"cpu", adapter, fallbackAdapter, fallbackReason, build }`; `build` is
    /// the wasm module's cargo profile, `"release"` or `"dev"` (`bash pkg/build.sh` without
    /// `--release`), so a page can say which one it runs.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> JsValue {
        let b = &self.inner.backend;
        let o = Object::new();
        let _ = Reflect::set(&o, &"name".into(), &b.name.into());
        let _ = Reflect::set(&o, &"adapter".into(), &b.adapter.clone().map(JsValue::from).unwrap_or(JsValue::NULL));
        let _ = Reflect::set(&o, &"fallbackAdapter".into(), &b.fallback_adapter.into());
        let _ = Reflect::set(
            &o,
            &"fallbackReason".into(),
            &b.fallback_reason.clone().map(JsValue::from).unwrap_or(JsValue::NULL),
        );
        let build = if cfg!(debug_assertions) { "dev" } else { "release" };
        let _ = Reflect::set(&o, &"build".into(), &build.into());
        o.into()
    }

    /// The model used by requests that name none.
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> String {
        self.inner.engine.default_model().id.to_string()
    }

    /// Loads a model now (else it loads on first use); resolves `{ model, dtype, timings }`,
    /// `timings` being where the load that made it ready spent its time.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let spec = registry::find(&id)?;
            inner.ensure_model(spec).await?;
            let loaded = Object::new();
            let _ = Reflect::set(&loaded, &"model".into(), &spec.id.into());
            let dtype = dtype_name(inner.engine.model(spec)?.weight_dtype());
            let _ = Reflect::set(&loaded, &"dtype".into(), &dtype.into());
            let timings = inner.load_timings.borrow().get(spec.id).cloned().unwrap_or(JsValue::NULL);
            let _ = Reflect::set(&loaded, &"timings".into(), &timings);
            Ok(loaded.into())
        })
    }

    /// `POST /v1/classify`: zero-shot (`labels`) or few-shot (`classifier_id`).
    pub fn classify(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        let body = request_json(&request);
        promise(async move {
            let request = ClassifyRequest::from_json(&body?)?;
            inner.ensure_model(inner.engine.classify_model(&request).await?).await?;
            response_js(&inner.engine.classify(&request).await?)
        })
    }

    /// `POST /v1/train`: creates a classifier or updates one.
    pub fn train(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        let body = request_json(&request);
        promise(async move {
            let request = TrainRequest::from_json(&body?)?;
            inner.ensure_model(inner.engine.train_model(&request).await?).await?;
            response_js(&inner.engine.train(&request).await?)
        })
    }

    /// `POST /v1/embeddings`.
    pub fn embeddings(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        let body = request_json(&request);
        promise(async move {
            let request = EmbeddingsRequest::from_json(&body?)?;
            inner.ensure_model(inner.engine.spec_of(&request.model)?).await?;
            response_js(&inner.engine.embeddings(&request).await?)
        })
    }

    /// `GET /v1/classifiers`: every classifier stored in this browser.
    pub fn classifiers(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { response_js(&inner.engine.classifiers().await?) })
    }

    /// `DELETE /v1/classifiers/{id}`.
    #[wasm_bindgen(js_name = deleteClassifier)]
    pub fn delete_classifier(&self, id: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let id = classifier_id(&id)?;
            response_js(&inner.engine.delete_classifier(&id).await?)
        })
    }

    /// A classifier as a JSON document (labels, weights, counts, dates) to save as a file.
    #[wasm_bindgen(js_name = exportClassifier)]
    pub fn export_classifier(&self, id: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let id = classifier_id(&id)?;
            response_js(&inner.engine.export_classifier(&id).await?)
        })
    }

    /// Stores an exported classifier (a JSON string or object) under its id.
    #[wasm_bindgen(js_name = importClassifier)]
    pub fn import_classifier(&self, document: JsValue) -> Promise {
        let inner = self.inner.clone();
        let document = request_json(&document);
        promise(async move { response_js(&inner.engine.import_classifier(&document?).await?) })
    }

    /// Closes the IndexedDB connection (another tab may then upgrade or delete it).
    pub fn close(&self) {
        self.inner.engine.store().close();
    }
}

/// A classifier id passed from JS.
fn classifier_id(id: &JsValue) -> Result<String, TriageError> {
    id.as_string().ok_or_else(|| TriageError::validation("classifier_id", "the id must be a string"))
}

/// The models triage knows: `[{ id, dim, maxTokens, sizeBytes, description, imageInputs }]`.
#[wasm_bindgen]
pub fn models() -> JsValue {
    let list: Vec<Value> = registry::MODELS
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "dim": m.dim,
                "maxTokens": m.max_tokens,
                "sizeBytes": m.size_bytes(),
                "description": m.description,
                "imageInputs": m.has_image_tower(),
                "default": m.id == registry::DEFAULT_MODEL,
            })
        })
        .collect();
    response_js(&list).unwrap_or(JsValue::NULL)
}

/// Whether the model's files are all in the browser's cache (its next load is offline).
#[wasm_bindgen(js_name = hasModel)]
pub fn has_model(id: String, base_url: Option<String>) -> Promise {
    promise(async move {
        let spec = registry::find(&id)?;
        Ok(web_files::is_cached(spec, base_url.as_deref()).await.into())
    })
}

/// Removes the model's files from the browser's cache; resolves whether any was there.
#[wasm_bindgen(js_name = deleteModel)]
pub fn delete_model(id: String, base_url: Option<String>) -> Promise {
    promise(async move {
        let spec = registry::find(&id)?;
        Ok(web_files::delete_cached(spec, base_url.as_deref()).await.into())
    })
}
