//! triage: zero-shot and few-shot classification of text on the device, speaking Jina's
//! Classifier API (`POST /v1/classify`, `POST /v1/train`, classifier list and delete).
//!
//! The folders follow the data's way: a request is validated in [`api`], run by the
//! [`engine`] (tokenizer + network in [`engine::encoder`], the browser's WebGPU/CPU choice in
//! `engine::backend`), whose networks come from [`loader`] (checkpoint streaming, `triage pull`,
//! the browser's Cache API files) into [`models`]; embeddings meet the math of [`classify`]
//! (zero-shot, and the few-shot learner in [`classify::fewshot`]) and few-shot classifiers are
//! kept by [`store`] (memory, files, IndexedDB); the response goes back as [`api`] types.
//!
//! - [`api`]: Jina's request/response types, validated up front; [`error`]: one error enum
//!   rendering Jina's `ErrorResponse`.
//! - [`registry`]: the one table of models (id → architecture, files, revision, hashes, dims,
//!   pooling, prefixes); nothing else branches on model names.
//! - [`image`]: image inputs, decoding (JPEG as Pillow decodes it, in `image::jpeg`) and
//!   preprocessing.
//! - [`faces`]: thin adapters over the engine — the CLI, `triage serve` (Jina's API over HTTP)
//!   and the browser's JS API; `js` (wasm32 only): small JS interop helpers they share.

pub mod api;
pub mod classify;
pub mod engine;
pub mod error;
pub mod faces;
pub mod image;
#[cfg(target_arch = "wasm32")]
pub mod js;
pub mod loader;
pub mod models;
pub mod registry;
pub mod store;

pub use engine::Engine;
pub use error::{Result, TriageError};
