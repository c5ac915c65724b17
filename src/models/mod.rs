//! Network architectures, one file each over the shared [`layers`]. Text models take token
//! ids and a padding mask and return mean-pooled sentence embeddings; image towers take
//! normalised pixels and return image embeddings (both normalised by the encoder).
//!
//! Each architecture file holds its `config.json` fields (`…Config`, with `validate`), its
//! checkpoint key map beside the modules it fills, and the order its layers are wired in.
//! Adding one is a file here plus a row in [`crate::registry`].

pub mod bert;
pub mod eva02;
pub mod jina_bert;
pub mod jina_clip;
pub mod jina_v3;
pub mod layers;
