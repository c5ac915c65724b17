//! GFLOP/s of [`triage_kernels::linear`] at all-MiniLM-L6-v2's and jina-clip's layer shapes
//! (a benchmark, not a test): one JSON line per shape.
//!
//!   cargo run --release -p triage-kernels --features threads --example linear [-- seconds]

use std::time::Instant;

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    // (rows = batch × tokens, in, out): MiniLM at batch 1 and 8 of 64 tokens, EVA02-B/16.
    let shapes = [
        (64, 384, 384),
        (64, 384, 1536),
        (64, 1536, 384),
        (512, 384, 384),
        (512, 384, 1536),
        (512, 1536, 384),
        (197, 768, 2048),
        (197, 2048, 768),
    ];
    for (m, k, n) in shapes {
        let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
        let (x, w, b) = (fill(m * k), fill(n * k), fill(n));
        let mut out = vec![0.0f32; m * n];
        if !triage_kernels::linear(&x, &w, Some(&b), &mut out, m, k, n) {
            println!("{{\"note\": \"no fast linear path on this CPU\"}}");
            return;
        }
        let (mut calls, t) = (0u64, Instant::now());
        while t.elapsed().as_secs_f64() < seconds {
            triage_kernels::linear(&x, &w, Some(&b), &mut out, m, k, n);
            calls += 1;
        }
        let secs = t.elapsed().as_secs_f64() / calls as f64;
        let gflops = 2.0 * (m * k * n) as f64 / secs / 1e9;
        println!("{{\"m\": {m}, \"k\": {k}, \"n\": {n}, \"us\": {:.1}, \"gflop_per_s\": {gflops:.1}}}", secs * 1e6);
    }
}
