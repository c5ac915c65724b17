//! JinaBERT: the text tower of jina-clip-v1 (jina-bert-v2 base, English).
//!
//! Follows Jina's `modeling_bert.py` (jina-bert-implementation), cross-checked against
//! text-embeddings-inference's `backends/candle/src/models/jina.rs`: BERT without position
//! embeddings — ALiBi biases in attention instead (`−slope_h·|i−j|`, built per call at the
//! batch's length) —, post-norm layers, a GEGLU MLP (`gelu(g[:I]) ⊙ g[I:]` of one fused
//! bias-free projection, then `wo`), and mean pooling over the non-padding tokens. The
//! golden reference is the plain-PyTorch model in `tests/fixtures/gen_clip_fixtures.py`.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};
use serde::Deserialize;

use super::TorchLinear;
use super::bert::mean_pool;

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

/// Checkpoint names (under `text_model.transformer.`, stripped by the caller) → module paths.
/// The pooler is not used.
pub const KEY_MAP: &[(&str, &str)] = &[
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
    (r"(norm)\.weight$", "$1.gamma"),
    (r"(norm)\.bias$", "$1.beta"),
];

/// How many leading rules of [`KEY_MAP`] say which module a tensor belongs to.
pub const PREFIX_RULES: usize = 11;

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

    /// The tower with zeroed parameters (every one is replaced when weights are installed).
    pub fn init(&self, device: &Device) -> JinaBert {
        let (h, i) = (self.hidden_size, self.intermediate_size);
        let norm = || LayerNormConfig::new(h).with_epsilon(self.layer_norm_eps).init(device);
        JinaBert {
            word: Initializer::Zeros.init([self.vocab_size, h], device),
            token_type: Initializer::Zeros.init([self.type_vocab_size, h], device),
            emb_norm: norm(),
            layers: (0..self.num_hidden_layers)
                .map(|_| JinaBertLayer {
                    query: TorchLinear::init(h, h, true, device),
                    key: TorchLinear::init(h, h, true, device),
                    value: TorchLinear::init(h, h, true, device),
                    attn_out: TorchLinear::init(h, h, true, device),
                    attn_norm: norm(),
                    gated: TorchLinear::init(h, 2 * i, false, device),
                    wo: TorchLinear::init(i, h, true, device),
                    mlp_norm: norm(),
                })
                .collect(),
            slopes: alibi_slopes(self.num_attention_heads),
        }
    }
}

/// ALiBi head slopes: for a power of two n, `2^(−8k/n)`, k = 1..n; otherwise those of the
/// largest power of two below, then every other slope of twice that, as in ALiBi's paper
/// code (12 heads: 2⁻¹ … 2⁻⁸, then 2^−0.5, 2^−1.5, 2^−2.5, 2^−3.5).
pub fn alibi_slopes(heads: usize) -> Vec<f64> {
    fn power_of_two(n: usize) -> Vec<f64> {
        let start = 2f64.powf(-8.0 / n as f64);
        (1..=n).map(|k| start.powi(k as i32)).collect()
    }
    if heads.is_power_of_two() {
        return power_of_two(heads);
    }
    let below = 1usize << (usize::BITS - 1 - heads.leading_zeros());
    let mut slopes = power_of_two(below);
    slopes.extend(power_of_two(2 * below).into_iter().step_by(2).take(heads - below));
    slopes
}

#[derive(Module, Debug)]
pub struct JinaBertLayer {
    query: TorchLinear,
    key: TorchLinear,
    value: TorchLinear,
    attn_out: TorchLinear,
    attn_norm: LayerNorm,
    /// `[2·intermediate, hidden]`, no bias: the gated half first, then the linear half.
    gated: TorchLinear,
    wo: TorchLinear,
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
    /// `[batch, seq, hidden]` → same; `padding` `[batch, heads, seq, seq]` is true on padded
    /// keys, `alibi` `[batch, heads, seq, seq]` is added to the scores.
    fn forward(&self, x: Tensor<3>, padding: Tensor<4, Bool>, alibi: Tensor<4>) -> Tensor<3> {
        let [batch, seq, hidden] = x.dims();
        let heads = alibi.dims()[1];
        let head_dim = hidden / heads;
        let split = |t: Tensor<3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let context = attention(q, k, v, Some(padding), Some(alibi), AttentionModuleOptions::default())
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        let a = self.attn_norm.forward(x + self.attn_out.forward(context));
        let g = self.gated.forward(a.clone());
        let inter = g.dims()[2] / 2;
        let gated = gelu(g.clone().slice([0..batch, 0..seq, 0..inter])) * g.slice([0..batch, 0..seq, inter..2 * inter]);
        self.mlp_norm.forward(a + self.wo.forward(gated))
    }
}

impl JinaBert {
    pub fn dtype(&self) -> DType {
        self.word.val().dtype()
    }

    /// `[heads, seq, seq]` biases `−slope_h·|i−j|` for this batch's length.
    fn alibi(&self, seq: usize, device: &Device) -> Tensor<3> {
        let heads = self.slopes.len();
        let mut values = Vec::with_capacity(heads * seq * seq);
        for slope in &self.slopes {
            for i in 0..seq {
                values.extend((0..seq).map(|j| (-slope * i.abs_diff(j) as f64) as f32));
            }
        }
        Tensor::from_data(
            TensorData::new(values, [heads, seq, seq]).convert_dtype(self.dtype()),
            (device, self.dtype()),
        )
    }

    /// Token states: `[batch, seq]` ids and mask (1 = token, 0 = padding) → `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let device = ids.device();
        let heads = self.slopes.len();
        let hidden = self.word.dims()[1];
        let padding = mask.equal_elem(0).reshape([batch, 1, 1, seq]).expand([batch, heads, seq, seq]);
        let alibi = self.alibi(seq, &device).unsqueeze::<4>().expand([batch, heads, seq, seq]);
        let words = self.word.val().select(0, ids.reshape([batch * seq])).reshape([batch, seq, hidden]);
        let token_type = self.token_type.val().slice(0..1).reshape([1, 1, hidden]);
        let mut x = self.emb_norm.forward(words + token_type);
        for layer in &self.layers {
            x = layer.forward(x, padding.clone(), alibi.clone());
        }
        x
    }

    /// Sentence embeddings: `[batch, seq]` ids and mask → `[batch, hidden]`, mean-pooled over
    /// the non-padding tokens in f32 (whatever the weights' dtype), not normalised.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<2> {
        let states = self.encode(ids, mask.clone()).cast(DType::F32);
        mean_pool(states, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibi_slopes_follow_the_paper_rule() {
        let s = alibi_slopes(12);
        let expected: Vec<f64> = [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -0.5, -1.5, -2.5, -3.5]
            .iter()
            .map(|e| 2f64.powf(*e))
            .collect();
        for (a, b) in s.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(alibi_slopes(8).len(), 8);
        assert_eq!(alibi_slopes(3).len(), 3);
    }
}
