//! jina-clip-v1 and jina-clip-v2: a text tower and an EVA02 image tower in one checkpoint,
//! both ending in the shared embedding space (projections are identity; `logit_scale` only
//! scales CLIP logits, which cosine classification does not use, so it is not read).
//!
//! Follows Jina's `modeling_clip.py` / `configuration_clip.py` (jina-clip-implementation):
//! `config.json` holds `text_config` and `vision_config`; tensors are `vision_model.…` and
//! `text_model.transformer.…`. The released `text_config` names its text model
//! (`hf_model_name_or_path`) and overrides some of its fields in `hf_model_config_kwargs`
//! instead of sizing it, so the tower's config here is the released text model's
//! (jina-bert-v2 base for v1, jina-embeddings-v3 for v2) with those overrides applied —
//! released configs give the released sizes, tiny test configs override every size.
//! v2's text tower keeps jina-embeddings-v3's rotary base 20000: `hf_model_config_kwargs` of
//! the released config does not change it, and jina-embeddings-v3's config.json sets it.

use std::collections::HashMap;

use burn::tensor::Device;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::eva02::{self, Eva02, Eva02Config};
use super::jina_bert::{self, JinaBert, JinaBertConfig};
use super::jina_v3::{self, JinaV3, JinaV3Config};
use crate::error::{Result, TriageError};
use crate::loader::weights::{self, ByteSource, Loaded, Precision};
use crate::registry::ClipText;

#[derive(Debug, Clone, Deserialize)]
pub struct JinaClipConfig {
    pub text_config: ClipTextConfig,
    pub vision_config: Eva02Config,
    #[serde(default)]
    pub matryoshka_dimensions: Vec<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClipTextConfig {
    /// Fields of the released text model's config that jina-clip overrides.
    #[serde(default)]
    pub hf_model_config_kwargs: Map<String, Value>,
}

/// jina-embeddings-v3's released config, as jina-clip-v2's text tower starts from it (its
/// `hf_model_config_kwargs` then narrow the adapters to `retrieval.query`, alpha 4).
const V3_TEXT_DEFAULTS: &str = r#"{
  "vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
  "intermediate_size": 4096, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "type_vocab_size": 1,
  "position_embedding_type": "rotary", "rotary_emb_base": 20000.0,
  "lora_adaptations": ["retrieval.query"], "lora_rank": 4, "lora_alpha": 4.0
}"#;

/// The text tower of a jina-clip model.
// Built once per model and never moved around: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
pub enum ClipTextTower {
    JinaBert(JinaBert),
    JinaV3(JinaV3),
}

const VISION: &str = "vision_model.";
const TEXT: &str = "text_model.transformer.";

impl JinaClipConfig {
    /// The text tower's config: the released text model's with jina-clip's overrides.
    fn text_json(&self, defaults: &str) -> Result<Value, String> {
        let mut merged: Map<String, Value> = serde_json::from_str(defaults).map_err(|e| e.to_string())?;
        merged.extend(self.text_config.hf_model_config_kwargs.clone());
        Ok(Value::Object(merged))
    }

    pub fn jina_bert(&self) -> Result<JinaBertConfig, String> {
        let cfg: JinaBertConfig =
            serde_json::from_value(self.text_json("{}")?).map_err(|e| format!("text_config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn jina_v3(&self) -> Result<JinaV3Config, String> {
        let cfg: JinaV3Config =
            serde_json::from_value(self.text_json(V3_TEXT_DEFAULTS)?).map_err(|e| format!("text_config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self, text: ClipText) -> Result<(), String> {
        self.vision_config.validate()?;
        match text {
            ClipText::JinaBert => self.jina_bert().map(drop),
            ClipText::JinaV3 => self.jina_v3().map(drop),
        }
    }

    /// Both towers from one safetensors stream, each tensor converted to `precision` (or f16
    /// where the device cannot hold them in it) and uploaded as it arrives (v2's word table
    /// in row blocks, as jina-embeddings-v3's).
    pub async fn load<S: ByteSource>(
        &self,
        text: ClipText,
        src: &mut S,
        precision: Precision,
        device: &Device,
    ) -> Result<(ClipTextTower, Eva02)> {
        let bad = |e: String| TriageError::ModelUnavailable(format!("config.json: {e}"));
        let layout = weights::Layout {
            path: |name: &str| {
                if let Some(rest) = name.strip_prefix(VISION) {
                    return eva02::module_path(rest).map(|p| format!("vision/{p}"));
                }
                let rest = name.strip_prefix(TEXT)?;
                let path = match text {
                    ClipText::JinaBert => jina_bert::module_path(rest),
                    ClipText::JinaV3 => jina_v3::module_path(rest),
                };
                path.map(|p| format!("text/{p}"))
            },
            in_row_blocks: |path: &str| {
                text == ClipText::JinaV3 && (path == "text/word.weight" || path == "text/token_type.weight")
            },
            precision,
            max_block_bytes: weights::MAX_BLOCK_BYTES,
        };
        let weights::Streamed { mut tensors, precision } = weights::stream_safetensors(src, &layout, device).await?;
        let mut part = |prefix: &str| -> HashMap<String, Loaded> {
            let keys: Vec<String> = tensors.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            keys.into_iter().filter_map(|k| tensors.remove(&k).map(|t| (k[prefix.len()..].to_string(), t))).collect()
        };
        let vision = weights::install(self.vision_config.init(device), part("vision/"))?;
        let text_tensors = part("text/");
        let tower = match text {
            ClipText::JinaBert => {
                ClipTextTower::JinaBert(weights::install(self.jina_bert().map_err(bad)?.init(device), text_tensors)?)
            }
            ClipText::JinaV3 => {
                let cfg = self.jina_v3().map_err(bad)?;
                let init = cfg.init(device, precision, weights::MAX_BLOCK_BYTES);
                ClipTextTower::JinaV3(weights::install(init, text_tensors)?)
            }
        };
        Ok((tower, vision))
    }
}
