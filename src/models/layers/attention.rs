//! Multi-head self-attention around burn's fused `attention` (softmax(q·kᵀ/√d + bias),
//! masked keys excluded); on the CPU backend in f32 the `triage-kernels` attention, which
//! reads the split heads in place and writes them merged.

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Int, Tensor};

use super::cpu;

/// How many heads a layer's width is split into.
#[derive(Debug, Clone, Copy)]
pub struct Heads(pub usize);

impl Heads {
    /// # Shapes
    /// `[batch, seq, heads·head_dim]` → `[batch, heads, seq, head_dim]`.
    pub fn split(self, t: Tensor<3>) -> Tensor<4> {
        let [batch, seq, width] = t.dims();
        t.reshape([batch, seq, self.0, width / self.0]).swap_dims(1, 2)
    }

    /// Scaled dot-product attention of split heads, merged back.
    ///
    /// # Shapes
    /// `q`, `k`, `v`: `[batch, heads, seq, head_dim]`; `padding` `[batch, heads, seq, seq]`
    /// true on keys to exclude; `bias` `[batch, heads, seq, seq]` added to the scores
    /// (ALiBi) → `[batch, seq, heads·head_dim]`.
    pub fn attend(
        self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        padding: Option<Tensor<4, Bool>>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        if let Some(context) = cpu::attention(&q, &k, &v, padding.as_ref(), bias.as_ref()) {
            return context;
        }
        let [batch, heads, seq, head_dim] = q.dims();
        attention(q, k, v, padding, bias, AttentionModuleOptions::default()).swap_dims(1, 2).reshape([
            batch,
            seq,
            heads * head_dim,
        ])
    }
}

/// The key mask of a padded batch.
///
/// # Shapes
/// `[batch, seq]` mask (1 = token, 0 = padding) → `[batch, heads, seq, seq]`, true on padded keys.
pub fn padding_mask(mask: Tensor<2, Int>, heads: Heads) -> Tensor<4, Bool> {
    let [batch, seq] = mask.dims();
    mask.equal_elem(0).reshape([batch, 1, 1, seq]).expand([batch, heads.0, seq, seq])
}
