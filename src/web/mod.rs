//! Browser-only parts: the device choice, IndexedDB classifiers and model files fetched
//! into the Cache API. [`crate::wasm`] puts them behind the JS API.

pub mod backend;
pub mod idb;
pub mod model_files;
