//! Network architectures, one file each. Every model takes token ids and a padding mask
//! and returns L2-normalised sentence embeddings.

pub mod bert;
