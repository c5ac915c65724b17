//! Image preprocessing against Pillow + torchvision (fixtures by
//! `tests/fixtures/gen_image_fixtures.py`): real JPEGs and PNG, generated PNG/GIF/WebP/BMP of
//! odd sizes, strips and alpha channels, JPEGs of every chroma layout, progressive and with
//! restarts; every pixel equal to Pillow's before normalisation.

use std::path::Path;

use triage::image::{decode, normalize, resize_center_crop};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images"))
}

#[test]
fn preprocessing_matches_pillow_and_torchvision() {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let mut report = Vec::new();
    let mut worst = Vec::new();
    for case in cases {
        let image = case["image"].as_str().unwrap();
        let size = case["size"].as_u64().unwrap() as usize;
        let bytes = std::fs::read(fixtures().join(image)).unwrap();
        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{image}: {e}"));
        assert_eq!(
            [decoded.width() as u64, decoded.height() as u64],
            [case["source_size"][0].as_u64().unwrap(), case["source_size"][1].as_u64().unwrap()],
            "{image}"
        );
        if let Some(whole) = case["decoded"].as_str() {
            // JPEGs: the decoder alone, every pixel of the image against Pillow's.
            let expected = image::open(fixtures().join("expected").join(whole)).unwrap().into_rgb8();
            let (max, off) = differences(decoded.as_raw(), expected.as_raw());
            report.push(format!("{image} decoded: max |diff| {max}/255, {off} of {} values differ", expected.len()));
            worst.push(max);
        }
        let ours = resize_center_crop(&decoded, size);
        let expected =
            image::open(fixtures().join("expected").join(case["expected"].as_str().unwrap())).unwrap().into_rgb8();
        assert_eq!(ours.dimensions(), expected.dimensions(), "{image} at {size}");
        let (max, off) = differences(ours.as_raw(), expected.as_raw());
        report.push(format!("{image} @{size}: max |diff| {max}/255, {off} of {} values differ", expected.len()));
        worst.push(max);
    }
    println!("{}", report.join("\n"));
    // Pillow's pixels exactly: decoding (JPEG: libjpeg-turbo's IDCT, upsampling and colour
    // tables, reproduced in src/image/jpeg.rs; other formats are lossless) and the resize.
    for (max, line) in worst.iter().zip(&report) {
        assert_eq!(*max, 0, "{line}: differs from Pillow + torchvision");
    }
}

/// (largest |a − b|, how many values differ).
fn differences(a: &[u8], b: &[u8]) -> (i32, usize) {
    assert_eq!(a.len(), b.len());
    let diffs = a.iter().zip(b).map(|(&x, &y)| (x as i32 - y as i32).abs());
    diffs.fold((0, 0), |(max, off), d| (max.max(d), off + (d > 0) as usize))
}

#[test]
fn normalisation_matches_torchvision() {
    let bytes = std::fs::read(fixtures().join("CLIP.png")).unwrap();
    let ours = normalize(&resize_center_crop(&decode(&bytes).unwrap(), 224));
    let raw = std::fs::read(fixtures().join("expected/CLIP.png.224.normalized.f32")).unwrap();
    let expected: Vec<f32> = raw.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(ours.len(), expected.len());
    let max = ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-5, "max |diff| {max}");
}

/// Damaged JPEGs (bytes changed, runs cut out; the end marker kept so they pass the
/// truncation check) give an image or an error, never a panic: 240 per source image.
#[test]
fn damaged_jpegs_never_panic() {
    let sources = [
        "generated/q75-229x345.jpg",
        "generated/progressive-420-317x219.jpg",
        "generated/restart-420-250x190.jpg",
        "generated/cjpeg-411-185x143.jpg",
        "textile/local/textile_0001.jpg",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut decoded, mut refused) = (0, 0);
    for source in sources {
        let good = std::fs::read(fixtures().join(source)).unwrap();
        for round in 0..240 {
            let mut bytes = good.clone();
            if round % 3 == 2 {
                let at = 2 + next(bytes.len() - 4);
                let len = 1 + next(64.min(bytes.len() - 2 - at));
                bytes.drain(at..at + len);
            } else {
                for _ in 0..1 + next(8) {
                    let at = 2 + next(bytes.len() - 4);
                    bytes[at] = next(256) as u8;
                }
            }
            match std::panic::catch_unwind(|| decode(&bytes)) {
                Ok(Ok(_)) => decoded += 1,
                Ok(Err(_)) => refused += 1,
                Err(_) => panic!("{source}, round {round}: the decoder panicked"),
            }
        }
    }
    println!("damaged JPEGs: {decoded} decoded, {refused} refused");
    assert!(refused > 0 && decoded > 0);
}
