//! triage: zero-shot and few-shot classification of text on the device, speaking Jina's
//! Classifier API (`POST /v1/classify`, `POST /v1/train`, classifier list and delete).
//!
//! - [`api`]: Jina's request/response types, validated up front.
//! - [`error`]: one error enum rendering Jina's `ErrorResponse`.
//! - [`registry`]: the table of models; `pull` (native): their files onto this machine.
//! - [`image`], [`jpeg`]: image inputs, decoding (JPEG as Pillow decodes it) and preprocessing.
//! - [`models`]: the networks, in burn; [`weights`]: streaming checkpoint loading;
//!   [`encoder`]: tokenizer + network.
//! - [`classify`], [`fewshot`]: the classification math on plain vectors.
//! - [`store`]: where few-shot classifiers live.
//! - [`engine`]: all of it behind classify / train / list / delete / embeddings.
//! - `wasm` and `web` (wasm32 only): the browser face: JS API, WebGPU/CPU choice,
//!   IndexedDB store, model files in the Cache API.
//! - [`server`] (native, feature `serve`): `triage serve`, Jina's API over HTTP.

pub mod api;
pub mod classify;
pub mod encoder;
pub mod engine;
pub mod error;
pub mod fewshot;
pub mod image;
pub mod jpeg;
pub mod models;
#[cfg(not(target_arch = "wasm32"))]
pub mod pull;
pub mod registry;
#[cfg(all(feature = "serve", not(target_arch = "wasm32")))]
pub mod server;
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;

pub use engine::Engine;
pub use error::{Result, TriageError};
