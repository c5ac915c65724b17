//! Network architectures, one file each. Text models take token ids and a padding mask and
//! return mean-pooled sentence embeddings; image towers take normalised pixels and return
//! image embeddings (both normalised by the encoder).

pub mod bert;
pub mod eva02;
pub mod jina_bert;
pub mod jina_clip;
pub mod jina_v3;

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

/// A linear layer with its weight in the checkpoint's PyTorch layout `[out, in]`, so
/// streamed tensors install without a transpose.
#[derive(Module, Debug)]
pub struct TorchLinear {
    weight: Param<Tensor<2>>,
    bias: Option<Param<Tensor<1>>>,
}

impl TorchLinear {
    /// Zeroed parameters, replaced when weights are installed.
    pub fn init(inp: usize, out: usize, bias: bool, device: &Device) -> Self {
        Self {
            weight: Initializer::Zeros.init([out, inp], device),
            bias: bias.then(|| Initializer::Zeros.init([out], device)),
        }
    }

    /// `[batch, seq, in]` → `[batch, seq, out]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, seq, inp] = x.dims();
        let out = self.weight.dims()[0];
        let y = x.reshape([batch * seq, inp]).matmul(self.weight.val().transpose()).reshape([batch, seq, out]);
        match &self.bias {
            Some(b) => y + b.val().reshape([1, 1, out]),
            None => y,
        }
    }
}
