//! Browser-only parts: the device choice, IndexedDB classifiers, model files fetched
//! into the Cache API and the timings of a model load. [`crate::wasm`] puts them behind the JS API.

pub mod backend;
pub mod idb;
pub mod model_files;
pub mod timings;
