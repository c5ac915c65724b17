//! The linear layer of every architecture.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

use super::cpu;

/// `y = x·Wᵀ + b`, the weight kept in the checkpoint's PyTorch layout `[out, in]` so
/// streamed tensors install without a transpose.
///
/// Every weight multiplication of every architecture goes through [`Linear::forward`]
/// (LoRA adapters add their low-rank terms on top of it): a packed or quantized weight
/// format, and the kernel that reads it, changes this type and nothing else.
#[derive(Module, Debug)]
pub struct Linear {
    weight: Param<Tensor<2>>,
    bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// Zeroed parameters (lazily: nothing is allocated before weights replace them).
    pub fn init(inp: usize, out: usize, bias: bool, device: &Device) -> Self {
        Self {
            weight: Initializer::Zeros.init([out, inp], device),
            bias: bias.then(|| Initializer::Zeros.init([out], device)),
        }
    }

    /// `[out, in]`.
    pub fn dims(&self) -> [usize; 2] {
        self.weight.dims()
    }

    /// The weight, `[out, in]`.
    pub fn weight(&self) -> Tensor<2> {
        self.weight.val()
    }

    /// The same layer with `delta` (`[out, in]`) added to its weight: adapters folded in.
    pub fn with_weight_added(self, delta: Tensor<2>) -> Self {
        Self { weight: Param::from_tensor(self.weight.val() + delta), ..self }
    }

    /// # Shapes
    /// `[batch, seq, in]` → `[batch, seq, out]`. On the CPU backend in f32 the product is
    /// [`cpu::linear`]'s kernel; elsewhere burn's matmul.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, seq, inp] = x.dims();
        let out = self.weight.dims()[0];
        let x = x.reshape([batch * seq, inp]);
        let weight = self.weight.val();
        let bias = self.bias.as_ref().map(|b| b.val());
        if let Some(y) = cpu::linear(&x, &weight, bias.as_ref()) {
            return y.reshape([batch, seq, out]);
        }
        let y = x.matmul(weight.transpose()).reshape([batch, seq, out]);
        match bias {
            Some(b) => y + b.reshape([1, 1, out]),
            None => y,
        }
    }
}
