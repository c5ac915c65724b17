//! A bounded load run against `triage serve` on loopback (a benchmark, not a test):
//! `clients` threads each send one request after another for `seconds`; prints one JSON
//! line with the throughput and the latency percentiles. `URL` may list several servers
//! separated by commas (replicas): each client then rotates over them, request by request,
//! as a round-robin load balancer would (`benches/load.sh` runs one and three replicas).
//!
//!   cargo run --release --example load -- URL[,URL…] BODY.json [clients] [seconds] [path]
//!
//! e.g. `cargo run --release --example load -- http://127.0.0.1:8080 \
//!   ../shared/reference/samples/classify-zero-shot-text.json 8 20 /v1/classify`

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, body_file, ..] = args.as_slice() else {
        eprintln!("usage: load URL BODY.json [clients] [seconds] [path]");
        std::process::exit(2);
    };
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let seconds: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let path = args.get(4).map(String::as_str).unwrap_or("/v1/classify");
    let body = std::fs::read(body_file).unwrap_or_else(|e| panic!("{body_file}: {e}"));
    let urls: Vec<String> = base.split(',').map(|b| format!("{b}{path}")).collect();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    // One request to each first, so model loading is not measured.
    for url in &urls {
        let warm = agent.post(url).header("Content-Type", "application/json").send(body.as_slice()).expect("server");
        assert_eq!(warm.status().as_u16(), 200, "the warm-up request to {url} failed");
    }

    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let per_client: Vec<(Vec<f64>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (agent, urls, body) = (agent.clone(), &urls, &body);
                scope.spawn(move || {
                    let (mut latencies, mut errors) = (Vec::new(), 0);
                    let mut next = client;
                    while Instant::now() < deadline {
                        let url = &urls[next % urls.len()];
                        next += 1;
                        let t = Instant::now();
                        let ok = match agent.post(url).header("Content-Type", "application/json").send(body.as_slice())
                        {
                            Ok(mut r) => r.status().as_u16() == 200 && r.body_mut().read_to_vec().is_ok(),
                            Err(_) => false,
                        };
                        if ok {
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        } else {
                            errors += 1;
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<f64> = per_client.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    let errors: usize = per_client.iter().map(|(_, e)| e).sum();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (latencies.len() - 1) as f64).round() as usize;
        (latencies[i] * 10.0).round() / 10.0
    };
    println!(
        "{}",
        serde_json::json!({
            "url": urls.join(","), "clients": clients, "seconds": (elapsed * 100.0).round() / 100.0,
            "requests": latencies.len(), "errors": errors,
            "requests_per_s": ((latencies.len() as f64 / elapsed) * 100.0).round() / 100.0,
            "p50_ms": pct(50.0), "p90_ms": pct(90.0), "p99_ms": pct(99.0), "max_ms": pct(100.0),
        })
    );
}
