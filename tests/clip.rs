//! jina-clip-v1 and jina-clip-v2 on tiny seeded configs (tests/fixtures/gen_clip_fixtures.py):
//! the EVA02 image towers against timm's `Eva` (v1-like without, v2-like with frequency
//! interpolation), JinaBERT against the plain-PyTorch reference, v2's text tower against
//! transformers' `JinaEmbeddingsV3Model` with its adapter merged; weights read under Jina's
//! checkpoint names through the same loader users get. JinaBERT on its own is
//! jina-embeddings-v2-base-en: the same tower laid out as that model's checkpoint
//! (tests/fixtures/gen_v2_fixtures.py) against the same reference outputs.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::{block_on, fixtures};

use serde_json::Value;
use triage::engine::encoder::Encoder;
use triage::loader::weights::Precision;
use triage::registry;

const TOLERANCE: f32 = 1e-4;

fn load(id: &str) -> (Encoder, Value) {
    load_in(id, Precision::F32)
}

/// The tiny model with its weights stored in `precision` (f16 is what a browser page's CPU
/// backend stores jina-clip-v2 in), and its golden outputs.
fn load_in(id: &str, precision: Precision) -> (Encoder, Value) {
    let dir = fixtures().join("tiny-models").join(id);
    let spec = registry::find(id).unwrap();
    let encoder = Encoder::from_dir_in(spec, &dir, &burn::tensor::Device::flex(), true, precision).unwrap();
    let golden = serde_json::from_slice(&std::fs::read(dir.join("outputs.json")).unwrap()).unwrap();
    (encoder, golden)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

/// The agreement a check asks of each row: within [`TOLERANCE`] for f32 weights; for f16
/// weights (computed in f16: 11-bit mantissas through every layer) a cosine of at least 0.999.
#[derive(Clone, Copy)]
enum Agreement {
    Exact,
    Cosine,
}

impl Agreement {
    /// The worst row's |diff| (Exact) or 1 − cosine (Cosine); panics past the bound.
    fn check(self, what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) -> f32 {
        match self {
            Agreement::Exact => {
                let d = max_diff(got, want);
                assert!(d <= TOLERANCE, "{what}: max |diff| {d}");
                d
            }
            Agreement::Cosine => {
                assert_eq!(got.len(), want.len());
                assert!(got.iter().zip(want).all(|(g, w)| g.len() == w.len()), "{what}: row widths differ");
                let (min_cos, _) = triage::classify::agreement(got, want);
                assert!(min_cos >= 0.999, "{what}: min cosine {min_cos}");
                1.0 - min_cos
            }
        }
    }
}

fn max_diff(got: &[Vec<f32>], want: &[Vec<f32>]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .flat_map(|(g, w)| {
            assert_eq!(g.len(), w.len());
            g.iter().zip(w).map(|(a, b)| (a - b).abs())
        })
        .fold(0f32, f32::max)
}

/// Image cases: random pixels straight into the tower, and fixture PNGs through triage's own
/// preprocessing (Pillow-exact for PNG) then the tower.
fn check_vision(encoder: &Encoder, golden: &Value, agreement: Agreement) -> f32 {
    let size = encoder.image_size().unwrap();
    let mut worst = 0f32;
    for case in golden["vision"].as_array().unwrap() {
        let n = case["batch"].as_u64().unwrap() as usize;
        let pixels: Vec<Vec<f32>> = if case.get("pixels").is_some() {
            floats(&case["pixels"]).chunks(3 * size * size).map(<[f32]>::to_vec).collect()
        } else {
            case["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let bytes = std::fs::read(fixtures().join(p.as_str().unwrap())).unwrap();
                    triage::image::preprocess(&bytes, size).unwrap()
                })
                .collect()
        };
        assert_eq!(pixels.len(), n);
        let got = block_on(encoder.pooled_images(&pixels)).unwrap();
        worst = worst.max(agreement.check("image tower", &got, &rows(&case["embeddings"])));
    }
    worst
}

/// Text cases: each padded batch's rows, unpadded, through the encoder (which pads its own
/// batches) with the model's default task.
fn check_text(encoder: &Encoder, golden: &Value, agreement: Agreement) -> f32 {
    let task = encoder.task(None).unwrap();
    let mut worst = 0f32;
    for case in golden["text"].as_array().unwrap() {
        let ids = rows(&case["ids"]);
        let mask = rows(&case["mask"]);
        let seqs: Vec<Vec<u32>> = ids
            .iter()
            .zip(&mask)
            .map(|(i, m)| i.iter().zip(m).filter(|(_, m)| **m > 0.0).map(|(i, _)| *i as u32).collect())
            .collect();
        let got = block_on(encoder.pooled_ids(&seqs, task)).unwrap();
        worst = worst.max(agreement.check("text tower", &got, &rows(&case["pooled"])));
    }
    worst
}

/// The tokenizer gives the ids the reference was fed ([CLS] … [SEP], lower case): the first
/// text case holds every text, padded.
fn check_token_ids(encoder: &Encoder, golden: &Value) {
    let texts: Vec<&str> = golden["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let ids = encoder.tokenize(&texts, encoder.task(None).unwrap()).unwrap();
    let first = rows(&golden["text"][0]["ids"]);
    assert_eq!(ids.len(), first.len());
    for (got, want) in ids.iter().zip(&first) {
        assert_eq!(got.iter().map(|&i| i as f32).collect::<Vec<_>>(), want[..got.len()].to_vec());
    }
}

#[test]
fn tiny_clip_v1_matches_timm_eva_and_jinabert_reference() {
    let (encoder, golden) = load("jina-clip-v1");
    let vision = check_vision(&encoder, &golden, Agreement::Exact);
    let text = check_text(&encoder, &golden, Agreement::Exact);
    check_token_ids(&encoder, &golden);
    println!("jina-clip-v1 tiny: image max |diff| {vision:.2e}, text max |diff| {text:.2e}");
}

/// jina-embeddings-v2-base-en: JinaBERT alone, from a checkpoint under the masked-LM class's
/// names (`bert.` in front, an MLM head to skip), config.json at the top level, the model's
/// own tokenizer; f32 to the reference's 1e-4, f16 by cosine. It takes no images.
#[test]
fn tiny_v2_base_en_matches_the_jinabert_reference() {
    let (encoder, golden) = load("jina-embeddings-v2-base-en");
    assert!(encoder.image_size().is_none());
    let text = check_text(&encoder, &golden, Agreement::Exact);
    check_token_ids(&encoder, &golden);
    let (half, _) = load_in("jina-embeddings-v2-base-en", Precision::F16);
    assert_eq!(half.weight_dtype(), burn::tensor::DType::F16);
    let cosine = 1.0 - check_text(&half, &golden, Agreement::Cosine);
    println!("jina-embeddings-v2-base-en tiny: max |diff| {text:.2e}; in f16 min cosine {cosine:.6}");
}

#[test]
fn tiny_clip_v2_matches_timm_eva_and_transformers_v3() {
    let (encoder, golden) = load("jina-clip-v2");
    let vision = check_vision(&encoder, &golden, Agreement::Exact);
    let text = check_text(&encoder, &golden, Agreement::Exact);
    println!("jina-clip-v2 tiny: image max |diff| {vision:.2e}, text max |diff| {text:.2e}");
}

/// Weights stored and computed in f16 on the CPU backend (how a browser page runs
/// jina-clip-v2, whose f32 weights exceed a page's memory): both towers of both tiny models
/// against the same f32 references, by cosine.
#[test]
fn tiny_clip_in_f16_agrees_with_the_references() {
    for id in ["jina-clip-v1", "jina-clip-v2"] {
        let (encoder, golden) = load_in(id, Precision::F16);
        assert_eq!(encoder.weight_dtype(), burn::tensor::DType::F16, "{id}");
        let vision = check_vision(&encoder, &golden, Agreement::Cosine);
        let text = check_text(&encoder, &golden, Agreement::Cosine);
        println!("{id} tiny in f16: image min cosine {:.6}, text min cosine {:.6}", 1.0 - vision, 1.0 - text);
    }
}
