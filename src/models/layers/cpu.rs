//! Kernels for tensors on the CPU backend (burn-flex), for the operations where burn's own
//! implementation leaves most of the machine idle; the arithmetic is in the `triage-kernels`
//! crate, on plain f32 slices. Each function here takes and returns burn tensors and hands
//! any other device (WebGPU, wgpu) or dtype to burn's operation, so the layers call them
//! unconditionally.
//!
//! - [`linear`]: `x·Wᵀ + b` reading `W` in its `[out, in]` layout as it is. burn-flex's
//!   matmul packs both operands into gemm's panels on every call (45–77 GFLOP/s on a MiniLM
//!   layer, 71–80 % of its time).
//! - [`gelu`]: burn-flex evaluates erf one value at a time on one thread (13–30 % of a MiniLM
//!   layer); the kernel's rational erf vectorises and runs on every core.

use burn::backend::flex::FlexTensor;
use burn::backend::{DispatchDevice, Flex};
use burn::tensor::{Bool, DType, Tensor, TensorData};

/// Whether `t` lives on the CPU backend.
pub fn on_cpu<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(t.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// The CPU tensor behind `t` when it is an f32 tensor on the CPU backend, else `t` itself.
fn cpu_f32<const D: usize>(t: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    if !on_cpu(&t) || t.dtype() != DType::F32 {
        return Err(t);
    }
    // The conversion consumes the tensor even when it fails, so a handle is kept for that
    // case; it is dropped before the buffer is touched, so an unshared buffer stays unshared.
    let kept = t.clone();
    match t.try_into_primitive::<Flex>() {
        Ok(flex) => Ok(flex),
        Err(_) => Err(kept),
    }
}

/// `f` applied to every value of `t`, in place when `t`'s buffer is its own and contiguous,
/// else into a fresh buffer.
fn map_in_place(mut t: FlexTensor, f: fn(&mut [f32])) -> FlexTensor {
    if !t.is_contiguous() || t.layout().start_offset() != 0 {
        t = t.to_contiguous();
    }
    // Copy-on-write: a buffer another tensor still holds is copied here, not overwritten.
    let len = t.layout().num_elements();
    f(&mut t.storage_mut::<f32>()[..len]);
    t
}

/// GELU with the exact erf (`0.5·x·(1 + erf(x/√2))`, Hugging Face's `"gelu"`), within
/// 2e-6 of the f64 function.
///
/// # Shapes
/// Any; the result has `x`'s.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match cpu_f32(x) {
        Ok(flex) => Tensor::from_primitive::<Flex>(map_in_place(flex, triage_kernels::gelu)),
        Err(other) => burn::tensor::activation::gelu(other),
    }
}

/// `x·Wᵀ + b` by the CPU kernel when all three are f32 on the CPU backend and the CPU has
/// the kernel's instructions; `None` otherwise (the caller multiplies with burn).
///
/// # Shapes
/// `x`: `[rows, in]`, `weight`: `[out, in]`, `bias`: `[out]` → `[rows, out]`.
pub fn linear(x: &Tensor<2>, weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Option<Tensor<2>> {
    if !triage_kernels::linear_available() {
        return None;
    }
    let [m, k] = x.dims();
    let [n, _] = weight.dims();
    let x = contiguous(cpu_f32(x.clone()).ok()?);
    let w = contiguous(cpu_f32(weight.clone()).ok()?);
    let b = match bias {
        Some(b) => Some(contiguous(cpu_f32(b.clone()).ok()?)),
        None => None,
    };
    let mut out = vec![0.0f32; m * n];
    let done = triage_kernels::linear(
        x.as_slice::<f32>()?,
        w.as_slice::<f32>()?,
        match &b {
            Some(b) => Some(b.as_slice::<f32>()?),
            None => None,
        },
        &mut out,
        m,
        k,
        n,
    );
    done.then(|| Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, [m, n]))))
}

/// Scaled dot-product attention (`softmax(q·kᵀ/√head_dim + bias)·v`, `padding` true on
/// keys to leave out) by the CPU kernel, heads merged in its output; `None` when an operand
/// is not f32 on the CPU backend (the caller uses burn's attention).
///
/// # Shapes
/// `q`, `k`, `v`: `[batch, heads, seq, head_dim]` (views such as split heads are read in
/// place); `padding`: `[batch, heads, seq, seq]`, the same for every head and query (a
/// key mask, as `padding_mask` builds it); `bias`: `[batch, heads, seq, seq]` →
/// `[batch, seq, heads·head_dim]`.
pub fn attention(
    q: &Tensor<4>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    padding: Option<&Tensor<4, Bool>>,
    bias: Option<&Tensor<4>>,
) -> Option<Tensor<3>> {
    let [batch, heads, seq, head_dim] = q.dims();
    if k.dims() != q.dims() || v.dims() != q.dims() || !on_cpu(q) {
        return None;
    }
    let (q, k, v) = (cpu_f32(q.clone()).ok()?, cpu_f32(k.clone()).ok()?, cpu_f32(v.clone()).ok()?);
    let bias = match bias {
        Some(b) if b.dims() == [batch, heads, seq, seq] => Some(cpu_f32(b.clone()).ok()?),
        Some(_) => return None,
        None => None,
    };
    // The key mask: the first head's first query row of each sequence (a host read of
    // batch·seq values on the CPU backend).
    let keys: Option<Vec<bool>> = match padding {
        Some(p) if p.dims() == [batch, heads, seq, seq] => {
            let first = p.clone().slice([0..batch, 0..1, 0..1, 0..seq]).reshape([batch * seq]);
            Some(first.into_data().convert::<bool>().iter::<bool>().map(|padded| !padded).collect())
        }
        Some(_) => return None,
        None => None,
    };
    let width = heads * head_dim;
    let mut out = vec![0.0f32; batch * seq * width];
    let done = triage_kernels::attention(
        strided(&q)?,
        strided(&k)?,
        strided(&v)?,
        match &bias {
            Some(b) => Some(strided(b)?),
            None => None,
        },
        keys.as_deref(),
        1.0 / (head_dim as f32).sqrt(),
        triage_kernels::AttentionShape { batch, heads, seq, head_dim },
        &mut out,
    );
    done.then(|| Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, [batch, seq, width]))))
}

/// A CPU tensor of four dimensions as the attention kernel reads it (`None` for negative
/// strides, which burn-flex's flips make).
fn strided(t: &FlexTensor) -> Option<triage_kernels::Strided<'_>> {
    let s = t.layout().strides();
    let stride = |d: usize| s.get(d).and_then(|&x| usize::try_from(x).ok());
    Some(triage_kernels::Strided {
        data: t.storage::<f32>(),
        offset: t.layout().start_offset(),
        strides: [stride(0)?, stride(1)?, stride(2)?, stride(3)?],
    })
}

/// `t` with its values in one dense run (a view such as a transpose is copied once).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() { t } else { t.to_contiguous() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    #[test]
    fn gelu_matches_burns_and_leaves_shared_inputs_alone() {
        let device = Device::flex();
        let values: Vec<f32> = (0..40_000).map(|i| (i as f32 - 20_000.0) / 2_000.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [200, 200]), &device);
        let ours = gelu(x.clone()).into_data().try_to_vec::<f32>().unwrap_or_default();
        let burns = burn::tensor::activation::gelu(x.clone()).into_data().try_to_vec::<f32>().unwrap_or_default();
        assert_eq!(ours.len(), burns.len());
        // The kernel's bound against the exact function (its crate's tests): 2e-6, reached
        // near x = -5 where 1 + erf cancels and at |x| = 10 where one f32 step is 1e-6.
        let error = |a: &f32, b: &f32| (a - b).abs();
        let worst = ours.iter().zip(&burns).map(|(a, b)| error(a, b)).fold(0.0f32, f32::max);
        assert!(worst < 2e-6, "max |ours − burn's| = {worst:e}");
        // `x` was shared with the call: its values must be untouched.
        assert_eq!(x.into_data().try_to_vec::<f32>().unwrap_or_default(), values);
        // A strided view (a transpose) reads the right values.
        let t = Tensor::<2>::from_data(TensorData::new(values, [200, 200]), &device).transpose();
        let ours_t = gelu(t.clone()).into_data().try_to_vec::<f32>().unwrap_or_default();
        let burns_t = burn::tensor::activation::gelu(t).into_data().try_to_vec::<f32>().unwrap_or_default();
        assert_eq!(ours_t.len(), burns_t.len());
        let worst = ours_t.iter().zip(&burns_t).map(|(a, b)| error(a, b)).fold(0.0f32, f32::max);
        assert!(worst < 2e-6, "transposed: max |ours − burn's| = {worst:e}");
    }

    #[test]
    fn linear_matches_burns_matmul_on_views_and_with_bias() {
        let device = Device::flex();
        let x = Tensor::<2>::random([37, 45], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<2>::random([29, 45], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<1>::random([29], Distribution::Normal(0.0, 1.0), &device);
        let want = (x.clone().matmul(w.clone().transpose()) + b.clone().reshape([1, 29])).into_data();
        let Some(got) = linear(&x, &w, Some(&b)) else {
            eprintln!("no CPU kernel on this machine: burn's matmul is used, nothing to compare");
            return;
        };
        got.into_data().assert_approx_eq::<f32>(&want, burn::tensor::Tolerance::absolute(1e-4));
        // A transposed input is read through its values, not its buffer's order.
        let xt = Tensor::<2>::random([45, 37], Distribution::Normal(0.0, 1.0), &device).transpose();
        let want = xt.clone().matmul(w.clone().transpose()).into_data();
        let got = linear(&xt, &w, None).map(|t| t.into_data());
        got.expect("f32 on the CPU backend").assert_approx_eq::<f32>(&want, burn::tensor::Tolerance::absolute(1e-4));
    }

    #[test]
    fn attention_matches_burns_on_split_heads_with_padding_and_bias() {
        use crate::models::layers::{Heads, padding_mask};
        use burn::tensor::Int;
        let device = Device::flex();
        let (batch, heads, seq, head_dim) = (2, 3, 7, 4);
        let random = |dims: [usize; 3]| Tensor::<3>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let (q, k, v) = (
            random([batch, seq, heads * head_dim]),
            random([batch, seq, heads * head_dim]),
            random([batch, seq, heads * head_dim]),
        );
        let (q, k, v) = (Heads(heads).split(q), Heads(heads).split(k), Heads(heads).split(v));
        let mask = Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i64, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [batch, seq]),
            &device,
        );
        let padding = padding_mask(mask, Heads(heads));
        let bias = Tensor::<3>::random([heads, seq, seq], Distribution::Normal(0.0, 1.0), &device)
            .unsqueeze::<4>()
            .expand([batch, heads, seq, seq]);
        let Some(ours) = attention(&q, &k, &v, Some(&padding), Some(&bias)) else {
            eprintln!("no CPU kernel on this machine: burn's attention is used, nothing to compare");
            return;
        };
        let burns = burn::tensor::module::attention(q, k, v, Some(padding), Some(bias), Default::default())
            .swap_dims(1, 2)
            .reshape([batch, seq, heads * head_dim]);
        ours.into_data().assert_approx_eq::<f32>(&burns.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }
}
