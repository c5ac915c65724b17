//! A loaded text model: tokenizer + network on one device. Texts in, unit vectors out.
//!
//! Inputs are sorted by length and cut into batches so padding stays small; within a
//! batch, padding is masked in attention and never pooled. The one read of the result is
//! async (`into_data_async`), so the same code runs where synchronous GPU readback does
//! not exist (WebGPU in the browser).

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::{Device, Int, Tensor, TensorData};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Result, TriageError};
use crate::models::bert::{Bert, BertConfig, KEY_MAP};
use crate::registry::{Architecture, ModelSpec};

/// Sequences per forward pass.
pub const BATCH_SIZE: usize = 32;

enum Network {
    Bert(Bert),
}

pub struct TextEncoder {
    pub spec: &'static ModelSpec,
    tokenizer: Tokenizer,
    network: Network,
    device: Device,
}

/// Checks a file's bytes against the sha256 the registry pins.
pub fn verify_sha256(spec: &ModelSpec, name: &str, bytes: &[u8]) -> Result<()> {
    check_digest(spec, name, Sha256::digest(bytes).into())
}

/// Checks a file on disk against the registry, streaming it (weights can be large).
fn verify_file(spec: &ModelSpec, name: &str, path: &Path) -> Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)
        .map_err(|e| TriageError::ModelUnavailable(format!("cannot open {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| TriageError::ModelUnavailable(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    check_digest(spec, name, hasher.finalize().into())
}

fn check_digest(spec: &ModelSpec, name: &str, digest: [u8; 32]) -> Result<()> {
    let Some(file) = spec.files.iter().find(|f| f.name == name) else { return Ok(()) };
    let got = hex::encode(digest);
    if got != file.sha256 {
        return Err(TriageError::ModelUnavailable(format!(
            "{}/{name} has sha256 {got}, expected {}: the file is damaged or not this model's",
            spec.id, file.sha256
        )));
    }
    Ok(())
}

/// Loads a tokenizer.json with its baked-in padding and truncation replaced: triage pads
/// per batch, and truncates to `truncate_to` tokens (special tokens included) if given.
pub fn load_tokenizer(bytes: &[u8], truncate_to: Option<usize>) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_bytes(bytes).map_err(|e| TriageError::ModelUnavailable(format!("bad tokenizer.json: {e}")))?;
    tokenizer.with_padding(None::<PaddingParams>);
    let truncation = truncate_to.map(|max_length| TruncationParams {
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    });
    tokenizer
        .with_truncation(truncation)
        .map_err(|e| TriageError::ModelUnavailable(format!("tokenizer truncation: {e}")))?;
    Ok(tokenizer)
}

impl TextEncoder {
    /// Builds the model from its three files' bytes (the browser's path: fetched files).
    pub fn from_bytes(
        spec: &'static ModelSpec,
        config: &[u8],
        tokenizer: &[u8],
        weights: Vec<u8>,
        device: &Device,
    ) -> Result<Self> {
        Self::build(spec, config, tokenizer, SafetensorsStore::from_bytes(Some(weights)), device)
    }

    /// Builds the model from a directory holding the registry's files, checking their
    /// sha256 unless `verify` is false (the caller verified them already).
    pub fn from_dir(spec: &'static ModelSpec, dir: &Path, device: &Device, verify: bool) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| {
                TriageError::ModelUnavailable(format!(
                    "Model '{}' is not available: cannot read {} ({e}). Run `python3 models/fetch.py {}` first.",
                    spec.id,
                    path.display(),
                    spec.id
                ))
            })
        };
        let config = read("config.json")?;
        let tokenizer = read("tokenizer.json")?;
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            read("model.safetensors")?;
        }
        if verify {
            verify_sha256(spec, "config.json", &config)?;
            verify_sha256(spec, "tokenizer.json", &tokenizer)?;
            verify_file(spec, "model.safetensors", &weights)?;
        }
        Self::build(spec, &config, &tokenizer, SafetensorsStore::from_file(weights), device)
    }

    fn build(
        spec: &'static ModelSpec,
        config: &[u8],
        tokenizer: &[u8],
        store: SafetensorsStore,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = load_tokenizer(tokenizer, Some(spec.max_tokens))?;
        let network = match spec.architecture {
            Architecture::Bert => {
                let cfg: BertConfig = serde_json::from_slice(config)
                    .map_err(|e| TriageError::ModelUnavailable(format!("{}: bad config.json: {e}", spec.id)))?;
                cfg.validate().map_err(|e| TriageError::ModelUnavailable(format!("{}: {e}", spec.id)))?;
                if cfg.hidden_size != spec.dim || cfg.max_position_embeddings < spec.max_tokens {
                    return Err(TriageError::ModelUnavailable(format!(
                        "{}: config.json does not match the registry (hidden {}, positions {})",
                        spec.id, cfg.hidden_size, cfg.max_position_embeddings
                    )));
                }
                let mut model = cfg.init(device);
                let mut store = KEY_MAP
                    .iter()
                    .fold(store, |s, (from, to)| s.with_key_remapping(*from, *to))
                    .with_from_adapter(PyTorchToBurnAdapter);
                let result = model
                    .load_from(&mut store)
                    .map_err(|e| TriageError::ModelUnavailable(format!("{}: cannot load weights: {e}", spec.id)))?;
                if !result.missing.is_empty() || !result.errors.is_empty() {
                    return Err(TriageError::ModelUnavailable(format!(
                        "{}: weights do not fit the network: missing {:?}, errors {:?}",
                        spec.id, result.missing, result.errors
                    )));
                }
                Network::Bert(model)
            }
        };
        Ok(Self { spec, tokenizer, network, device: device.clone() })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids of each text, with the model's prefix and special tokens, truncated to
    /// the model's limit.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        Ok(self.tokenize_checked(texts)?.into_iter().map(|(ids, _)| ids).collect())
    }

    /// As [`Self::tokenize`], with whether each text was cut to fit the model.
    pub fn tokenize_checked(&self, texts: &[&str]) -> Result<Vec<(Vec<u32>, bool)>> {
        let prefixed: Vec<String> = texts.iter().map(|t| format!("{}{t}", self.spec.text_prefix)).collect();
        let encodings =
            self.tokenizer.encode_batch(prefixed, true).map_err(|e| TriageError::internal("tokenizer", e))?;
        Ok(encodings.into_iter().map(|e| (e.get_ids().to_vec(), !e.get_overflowing().is_empty())).collect())
    }

    /// Embeddings of token sequences, in input order: `[n][dim]`, unit length.
    pub async fn embed_ids(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = self.pooled_ids(sequences).await?;
        vectors.iter_mut().for_each(|v| crate::classify::l2_normalize(v));
        Ok(vectors)
    }

    /// Mean-pooled token states of token sequences, in input order, not normalised: `[n][dim]`.
    pub async fn pooled_ids(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let mut out = vec![Vec::new(); sequences.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| sequences[i].as_slice()).collect();
            let rows = self.forward(&batch).await?;
            for (&i, row) in chunk.iter().zip(rows) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// One padded batch through the network: `[batch][≤ seq]` ids → `[batch][dim]`.
    async fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let seq = batch.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch.len() * seq);
        let mut mask = Vec::with_capacity(batch.len() * seq);
        for s in batch {
            ids.extend(s.iter().map(|&t| t as i32));
            ids.extend(std::iter::repeat_n(0, seq - s.len()));
            mask.extend(std::iter::repeat_n(1i32, s.len()));
            mask.extend(std::iter::repeat_n(0i32, seq - s.len()));
        }
        let shape = [batch.len(), seq];
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), &self.device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), &self.device);
        let pooled = match &self.network {
            Network::Bert(m) => m.forward(ids, mask),
        };
        let data = pooled
            .into_data_async()
            .await
            .map_err(|e| TriageError::internal("reading embeddings from the device", e))?;
        let flat: Vec<f32> = data
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TriageError::internal("embedding data", format!("{e:?}")))?;
        Ok(flat.chunks(self.spec.dim).map(<[f32]>::to_vec).collect())
    }
}
