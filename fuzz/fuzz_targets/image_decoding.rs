//! An image input's bytes as the engine prepares them: decoded (PNG, JPEG, WebP, GIF, BMP;
//! JPEG by triage's own decoder), resized, center-cropped and normalised for a 32-px tower.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pixels) = triage::image::preprocess(data, 32) {
        assert_eq!(pixels.len(), 3 * 32 * 32);
    }
});
