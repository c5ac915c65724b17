//! Relative positions: ALiBi score biases and rotary embeddings.

use burn::tensor::{DType, Device, Tensor};

use super::constant;

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

/// Symmetric ALiBi biases `−slope_h·|i−j|` for a batch's length.
///
/// # Shapes
/// → `[heads, seq, seq]`.
pub fn alibi_bias(slopes: &[f64], seq: usize, dtype: DType, device: &Device) -> Tensor<3> {
    let mut values = Vec::with_capacity(slopes.len() * seq * seq);
    for slope in slopes {
        for i in 0..seq {
            values.extend((0..seq).map(|j| (-slope * i.abs_diff(j) as f64) as f32));
        }
    }
    constant(values, [slopes.len(), seq, seq], dtype, device)
}

/// Which coordinates a rotary embedding turns together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotaryPairs {
    /// `(x[i], x[i + d/2])`: GPT-NeoX's "rotate half" (RoFormer as Hugging Face ports it, Llama).
    Halves,
    /// `(x[2i], x[2i+1])`: the original RoFormer / EVA layout.
    Interleaved,
}

/// Rotary tables for one batch's positions, applied to queries and keys.
#[derive(Debug, Clone)]
pub struct Rotary {
    /// `[1, 1, positions, head_dim]`
    cos: Tensor<4>,
    /// `[1, 1, positions, head_dim]`
    sin: Tensor<4>,
    pairs: RotaryPairs,
}

impl Rotary {
    /// Tables from per-position angles, each `head_dim` long and already laid out for
    /// `pairs` (both members of a pair carry the same angle).
    pub fn from_angles(angles: &[f64], head_dim: usize, pairs: RotaryPairs, dtype: DType, device: &Device) -> Self {
        let positions = angles.len() / head_dim;
        let table = |f: fn(f64) -> f64| {
            let values: Vec<f32> = angles.iter().map(|&a| f(a) as f32).collect();
            constant(values, [1, 1, positions, head_dim], dtype, device)
        };
        Self { cos: table(f64::cos), sin: table(f64::sin), pairs }
    }

    /// Positions `0..seq` with frequencies `base^(−2k/head_dim)`, rotate-half layout.
    pub fn sequence(seq: usize, head_dim: usize, base: f64, dtype: DType, device: &Device) -> Self {
        let half = head_dim / 2;
        let inv: Vec<f64> = (0..half).map(|k| base.powf(-(2.0 * k as f64) / head_dim as f64)).collect();
        let mut angles = Vec::with_capacity(seq * head_dim);
        for p in 0..seq {
            for _ in 0..2 {
                angles.extend(inv.iter().map(|f| p as f64 * f));
            }
        }
        Self::from_angles(&angles, head_dim, RotaryPairs::Halves, dtype, device)
    }

    /// # Shapes
    /// `[batch, heads, positions, head_dim]` → same, each position turned by its angles.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, heads, n, dim] = x.dims();
        let turned = match self.pairs {
            RotaryPairs::Halves => {
                let half = dim / 2;
                let x1 = x.clone().slice([0..batch, 0..heads, 0..n, 0..half]);
                let x2 = x.clone().slice([0..batch, 0..heads, 0..n, half..dim]);
                Tensor::cat(vec![x2.neg(), x1], 3)
            }
            RotaryPairs::Interleaved => {
                let pairs = x.clone().reshape([batch, heads, n, dim / 2, 2]);
                let even = pairs.clone().slice([0..batch, 0..heads, 0..n, 0..dim / 2, 0..1]);
                let odd = pairs.slice([0..batch, 0..heads, 0..n, 0..dim / 2, 1..2]);
                Tensor::cat(vec![odd.neg(), even], 4).reshape([batch, heads, n, dim])
            }
        };
        x * self.cos.clone() + turned * self.sin.clone()
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

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Both layouts turn each pair by its angle: checked against the 2-D rotation by hand.
    #[test]
    fn rotary_turns_the_right_pairs() {
        let device = Device::flex();
        let x = constant(vec![1.0, 2.0, 3.0, 4.0], [1, 1, 1, 4], DType::F32, &device);
        let (a, b) = (0.3f64, 1.1f64);
        let turn = |u: f32, v: f32, t: f64| {
            let (c, s) = (t.cos() as f32, t.sin() as f32);
            (u * c - v * s, u * s + v * c)
        };
        // Halves: pairs (x0, x2) at angle a, (x1, x3) at angle b.
        let halves = Rotary::from_angles(&[a, b, a, b], 4, RotaryPairs::Halves, DType::F32, &device);
        let got = values(halves.apply(x.clone()));
        let (p0, p2) = turn(1.0, 3.0, a);
        let (p1, p3) = turn(2.0, 4.0, b);
        for (g, w) in got.iter().zip([p0, p1, p2, p3]) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        // Interleaved: pairs (x0, x1) at a, (x2, x3) at b.
        let pairs = Rotary::from_angles(&[a, a, b, b], 4, RotaryPairs::Interleaved, DType::F32, &device);
        let got = values(pairs.apply(x));
        let (p0, p1) = turn(1.0, 2.0, a);
        let (p2, p3) = turn(3.0, 4.0, b);
        for (g, w) in got.iter().zip([p0, p1, p2, p3]) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }
}
