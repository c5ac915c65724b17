//! An image input's bytes as the engine prepares them: decoded (PNG, JPEG, WebP, GIF, BMP;
//! JPEG by triage's own decoder), resized, center-cropped and normalised for a 32-px tower.
//! Images over 65,536 pixels (256×256) are refused here from their header (the engine allows
//! 50 million): the same checks and decoders run, but an input of a few hundred bytes the
//! fuzzer grows to 7000×7000 would cost a second to decode.
#![no_main]

use libfuzzer_sys::fuzz_target;

const MAX_PIXELS: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if let Ok(rgb) = triage::image::decode_within(data, MAX_PIXELS) {
        assert!(rgb.width() as u64 * rgb.height() as u64 <= MAX_PIXELS);
        let pixels = triage::image::normalize(&triage::image::resize_center_crop(&rgb, 32));
        assert_eq!(pixels.len(), 3 * 32 * 32);
    }
});
