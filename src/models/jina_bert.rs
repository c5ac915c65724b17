//! JinaBERT: jina-embeddings-v2-base-en on its own, and the text tower of jina-clip-v1
//! (jina-bert-v2 base, English).
//!
//! Follows Jina's `modeling_bert.py` (jina-bert-implementation), cross-checked against
//! text-embeddings-inference's `backends/candle/src/models/jina.rs`: BERT without position
//! embeddings — ALiBi biases in attention instead (`−slope_h·|i−j|`, built per call at the
//! batch's length) —, post-norm layers, a GEGLU MLP (`gelu(g[:I]) ⊙ g[I:]` of one fused
//! bias-free projection, then `wo`), and mean pooling over the non-padding tokens. The
//! golden reference is the plain-PyTorch model in `tests/fixtures/gen_clip_fixtures.py`.

use std::sync::LazyLock;

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm};
use burn::tensor::{Bool, DType, Device, Int, Tensor};
use serde::Deserialize;

use super::layers::keys::{LAYER_NORM_RENAMES, Unmatched};
use super::layers::{Activation, Heads, KeyMap, Linear, alibi_bias, alibi_slopes, layer_norm, mean_pool, padding_mask};
use crate::error::Result;
use crate::loader::weights::{self, ByteSource, Precision};

/// jina-bert-v2's `config.json` fields that shape the tower. Defaults are the released
/// base model's: jina-clip-v1's own config names its text model instead of sizing it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct JinaBertConfig {
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "d_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_ff")]
    pub feed_forward_type: String,
    #[serde(default = "d_pos")]
    pub position_embedding_type: String,
}

fn d_vocab() -> usize {
    30528
}
fn d_hidden() -> usize {
    768
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    12
}
fn d_intermediate() -> usize {
    3072
}
fn d_type_vocab() -> usize {
    2
}
fn d_eps() -> f64 {
    1e-12
}
fn d_act() -> String {
    "gelu".into()
}
fn d_ff() -> String {
    "geglu".into()
}
fn d_pos() -> String {
    "alibi".into()
}

/// Checkpoint names (jina-clip-v1's under `text_model.transformer.`, stripped by the caller)
/// → module paths. The pooler and a masked-LM head are not read.
const PLACING: &[(&str, &str)] = &[
    (r"^embeddings\.word_embeddings\.weight$", "word"),
    (r"^embeddings\.token_type_embeddings\.weight$", "token_type"),
    (r"^embeddings\.LayerNorm\.", "emb_norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.query\.", "layers.$1.query."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.key\.", "layers.$1.key."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.value\.", "layers.$1.value."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.$1.attn_out."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.$1.attn_norm."),
    (r"^encoder\.layer\.(\d+)\.mlp\.gated_layers\.", "layers.$1.gated."),
    (r"^encoder\.layer\.(\d+)\.mlp\.wo\.", "layers.$1.wo."),
    (r"^encoder\.layer\.(\d+)\.mlp\.layernorm\.", "layers.$1.mlp_norm."),
];

static KEYS: LazyLock<KeyMap> = LazyLock::new(|| KeyMap::new(PLACING, LAYER_NORM_RENAMES, Unmatched::Skip));

/// The module path of a checkpoint tensor (its name under the tower's prefix), or `None`
/// for one the tower does not use. A `bert.` in front (the masked-LM class's checkpoints)
/// is dropped.
pub fn module_path(name: &str) -> Option<String> {
    KEYS.path(name.strip_prefix("bert.").unwrap_or(name))
}

impl JinaBertConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden_act != "gelu" || self.feed_forward_type != "geglu" {
            return Err(format!(
                "hidden_act '{}' / feed_forward_type '{}' not supported (only erf GELU, GEGLU)",
                self.hidden_act, self.feed_forward_type
            ));
        }
        if self.position_embedding_type != "alibi" {
            return Err(format!("position_embedding_type '{}' is not supported", self.position_embedding_type));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err("hidden_size must be a multiple of num_attention_heads".into());
        }
        Ok(())
    }

    /// Builds the network from a safetensors stream under jina-embeddings-v2's names, each
    /// tensor converted to `precision` (f16 where the device cannot hold it) as it arrives.
    pub async fn load<S: ByteSource>(&self, src: &mut S, precision: Precision, device: &Device) -> Result<JinaBert> {
        let layout = weights::Layout {
            path: module_path,
            in_row_blocks: |_: &str| false,
            precision,
            max_block_bytes: weights::MAX_BLOCK_BYTES,
        };
        let streamed = weights::stream_safetensors(src, &layout, device).await?;
        weights::install(self.init(device), streamed.tensors)
    }

    /// The tower with zeroed parameters (every one is replaced when weights are installed).
    pub fn init(&self, device: &Device) -> JinaBert {
        let (h, i) = (self.hidden_size, self.intermediate_size);
        let norm = || layer_norm(h, self.layer_norm_eps, device);
        JinaBert {
            word: Initializer::Zeros.init([self.vocab_size, h], device),
            token_type: Initializer::Zeros.init([self.type_vocab_size, h], device),
            emb_norm: norm(),
            layers: (0..self.num_hidden_layers)
                .map(|_| JinaBertLayer {
                    query: Linear::init(h, h, true, device),
                    key: Linear::init(h, h, true, device),
                    value: Linear::init(h, h, true, device),
                    attn_out: Linear::init(h, h, true, device),
                    attn_norm: norm(),
                    gated: Linear::init(h, 2 * i, false, device),
                    wo: Linear::init(i, h, true, device),
                    mlp_norm: norm(),
                })
                .collect(),
            slopes: alibi_slopes(self.num_attention_heads),
        }
    }
}

#[derive(Module, Debug)]
pub struct JinaBertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    /// `[2·intermediate, hidden]`, no bias: the gated half first, then the linear half.
    gated: Linear,
    wo: Linear,
    mlp_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct JinaBert {
    word: Param<Tensor<2>>,
    token_type: Param<Tensor<2>>,
    emb_norm: LayerNorm,
    layers: Vec<JinaBertLayer>,
    slopes: Vec<f64>,
}

impl JinaBertLayer {
    /// # Shapes
    /// `[batch, seq, hidden]` → same; `padding` `[batch, heads, seq, seq]` is true on padded
    /// keys, `alibi` `[batch, heads, seq, seq]` is added to the scores.
    fn forward(&self, x: Tensor<3>, padding: Tensor<4, Bool>, alibi: Tensor<4>) -> Tensor<3> {
        let heads = Heads(alibi.dims()[1]);
        let q = heads.split(self.query.forward(x.clone()));
        let k = heads.split(self.key.forward(x.clone()));
        let v = heads.split(self.value.forward(x.clone()));
        let context = heads.attend(q, k, v, Some(padding), Some(alibi));
        let a = self.attn_norm.forward(x + self.attn_out.forward(context));
        let gated = Activation::Gelu.gated_halves(self.gated.forward(a.clone()));
        self.mlp_norm.forward(a + self.wo.forward(gated))
    }
}

impl JinaBert {
    pub fn dtype(&self) -> DType {
        self.word.val().dtype()
    }

    /// Token states.
    ///
    /// # Shapes
    /// `[batch, seq]` ids and mask (1 = token, 0 = padding) → `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let device = ids.device();
        let heads = self.slopes.len();
        let hidden = self.word.dims()[1];
        let padding = padding_mask(mask, Heads(heads));
        let alibi =
            alibi_bias(&self.slopes, seq, self.dtype(), &device).unsqueeze::<4>().expand([batch, heads, seq, seq]);
        let words = self.word.val().select(0, ids.reshape([batch * seq])).reshape([batch, seq, hidden]);
        let token_type = self.token_type.val().slice(0..1).reshape([1, 1, hidden]);
        let mut x = self.emb_norm.forward(words + token_type);
        for layer in &self.layers {
            x = layer.forward(x, padding.clone(), alibi.clone());
        }
        x
    }

    /// Sentence embeddings, mean-pooled over the non-padding tokens in f32 (whatever the
    /// weights' dtype), not normalised.
    ///
    /// # Shapes
    /// `[batch, seq]` ids and mask → `[batch, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<2> {
        let states = self.encode(ids, mask.clone());
        mean_pool(states, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_places_the_tower_and_skips_the_pooler() {
        assert_eq!(module_path("encoder.layer.11.mlp.layernorm.weight").as_deref(), Some("layers.11.mlp_norm.gamma"));
        assert_eq!(module_path("encoder.layer.0.mlp.gated_layers.weight").as_deref(), Some("layers.0.gated.weight"));
        assert_eq!(module_path("embeddings.LayerNorm.bias").as_deref(), Some("emb_norm.beta"));
        assert_eq!(module_path("pooler.dense.weight"), None);
        // jina-embeddings-v2 checkpoints of the masked-LM class put `bert.` in front and
        // carry the head, which is not read.
        assert_eq!(module_path("bert.encoder.layer.3.attention.self.key.bias").as_deref(), Some("layers.3.key.bias"));
        assert_eq!(module_path("cls.predictions.transform.dense.weight"), None);
    }
}
