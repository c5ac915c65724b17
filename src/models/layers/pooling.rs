//! Sentence and image embeddings from token states. Normalisation is left to the caller
//! (`normalized: false` exists).

use burn::tensor::{DType, Int, Tensor};

/// Mean over the unmasked tokens, in f32 whatever the states' dtype.
///
/// # Shapes
/// `[batch, seq, hidden]` states, `[batch, seq]` mask → `[batch, hidden]`.
pub fn mean_pool(states: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<2> {
    let states = states.cast(DType::F32);
    let [batch, seq, hidden] = states.dims();
    let mask = mask.float().reshape([batch, seq, 1]);
    let summed = (states * mask.clone()).sum_dim(1).reshape([batch, hidden]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    summed / counts
}

/// The first token's state (a CLS token).
///
/// # Shapes
/// `[batch, seq, hidden]` → `[batch, hidden]`.
pub fn first_token(states: Tensor<3>) -> Tensor<2> {
    let [batch, _, hidden] = states.dims();
    states.slice([0..batch, 0..1, 0..hidden]).reshape([batch, hidden])
}
