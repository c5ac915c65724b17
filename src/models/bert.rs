//! BERT encoder with mean pooling, as sentence-transformers runs all-MiniLM-L6-v2 and
//! multilingual-e5-small.
//!
//! Follows Hugging Face `transformers`' `BertModel` (`models/bert/modeling_bert.py`):
//! word + absolute position + token-type (always 0) embeddings, LayerNorm; post-norm
//! layers `x = LN(x + Attn(x))`, `x = LN(x + W2·gelu(W1·x))` with erf GELU; then
//! sentence-transformers' `Pooling(mean)` over the attention mask and `Normalize`.
//! The pooler head is not used.

use std::sync::LazyLock;

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm};
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::Deserialize;

use super::layers::keys::{LAYER_NORM_RENAMES, Unmatched};
use super::layers::{Activation, Heads, KeyMap, Linear, layer_norm, mean_pool, padding_mask};
use crate::error::Result;
use crate::loader::weights::{self, ByteSource, Precision};

/// The fields of a Hugging Face BERT `config.json` that shape the network.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_pos_type")]
    pub position_embedding_type: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_pos_type() -> String {
    "absolute".into()
}

/// Checkpoint names (Hugging Face `BertModel`, with or without a `bert.` prefix) → module
/// paths below. The pooler and the `position_ids` buffer are not read.
const PLACING: &[(&str, &str)] = &[
    (r"^(?:bert\.)?embeddings\.word_embeddings\.weight$", "word"),
    (r"^(?:bert\.)?embeddings\.position_embeddings\.weight$", "position"),
    (r"^(?:bert\.)?embeddings\.token_type_embeddings\.weight$", "token_type"),
    (r"^(?:bert\.)?embeddings\.LayerNorm\.", "emb_norm."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.attention\.self\.query\.", "layers.$1.query."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.attention\.self\.key\.", "layers.$1.key."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.attention\.self\.value\.", "layers.$1.value."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.$1.attn_out."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.$1.attn_norm."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.intermediate\.dense\.", "layers.$1.ffn_in."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.output\.dense\.", "layers.$1.ffn_out."),
    (r"^(?:bert\.)?encoder\.layer\.(\d+)\.output\.LayerNorm\.", "layers.$1.ffn_norm."),
];

static KEYS: LazyLock<KeyMap> = LazyLock::new(|| KeyMap::new(PLACING, LAYER_NORM_RENAMES, Unmatched::Skip));

impl BertConfig {
    /// Checks what this implementation supports.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden_act != "gelu" {
            return Err(format!("hidden_act '{}' is not supported (only erf 'gelu')", self.hidden_act));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!("position_embedding_type '{}' is not supported", self.position_embedding_type));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err("hidden_size must be a multiple of num_attention_heads".into());
        }
        Ok(())
    }

    /// The network with zeroed parameters (every one is replaced when weights are installed).
    pub fn init(&self, device: &Device) -> Bert {
        let h = self.hidden_size;
        let norm = || layer_norm(h, self.layer_norm_eps, device);
        Bert {
            word: Initializer::Zeros.init([self.vocab_size, h], device),
            position: Initializer::Zeros.init([self.max_position_embeddings, h], device),
            token_type: Initializer::Zeros.init([self.type_vocab_size, h], device),
            emb_norm: norm(),
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    query: Linear::init(h, h, true, device),
                    key: Linear::init(h, h, true, device),
                    value: Linear::init(h, h, true, device),
                    attn_out: Linear::init(h, h, true, device),
                    attn_norm: norm(),
                    ffn_in: Linear::init(h, self.intermediate_size, true, device),
                    ffn_out: Linear::init(self.intermediate_size, h, true, device),
                    ffn_norm: norm(),
                    heads: self.num_attention_heads,
                })
                .collect(),
        }
    }

    /// Builds the network from a safetensors stream under Hugging Face's names, stored in
    /// `precision`.
    pub async fn load<S: ByteSource>(&self, src: &mut S, precision: Precision, device: &Device) -> Result<Bert> {
        let layout = weights::Layout {
            path: |name: &str| KEYS.path(name),
            in_row_blocks: |_: &str| false,
            precision,
            max_block_bytes: weights::MAX_BLOCK_BYTES,
        };
        let streamed = weights::stream_safetensors(src, &layout, device).await?;
        weights::install(self.init(device), streamed.tensors)
    }
}

#[derive(Module, Debug)]
pub struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: LayerNorm,
    heads: usize,
}

#[derive(Module, Debug)]
pub struct Bert {
    /// `[vocab, hidden]`
    word: Param<Tensor<2>>,
    /// `[positions, hidden]`
    position: Param<Tensor<2>>,
    /// `[types, hidden]` (every token is type 0)
    token_type: Param<Tensor<2>>,
    emb_norm: LayerNorm,
    layers: Vec<BertLayer>,
}

impl BertLayer {
    /// # Shapes
    /// `[batch, seq, hidden]` → same; `padding` `[batch, heads, seq, seq]` is true on padded keys.
    fn forward(&self, x: Tensor<3>, padding: Tensor<4, Bool>) -> Tensor<3> {
        let heads = Heads(self.heads);
        let q = heads.split(self.query.forward(x.clone()));
        let k = heads.split(self.key.forward(x.clone()));
        let v = heads.split(self.value.forward(x.clone()));
        let context = heads.attend(q, k, v, Some(padding), None);
        let x = self.attn_norm.forward(x + self.attn_out.forward(context));
        let ffn = self.ffn_out.forward(Activation::Gelu.apply(self.ffn_in.forward(x.clone())));
        self.ffn_norm.forward(x + ffn)
    }
}

impl Bert {
    /// Token states.
    ///
    /// # Shapes
    /// `[batch, seq]` ids and mask (1 = token, 0 = padding) → `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let hidden = self.word.dims()[1];
        let heads = Heads(self.layers.first().map_or(1, |l| l.heads));
        let padding = padding_mask(mask, heads);
        let word = self.word.val().select(0, ids.reshape([batch * seq])).reshape([batch, seq, hidden]);
        let position = self.position.val().slice(0..seq).reshape([1, seq, hidden]);
        let token_type = self.token_type.val().slice(0..1).reshape([1, 1, hidden]);
        let mut x = self.emb_norm.forward(word + position + token_type);
        for layer in &self.layers {
            x = layer.forward(x, padding.clone());
        }
        x
    }

    /// Sentence embeddings, mean-pooled over the mask (padding never pooled), not normalised.
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
    fn key_map_reads_both_checkpoint_spellings_and_skips_the_rest() {
        assert_eq!(
            KEYS.path("bert.encoder.layer.5.output.LayerNorm.weight").as_deref(),
            Some("layers.5.ffn_norm.gamma")
        );
        assert_eq!(KEYS.path("encoder.layer.0.attention.self.query.bias").as_deref(), Some("layers.0.query.bias"));
        assert_eq!(KEYS.path("embeddings.word_embeddings.weight").as_deref(), Some("word"));
        assert_eq!(KEYS.path("embeddings.position_ids"), None);
        assert_eq!(KEYS.path("pooler.dense.weight"), None);
    }
}
