//! Model files into networks: safetensors checkpoints streamed into burn modules
//! ([`weights`]), model files onto this machine (`pull`, native) or fetched into the
//! browser's Cache API (`web_files`, wasm32) and the timings of a browser load (`timings`).

#[cfg(not(target_arch = "wasm32"))]
pub mod pull;
#[cfg(target_arch = "wasm32")]
pub mod timings;
#[cfg(target_arch = "wasm32")]
pub mod web_files;
pub mod weights;
