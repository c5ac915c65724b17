//! BERT encoder with mean pooling, as sentence-transformers runs all-MiniLM-L6-v2 and
//! multilingual-e5-small.
//!
//! Follows Hugging Face `transformers`' `BertModel` (`models/bert/modeling_bert.py`):
//! word + absolute position + token-type (always 0) embeddings, LayerNorm; post-norm
//! layers `x = LN(x + Attn(x))`, `x = LN(x + W2·gelu(W1·x))` with erf GELU; then
//! sentence-transformers' `Pooling(mean)` over the attention mask and `Normalize`.
//! The pooler head is not used.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::Deserialize;

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

/// Checkpoint names (Hugging Face `BertModel`, with or without a `bert.` prefix) →
/// module paths below. Linear weights are transposed and LayerNorm `weight`/`bias` become
/// `gamma`/`beta` by burn-store's `PyTorchToBurnAdapter`.
pub const KEY_MAP: &[(&str, &str)] = &[
    (r"^bert\.", ""),
    (r"^embeddings\.word_embeddings\.", "embeddings.word."),
    (r"^embeddings\.position_embeddings\.", "embeddings.position."),
    (r"^embeddings\.token_type_embeddings\.", "embeddings.token_type."),
    (r"^embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.query\.", "layers.$1.query."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.key\.", "layers.$1.key."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.value\.", "layers.$1.value."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.$1.attn_out."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.$1.attn_norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", "layers.$1.ffn_in."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", "layers.$1.ffn_out."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", "layers.$1.ffn_norm."),
];

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

    pub fn init(&self, device: &Device) -> Bert {
        let h = self.hidden_size;
        let norm = || LayerNormConfig::new(h).with_epsilon(self.layer_norm_eps).init(device);
        Bert {
            embeddings: BertEmbeddings {
                word: EmbeddingConfig::new(self.vocab_size, h).init(device),
                position: EmbeddingConfig::new(self.max_position_embeddings, h).init(device),
                token_type: EmbeddingConfig::new(self.type_vocab_size, h).init(device),
                norm: norm(),
            },
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    query: LinearConfig::new(h, h).init(device),
                    key: LinearConfig::new(h, h).init(device),
                    value: LinearConfig::new(h, h).init(device),
                    attn_out: LinearConfig::new(h, h).init(device),
                    attn_norm: norm(),
                    ffn_in: LinearConfig::new(h, self.intermediate_size).init(device),
                    ffn_out: LinearConfig::new(self.intermediate_size, h).init(device),
                    ffn_norm: norm(),
                    heads: self.num_attention_heads,
                })
                .collect(),
        }
    }
}

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
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
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

impl BertEmbeddings {
    /// `[batch, seq]` ids → `[batch, seq, hidden]`.
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, seq] = ids.dims();
        let word = self.word.forward(ids);
        let hidden = word.dims()[2];
        let position = self.position.weight.val().slice(0..seq).reshape([1, seq, hidden]);
        let token_type = self.token_type.weight.val().slice(0..1).reshape([1, 1, hidden]);
        self.norm.forward(word + position + token_type)
    }
}

impl BertLayer {
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`; `padding` is `[batch, heads, seq, seq]`,
    /// true on padded keys.
    fn forward(&self, x: Tensor<3>, padding: Tensor<4, Bool>) -> Tensor<3> {
        let [batch, seq, hidden] = x.dims();
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<3>| t.reshape([batch, seq, self.heads, head_dim]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let context = attention(q, k, v, Some(padding), None, AttentionModuleOptions::default())
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        let x = self.attn_norm.forward(x + self.attn_out.forward(context));
        let ffn = self.ffn_out.forward(gelu(self.ffn_in.forward(x.clone())));
        self.ffn_norm.forward(x + ffn)
    }
}

impl Bert {
    /// Token states: `[batch, seq]` ids and mask (1 = token, 0 = padding) →
    /// `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let heads = self.layers.first().map(|l| l.heads).unwrap_or(1);
        let padding = mask.equal_elem(0).reshape([batch, 1, 1, seq]).expand([batch, heads, seq, seq]);
        let mut x = self.embeddings.forward(ids);
        for layer in &self.layers {
            x = layer.forward(x, padding.clone());
        }
        x
    }

    /// Sentence embeddings: `[batch, seq]` ids and mask → `[batch, hidden]`, mean-pooled over
    /// the mask (padding never pooled), not normalised.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<2> {
        let states = self.encode(ids, mask.clone());
        mean_pool(states, mask)
    }
}

/// `[batch, seq, hidden]` states and `[batch, seq]` mask → `[batch, hidden]` means over the
/// unmasked tokens. Normalisation is left to the caller (`normalized: false` exists).
pub fn mean_pool(states: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<2> {
    let [batch, seq, hidden] = states.dims();
    let mask = mask.float().reshape([batch, seq, 1]);
    let summed = (states * mask.clone()).sum_dim(1).reshape([batch, hidden]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    summed / counts
}
