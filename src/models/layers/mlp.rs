//! Activations and gated MLPs.

use burn::tensor::Tensor;
use burn::tensor::activation::silu;

use super::cpu;

/// A feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the exact erf (Hugging Face's `"gelu"`).
    Gelu,
    /// SiLU / swish (`"silu"`), SwiGLU's gate.
    Silu,
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => cpu::gelu(x),
            Self::Silu => silu(x),
        }
    }

    /// A gated unit `act(gate) ⊙ value` (GEGLU with GELU, SwiGLU with SiLU).
    pub fn gated(self, gate: Tensor<3>, value: Tensor<3>) -> Tensor<3> {
        self.apply(gate) * value
    }

    /// A gated unit from one fused projection whose first half is the gate and second the value.
    ///
    /// # Shapes
    /// `[batch, seq, 2·inner]` → `[batch, seq, inner]`.
    pub fn gated_halves(self, fused: Tensor<3>) -> Tensor<3> {
        let [batch, seq, both] = fused.dims();
        let inner = both / 2;
        let gate = fused.clone().slice([0..batch, 0..seq, 0..inner]);
        self.gated(gate, fused.slice([0..batch, 0..seq, inner..both]))
    }
}
