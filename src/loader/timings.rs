//! Where a model load's time goes, reported with its ready event and by `loadModel`.
//!
//! Phases are consecutive stretches on one clock (`performance.now()`, in pages and workers
//! alike), so they sum to the total by construction. A file read that runs interleaved with
//! decoding (the weights are decoded as they stream in) is split out of the stretch it ran
//! in: the stream counts the time spent inside its reads.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds on this realm's monotonic clock.
pub fn now_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok();
    performance
        .and_then(|p| {
            let now: Function = Reflect::get(&p, &JsValue::from_str("now")).ok()?.dyn_into().ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// One stretch of a load: `name` is `backend`, `store`, `read` (with `file`), `tokenizer`
/// or `weights` (decoding the weights into the network, and uploading them to the device).
#[derive(Clone, Debug)]
pub struct Phase {
    pub name: &'static str,
    pub file: Option<&'static str>,
    pub ms: f64,
}

/// The phases of a load so far, and when the current one began.
#[derive(Clone, Debug)]
pub struct LoadTimings {
    phases: Vec<Phase>,
    since: f64,
}

impl LoadTimings {
    /// Starts timing now.
    pub fn start() -> Self {
        Self { phases: Vec::new(), since: now_ms() }
    }

    /// Ends the phase `name` (for `file`) that ran since the previous mark; a phase of the
    /// same name and file adds up.
    pub fn mark(&mut self, name: &'static str, file: Option<&'static str>) {
        let now = now_ms();
        self.add(name, file, now - self.since);
        self.since = now;
    }

    /// Ends a stretch in which `file` was read for `read_ms` and `name` took the rest.
    pub fn mark_split(&mut self, name: &'static str, file: &'static str, read_ms: f64) {
        let now = now_ms();
        let read_ms = read_ms.clamp(0.0, now - self.since);
        self.add("read", Some(file), read_ms);
        self.add(name, None, now - self.since - read_ms);
        self.since = now;
    }

    fn add(&mut self, name: &'static str, file: Option<&'static str>, ms: f64) {
        match self.phases.iter_mut().find(|p| p.name == name && p.file == file) {
            Some(phase) => phase.ms += ms,
            None => self.phases.push(Phase { name, file, ms }),
        }
    }

    /// The phases so far.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// `{ total, phases: [{ name, file?, ms }] }` in milliseconds, `before` (phases that ran
    /// ahead of this load, e.g. `Triage.create`'s set-up) first; `total` is the phases' sum.
    pub fn to_js(&self, before: &[Phase]) -> JsValue {
        let set = |o: &Object, k: &str, v: JsValue| {
            let _ = Reflect::set(o, &JsValue::from_str(k), &v);
        };
        let phases = Array::new();
        for p in before.iter().chain(&self.phases) {
            let o = Object::new();
            set(&o, "name", JsValue::from_str(p.name));
            if let Some(f) = p.file {
                set(&o, "file", JsValue::from_str(f));
            }
            set(&o, "ms", JsValue::from_f64(p.ms));
            phases.push(&o);
        }
        let out = Object::new();
        let total: f64 = before.iter().chain(&self.phases).map(|p| p.ms).sum();
        set(&out, "total", JsValue::from_f64(total));
        set(&out, "phases", phases.into());
        out.into()
    }
}
