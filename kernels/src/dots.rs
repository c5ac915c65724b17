//! The linear layer's inner kernel: dot products of rows of `x` with rows of `W`, in tiles of
//! up to 4 × 3 so one pass over `k` feeds 12 independent accumulators from 7 loads. One
//! tiling ([`tile_kernel`]) is instantiated per instruction set: AVX2 + FMA (eight lanes,
//! chosen at run time) and wasm SIMD128 (four lanes; every browser triage supports has it).

/// Whether this CPU runs the vector kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    {
        false
    }
}

/// Rows of `k` values: row `r` is `data[r·stride..r·stride + k]` (`stride ≥ k`; a head's rows
/// inside a wider activation have the width as stride).
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

impl Rows<'_> {
    /// Whether `rows` rows of `k` values lie inside `data`.
    fn holds(&self, rows: usize, k: usize) -> bool {
        rows == 0 || (self.stride >= k && self.data.len() >= (rows - 1) * self.stride + k)
    }
}

/// `out[r·ldo + c] = x[r]·w[c] + bias[c]` for `rows` rows of `x` and `n` rows of `w`, each
/// `k` long. Callers check [`available`] first.
///
/// # Safety
/// `out` is valid for writes at `r·ldo + c` for every `r < rows`, `c < n`, and no other
/// thread reads or writes those places during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn block(
    x: Rows,
    w: Rows,
    bias: Option<&[f32]>,
    out: *mut f32,
    ldo: usize,
    rows: usize,
    k: usize,
    n: usize,
) {
    assert!(x.holds(rows, k) && w.holds(n, k) && ldo >= n && bias.is_none_or(|b| b.len() >= n));
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX2 and FMA, every row is inside its slice (asserted above),
        // and `out` is the caller's to write.
        unsafe { avx2::block(x, w, bias, Out(out, ldo), rows, k, n) };
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the module is built with SIMD128, every row is inside its slice (asserted
        // above), and `out` is the caller's to write.
        unsafe { simd128::block(x, w, bias, Out(out, ldo), rows, k, n) };
        return;
    }
    #[allow(unreachable_code)]
    for r in 0..rows {
        for c in 0..n {
            let (xr, wc) = (&x.data[r * x.stride..][..k], &w.data[c * w.stride..][..k]);
            let dot: f32 = xr.iter().zip(wc).map(|(a, b)| a * b).sum();
            // SAFETY: r < rows and c < n: a place the caller lent.
            unsafe { out.add(r * ldo + c).write(dot + bias.map_or(0.0, |b| b[c])) };
        }
    }
}

/// Where a block's outputs go: row `r`, column `c` at `ptr + r·stride + c`.
#[derive(Clone, Copy)]
struct Out(*mut f32, usize);

/// A module `$name` with `block` (as [`block`], on [`Out`]) for one instruction set: `$vec`
/// holds `$lanes` values; `$zero`, `$load`, `$fma` (`acc + a·b`) and `$sum` (of the lanes) are
/// its operations, all callable in a `#[target_feature(enable = $features)]` function.
macro_rules! tile_kernel {
    ($name:ident, $features:literal, $($arch:ident)::+, $vec:ty, $lanes:literal,
     zero: $zero:expr, load: $load:expr, fma: $fma:expr, sum: $sum:expr) => {
        mod $name {
            use super::{Out, Rows};
            use $($arch)::+::*;

            /// Weight rows (columns of the output) per tile: 4 × 3 accumulators + 3 weight
            /// vectors + 1 input vector fill 16 vector registers.
            const COLS: usize = 3;
            /// Input rows per tile.
            const ROWS: usize = 4;

            #[target_feature(enable = $features)]
            pub unsafe fn block(x: Rows, w: Rows, bias: Option<&[f32]>, out: Out, rows: usize, k: usize, n: usize) {
                // Weight rows outside, input rows inside: a tile's 3 weight rows stay in L1
                // while the task's rows of `x` (≤ 64·k floats) stream from L2.
                let mut c0 = 0;
                while c0 < n {
                    let cols = (n - c0).min(COLS);
                    let mut r0 = 0;
                    while r0 < rows {
                        let here = (rows - r0).min(ROWS);
                        let t = Tile { x, w, bias, r0, c0, k };
                        // SAFETY: r0 + here ≤ rows and c0 + cols ≤ n, inside the caller's shapes.
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
                x: Rows<'a>,
                w: Rows<'a>,
                bias: Option<&'a [f32]>,
                r0: usize,
                c0: usize,
                k: usize,
            }

            impl Tile<'_> {
                /// `R` × `C` outputs. The caller keeps `r0 + R` and `c0 + C` inside the shapes.
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn run<const R: usize, const C: usize>(&self, out: Out) {
                    let k = self.k;
                    let (zero, load, fma, sum) = ($zero, $load, $fma, $sum);
                    // SAFETY (all pointer arithmetic below): rows r0..r0+R of x and c0..c0+C
                    // of w are inside the slices, k floats each from their starts; reads stop at k.
                    let a: [*const f32; R] =
                        std::array::from_fn(|r| unsafe { self.x.data.as_ptr().add((self.r0 + r) * self.x.stride) });
                    let b: [*const f32; C] =
                        std::array::from_fn(|c| unsafe { self.w.data.as_ptr().add((self.c0 + c) * self.w.stride) });
                    let mut acc: [[$vec; C]; R] = [[zero(); C]; R];
                    let mut i = 0;
                    while i + $lanes <= k {
                        let mut wv: [$vec; C] = [zero(); C];
                        for c in 0..C {
                            wv[c] = unsafe { load(b[c].add(i)) };
                        }
                        for r in 0..R {
                            let xv = unsafe { load(a[r].add(i)) };
                            for c in 0..C {
                                acc[r][c] = fma(acc[r][c], xv, wv[c]);
                            }
                        }
                        i += $lanes;
                    }
                    for r in 0..R {
                        for c in 0..C {
                            let mut total = sum(acc[r][c]);
                            for j in i..k {
                                total += unsafe { *a[r].add(j) * *b[c].add(j) };
                            }
                            let col = self.c0 + c;
                            // SAFETY: row r0 + r < rows and column col < n: a place `block`'s caller lent.
                            unsafe { out.0.add((self.r0 + r) * out.1 + col).write(total + self.bias.map_or(0.0, |b| b[col])) };
                        }
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
tile_kernel!(avx2, "avx2,fma", std::arch::x86_64, __m256, 8,
zero: || _mm256_setzero_ps(),
load: |p: *const f32| unsafe { _mm256_loadu_ps(p) },
fma: |acc: __m256, a: __m256, b: __m256| _mm256_fmadd_ps(a, b, acc),
sum: |v: __m256| {
    let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
});

// wasm has no fused multiply-add outside relaxed SIMD: a multiply and an add.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
tile_kernel!(simd128, "simd128", std::arch::wasm32, v128, 4,
    zero: || f32x4_splat(0.0),
    load: |p: *const f32| unsafe { v128_load(p as *const v128) },
    fma: |acc: v128, a: v128, b: v128| f32x4_add(acc, f32x4_mul(a, b)),
    sum: |v: v128| f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v) + f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v));
