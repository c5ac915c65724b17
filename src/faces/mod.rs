//! The faces: thin adapters over [`crate::engine::Engine`]. `cli` (native, feature `cli`): the
//! `triage` command; `server` (native, feature `serve`): Jina's API over HTTP; `web` (wasm32):
//! the browser's JS API.

#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub mod cli;
#[cfg(all(feature = "serve", not(target_arch = "wasm32")))]
pub mod server;
#[cfg(target_arch = "wasm32")]
pub mod web;
