//! The two kernels the EVA02 image tower spends its time in, on the CPU backend, at
//! jina-clip's shapes (a benchmark, not a test): `x·Wᵀ` for each linear layer of a block and
//! attention over one image's tokens. One JSON line per case; `benches/clip/kernels_peer.py`
//! prints the same cases for PyTorch, so the image tower's gap (docs/benchmarks.md) can be placed.
//!
//!   cargo run --release --example kernels [-- repeats]

use std::time::Instant;

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Distribution, Tensor};

/// Mean seconds of `repeats` calls after one warm-up call.
fn seconds<F: FnMut()>(repeats: usize, mut f: F) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..repeats {
        f();
    }
    t.elapsed().as_secs_f64() / repeats as f64
}

fn report(model: &str, case: &str, flops: f64, secs: f64) {
    println!(
        "{}",
        serde_json::json!({"impl": "triage-flex", "model": model, "case": case,
            "ms": (secs * 1e4).round() / 10.0, "gflop_per_s": (flops / secs / 1e8).round() / 10.0})
    );
}

fn main() {
    let repeats: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let device = Device::flex();
    let random = |dims: [usize; 2]| Tensor::<2>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    // (model, tokens per image, width, heads, SwiGLU hidden): EVA02-B/16 at 224 px, EVA02-L/14 at 512 px.
    for (model, tokens, width, heads, hidden) in
        [("jina-clip-v1", 197usize, 768usize, 12usize, 2048usize), ("jina-clip-v2", 1297, 1024, 16, 2730)]
    {
        let x = random([tokens, width]);
        let h = random([tokens, hidden]);
        for (case, input, out) in [("q/k/v/proj", &x, width), ("swiglu w1/w2", &x, hidden), ("swiglu w3", &h, width)] {
            let k = input.dims()[1];
            let w = random([out, k]);
            let secs = seconds(repeats, || {
                let _ = input.clone().matmul(w.clone().transpose()).into_data();
            });
            report(model, &format!("linear {case} [{tokens}×{k}]·[{k}×{out}]"), 2.0 * (tokens * k * out) as f64, secs);
        }
        let head_dim = width / heads;
        let qkv = || Tensor::<4>::random([1, heads, tokens, head_dim], Distribution::Normal(0.0, 1.0), &device);
        let (q, k, v) = (qkv(), qkv(), qkv());
        let secs = seconds(repeats, || {
            let _ =
                attention(q.clone(), k.clone(), v.clone(), None, None, AttentionModuleOptions::default()).into_data();
        });
        let flops = 4.0 * (heads * tokens * tokens * head_dim) as f64;
        report(model, &format!("attention {heads} heads × {tokens} tokens × {head_dim}"), flops, secs);
    }
}
