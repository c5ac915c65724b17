//! triage's CPU kernels, on plain `f32` slices (the model code wraps them around burn's CPU
//! tensors): the places a transformer layer spends its time on a CPU where burn-flex's
//! operations leave most of the machine idle.
//!
//! - [`linear`]: `y = x·Wᵀ + b` with `W` in the checkpoint's `[out, in]` layout, read as it is:
//!   every output is a dot product of a row of `x` and a row of `W`, both contiguous, so
//!   nothing is re-packed per call (the general gemm burn-flex calls packs both operands on
//!   every call). Blocks of 4 rows × 3 weight rows keep 12 eight-lane accumulators in
//!   registers (AVX2 + FMA chosen at run time, or wasm SIMD128); the output is cut into row ×
//!   column blocks across the cores.
//! - [`attention`]: softmax(q·kᵀ·scale + bias)·v per sequence and head, on the same tiles.
//! - [`gelu`]: erf GELU through a rational erf that vectorises (burn-flex evaluates erf one
//!   value at a time on one thread).
//!
//! With the `threads` feature the work is spread over rayon's pool; without it (the
//! browser's one-thread CPU backend) it runs on the calling thread.

pub mod attention;
mod dots;

pub use attention::{Shape as AttentionShape, Strided, attention};

/// Values per parallel GELU task: large enough that a task's start-up is noise, small
/// enough that a `[64, 1536]` MLP activation still splits across two cores.
#[cfg(feature = "threads")]
const GELU_CHUNK: usize = 16 * 1024;

/// Whether [`linear`] has a fast path on this CPU (else the caller keeps its own matmul).
pub fn linear_available() -> bool {
    dots::available()
}

/// `out = x·Wᵀ + bias`, row-major: `x` is `[m, k]`, `w` is `[n, k]`, `bias` `[n]`, `out`
/// `[m, n]` (overwritten). Returns `false`, leaving `out` alone, when this CPU has no fast
/// path ([`linear_available`]).
///
/// # Panics
/// When a slice is shorter than its shape says (a caller's bug, never user data).
pub fn linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize) -> bool {
    assert!(
        x.len() >= m * k && w.len() >= n * k && out.len() >= m * n,
        "linear: slices shorter than [{m}, {k}]·[{n}, {k}]ᵀ"
    );
    if let Some(b) = bias {
        assert!(b.len() >= n, "linear: bias shorter than {n}");
    }
    if !dots::available() {
        return false;
    }
    if m == 0 || n == 0 {
        return true;
    }
    let grid = Grid::new(m, n, threads());
    let out = SharedOut(out.as_mut_ptr());
    let task = |t: usize| {
        let (r0, r1, c0, c1) = grid.task(t);
        let out = out;
        // SAFETY: task t writes rows r0..r1 × columns c0..c1 of the `[m, n]` output, which
        // `out` (borrowed mutably for this whole call) holds; the grid's tasks are disjoint.
        unsafe {
            dots::block(
                dots::Rows { data: &x[r0 * k..r1 * k], stride: k },
                dots::Rows { data: &w[c0 * k..c1 * k], stride: k },
                bias.map(|b| &b[c0..c1]),
                out.0.add(r0 * n + c0),
                n,
                r1 - r0,
                k,
                c1 - c0,
            )
        };
    };
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        (0..grid.tasks()).into_par_iter().for_each(task);
    }
    #[cfg(not(feature = "threads"))]
    (0..grid.tasks()).for_each(task);
    true
}

/// The output pointer, shared by tasks that write disjoint places of it.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut(pub(crate) *mut f32);
// SAFETY: the tasks given it write disjoint places (see `linear`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

fn threads() -> usize {
    #[cfg(feature = "threads")]
    return rayon::current_num_threads().max(1);
    #[cfg(not(feature = "threads"))]
    1
}

/// How `[m, n]` outputs are cut into tasks: blocks of at most 64 rows (a block's rows of
/// `x` stay in L2 while every weight row streams past them), sized evenly so the cores
/// finish together; when there are fewer row blocks than cores (a short batch) the columns
/// are split too, so each core streams only its share of the weights from memory instead of
/// every core reading all of them.
#[derive(Debug, Clone, Copy)]
struct Grid {
    m: usize,
    n: usize,
    rows: usize,
    row_blocks: usize,
    cols: usize,
    col_blocks: usize,
}

impl Grid {
    fn new(m: usize, n: usize, threads: usize) -> Self {
        let mut row_blocks = m.div_ceil(64);
        if row_blocks >= threads {
            row_blocks = row_blocks.div_ceil(threads) * threads;
        }
        let rows = m.div_ceil(row_blocks).next_multiple_of(4).min(m.next_multiple_of(4));
        let row_blocks = m.div_ceil(rows);
        // Two column blocks per core when the rows alone cannot keep every core busy; a
        // multiple of the kernel's 3-wide tiles.
        let col_blocks = if row_blocks >= threads { 1 } else { (2 * threads).div_ceil(row_blocks) };
        let cols = n.div_ceil(col_blocks).next_multiple_of(3).min(n);
        Self { m, n, rows, row_blocks, cols, col_blocks: n.div_ceil(cols) }
    }

    fn tasks(&self) -> usize {
        self.row_blocks * self.col_blocks
    }

    /// Rows `r0..r1` and columns `c0..c1` of task `t`.
    fn task(&self, t: usize) -> (usize, usize, usize, usize) {
        let (rb, cb) = (t / self.col_blocks, t % self.col_blocks);
        let (r0, c0) = (rb * self.rows, cb * self.cols);
        (r0, (r0 + self.rows).min(self.m), c0, (c0 + self.cols).min(self.n))
    }
}

/// GELU with the exact erf (`0.5·x·(1 + erf(x/√2))`, Hugging Face's `"gelu"`) in place,
/// within 2e-6 of the f64 function (erf within 5e-7: the rational form is within 1e-7 in
/// exact arithmetic, f32 rounding of its terms adds the rest near |x| ≈ 3.5).
pub fn gelu(values: &mut [f32]) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        values.par_chunks_mut(GELU_CHUNK).for_each(gelu_values);
    }
    #[cfg(not(feature = "threads"))]
    gelu_values(values);
}

fn gelu_values(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has both features (checked just above).
        unsafe { gelu_values_avx2(values) };
        return;
    }
    gelu_values_portable(values);
}

/// The same loop compiled for AVX2 + FMA: eight lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_values_avx2(values: &mut [f32]) {
    gelu_values_portable(values);
}

#[inline(always)]
fn gelu_values_portable(values: &mut [f32]) {
    for v in values {
        *v = gelu_one(*v);
    }
}

/// One GELU value; branch-free so the loop over it vectorises.
#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// eˣ, branch-free so loops over it vectorise: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its
/// degree-6 Taylor polynomial, 2ⁿ built in the exponent bits. Within 3e-7 (relative) of the exact
/// value for x ≥ -87 (where the result is a normal number); tiny but not zero below.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// erf as x·P(x²)/Q(x²) on [-4, 4] (erf is ±1 in f32 beyond), the minimax rational form
/// Eigen and XLA use for f32 (odd degree-13 numerator, even degree-8 denominator).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Maclaurin series (|x| < 4.5; its cancellation costs < 1e-8 there) and erfc's continued fraction beyond:
    /// a reference independent of the rational form under test.
    fn erf_f64(x: f64) -> f64 {
        let a = x.abs();
        let r = if a < 4.5 {
            let (mut term, mut sum, mut n) = (a, a, 0.0f64);
            loop {
                n += 1.0;
                term *= -a * a / n;
                let add = term / (2.0 * n + 1.0);
                sum += add;
                if add.abs() < 1e-17 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = a;
            for k in (1..400).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / f
        };
        r.copysign(x)
    }

    #[test]
    fn erf_is_within_5e_7_of_the_f64_function() {
        let mut worst = 0.0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let e = (erf(x) as f64 - erf_f64(x as f64)).abs();
            worst = worst.max(e);
        }
        assert!(worst < 5e-7, "max |erf − erf_f64| = {worst:e}");
    }

    #[test]
    fn exp_is_within_3e_7_relative_of_the_f64_function() {
        let mut worst = 0.0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 / 10_000.0;
            let want = (x as f64).exp();
            worst = worst.max((exp(x) as f64 - want).abs() / want);
        }
        // One f32 step is 6e-8 to 1.2e-7 of the value: about two steps.
        assert!(worst < 3e-7, "max relative |exp − f64 exp| = {worst:e}");
    }

    #[test]
    fn gelu_in_place_matches_the_f64_formula() {
        let mut v: Vec<f32> = (0..100_003).map(|i| (i as f32 - 50_000.0) / 5_000.0).collect();
        let want: Vec<f64> =
            v.iter().map(|&x| 0.5 * x as f64 * (1.0 + erf_f64(x as f64 / std::f64::consts::SQRT_2))).collect();
        gelu(&mut v);
        let worst = v.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(worst < 2e-6, "max |gelu − f64| = {worst:e}");
    }

    /// A deterministic pseudo-random fill in [-1, 1).
    pub(crate) fn fill(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
            })
            .collect()
    }

    /// Every output place belongs to exactly one task, for batch shapes and odd ones.
    #[test]
    fn the_grid_covers_each_output_once() {
        for threads in [1, 2, 3, 16] {
            for m in [1, 3, 4, 63, 64, 65, 197, 512, 1297, 2048] {
                for n in [1, 2, 5, 384, 1536] {
                    let g = Grid::new(m, n, threads);
                    let mut hits = vec![0u8; m * n];
                    for t in 0..g.tasks() {
                        let (r0, r1, c0, c1) = g.task(t);
                        assert!(r0 < r1 && c0 < c1, "empty task {t} of {g:?}");
                        for r in r0..r1 {
                            for c in c0..c1 {
                                hits[r * n + c] += 1;
                            }
                        }
                    }
                    assert!(hits.iter().all(|&h| h == 1), "{g:?} (threads {threads})");
                }
            }
        }
    }

    #[test]
    fn linear_equals_the_f64_product_at_every_edge_shape() {
        if !linear_available() {
            eprintln!("no fast linear path on this CPU: nothing to compare");
            return;
        }
        // Remainders of the 4-row and 3-column blocks, of the 8-lane loop, one row, one column.
        for &(m, k, n) in
            &[(1, 1, 1), (5, 7, 4), (64, 384, 384), (9, 17, 11), (130, 33, 2), (3, 1536, 7), (67, 2730, 5)]
        {
            let x = fill(m * k, 1 + m as u64);
            let w = fill(n * k, 2 + n as u64);
            let b = fill(n, 3);
            for bias in [None, Some(&b[..])] {
                let mut out = vec![f32::NAN; m * n];
                assert!(linear(&x, &w, bias, &mut out, m, k, n));
                for r in 0..m {
                    for c in 0..n {
                        let want: f64 = (0..k).map(|i| x[r * k + i] as f64 * w[c * k + i] as f64).sum::<f64>()
                            + bias.map_or(0.0, |b| b[c] as f64);
                        let got = out[r * n + c] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + k as f64).sqrt(),
                            "[{m}×{k}]·[{n}×{k}]ᵀ at ({r}, {c}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
