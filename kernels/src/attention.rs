//! Scaled dot-product attention of one layer, every (sequence, head) pair a task:
//! `softmax(q·kᵀ·scale + bias)·v` with padded keys left out. Both products go through the
//! linear layer's dot-product tiles ([`crate::dots`]): the scores are `q`'s rows against `k`'s
//! rows, the context is the probabilities' rows against `vᵀ`'s rows.

use crate::dots::{self, Rows};

/// A 4-D `[batch, heads, seq, ·]` operand in one buffer: element `(b, h, i, e)` at
/// `offset + b·strides[0] + h·strides[1] + i·strides[2] + e·strides[3]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub strides: [usize; 4],
}

impl<'a> Strided<'a> {
    fn at(&self, b: usize, h: usize, i: usize) -> usize {
        self.offset + b * self.strides[0] + h * self.strides[1] + i * self.strides[2]
    }

    /// The `seq` rows of sequence `b`, head `h`.
    fn rows(&self, b: usize, h: usize) -> Rows<'a> {
        Rows { data: &self.data[self.at(b, h, 0)..], stride: self.strides[2] }
    }
}

/// The shapes of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub batch: usize,
    pub heads: usize,
    pub seq: usize,
    pub head_dim: usize,
}

/// `out` (`[batch, seq, heads·head_dim]`, heads merged) = softmax(q·kᵀ·scale + bias)·v per
/// sequence and head. `q`, `k`, `v` are `[batch, heads, seq, head_dim]` with unit stride
/// along `head_dim`; `bias` (if any) `[batch, heads, seq, seq]` with unit stride along the
/// keys; `keys` (if any) `[batch, seq]`, false on padded keys. A query with every key
/// padded gets zeros. Returns `false`, leaving `out` alone, when the CPU has no kernel or an
/// operand does not have the layout described.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: Strided,
    k: Strided,
    v: Strided,
    bias: Option<Strided>,
    keys: Option<&[bool]>,
    scale: f32,
    shape: Shape,
    out: &mut [f32],
) -> bool {
    let Shape { batch, heads, seq, head_dim } = shape;
    let width = heads * head_dim;
    let unit = |t: &Strided| t.strides[3] == 1 || head_dim <= 1;
    if !dots::available() || !unit(&q) || !unit(&k) || !unit(&v) || out.len() < batch * seq * width {
        return false;
    }
    if bias.is_some_and(|b| b.strides[3] != 1 && seq > 1) || keys.is_some_and(|m| m.len() < batch * seq) {
        return false;
    }
    if batch * heads * seq * head_dim == 0 {
        return true;
    }
    // Every operand's last element must lie inside its buffer.
    let last =
        |t: &Strided, inner: usize| t.at(batch - 1, heads - 1, seq - 1) + (inner - 1) * t.strides[3] < t.data.len();
    if !last(&q, head_dim) || !last(&k, head_dim) || !last(&v, head_dim) || bias.is_some_and(|b| !last(&b, seq)) {
        return false;
    }
    let out_ptr = crate::SharedOut(out.as_mut_ptr());
    let task = |t: usize| {
        let (b, h) = (t / heads, t % heads);
        let mut scores = vec![0.0f32; seq * seq];
        // SAFETY: `scores` is this task's own `[seq, seq]` buffer.
        unsafe { dots::block(q.rows(b, h), k.rows(b, h), None, scores.as_mut_ptr(), seq, seq, head_dim, seq) };
        let valid = keys.map(|m| &m[b * seq..(b + 1) * seq]);
        for (i, row) in scores.chunks_mut(seq).enumerate() {
            let bias_row = bias.map(|x| &x.data[x.at(b, h, i)..][..seq]);
            softmax_row(row, scale, bias_row, valid);
        }
        // vᵀ, `[head_dim, seq]`: the context's dot products then run along the keys.
        let vt: Vec<f32> = (0..head_dim)
            .flat_map(|e| (0..seq).map(move |j| (j, e)))
            .map(|(j, e)| v.data[v.at(b, h, j) + e * v.strides[3]])
            .collect();
        let out = out_ptr;
        // SAFETY: task (b, h) writes rows b·seq..(b+1)·seq, columns h·head_dim..(h+1)·head_dim
        // of `out` (`[batch·seq, width]`, borrowed mutably for this whole call): disjoint
        // from every other task's.
        unsafe {
            dots::block(
                Rows { data: &scores, stride: seq },
                Rows { data: &vt, stride: seq },
                None,
                out.0.add(b * seq * width + h * head_dim),
                width,
                seq,
                seq,
                head_dim,
            )
        };
    };
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        (0..batch * heads).into_par_iter().for_each(task);
    }
    #[cfg(not(feature = "threads"))]
    (0..batch * heads).for_each(task);
    true
}

/// One query's scores → probabilities in place: scaled, biased, padded keys at zero.
fn softmax_row(row: &mut [f32], scale: f32, bias: Option<&[f32]>, valid: Option<&[bool]>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has both features (checked just above).
        unsafe { softmax_row_avx2(row, scale, bias, valid) };
        return;
    }
    softmax_row_portable(row, scale, bias, valid);
}

/// The same loops compiled for AVX2 + FMA: eight lanes, `floor` one instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2(row: &mut [f32], scale: f32, bias: Option<&[f32]>, valid: Option<&[bool]>) {
    softmax_row_portable(row, scale, bias, valid);
}

#[inline(always)]
fn softmax_row_portable(row: &mut [f32], scale: f32, bias: Option<&[f32]>, valid: Option<&[bool]>) {
    match bias {
        Some(b) => row.iter_mut().zip(b).for_each(|(s, b)| *s = *s * scale + b),
        None => row.iter_mut().for_each(|s| *s *= scale),
    }
    if let Some(valid) = valid {
        row.iter_mut().zip(valid).for_each(|(s, &ok)| *s = if ok { *s } else { f32::NEG_INFINITY });
    }
    let max = lanes(row, f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    // A padded key's -inf gives exactly 0 (the exp below clamps far-negative inputs).
    row.iter_mut().for_each(|s| *s = if *s == f32::NEG_INFINITY { 0.0 } else { crate::exp(*s - max) });
    let inv = 1.0 / lanes(row, 0.0, |a, b| a + b);
    row.iter_mut().for_each(|s| *s *= inv);
}

/// `values` folded by `f` in eight interleaved lanes, then across them: a reduction the
/// compiler vectorises (a single running value would have to be kept in order).
#[inline(always)]
fn lanes(values: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = f(*a, v);
        }
    }
    let folded = acc.into_iter().fold(init, &f);
    rest.iter().fold(folded, |a, &v| f(a, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fill;

    /// The same attention in f64, one value at a time.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        q: &Strided,
        k: &Strided,
        v: &Strided,
        bias: Option<&Strided>,
        keys: Option<&[bool]>,
        scale: f64,
        s: Shape,
    ) -> Vec<f64> {
        let width = s.heads * s.head_dim;
        let mut out = vec![0.0; s.batch * s.seq * width];
        for b in 0..s.batch {
            for h in 0..s.heads {
                for i in 0..s.seq {
                    let mut p: Vec<f64> = (0..s.seq)
                        .map(|j| {
                            let dot: f64 = (0..s.head_dim)
                                .map(|e| {
                                    q.data[q.at(b, h, i) + e * q.strides[3]] as f64
                                        * k.data[k.at(b, h, j) + e * k.strides[3]] as f64
                                })
                                .sum();
                            let add = bias.map_or(0.0, |x| x.data[x.at(b, h, i) + j * x.strides[3]] as f64);
                            if keys.is_some_and(|m| !m[b * s.seq + j]) { f64::NEG_INFINITY } else { dot * scale + add }
                        })
                        .collect();
                    let max = p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    if max == f64::NEG_INFINITY {
                        continue;
                    }
                    p.iter_mut().for_each(|x| *x = (*x - max).exp());
                    let total: f64 = p.iter().sum();
                    for e in 0..s.head_dim {
                        out[(b * s.seq + i) * width + h * s.head_dim + e] = (0..s.seq)
                            .map(|j| p[j] / total * v.data[v.at(b, h, j) + e * v.strides[3]] as f64)
                            .sum::<f64>();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn attention_equals_the_f64_reference_on_split_heads_with_mask_and_bias() {
        if !dots::available() {
            eprintln!("no kernel on this CPU: nothing to compare");
            return;
        }
        for shape in [
            Shape { batch: 2, heads: 3, seq: 13, head_dim: 8 },
            Shape { batch: 1, heads: 12, seq: 64, head_dim: 32 },
            Shape { batch: 3, heads: 2, seq: 1, head_dim: 5 },
        ] {
            let Shape { batch, heads, seq, head_dim } = shape;
            let width = heads * head_dim;
            // q, k, v as heads split out of `[batch, seq, width]` activations (views, as the
            // layers hand them over); the bias shared by every sequence (ALiBi's stride 0).
            let split = |_: &[f32]| [seq * width, head_dim, width, 1];
            let (qd, kd, vd) =
                (fill(batch * seq * width, 1), fill(batch * seq * width, 2), fill(batch * seq * width, 3));
            let bd = fill(heads * seq * seq, 4);
            let q = Strided { data: &qd, offset: 0, strides: split(&qd) };
            let k = Strided { data: &kd, offset: 0, strides: split(&kd) };
            let v = Strided { data: &vd, offset: 0, strides: split(&vd) };
            let bias = Strided { data: &bd, offset: 0, strides: [0, seq * seq, seq, 1] };
            // The last sequence's last third padded; with one sequence of one token, none.
            let keys: Vec<bool> = (0..batch * seq).map(|t| t / seq + 1 < batch || t % seq < seq - seq / 3).collect();
            let scale = 1.0 / (head_dim as f32).sqrt();
            for (bias, keys) in [(None, None), (Some(bias), Some(&keys[..]))] {
                let mut out = vec![f32::NAN; batch * seq * width];
                assert!(attention(q, k, v, bias, keys, scale, shape, &mut out));
                let want = reference(&q, &k, &v, bias.as_ref(), keys, scale as f64, shape);
                let worst = out.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-5, "{shape:?}: max |attention − f64| = {worst:e}");
            }
        }
    }
}
