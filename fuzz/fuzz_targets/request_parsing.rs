//! A request body as `triage serve` reads one: JSON, then each of the API's request types.
//! Any bytes must give a request or Jina's error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::api::{ClassifyRequest, EmbeddingsRequest, TrainRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = triage::engine::parse_body(data) {
        let _ = ClassifyRequest::from_json(&body);
        let _ = TrainRequest::from_json(&body);
        let _ = EmbeddingsRequest::from_json(&body);
    }
});
