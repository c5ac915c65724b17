//! The building blocks every architecture is made of, so each architecture file holds only
//! what is its own (its config, its key names, the order it wires these parts in).
//!
//! - [`linear`]: the one place a layer's weights meet its input: a faster or quantized
//!   kernel goes in [`Linear::forward`] once and every architecture gets it.
//! - [`attention`]: heads split and merged around burn's masked attention.
//! - [`position`]: ALiBi biases and rotary tables (rotate-half or interleaved pairs).
//! - [`mlp`]: the activations and gated MLPs (GEGLU, SwiGLU).
//! - [`cpu`]: faster kernels for tensors on the CPU backend (linear, GELU; other devices use burn's).
//! - [`pooling`]: mean over the mask, first token.
//! - [`keys`]: checkpoint names → module paths.
//!
//! Shapes follow the models': `[batch, seq, hidden]` states, `[batch, heads, seq, head_dim]`
//! inside attention, `[batch, seq]` masks with 1 on tokens and 0 on padding.

pub mod attention;
pub mod cpu;
pub mod keys;
pub mod linear;
pub mod mlp;
pub mod pooling;
pub mod position;

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{DType, Device, Tensor, TensorData};

pub use attention::{Heads, padding_mask};
pub use keys::KeyMap;
pub use linear::Linear;
pub use mlp::Activation;
pub use pooling::{first_token, mean_pool};
pub use position::{Rotary, alibi_bias, alibi_slopes};

/// A LayerNorm over the last `width` values (`gamma`/`beta` replaced when weights are installed).
pub fn layer_norm(width: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(width).with_epsilon(eps).init(device)
}

/// A tensor of `values` (row-major, computed on the host) in `dtype` on `device`: position
/// tables built per call.
pub fn constant<const D: usize>(values: Vec<f32>, shape: [usize; D], dtype: DType, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape).convert_dtype(dtype), (device, dtype))
}
