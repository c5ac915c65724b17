//! Which device the browser computes on: WebGPU through burn's wgpu backend when
//! `navigator.gpu` gives an adapter, else burn-flex on the CPU (wasm SIMD, one thread).
//!
//! The WebGPU runtime is initialised once per page (burn cannot re-initialise it) and
//! kept; every engine on the page shares it.

use std::cell::RefCell;

use burn::tensor::Device;
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Result, TriageError};
use crate::loader::weights::Precision;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// WebGPU if an adapter is there, else the CPU.
    Auto,
    WebGpu,
    Cpu,
}

impl BackendChoice {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "webgpu" => Ok(Self::WebGpu),
            "cpu" | "flex" | "wasm" => Ok(Self::Cpu),
            other => Err(TriageError::validation(
                "backend",
                format!("'{other}' is not a backend: use \"auto\", \"webgpu\" or \"cpu\""),
            )),
        }
    }
}

/// The device chosen, and how it was described to the caller.
#[derive(Debug, Clone)]
pub struct Backend {
    pub device: Device,
    /// `"webgpu"` or `"cpu"`.
    pub name: &'static str,
    /// The GPU adapter's name (WebGPU only).
    pub adapter: Option<String>,
    /// A software adapter (e.g. SwiftShader): correct but slow.
    pub fallback_adapter: bool,
    /// Why WebGPU was not used, when `auto` fell back to the CPU.
    pub fallback_reason: Option<String>,
    /// The dtype streamed weights are asked for: f16 on WebGPU devices with `shader-f16`,
    /// else f32 (the loader still stores a model in f16 on the CPU when its f32 weights
    /// would not fit the page's memory: [`crate::loader::weights::Streamed::precision`]).
    pub precision: Precision,
}

/// An initialised WebGPU device: its description, whether it is a software fallback, and
/// whether it computes in f16.
type WebGpu = (Device, String, bool, bool);

thread_local! {
    static WEBGPU: RefCell<Option<WebGpu>> = const { RefCell::new(None) };
}

/// Whether `navigator.gpu.requestAdapter()` gives an adapter: whether it is a software
/// fallback, and its description from `adapter.info`; the reason if not.
async fn webgpu_adapter() -> std::result::Result<(bool, String), String> {
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).map_err(|_| "no navigator")?;
    let gpu = Reflect::get(&navigator, &JsValue::from_str("gpu")).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU (navigator.gpu is undefined)".into());
    }
    let request: js_sys::Function = Reflect::get(&gpu, &JsValue::from_str("requestAdapter"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("navigator.gpu.requestAdapter is missing")?;
    use wasm_bindgen::JsCast;
    let promise: js_sys::Promise =
        request.call0(&gpu).ok().and_then(|p| p.dyn_into().ok()).ok_or("requestAdapter failed")?;
    let adapter = JsFuture::from(promise).await.map_err(|e| format!("requestAdapter failed: {e:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("WebGPU gave no adapter (blocklisted GPU or disabled)".into());
    }
    let flag = |obj: &JsValue| Reflect::get(obj, &JsValue::from_str("isFallbackAdapter")).ok()?.as_bool();
    let info = Reflect::get(&adapter, &JsValue::from_str("info")).unwrap_or(JsValue::UNDEFINED);
    let text =
        |k: &str| Reflect::get(&info, &JsValue::from_str(k)).ok().and_then(|v| v.as_string()).filter(|s| !s.is_empty());
    let description = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|k| text(k))
        .collect::<Vec<_>>()
        .join(" ");
    Ok((flag(&info).or_else(|| flag(&adapter)).unwrap_or(false), description))
}

async fn init_webgpu() -> std::result::Result<WebGpu, String> {
    if let Some(ready) = WEBGPU.with(|w| w.borrow().clone()) {
        return Ok(ready);
    }
    let (js_fallback, description) = webgpu_adapter().await?;
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("WebGPU initialisation failed: {e}"))?;
    let info = setup.adapter.get_info();
    let fallback = js_fallback || matches!(info.device_type, burn::tensor::wgpu::wgpu::DeviceType::Cpu);
    // wgpu on the web has no adapter name; the browser's adapter.info has the vendor.
    let name = if !description.is_empty() {
        description
    } else if info.name.is_empty() {
        format!("{:?}", info.backend)
    } else {
        info.name.clone()
    };
    let f16 = setup.device.features().contains(burn::tensor::wgpu::wgpu::Features::SHADER_F16);
    let ready = (device, name, fallback, f16);
    WEBGPU.with(|w| *w.borrow_mut() = Some(ready.clone()));
    Ok(ready)
}

/// The device for `choice`.
pub async fn select(choice: BackendChoice) -> Result<Backend> {
    // cubecl (the WebGPU backend) looks up what its static constructors registered.
    crate::js::run_static_constructors_once();
    let cpu = |reason: Option<String>| Backend {
        device: Device::flex(),
        name: "cpu",
        adapter: None,
        fallback_adapter: false,
        fallback_reason: reason,
        precision: Precision::F32,
    };
    match choice {
        BackendChoice::Cpu => Ok(cpu(None)),
        BackendChoice::WebGpu | BackendChoice::Auto => match init_webgpu().await {
            Ok((device, adapter, fallback_adapter, f16)) => Ok(Backend {
                device,
                name: "webgpu",
                adapter: Some(adapter),
                fallback_adapter,
                fallback_reason: None,
                precision: if f16 { Precision::F16 } else { Precision::F32 },
            }),
            Err(why) if choice == BackendChoice::Auto => Ok(cpu(Some(why))),
            Err(why) => Err(TriageError::ModelUnavailable(format!("WebGPU was asked for but is not usable: {why}"))),
        },
    }
}
