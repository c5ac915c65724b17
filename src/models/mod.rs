//! Network architectures, one file each. Every model takes token ids and a padding mask
//! and returns mean-pooled sentence embeddings (normalised by the encoder).

pub mod bert;
pub mod jina_v3;
