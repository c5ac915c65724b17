//! A checkpoint as the loader streams one: the 8-byte header length, the JSON header, then
//! every tensor it names, converted and uploaded to the CPU device in row blocks. Any bytes
//! must load or give an error, never a panic or an allocation the file cannot back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::loader::weights::{Layout, Precision, stream_safetensors};

fuzz_target!(|data: &[u8]| {
    let device = burn::tensor::Device::flex();
    let layout = Layout {
        // Every tensor kept, those under "rows." cut into row blocks of at most 64 bytes.
        path: |name: &str| Some(name.to_string()),
        in_row_blocks: |path: &str| path.starts_with("rows."),
        precision: if data.first().is_some_and(|b| b & 1 == 1) { Precision::F16 } else { Precision::F32 },
        max_block_bytes: 64,
    };
    let mut source = data;
    let _ = pollster::block_on(stream_safetensors(&mut source, &layout, &device));
});
