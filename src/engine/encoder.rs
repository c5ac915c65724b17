//! A loaded model: tokenizer + text network (+ image tower for jina-clip) on one device.
//! Texts or preprocessed images in, unit vectors out.
//!
//! Inputs are sorted by length and cut into batches so padding stays small; within a
//! batch, padding is masked in attention and never pooled. The one read of the result is
//! async (`into_data_async`), so the same code runs where synchronous GPU readback does
//! not exist (WebGPU in the browser).

use std::path::Path;

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Result, TriageError};
#[cfg(target_arch = "wasm32")]
use crate::loader::timings::LoadTimings;
#[cfg(target_arch = "wasm32")]
use crate::loader::web_files::{ModelFileStream, Progress};
#[cfg(target_arch = "wasm32")]
use crate::loader::weights;
use crate::loader::weights::{ByteSource, Precision};
use crate::models::bert::{Bert, BertConfig};
use crate::models::eva02::Eva02;
use crate::models::jina_bert::{JinaBert, JinaBertConfig};
use crate::models::jina_clip::{ClipTextTower, JinaClipConfig};
use crate::models::jina_v3::{JinaV3, JinaV3Config};
use crate::registry::{Architecture, ModelSpec};

/// Sequences per forward pass.
pub const BATCH_SIZE: usize = 32;

/// Images per forward pass of an image tower (a jina-clip-v2 image is 1,297 tokens).
pub const IMAGE_BATCH_SIZE: usize = 8;

// Built once per model and never moved around: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
enum Network {
    Bert(Bert),
    JinaV3(JinaV3),
    JinaBert(JinaBert),
}

pub struct Encoder {
    pub spec: &'static ModelSpec,
    tokenizer: Tokenizer,
    network: Network,
    /// The image tower of models that embed images.
    vision: Option<Eva02>,
    device: Device,
    /// Embedding width (from the model's config.json).
    dim: usize,
    /// Adapter index of each of the registry's tasks, in the registry's order.
    task_adapters: Vec<usize>,
}

/// The adapter an embedding call runs with: one of the model's tasks, or the base weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TaskChoice(Option<usize>);

impl TaskChoice {
    /// Base weights, no instruction prefix (all models).
    pub const NONE: TaskChoice = TaskChoice(None);
}

/// Adapter index of each of the registry's tasks in a jina-embeddings-v3 config.
fn task_adapters(spec: &ModelSpec, cfg: &JinaV3Config) -> std::result::Result<Vec<usize>, String> {
    spec.tasks
        .iter()
        .map(|t| cfg.task_index(t.name).ok_or_else(|| format!("config.json has no '{}' adapter", t.name)))
        .collect()
}

/// A model's config.json as its architecture's config type.
fn parse_config<T: serde::de::DeserializeOwned>(spec: &ModelSpec, config: &[u8]) -> Result<T> {
    serde_json::from_slice(config)
        .map_err(|e| TriageError::ModelUnavailable(format!("{}: bad config.json: {e}", spec.id)))
}

/// Checks a file's bytes against the sha256 the registry pins.
pub fn verify_sha256(spec: &ModelSpec, name: &str, bytes: &[u8]) -> Result<()> {
    check_digest(spec, name, Sha256::digest(bytes).into())
}

/// Checks a file on disk against the registry, streaming it (weights can be large); a file
/// with no pinned digest is not read at all.
fn verify_file(spec: &ModelSpec, name: &str, path: &Path) -> Result<()> {
    if !spec.files.iter().any(|f| f.name == name && f.sha256.is_some()) {
        return Ok(());
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| TriageError::ModelUnavailable(format!("cannot open {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| TriageError::ModelUnavailable(format!("cannot read {}: {e}", path.display())))?;
    check_digest(spec, name, hasher.finalize().into())
}

fn check_digest(spec: &ModelSpec, name: &str, digest: [u8; 32]) -> Result<()> {
    let Some(expected) = spec.files.iter().find(|f| f.name == name).and_then(|f| f.sha256) else { return Ok(()) };
    let got = hex::encode(digest);
    if got != expected {
        return Err(TriageError::ModelUnavailable(format!(
            "{}/{name} has sha256 {got}, expected {expected}: the file is damaged or not this model's",
            spec.id
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

impl Encoder {
    /// Builds the model from its files: config and tokenizer bytes, and the weights read
    /// front to back from `weights` (a file natively, a cached response in the browser),
    /// stored on the device in `precision` where the architecture streams its weights.
    pub async fn load<S: ByteSource>(
        spec: &'static ModelSpec,
        config: &[u8],
        tokenizer: &[u8],
        weights: &mut S,
        device: &Device,
        precision: Precision,
    ) -> Result<Self> {
        let tokenizer = load_tokenizer(tokenizer, Some(spec.max_tokens))?;
        Self::load_with_tokenizer(spec, config, tokenizer, weights, device, precision).await
    }

    /// [`Encoder::load`] with the tokenizer already built (`load_tokenizer` with the spec's
    /// `max_tokens`), for a caller that times the two apart.
    pub async fn load_with_tokenizer<S: ByteSource>(
        spec: &'static ModelSpec,
        config: &[u8],
        tokenizer: Tokenizer,
        weights: &mut S,
        device: &Device,
        precision: Precision,
    ) -> Result<Self> {
        let unavailable = |e: String| TriageError::ModelUnavailable(format!("{}: {e}", spec.id));
        let mut vision = None;
        let (network, dim, task_adapters) = match spec.architecture {
            Architecture::Bert => {
                let cfg: BertConfig = parse_config(spec, config)?;
                cfg.validate().map_err(unavailable)?;
                if cfg.max_position_embeddings < spec.max_tokens {
                    return Err(unavailable(format!(
                        "config.json has {} positions, the registry reads {} tokens",
                        cfg.max_position_embeddings, spec.max_tokens
                    )));
                }
                // Kept in f32 on every device: the golden tests hold these models to 1e-4,
                // and a smaller dtype is a choice for the caller to make, not a default.
                let model = cfg.load(weights, Precision::F32, device).await?;
                (Network::Bert(model), cfg.hidden_size, Vec::new())
            }
            Architecture::JinaBert => {
                let cfg: JinaBertConfig = parse_config(spec, config)?;
                cfg.validate().map_err(unavailable)?;
                let model = cfg.load(weights, precision, device).await?;
                (Network::JinaBert(model), cfg.hidden_size, Vec::new())
            }
            Architecture::JinaV3 => {
                let cfg: JinaV3Config = parse_config(spec, config)?;
                cfg.validate().map_err(unavailable)?;
                let task_adapters = task_adapters(spec, &cfg).map_err(unavailable)?;
                let model = cfg.load(weights, precision, device).await?;
                (Network::JinaV3(model), cfg.hidden_size, task_adapters)
            }
            Architecture::JinaClip(text) => {
                let cfg: JinaClipConfig = parse_config(spec, config)?;
                cfg.validate(text).map_err(unavailable)?;
                let (tower, eva) = cfg.load(text, weights, precision, device).await?;
                vision = Some(eva);
                match tower {
                    ClipTextTower::JinaBert(m) => {
                        let dim = cfg.jina_bert().map_err(unavailable)?.hidden_size;
                        (Network::JinaBert(m), dim, Vec::new())
                    }
                    ClipTextTower::JinaV3(m) => {
                        let text_cfg = cfg.jina_v3().map_err(unavailable)?;
                        let adapters = task_adapters(spec, &text_cfg).map_err(unavailable)?;
                        (Network::JinaV3(m), text_cfg.hidden_size, adapters)
                    }
                }
            }
        };
        if let Some(eva) = &vision
            && eva.width() != dim
        {
            return Err(unavailable(format!("image embeddings have {} dims, text embeddings {dim}", eva.width())));
        }
        let encoder = Self { spec, tokenizer, network, vision, device: device.clone(), dim, task_adapters };
        // The adapter classification uses (the default task) is folded into the weights at
        // load: the fastest path for it, and no extra copy; other tasks go low-rank.
        let default_task = encoder.task(None)?;
        Ok(encoder.fold_task(default_task))
    }

    /// Folds `task`'s adapter into the weights ([`TaskChoice::NONE`]: back to the base
    /// weights, every task then on the low-rank path). Every task stays available either
    /// way; this only moves which one is fastest (`--unfolded` of the bench example).
    pub fn fold_task(self, task: TaskChoice) -> Self {
        let adapter = task.0.map(|i| self.task_adapters[i]);
        let network = match self.network {
            Network::JinaV3(m) => Network::JinaV3(m.fold(adapter)),
            other => other,
        };
        Self { network, ..self }
    }

    /// Builds the model from the registry's files fetched from `base_url` (default: the hub)
    /// through the browser's Cache API, each checked against its pinned sha256, reporting
    /// download progress; the weights are decoded as they stream in. Also returns where the
    /// load spent its time.
    #[cfg(target_arch = "wasm32")]
    pub async fn fetch(
        spec: &'static ModelSpec,
        base_url: Option<&str>,
        progress: &Progress<'_>,
        device: &Device,
        precision: Precision,
    ) -> Result<(Self, LoadTimings)> {
        let mut timings = LoadTimings::start();
        let file = |name: &str| {
            spec.files
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| TriageError::Internal(format!("registry entry '{}' lacks {name}", spec.id)))
        };
        let config =
            weights::read_to_end(&mut ModelFileStream::open(spec, file("config.json")?, base_url, progress).await?)
                .await?;
        timings.mark("read", Some("config.json"));
        let tokenizer =
            weights::read_to_end(&mut ModelFileStream::open(spec, file("tokenizer.json")?, base_url, progress).await?)
                .await?;
        timings.mark("read", Some("tokenizer.json"));
        let tokenizer = load_tokenizer(&tokenizer, Some(spec.max_tokens))?;
        timings.mark("tokenizer", None);
        let mut weights = ModelFileStream::open(spec, file("model.safetensors")?, base_url, progress).await?;
        let encoder = Self::load_with_tokenizer(spec, &config, tokenizer, &mut weights, device, precision).await?;
        // The digest of a pinned file is known only at its end: no model from a bad file.
        weights.finish().await?;
        // The weights are decoded as they stream in: the stream's own time is the file's read.
        timings.mark_split("weights", "model.safetensors", weights.read_ms());
        Ok((encoder, timings))
    }

    /// Builds the model from a directory holding the registry's files, checking pinned
    /// sha256 digests unless `verify` is false (the caller verified them already).
    pub fn from_dir(spec: &'static ModelSpec, dir: &Path, device: &Device, verify: bool) -> Result<Self> {
        Self::from_dir_in(spec, dir, device, verify, Precision::F32)
    }

    /// [`Self::from_dir`] with the weights stored in `precision` where the architecture
    /// streams its weights (all but the small BERTs).
    pub fn from_dir_in(
        spec: &'static ModelSpec,
        dir: &Path,
        device: &Device,
        verify: bool,
        precision: Precision,
    ) -> Result<Self> {
        let missing = |path: &Path, e: std::io::Error| {
            TriageError::ModelUnavailable(format!(
                "Model '{}' is not available: cannot read {} ({e}). Run `triage pull {}` first.",
                spec.id,
                path.display(),
                spec.id
            ))
        };
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| missing(&path, e))
        };
        let config = read("config.json")?;
        let tokenizer = read("tokenizer.json")?;
        let path = dir.join("model.safetensors");
        let mut weights = std::fs::File::open(&path).map_err(|e| missing(&path, e))?;
        if verify {
            verify_sha256(spec, "config.json", &config)?;
            verify_sha256(spec, "tokenizer.json", &tokenizer)?;
            verify_file(spec, "model.safetensors", &path)?;
        }
        // A file never makes the loader wait, so blocking on it is immediate.
        pollster::block_on(Self::load(spec, &config, &tokenizer, &mut weights, device, precision))
    }

    /// The dtype the weights are stored in on the device: f32, or f16 where the device
    /// computes in half precision or could not hold f32 weights (a browser page's CPU).
    pub fn weight_dtype(&self) -> DType {
        match &self.network {
            Network::Bert(_) => DType::F32,
            Network::JinaV3(m) => m.dtype(),
            Network::JinaBert(m) => m.dtype(),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The adapter for a task name: `None` → the model's classification task (or the base
    /// weights for models without tasks). A name the model lacks is a validation error.
    pub fn task(&self, name: Option<&str>) -> Result<TaskChoice> {
        let name = match name.or(self.spec.classification_task) {
            None => return Ok(TaskChoice::NONE),
            Some(n) => n,
        };
        match self.spec.task_index(name) {
            Some(i) => Ok(TaskChoice(Some(i))),
            None if self.spec.tasks.is_empty() => Err(TriageError::validation(
                "task",
                format!("Model '{}' has no task adapters; 'task' applies to jina-embeddings-v3", self.spec.id),
            )),
            None => Err(TriageError::validation(
                "task",
                format!(
                    "Model '{}' has no task '{name}'; its tasks are {}",
                    self.spec.id,
                    self.spec.tasks.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// Token ids of each text, with the task's (or model's) prefix and special tokens,
    /// truncated to the model's limit.
    pub fn tokenize(&self, texts: &[&str], task: TaskChoice) -> Result<Vec<Vec<u32>>> {
        Ok(self.tokenize_checked(texts, task)?.into_iter().map(|(ids, _)| ids).collect())
    }

    /// As [`Self::tokenize`], with whether each text was cut to fit the model.
    pub fn tokenize_checked(&self, texts: &[&str], task: TaskChoice) -> Result<Vec<(Vec<u32>, bool)>> {
        let prefix = match task.0 {
            Some(i) => self.spec.tasks[i].prefix,
            None => self.spec.text_prefix,
        };
        let prefixed: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings =
            self.tokenizer.encode_batch(prefixed, true).map_err(|e| TriageError::internal("tokenizer", e))?;
        Ok(encodings.into_iter().map(|e| (e.get_ids().to_vec(), !e.get_overflowing().is_empty())).collect())
    }

    /// Embeddings of token sequences, in input order: `[n][dim]`, unit length.
    pub async fn embed_ids(&self, sequences: &[Vec<u32>], task: TaskChoice) -> Result<Vec<Vec<f32>>> {
        let mut vectors = self.pooled_ids(sequences, task).await?;
        vectors.iter_mut().for_each(|v| crate::classify::l2_normalize(v));
        Ok(vectors)
    }

    /// Mean-pooled token states of token sequences, in input order, not normalised: `[n][dim]`.
    pub async fn pooled_ids(&self, sequences: &[Vec<u32>], task: TaskChoice) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let mut out = vec![Vec::new(); sequences.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| sequences[i].as_slice()).collect();
            let rows = self.forward(&batch, task).await?;
            for (&i, row) in chunk.iter().zip(rows) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// One padded batch through the network: `[batch][≤ seq]` ids → `[batch][dim]`.
    async fn forward(&self, batch: &[&[u32]], task: TaskChoice) -> Result<Vec<Vec<f32>>> {
        let seq = batch.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch.len() * seq);
        let mut mask = Vec::with_capacity(batch.len() * seq);
        for s in batch {
            ids.extend(s.iter().map(|&t| t as i32));
            // Padding positions are masked; their id only has to be in the vocabulary.
            ids.extend(std::iter::repeat_n(0, seq - s.len()));
            mask.extend(std::iter::repeat_n(1i32, s.len()));
            mask.extend(std::iter::repeat_n(0i32, seq - s.len()));
        }
        let shape = [batch.len(), seq];
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), &self.device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), &self.device);
        let pooled = match &self.network {
            Network::Bert(m) => m.forward(ids, mask),
            Network::JinaBert(m) => m.forward(ids, mask),
            Network::JinaV3(m) => {
                let adapter = task.0.map(|i| self.task_adapters[i]);
                m.forward(ids, mask, &vec![adapter; batch.len()])
            }
        };
        self.read_rows(pooled).await
    }

    /// The one read of a result: `[n, dim]` on the device → rows, asynchronously.
    async fn read_rows(&self, t: Tensor<2>) -> Result<Vec<Vec<f32>>> {
        let data =
            t.into_data_async().await.map_err(|e| TriageError::internal("reading embeddings from the device", e))?;
        let flat: Vec<f32> = data
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TriageError::internal("embedding data", format!("{e:?}")))?;
        Ok(flat.chunks(self.dim).map(<[f32]>::to_vec).collect())
    }

    /// Side of the square images the image tower takes; `None` for text-only models.
    pub fn image_size(&self) -> Option<usize> {
        self.vision.as_ref().map(Eva02::image_size)
    }

    /// Image embeddings, unit length: each input is `[3, size, size]` normalised pixels
    /// ([`crate::image::preprocess`]) → `[n][dim]`.
    pub async fn embed_images(&self, pixels: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = self.pooled_images(pixels).await?;
        vectors.iter_mut().for_each(|v| crate::classify::l2_normalize(v));
        Ok(vectors)
    }

    /// Image embeddings before normalisation (the CLS state): `[n][3·size·size]` → `[n][dim]`.
    pub async fn pooled_images(&self, pixels: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let (Some(eva), Some(size)) = (&self.vision, self.image_size()) else {
            return Err(TriageError::validation(
                "input",
                format!("Model '{}' has no image tower: image inputs need jina-clip-v1 or jina-clip-v2", self.spec.id),
            ));
        };
        let plane = 3 * size * size;
        let mut out = Vec::with_capacity(pixels.len());
        for chunk in pixels.chunks(IMAGE_BATCH_SIZE) {
            let mut flat = Vec::with_capacity(chunk.len() * plane);
            for p in chunk {
                if p.len() != plane {
                    return Err(TriageError::Internal(format!("image of {} values, expected {plane}", p.len())));
                }
                flat.extend_from_slice(p);
            }
            let data = TensorData::new(flat, [chunk.len(), 3, size, size]).convert_dtype(eva.dtype());
            let batch = Tensor::<4>::from_data(data, (&self.device, eva.dtype()));
            out.extend(self.read_rows(eva.forward(batch)).await?);
        }
        Ok(out)
    }
}
