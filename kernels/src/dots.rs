//! The linear layer's inner kernel: dot products of rows of `x` with rows of `W`, in tiles of
//! up to 4 × 3 so one pass over `k` feeds 12 independent accumulators from 7 loads.

/// Whether this CPU runs the vector kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out[r·ldo + c] = x[r]·w[c] + bias[c]` for `rows` rows of `x` (`[rows, k]`) and `n` rows
/// of `w` (`[n, k]`). Callers check [`available`] first.
///
/// # Safety
/// `out` is valid for writes at `r·ldo + c` for every `r < rows`, `c < n`, and no other
/// thread reads or writes those places during the call.
pub unsafe fn block(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: *mut f32, ldo: usize, rows: usize, k: usize, n: usize) {
    assert!(x.len() >= rows * k && w.len() >= n * k && ldo >= n && bias.is_none_or(|b| b.len() >= n));
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX2 and FMA, every slice holds its shape (asserted above),
        // and `out` is the caller's to write.
        unsafe { avx2::block(x, w, bias, Out(out, ldo), rows, k, n) };
        return;
    }
    for r in 0..rows {
        for c in 0..n {
            let dot: f32 = x[r * k..(r + 1) * k].iter().zip(&w[c * k..(c + 1) * k]).map(|(a, b)| a * b).sum();
            // SAFETY: r < rows and c < n: a place the caller lent.
            unsafe { out.add(r * ldo + c).write(dot + bias.map_or(0.0, |b| b[c])) };
        }
    }
}

/// Where a block's outputs go: row `r`, column `c` at `ptr + r·stride + c`.
#[derive(Clone, Copy)]
struct Out(*mut f32, usize);

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Weight rows (columns of the output) per tile: 3, so 4 × 3 accumulators + 3 weight
    /// vectors + 1 input vector use the 16 vector registers.
    const COLS: usize = 3;
    /// Input rows per tile.
    const ROWS: usize = 4;

    use super::Out;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn block(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: Out, rows: usize, k: usize, n: usize) {
        // Weight rows outside, input rows inside: a tile's 3 weight rows (≤ 3·k floats) stay
        // in L1 while the task's rows of `x` (≤ 64·k floats) stream from L2.
        let mut c0 = 0;
        while c0 < n {
            let cols = (n - c0).min(COLS);
            let mut r0 = 0;
            while r0 < rows {
                let here = (rows - r0).min(ROWS);
                let t = Tile { x, w, bias, r0, c0, k };
                // SAFETY: r0 + here ≤ rows and c0 + cols ≤ n, inside the asserted shapes.
                unsafe {
                    match (here, cols) {
                        (4, 3) => t.run::<4, 3>(out),
                        (4, 2) => t.run::<4, 2>(out),
                        (4, 1) => t.run::<4, 1>(out),
                        (3, 3) => t.run::<3, 3>(out),
                        (3, 2) => t.run::<3, 2>(out),
                        (3, 1) => t.run::<3, 1>(out),
                        (2, 3) => t.run::<2, 3>(out),
                        (2, 2) => t.run::<2, 2>(out),
                        (2, 1) => t.run::<2, 1>(out),
                        (1, 3) => t.run::<1, 3>(out),
                        (1, 2) => t.run::<1, 2>(out),
                        _ => t.run::<1, 1>(out),
                    }
                }
                r0 += ROWS;
            }
            c0 += COLS;
        }
    }

    /// One tile's place: input rows from `r0`, weight rows from `c0`.
    struct Tile<'a> {
        x: &'a [f32],
        w: &'a [f32],
        bias: Option<&'a [f32]>,
        r0: usize,
        c0: usize,
        k: usize,
    }

    impl Tile<'_> {
        /// `R` × `C` outputs. The caller keeps `r0 + R` and `c0 + C` inside the shapes.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn run<const R: usize, const C: usize>(&self, out: Out) {
            let k = self.k;
            // SAFETY (all pointer arithmetic below): rows r0..r0+R of x and c0..c0+C of w are
            // inside the slices, and each is k floats long; reads stop at k.
            let a: [*const f32; R] = std::array::from_fn(|r| unsafe { self.x.as_ptr().add((self.r0 + r) * k) });
            let b: [*const f32; C] = std::array::from_fn(|c| unsafe { self.w.as_ptr().add((self.c0 + c) * k) });
            let mut acc = [[_mm256_setzero_ps(); C]; R];
            let mut i = 0;
            while i + 8 <= k {
                let mut wv = [_mm256_setzero_ps(); C];
                for c in 0..C {
                    wv[c] = unsafe { _mm256_loadu_ps(b[c].add(i)) };
                }
                for r in 0..R {
                    let xv = unsafe { _mm256_loadu_ps(a[r].add(i)) };
                    for c in 0..C {
                        acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
                    }
                }
                i += 8;
            }
            for r in 0..R {
                for c in 0..C {
                    let mut sum = horizontal_sum(acc[r][c]);
                    for j in i..k {
                        sum += unsafe { *a[r].add(j) * *b[c].add(j) };
                    }
                    let col = self.c0 + c;
                    // SAFETY: row r0 + r < rows and column col < n: a place `block`'s caller lent.
                    unsafe { out.0.add((self.r0 + r) * out.1 + col).write(sum + self.bias.map_or(0.0, |b| b[col])) };
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn horizontal_sum(v: __m256) -> f32 {
        let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
    }
}
