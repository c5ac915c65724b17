//! Streaming safetensors loading: a checkpoint is read front to back, one tensor at a time,
//! converted on the host to the dtype the device computes in, uploaded, and its host bytes
//! dropped before the next is read. So loading never holds the file and the model at once:
//! peak memory is the model in its target dtype plus one tensor in flight (at most one
//! 1 MiB chunk of source bytes besides it). The same code reads a file natively and a Cache
//! API response stream in the browser (see [`ByteSource`]).
//!
//! Format: <https://github.com/huggingface/safetensors#format> — an 8-byte little-endian
//! header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}}` with
//! offsets relative to the end of the header, then the tensors' bytes.
//!
//! Tensors are installed into a module built with lazily initialised parameters
//! ([`burn::nn::Initializer`]), so the module never allocates its own copy of the weights.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType, Device, Tensor, TensorData};
use half::{bf16, f16};
use serde_json::Value;

use crate::error::{Result, TriageError};

/// Largest header accepted (the released checkpoints' headers are tens of KB).
const MAX_HEADER_BYTES: u64 = 100 << 20;
/// Source bytes read and converted per step.
const CHUNK_BYTES: usize = 1 << 20;

/// A reader of bytes in order: a file natively, a response body in the browser.
#[allow(async_fn_in_trait)]
pub trait ByteSource {
    /// Reads up to `buf.len()` bytes; `Ok(0)` only at the end of the stream.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
}

impl ByteSource for std::fs::File {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        std::io::Read::read(self, buf).map_err(|e| TriageError::ModelUnavailable(format!("reading weights: {e}")))
    }
}

/// An in-memory checkpoint (tests, small models).
impl ByteSource for &[u8] {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }
}

/// The rest of a stream (small files: config, tokenizer, a small model's weights).
pub async fn read_to_end<S: ByteSource>(src: &mut S) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut chunk).await?;
        if n == 0 {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

async fn read_exact<S: ByteSource>(src: &mut S, mut buf: &mut [u8]) -> Result<()> {
    while !buf.is_empty() {
        let n = src.read(buf).await?;
        if n == 0 {
            return Err(bad("the file ends before its last tensor (truncated download?)"));
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

fn bad(why: impl std::fmt::Display) -> TriageError {
    TriageError::ModelUnavailable(format!("model.safetensors: {why}"))
}

/// Source dtypes a float tensor may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceDType {
    F32,
    F16,
    BF16,
}

impl SourceDType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "F32" => Some(Self::F32),
            "F16" => Some(Self::F16),
            "BF16" => Some(Self::BF16),
            _ => None,
        }
    }

    fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
        }
    }

    /// Bytes per value of any safetensors dtype, for tensors that are skipped, not read
    /// (BERT checkpoints carry an `I64` `position_ids` buffer).
    fn width_of(name: &str) -> Option<usize> {
        match name {
            "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => Some(1),
            "I16" | "U16" | "F16" | "BF16" => Some(2),
            "I32" | "U32" | "F32" => Some(4),
            "I64" | "U64" | "F64" => Some(8),
            _ => None,
        }
    }

    fn to_f32(self, b: &[u8]) -> f32 {
        match self {
            Self::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Self::F16 => f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
            Self::BF16 => bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        }
    }
}

/// One tensor of the header.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// `Err(name)`: a dtype that is never read (an error if the network wants the tensor).
    dtype: std::result::Result<SourceDType, String>,
    shape: Vec<usize>,
    begin: u64,
    end: u64,
}

fn parse_header(json: &[u8]) -> Result<Vec<Entry>> {
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(json).map_err(|e| bad(format!("bad header: {e}")))?;
    let mut entries = Vec::new();
    for (name, v) in header {
        if name == "__metadata__" {
            continue;
        }
        let dtype_name = v["dtype"].as_str().unwrap_or("?");
        let dtype = SourceDType::parse(dtype_name).ok_or_else(|| dtype_name.to_string());
        let width = SourceDType::width_of(dtype_name)
            .ok_or_else(|| bad(format!("tensor {name} has unknown dtype {dtype_name}")))?;
        let shape: Option<Vec<usize>> =
            v["shape"].as_array().map(|a| a.iter().filter_map(|d| d.as_u64().map(|d| d as usize)).collect());
        let offsets: Option<Vec<u64>> =
            v["data_offsets"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect());
        let (Some(shape), Some([begin, end])) = (shape, offsets.as_deref().and_then(|o| <[u64; 2]>::try_from(o).ok()))
        else {
            return Err(bad(format!("tensor {name} has no valid shape or data_offsets")));
        };
        let elements = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        if elements.and_then(|n| n.checked_mul(width as u64)) != end.checked_sub(begin) {
            return Err(bad(format!(
                "tensor {name}: shape {shape:?} does not match its {} bytes",
                end.saturating_sub(begin)
            )));
        }
        entries.push(Entry { name, dtype, shape, begin, end });
    }
    entries.sort_by_key(|e| e.begin);
    if entries.windows(2).any(|w| w[0].end > w[1].begin) {
        return Err(bad("tensors overlap"));
    }
    Ok(entries)
}

/// The dtype tensors are stored in on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    /// Half precision (WebGPU adapters with `shader-f16`).
    F16,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
        }
    }
}

/// The most bytes of weights a CPU device takes in a browser. A page's WebAssembly memory
/// ends at 4 GiB and the weights share it with activations, the tokenizer and download
/// chunks; past this, loading would run out of memory and trap, so weights over it are
/// stored in f16 instead, or refused with a clear error when even that does not fit (see
/// [`storage_precision`]: jina-clip-v2 in f32 is 3.46 GB and loads in f16; jina-embeddings-v3's
/// 2.29 GB loads in f32). Natively, and on a GPU device, there is no such bound.
fn host_weight_budget(device: &Device) -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    if matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_)) {
        return Some(3 << 30);
    }
    let _ = device;
    None
}

/// The most bytes one uploaded tensor holds. WebGPU guarantees storage bindings of 128 MiB
/// on every adapter (`maxStorageBufferBindingSize`'s floor) and burn's wgpu memory pages are
/// no larger than the device's binding limit, so a bigger table (jina-embeddings-v3's
/// 250002×1024 word embeddings: 1 GB in f32) is stored as row blocks of at most this size.
pub const MAX_BLOCK_BYTES: usize = 128 << 20;

/// The dtype the kept tensors are stored in: the layout's, or f16 where the layout's would
/// exceed `budget` and f16 fits (a browser CPU device: jina-clip-v2's 3.46 GB of f32 weights
/// become 1.73 GB, and burn-flex computes in f16 — slower per value and less exact, but the
/// model runs instead of trapping). Refused from the header when even f16 does not fit.
fn storage_precision<W: Fn(&str) -> Option<String>, B: Fn(&str) -> bool>(
    entries: &[Entry],
    layout: &Layout<W, B>,
    budget: Option<u64>,
) -> Result<Precision> {
    let Some(budget) = budget else { return Ok(layout.precision) };
    let values: u64 = entries
        .iter()
        .filter(|e| (layout.path)(&e.name).is_some())
        .map(|e| e.shape.iter().product::<usize>() as u64)
        .sum();
    let need = |p: Precision| values * p.dtype().size() as u64;
    for precision in [layout.precision, Precision::F16] {
        if need(precision) <= budget {
            return Ok(precision);
        }
    }
    Err(bad(format!(
        "its weights take {:.2} GB even in F16 on the CPU backend, over the {:.2} GB a browser page can hold \
         (WebAssembly memory ends at 4 GiB); load it with the WebGPU backend",
        need(Precision::F16) as f64 / 1e9,
        budget as f64 / 1e9
    )))
}

/// A tensor of the checkpoint uploaded flat: its shape and its `[numel]` data.
pub struct Loaded {
    pub shape: Vec<usize>,
    pub tensor: Tensor<1>,
}

/// The row counts of the blocks a `[rows, row_len…]` tensor is stored in when no block may
/// exceed `max_block_bytes` in `precision` (one block when it fits).
pub fn row_blocks(rows: usize, row_len: usize, precision: Precision, max_block_bytes: usize) -> Vec<usize> {
    let row_bytes = (row_len * precision.dtype().size()).max(1);
    let per_block = (max_block_bytes / row_bytes).max(1);
    let mut blocks = vec![per_block; rows / per_block];
    if rows % per_block != 0 || rows == 0 {
        blocks.push(rows % per_block);
    }
    blocks
}

/// Where the tensors of a checkpoint go.
pub struct Layout<W: Fn(&str) -> Option<String>, B: Fn(&str) -> bool> {
    /// A checkpoint name → its module path; `None` skips the tensor (e.g. an unused pooler).
    pub path: W,
    /// Module paths stored as row blocks: `path.0`, `path.1`, … (see [`row_blocks`]).
    pub in_row_blocks: B,
    /// The dtype tensors are stored in, unless the device cannot hold them in it (see
    /// [`Streamed::precision`]).
    pub precision: Precision,
    pub max_block_bytes: usize,
}

/// The tensors read from a checkpoint, by module path, and the dtype they are stored in.
pub struct Streamed {
    pub tensors: HashMap<String, Loaded>,
    /// The layout's precision, or f16 where the device could not hold the weights in it;
    /// row blocks are cut for this one.
    pub precision: Precision,
}

/// Reads a safetensors stream tensor by tensor, keeping the ones `layout` names, each
/// converted to the storage precision and uploaded to `device` as soon as its bytes (or one
/// row block's) are in.
pub async fn stream_safetensors<S: ByteSource, W: Fn(&str) -> Option<String>, B: Fn(&str) -> bool>(
    src: &mut S,
    layout: &Layout<W, B>,
    device: &Device,
) -> Result<Streamed> {
    let mut len = [0u8; 8];
    read_exact(src, &mut len).await?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!("header of {header_len} bytes: not a safetensors file")));
    }
    let mut header = vec![0u8; header_len as usize];
    read_exact(src, &mut header).await?;
    let entries = parse_header(&header)?;
    drop(header);
    let precision = storage_precision(&entries, layout, host_weight_budget(device))?;

    let mut out = HashMap::new();
    let mut position = 0u64;
    // Kept 4-byte aligned so whole f32 values are copied out of it in bulk.
    let mut chunk_words = vec![0u32; CHUNK_BYTES / 4];
    let chunk: &mut [u8] = bytemuck::cast_slice_mut(&mut chunk_words);
    for entry in entries {
        // Skip the gap before this tensor (none in files written by the safetensors library).
        while position < entry.begin {
            let n = ((entry.begin - position) as usize).min(CHUNK_BYTES);
            read_exact(src, &mut chunk[..n]).await?;
            position += n as u64;
        }
        let mut remaining = (entry.end - entry.begin) as usize;
        let Some(target) = (layout.path)(&entry.name) else {
            // Not a parameter of this network (e.g. BERT's I64 `position_ids`): skipped unread.
            while remaining > 0 {
                let n = remaining.min(CHUNK_BYTES);
                read_exact(src, &mut chunk[..n]).await?;
                remaining -= n;
            }
            position = entry.end;
            continue;
        };
        let dtype = entry
            .dtype
            .map_err(|name| bad(format!("tensor {} has dtype {name}; only F32, F16 and BF16 are read", entry.name)))?;
        // The blocks this tensor is uploaded in: (module path, shape).
        let mut blocks: Blocks = Vec::new();
        match entry.shape.split_first() {
            Some((&rows, rest)) if (layout.in_row_blocks)(&target) => {
                let row_len: usize = rest.iter().product();
                for (i, n) in row_blocks(rows, row_len, precision, layout.max_block_bytes).into_iter().enumerate() {
                    let shape = std::iter::once(n).chain(rest.iter().copied()).collect();
                    blocks.push((format!("{target}.{i}"), shape));
                }
            }
            _ => blocks.push((target, entry.shape.clone())),
        }
        blocks.reverse(); // popped in order
        let mut pending = HostBlock::new(precision, numel_of(&blocks));
        let width = dtype.width();
        let step = CHUNK_BYTES - CHUNK_BYTES % width;
        loop {
            // Upload every full block (a zero-sized one is full at once).
            pending = upload_full(pending, &mut blocks, &mut out, precision, device);
            if remaining == 0 {
                break;
            }
            let n = remaining.min(step);
            read_exact(src, &mut chunk[..n]).await?;
            remaining -= n;
            let mut bytes = &chunk[..n];
            while !bytes.is_empty() && !blocks.is_empty() {
                let take = (pending.room() * width).min(bytes.len());
                pending.extend(dtype, &bytes[..take]);
                bytes = &bytes[take..];
                pending = upload_full(pending, &mut blocks, &mut out, precision, device);
            }
        }
        position = entry.end;
    }
    Ok(Streamed { tensors: out, precision })
}

/// Appends little-endian values of `T`: one copy when the bytes are aligned on a
/// little-endian machine (wasm and x86 always are), else value by value with `from_le`.
fn extend_le<T: bytemuck::Pod, const N: usize>(v: &mut Vec<T>, bytes: &[u8], from_le: fn([u8; N]) -> T) {
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(values) if cfg!(target_endian = "little") => v.extend_from_slice(values),
        // (`chunks_exact` hands out exactly N bytes: the fallback array is never used.)
        _ => v.extend(bytes.chunks_exact(N).map(|b| from_le(b.try_into().unwrap_or([0; N])))),
    }
}

/// Blocks still to fill, the next last: `(module path, shape)`.
type Blocks = Vec<(String, Vec<usize>)>;

fn numel_of(blocks: &Blocks) -> usize {
    blocks.last().map_or(0, |(_, shape)| shape.iter().product())
}

/// Uploads `pending` if it is full (and every zero-sized block after it); returns the block
/// being filled.
fn upload_full(
    mut pending: HostBlock,
    blocks: &mut Blocks,
    out: &mut HashMap<String, Loaded>,
    precision: Precision,
    device: &Device,
) -> HostBlock {
    while pending.room() == 0 {
        let Some((path, shape)) = blocks.pop() else { break };
        let full = std::mem::replace(&mut pending, HostBlock::new(precision, numel_of(blocks)));
        out.insert(path, Loaded { shape, tensor: full.upload(device) });
    }
    pending
}

/// One block's values converted on the host, waiting to be uploaded.
enum HostBlock {
    F32(Vec<f32>, usize),
    F16(Vec<f16>, usize),
}

impl HostBlock {
    fn new(precision: Precision, numel: usize) -> Self {
        // Reserved up to 16 Mi values at once (larger ones grow as their bytes come): a header
        // claiming a tensor far larger than the file must fail at the end of the stream, not
        // allocate what it claims first.
        let reserve = numel.min(16 << 20);
        match precision {
            Precision::F32 => Self::F32(Vec::with_capacity(reserve), numel),
            Precision::F16 => Self::F16(Vec::with_capacity(reserve), numel),
        }
    }

    /// Source bytes of whole values, converted and appended. Where the source already has
    /// the block's dtype the bytes are copied in bulk (the common case: an f32 checkpoint kept
    /// in f32), not value by value: per-value conversion tripled a page's weight phase in an
    /// unoptimised build.
    fn extend(&mut self, dtype: SourceDType, bytes: &[u8]) {
        match (self, dtype) {
            (Self::F32(v, _), SourceDType::F32) => extend_le(v, bytes, f32::from_le_bytes),
            (Self::F16(v, _), SourceDType::F16) => extend_le(v, bytes, |b| f16::from_bits(u16::from_le_bytes(b))),
            (Self::F32(v, _), _) => v.extend(bytes.chunks_exact(dtype.width()).map(|b| dtype.to_f32(b))),
            (Self::F16(v, _), _) => v.extend(bytes.chunks_exact(dtype.width()).map(|b| f16::from_f32(dtype.to_f32(b)))),
        }
    }

    /// Values still to come before the block is full.
    fn room(&self) -> usize {
        match self {
            Self::F32(v, n) => n - v.len(),
            Self::F16(v, n) => n - v.len(),
        }
    }

    fn upload(self, device: &Device) -> Tensor<1> {
        let (data, dtype) = match self {
            Self::F32(v, n) => (TensorData::new(v, [n]), DType::F32),
            Self::F16(v, n) => (TensorData::new(v, [n]), DType::F16),
        };
        Tensor::<1>::from_data(data, (device, dtype))
    }
}

/// Puts loaded tensors into a module's float parameters by path (`layers.3.fc1.weight`),
/// checking every shape; the parameters' lazy initialisers never run.
struct Install {
    tensors: HashMap<String, Loaded>,
    path: Vec<String>,
    missing: Vec<String>,
    mismatched: Vec<String>,
}

impl ModuleMapper for Install {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        let want = param.lazy_shape();
        match self.tensors.remove(&path) {
            None => {
                self.missing.push(path);
                param
            }
            Some(t) if t.shape != want.as_slice() => {
                self.mismatched.push(format!("{path}: checkpoint {:?}, network {:?}", t.shape, want.as_slice()));
                param
            }
            Some(t) => {
                let shape: [usize; D] = match t.shape.clone().try_into() {
                    Ok(s) => s,
                    Err(_) => {
                        self.mismatched.push(format!("{path}: rank {} ≠ {D}", t.shape.len()));
                        return param;
                    }
                };
                Param::initialized(param.id, t.tensor.reshape(shape))
            }
        }
    }
}

/// Installs `tensors` into `module`: every float parameter must be found with its shape, and
/// every tensor must be used.
pub fn install<M: Module>(module: M, tensors: HashMap<String, Loaded>) -> Result<M> {
    let mut mapper = Install { tensors, path: Vec::new(), missing: Vec::new(), mismatched: Vec::new() };
    let module = module.map(&mut mapper);
    let mut problems = Vec::new();
    if !mapper.missing.is_empty() {
        problems.push(format!("missing {}", mapper.missing.join(", ")));
    }
    if !mapper.mismatched.is_empty() {
        problems.push(format!("wrong shape {}", mapper.mismatched.join("; ")));
    }
    if !mapper.tensors.is_empty() {
        let mut unused: Vec<_> = mapper.tensors.into_keys().collect();
        unused.sort();
        problems.push(format!("not in the network {}", unused.join(", ")));
    }
    if problems.is_empty() {
        Ok(module)
    } else {
        Err(bad(format!("weights do not fit the network: {}", problems.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in tensors {
            let begin = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        out.extend(data);
        out
    }

    fn values(t: &Loaded) -> Vec<f32> {
        t.tensor.clone().into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn reads_each_dtype_and_skips_unwanted() {
        let f32s: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bf16s: Vec<u8> = [0.5f32, 3.0, -1.0].iter().flat_map(|&x| bf16::from_f32(x).to_le_bytes()).collect();
        let f16s: Vec<u8> = [0.25f32, 8.0].iter().flat_map(|&x| f16::from_f32(x).to_le_bytes()).collect();
        let bytes = file(&[
            ("a", "F32", &[2], f32s),
            ("b", "BF16", &[3, 1], bf16s),
            ("skip", "F32", &[1], 7f32.to_le_bytes().to_vec()),
            ("c", "F16", &[1, 2], f16s),
        ]);
        let device = Device::flex();
        let layout = Layout {
            path: |n: &str| (n != "skip").then(|| format!("m.{n}")),
            in_row_blocks: |_: &str| false,
            precision: Precision::F32,
            max_block_bytes: MAX_BLOCK_BYTES,
        };
        let got = block(stream_safetensors(&mut bytes.as_slice(), &layout, &device)).unwrap().tensors;
        assert_eq!(got.len(), 3);
        assert_eq!(values(&got["m.a"]), [1.5, -2.0]);
        assert_eq!(values(&got["m.b"]), [0.5, 3.0, -1.0]);
        assert_eq!(got["m.b"].shape, [3, 1]);
        assert_eq!(values(&got["m.c"]), [0.25, 8.0]);
    }

    #[test]
    fn storage_precision_falls_back_to_f16_within_the_host_budget() {
        let bytes = file(&[("a", "BF16", &[10, 10], vec![0; 200]), ("skip", "F32", &[1000], vec![0; 4000])]);
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let entries = parse_header(&bytes[8..8 + header_len]).unwrap();
        let layout = |precision| Layout {
            path: |n: &str| (n != "skip").then(|| n.to_string()),
            in_row_blocks: |_: &str| false,
            precision,
            max_block_bytes: MAX_BLOCK_BYTES,
        };
        let (f32_layout, f16_layout) = (layout(Precision::F32), layout(Precision::F16));
        // 100 kept values: 400 bytes in f32, 200 in f16; the skipped tensor does not count.
        assert_eq!(storage_precision(&entries, &f32_layout, None).unwrap(), Precision::F32);
        assert_eq!(storage_precision(&entries, &f32_layout, Some(400)).unwrap(), Precision::F32);
        assert_eq!(storage_precision(&entries, &f32_layout, Some(399)).unwrap(), Precision::F16);
        assert_eq!(storage_precision(&entries, &f32_layout, Some(200)).unwrap(), Precision::F16);
        assert_eq!(storage_precision(&entries, &f16_layout, Some(200)).unwrap(), Precision::F16);
        for l in [&f32_layout, &f16_layout] {
            let err = storage_precision(&entries, l, Some(199)).unwrap_err();
            assert_eq!(err.code(), "SERVICE_UNAVAILABLE");
            assert!(err.to_string().contains("WebGPU") && err.to_string().contains("F16"), "{err}");
        }
    }

    #[test]
    fn streamed_tensors_take_the_storage_precision() {
        let bytes = file(&[("a", "F32", &[2], [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect())]);
        let layout = Layout {
            path: |n: &str| Some(n.to_string()),
            in_row_blocks: |_: &str| false,
            precision: Precision::F16,
            max_block_bytes: MAX_BLOCK_BYTES,
        };
        let got = block(stream_safetensors(&mut bytes.as_slice(), &layout, &Device::flex())).unwrap();
        assert_eq!(got.precision, Precision::F16);
        assert_eq!(got.tensors["a"].tensor.dtype(), DType::F16);
        assert_eq!(values(&got.tensors["a"]), [1.5, -2.0]);
    }

    #[test]
    fn truncated_and_malformed_files_are_refused() {
        let bytes = file(&[("a", "F32", &[4], vec![0; 16])]);
        let device = Device::flex();
        let layout = Layout {
            path: |n: &str| Some(n.into()),
            in_row_blocks: |_: &str| false,
            precision: Precision::F32,
            max_block_bytes: MAX_BLOCK_BYTES,
        };
        let run = |b: &[u8]| block(stream_safetensors(&mut &b[..], &layout, &device));
        assert!(run(&bytes).is_ok());
        let cut = run(&bytes[..bytes.len() - 1]).err().unwrap().to_string();
        assert!(cut.contains("truncated"), "{cut}");
        assert!(run(&[0xff; 8]).err().unwrap().to_string().contains("not a safetensors file"));
        let wrong = file(&[("a", "F32", &[5], vec![0; 16])]);
        assert!(run(&wrong).err().unwrap().to_string().contains("does not match"));
        let int = file(&[("a", "I64", &[2], vec![0; 16])]);
        assert!(run(&int).err().unwrap().to_string().contains("I64"));
    }

    #[test]
    fn row_block_sizes() {
        assert_eq!(row_blocks(10, 4, Precision::F32, 48), [3, 3, 3, 1]);
        assert_eq!(row_blocks(9, 4, Precision::F32, 48), [3, 3, 3]);
        assert_eq!(row_blocks(10, 4, Precision::F16, 48), [6, 4]);
        assert_eq!(row_blocks(2, 4, Precision::F32, 1 << 20), [2]);
        // A row larger than a block still gets a block of its own.
        assert_eq!(row_blocks(2, 100, Precision::F32, 48), [1, 1]);
        assert_eq!(row_blocks(250_002, 1024, Precision::F32, MAX_BLOCK_BYTES).len(), 8);
    }

    #[test]
    fn large_tensors_are_uploaded_in_row_blocks() {
        // 7 rows of 3 (bf16, converted to f32: 12 bytes a row); blocks of at most 2 rows, and
        // 1-byte source chunks would not change them (blocks end mid-chunk here: 42 bytes).
        let rows: Vec<f32> = (0..21).map(|i| i as f32 - 10.0).collect();
        let bytes = file(&[
            ("small", "F32", &[2], [1f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("table", "BF16", &[7, 3], rows.iter().flat_map(|&x| bf16::from_f32(x).to_le_bytes()).collect()),
            ("empty", "F32", &[0, 3], vec![]),
        ]);
        let device = Device::flex();
        let layout = Layout {
            path: |n: &str| Some(n.to_string()),
            in_row_blocks: |p: &str| p != "small",
            precision: Precision::F32,
            max_block_bytes: 24,
        };
        let got = block(stream_safetensors(&mut bytes.as_slice(), &layout, &device)).unwrap().tensors;
        let mut keys: Vec<_> = got.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["empty.0", "small", "table.0", "table.1", "table.2", "table.3"]);
        assert_eq!(got["table.3"].shape, [1, 3]);
        let joined: Vec<f32> = (0..4).flat_map(|i| values(&got[&format!("table.{i}")])).collect();
        assert_eq!(joined, rows);
        assert_eq!(got["empty.0"].shape, [0, 3]);
        assert_eq!(values(&got["small"]), [1.0, 2.0]);
    }

    /// Drives a future that never waits (an in-memory source) to completion.
    fn block<F: std::future::Future>(f: F) -> F::Output {
        pollster::block_on(f)
    }
}
