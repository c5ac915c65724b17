//! JS glue the browser parts share (wasm32 only): the module's static constructors, fetch in a
//! window or a worker, and the text of a thrown JS value. A leaf: it imports nothing of triage.

use std::sync::Once;

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

// wasm-ld links this module "command-style", and unless the module calls
// `__wasm_call_ctors` itself it wraps every export in a call to it: every call from JS (each
// resumed future, each chunk read) re-ran every static constructor (hundreds of `inventory`
// registrations in cubecl) and grew their registries without bound. Calling it ourselves, once,
// is what turns the wrappers off (llvm lld/wasm/Writer.cpp; inventory's docs).
unsafe extern "C" {
    fn __wasm_call_ctors();
}

static CONSTRUCTORS: Once = Once::new();

/// Runs the module's static constructors, the first time only. At instantiation (the start
/// function of [`crate::faces::web`]), and again from [`crate::engine::backend::select`], the one door to a device,
/// because wasm-bindgen-test's runner does not call start functions.
pub fn run_static_constructors_once() {
    // SAFETY: wasm-ld's constructor list, run once (the `Once`), before any device exists.
    CONSTRUCTORS.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Text of a DOMException or any thrown JS value.
pub fn js_error_text(e: &JsValue) -> String {
    if let Some(d) = e.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", d.name(), d.message());
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(err.name()), String::from(err.message()));
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// `fetch` of the global scope, a window's or a worker's.
pub async fn global_fetch(url: &str) -> Result<Response, JsValue> {
    let fetch: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))?.dyn_into()?;
    let promise: js_sys::Promise = fetch.call1(&JsValue::NULL, &JsValue::from_str(url))?.dyn_into()?;
    JsFuture::from(promise).await?.dyn_into()
}
