//! jina-embeddings-v3: XLM-RoBERTa with rotary positions, a fused Wqkv, post-norm layers,
//! and five task LoRA adapters on every linear and embedding, read from the released
//! checkpoint's own names. Follows the facts in the project's model spec (§1) and
//! transformers' `JinaEmbeddingsV3Model` (which the golden fixtures come from).
//!
//! LoRA: one adapter (the one most inputs use: classification for triage) can be folded into
//! the weights once ([`JinaV3::fold`]: `W + s·B·A`, tensor by tensor, so never a second copy
//! of the model); every other row takes the low-rank path against it:
//! `y = x·Wᵀ + b + s·(x·A[t]ᵀ)·B[t]ᵀ − s·(x·A[f]ᵀ)·B[f]ᵀ` for a row of task `t` with `f`
//! folded (embeddings alike, with rows `A[t][id]`), so no 250002×1024 matrix is ever built
//! per task and one batch can mix tasks. Rows without a task get the base weights back the
//! same way. Folding the hot adapter is measured faster than the pure low-rank path on
//! burn-flex (docs/benchmarks.md, jina-embeddings-v3).
//!
//! Weights stream in through [`crate::loader::weights`], converted to the device's dtype on the way.

use std::sync::LazyLock;

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm};
use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};
use serde::Deserialize;

use super::layers::keys::{LAYER_NORM_RENAMES, Unmatched};
use super::layers::{Activation, Heads, KeyMap, Linear, Rotary, layer_norm, mean_pool, padding_mask};
use crate::error::Result;
use crate::loader::weights::{self, ByteSource, Precision};

/// The released `config.json`'s fields that shape the network.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct JinaV3Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub layer_norm_eps: f64,
    pub type_vocab_size: usize,
    pub position_embedding_type: String,
    pub rotary_emb_base: f64,
    pub lora_adaptations: Vec<String>,
    pub lora_rank: usize,
    pub lora_alpha: f64,
    #[serde(default)]
    pub task_instructions: std::collections::HashMap<String, String>,
    #[serde(default)]
    pub matryoshka_dimensions: Vec<usize>,
}

/// Checkpoint names → module paths. A name no placing rule matches (the unused
/// `roberta.pooler.*`) is not read.
const PLACING: &[(&str, &str)] = &[
    (r"^roberta\.embeddings\.word_embeddings\.", "word."),
    (r"^roberta\.embeddings\.token_type_embeddings\.", "token_type."),
    (r"^roberta\.emb_ln\.", "emb_norm."),
    (r"^roberta\.encoder\.layers\.(\d+)\.mixer\.Wqkv\.", "layers.$1.wqkv."),
    (r"^roberta\.encoder\.layers\.(\d+)\.mixer\.out_proj\.", "layers.$1.out_proj."),
    (r"^roberta\.encoder\.layers\.(\d+)\.mlp\.fc1\.", "layers.$1.fc1."),
    (r"^roberta\.encoder\.layers\.(\d+)\.mlp\.fc2\.", "layers.$1.fc2."),
    (r"^roberta\.encoder\.layers\.(\d+)\.norm1\.", "layers.$1.norm1."),
    (r"^roberta\.encoder\.layers\.(\d+)\.norm2\.", "layers.$1.norm2."),
];

/// The adapters' parametrization names → [`LoraLinear`] / [`LoraEmbedding`] fields: a
/// layer's base weight and bias are its [`Linear`]'s (`base.`), an embedding's table is its own.
const RENAMES: &[(&str, &str)] = &[
    (r"^(layers\.\d+\.\w+)\.parametrizations\.weight\.original$", "$1.base.weight"),
    (r"\.parametrizations\.weight\.original$", ".weight"),
    (r"\.parametrizations\.weight\.0\.lora_A$", ".lora_a"),
    (r"\.parametrizations\.weight\.0\.lora_B$", ".lora_b"),
    LAYER_NORM_RENAMES[0],
    LAYER_NORM_RENAMES[1],
    // After the norms took theirs: what is left is a linear layer's bias.
    (r"^(layers\.\d+\.\w+)\.bias$", "$1.base.bias"),
];

static KEYS: LazyLock<KeyMap> = LazyLock::new(|| KeyMap::new(PLACING, RENAMES, Unmatched::Skip));

/// The module path of a checkpoint tensor, or `None` for tensors the network does not use.
pub fn module_path(name: &str) -> Option<String> {
    KEYS.path(name)
}

impl JinaV3Config {
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden_act != "gelu" {
            return Err(format!("hidden_act '{}' is not supported (only erf 'gelu')", self.hidden_act));
        }
        if self.position_embedding_type != "rotary" {
            return Err(format!("position_embedding_type '{}' is not supported", self.position_embedding_type));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
            || !(self.hidden_size / self.num_attention_heads).is_multiple_of(2)
        {
            return Err("hidden_size must split into heads of even width".into());
        }
        if self.lora_rank == 0 {
            return Err("lora_rank must be positive".into());
        }
        Ok(())
    }

    /// LoRA scale `alpha / rank`.
    pub fn lora_scale(&self) -> f32 {
        (self.lora_alpha / self.lora_rank as f64) as f32
    }

    /// The adapter index of a task name.
    pub fn task_index(&self, task: &str) -> Option<usize> {
        self.lora_adaptations.iter().position(|t| t == task)
    }

    /// The network with every parameter lazily initialised: nothing is allocated until a
    /// parameter is read, and [`Self::load`] replaces them all first. Embedding tables are
    /// stored in row blocks of at most `max_block_bytes` in `precision` (see
    /// [`weights::MAX_BLOCK_BYTES`]).
    pub fn init(&self, device: &Device, precision: Precision, max_block_bytes: usize) -> JinaV3 {
        let (h, t, r) = (self.hidden_size, self.lora_adaptations.len(), self.lora_rank);
        let norm = || layer_norm(h, self.layer_norm_eps, device);
        let linear = |out: usize, inp: usize| LoraLinear {
            base: Linear::init(inp, out, true, device),
            lora_a: Initializer::Zeros.init([t, r, inp], device),
            lora_b: Initializer::Zeros.init([t, out, r], device),
        };
        let embedding = |rows: usize| LoraEmbedding {
            weight: weights::row_blocks(rows, h, precision, max_block_bytes)
                .into_iter()
                .map(|n| Initializer::Zeros.init([n, h], device))
                .collect(),
            lora_a: Initializer::Zeros.init([t, rows, r], device),
            lora_b: Initializer::Zeros.init([t, r, h], device),
        };
        JinaV3 {
            word: embedding(self.vocab_size),
            token_type: embedding(self.type_vocab_size),
            emb_norm: norm(),
            layers: (0..self.num_hidden_layers)
                .map(|_| JinaV3Layer {
                    wqkv: linear(3 * h, h),
                    out_proj: linear(h, h),
                    fc1: linear(self.intermediate_size, h),
                    fc2: linear(h, self.intermediate_size),
                    norm1: norm(),
                    norm2: norm(),
                    heads: self.num_attention_heads,
                })
                .collect(),
            rotary_base: self.rotary_emb_base,
            lora_scale: self.lora_scale(),
            folded: None,
        }
    }

    /// Builds the network from a safetensors stream under the released checkpoint's names,
    /// converting every tensor to `precision` as it arrives (f16 instead where the device
    /// cannot hold the weights in `precision`: see [`weights::Streamed::precision`]).
    pub async fn load<S: ByteSource>(&self, src: &mut S, precision: Precision, device: &Device) -> Result<JinaV3> {
        self.load_in_blocks(src, precision, weights::MAX_BLOCK_BYTES, device).await
    }

    /// [`Self::load`] with embedding tables cut into row blocks of at most `max_block_bytes`
    /// (tests use small blocks to run the blocked gather on tiny weights).
    pub async fn load_in_blocks<S: ByteSource>(
        &self,
        src: &mut S,
        precision: Precision,
        max_block_bytes: usize,
        device: &Device,
    ) -> Result<JinaV3> {
        let layout = weights::Layout {
            path: module_path,
            in_row_blocks: |path: &str| path == "word.weight" || path == "token_type.weight",
            precision,
            max_block_bytes,
        };
        let streamed = weights::stream_safetensors(src, &layout, device).await?;
        weights::install(self.init(device, streamed.precision, max_block_bytes), streamed.tensors)
    }
}

/// One low-rank term of a batch: which adapter each row takes and with which sign.
#[derive(Clone, Debug)]
struct RowTerm {
    /// `[batch]` adapter index (0 where the row has none).
    index: Tensor<1, Int>,
    /// `[batch, 1, 1]`: +1 or −1 where the row takes the term, 0 where not.
    sign: Tensor<3>,
}

/// The low-rank terms each row of a batch needs on top of the weights: its own adapter
/// (added) and the folded one (subtracted), each left out where it cancels.
#[derive(Clone, Debug)]
pub struct RowTasks {
    terms: Vec<RowTerm>,
}

impl RowTasks {
    /// `tasks`: each row's adapter; `folded`: the adapter in the weights; `dtype`: theirs.
    pub fn new(tasks: &[Option<usize>], folded: Option<usize>, device: &Device, dtype: DType) -> Self {
        let n = tasks.len();
        let term = |pick: &dyn Fn(Option<usize>) -> Option<usize>, sign: f32| {
            let picked: Vec<Option<usize>> = tasks.iter().map(|&t| if t == folded { None } else { pick(t) }).collect();
            picked.iter().any(Option::is_some).then(|| {
                let index: Vec<i32> = picked.iter().map(|t| t.unwrap_or(0) as i32).collect();
                let signs: Vec<f32> = picked.iter().map(|t| if t.is_some() { sign } else { 0.0 }).collect();
                RowTerm {
                    index: Tensor::from_data(TensorData::new(index, [n]), device),
                    sign: Tensor::from_data(TensorData::new(signs, [n, 1, 1]).convert_dtype(dtype), (device, dtype)),
                }
            })
        };
        let own = term(&|t| t, 1.0);
        let unfold = term(&|_| folded, -1.0);
        RowTasks { terms: own.into_iter().chain(unfold).collect() }
    }
}

/// A linear layer with per-task low-rank adapters.
#[derive(Module, Debug)]
pub struct LoraLinear {
    /// The weights every row takes (with the folded adapter in them, if any).
    base: Linear,
    /// `[tasks, rank, in]`
    lora_a: Param<Tensor<3>>,
    /// `[tasks, out, rank]`
    lora_b: Param<Tensor<3>>,
}

impl LoraLinear {
    /// # Shapes
    /// `[batch, seq, in]` → `[batch, seq, out]`.
    fn forward(&self, x: Tensor<3>, tasks: &RowTasks, scale: f32) -> Tensor<3> {
        let mut y = self.base.forward(x.clone());
        for term in &tasks.terms {
            let a = self.lora_a.val().select(0, term.index.clone()); // [batch, rank, in]
            let b = self.lora_b.val().select(0, term.index.clone()); // [batch, out, rank]
            let delta = x.clone().matmul(a.swap_dims(1, 2)).matmul(b.swap_dims(1, 2)); // [batch, seq, out]
            y = y + delta * term.sign.clone() * scale;
        }
        y
    }
}

/// An embedding table with per-task low-rank adapters.
#[derive(Module, Debug)]
pub struct LoraEmbedding {
    /// The `[rows, hidden]` table as consecutive row blocks `[rows_i, hidden]` (checkpoint
    /// name `…weight`, module paths `weight.0`, `weight.1`, …): one block unless the table
    /// exceeds a device buffer.
    weight: Vec<Param<Tensor<2>>>,
    /// `[tasks, rows, rank]`
    lora_a: Param<Tensor<3>>,
    /// `[tasks, rank, hidden]`
    lora_b: Param<Tensor<3>>,
}

impl LoraEmbedding {
    /// `[rows, hidden]` of the whole table.
    fn dims(&self) -> [usize; 2] {
        let rows = self.weight.iter().map(|b| b.dims()[0]).sum();
        [rows, self.weight.first().map_or(0, |b| b.dims()[1])]
    }

    /// Rows `ids` of the table: `[n]` → `[n, hidden]`. With several blocks each one gathers
    /// the ids that fall in it (others clamped, then masked out).
    fn rows(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        if let [table] = self.weight.as_slice() {
            return table.val().select(0, ids);
        }
        let [n] = ids.dims();
        let hidden = self.dims()[1];
        let mut out: Option<Tensor<2>> = None;
        let mut start = 0i64;
        for block in &self.weight {
            let rows = block.dims()[0] as i64;
            let local = ids.clone() - start;
            let inside = local.clone().greater_equal_elem(0).bool_and(local.clone().lower_elem(rows));
            let gathered = block.val().select(0, local.clamp(0, rows - 1));
            let inside = inside.reshape([n, 1]).expand([n, hidden]);
            out = Some(match out {
                None => gathered.mask_fill(inside.bool_not(), 0.0),
                Some(acc) => acc.mask_where(inside, gathered),
            });
            start += rows;
        }
        out.expect("a table has at least one block")
    }

    /// `[batch, seq]` ids → `[batch, seq, hidden]`.
    fn forward(&self, ids: Tensor<2, Int>, tasks: &RowTasks, scale: f32) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let [rows, hidden] = self.dims();
        let flat = ids.reshape([batch * seq]);
        let mut y = self.rows(flat.clone()).reshape([batch, seq, hidden]);
        let [t, _, rank] = self.lora_a.dims();
        for term in &tasks.terms {
            // Row (task, id) of A viewed as [tasks·rows, rank]: index task·rows + id.
            let offset = (term.index.clone() * rows as i32).reshape([batch, 1]);
            let index = (flat.clone().reshape([batch, seq]) + offset).reshape([batch * seq]);
            let a = self.lora_a.val().reshape([t * rows, rank]).select(0, index).reshape([batch, seq, rank]);
            let b = self.lora_b.val().select(0, term.index.clone()); // [batch, rank, hidden]
            y = y + a.matmul(b) * term.sign.clone() * scale;
        }
        y
    }
}

#[derive(Module, Debug)]
pub struct JinaV3Layer {
    wqkv: LoraLinear,
    out_proj: LoraLinear,
    fc1: LoraLinear,
    fc2: LoraLinear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    heads: usize,
}

#[derive(Module, Debug)]
pub struct JinaV3 {
    word: LoraEmbedding,
    token_type: LoraEmbedding,
    emb_norm: LayerNorm,
    layers: Vec<JinaV3Layer>,
    rotary_base: f64,
    lora_scale: f32,
    /// The adapter folded into the weights ([`JinaV3::fold`]), if any.
    folded: Option<usize>,
}

impl JinaV3Layer {
    /// # Shapes
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`; `padding` `[batch, heads, seq, seq]`
    /// true on padded keys; `rope` over `seq` positions.
    fn forward(
        &self,
        x: Tensor<3>,
        padding: Tensor<4, Bool>,
        rope: &Rotary,
        tasks: &RowTasks,
        scale: f32,
    ) -> Tensor<3> {
        let [batch, seq, hidden] = x.dims();
        let head_dim = hidden / self.heads;
        // Wqkv rows are [3, heads, head_dim]: all q heads, then k, then v.
        let qkv = self.wqkv.forward(x.clone(), tasks, scale).reshape([batch, seq, 3, self.heads, head_dim]);
        let part = |i: usize| {
            qkv.clone()
                .slice([0..batch, 0..seq, i..i + 1, 0..self.heads, 0..head_dim])
                .reshape([batch, seq, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (rope.apply(part(0)), rope.apply(part(1)), part(2));
        let context = Heads(self.heads).attend(q, k, v, Some(padding), None);
        let x = self.norm1.forward(x + self.out_proj.forward(context, tasks, scale));
        let ffn = self.fc2.forward(Activation::Gelu.apply(self.fc1.forward(x.clone(), tasks, scale)), tasks, scale);
        self.norm2.forward(x + ffn)
    }
}

/// `s·(B[to]·A[to] − B[from]·A[from])` as `[out, in]`-shaped terms: the change of weights
/// from having adapter `from` folded in to having `to` (either may be none).
fn refold_terms(from: Option<usize>, to: Option<usize>, scale: f32) -> Vec<(usize, f32)> {
    let mut terms = Vec::new();
    if from != to {
        terms.extend(to.map(|t| (t, scale)));
        terms.extend(from.map(|f| (f, -scale)));
    }
    terms
}

impl LoraLinear {
    fn refolded(self, terms: &[(usize, f32)]) -> Self {
        let [out, inp] = self.base.dims();
        let r = self.lora_b.dims()[2];
        let mut base = self.base;
        for &(task, coefficient) in terms {
            let b = self.lora_b.val().slice([task..task + 1, 0..out, 0..r]).reshape([out, r]);
            let a = self.lora_a.val().slice([task..task + 1, 0..r, 0..inp]).reshape([r, inp]);
            base = base.with_weight_added(b.matmul(a) * coefficient);
        }
        LoraLinear { base, ..self }
    }
}

impl LoraEmbedding {
    /// Block by block, so the changed table is never one buffer either.
    fn refolded(self, terms: &[(usize, f32)]) -> Self {
        let r = self.lora_a.dims()[2];
        let h = self.dims()[1];
        let mut start = 0;
        let blocks = self
            .weight
            .into_iter()
            .map(|block| {
                let rows = block.dims()[0];
                let mut table = block.val();
                for &(task, coefficient) in terms {
                    let a = self.lora_a.val().slice([task..task + 1, start..start + rows, 0..r]).reshape([rows, r]);
                    let b = self.lora_b.val().slice([task..task + 1, 0..r, 0..h]).reshape([r, h]);
                    table = table + a.matmul(b) * coefficient;
                }
                start += rows;
                Param::from_tensor(table)
            })
            .collect();
        LoraEmbedding { weight: blocks, ..self }
    }
}

impl JinaV3 {
    /// The network with adapter `task` folded into its weights (`None`: the base weights),
    /// whatever was folded before; rows of other tasks then take the low-rank path against
    /// it. Changes one weight at a time.
    pub fn fold(self, task: Option<usize>) -> Self {
        let terms = refold_terms(self.folded, task, self.lora_scale);
        if terms.is_empty() {
            return self;
        }
        JinaV3 {
            word: self.word.refolded(&terms),
            token_type: self.token_type.refolded(&terms),
            layers: self
                .layers
                .into_iter()
                .map(|l| JinaV3Layer {
                    wqkv: l.wqkv.refolded(&terms),
                    out_proj: l.out_proj.refolded(&terms),
                    fc1: l.fc1.refolded(&terms),
                    fc2: l.fc2.refolded(&terms),
                    ..l
                })
                .collect(),
            folded: task,
            ..self
        }
    }

    /// The weights' float dtype.
    pub fn dtype(&self) -> DType {
        self.word.weight.first().map_or(DType::F32, |b| b.val().dtype())
    }

    /// Token states: `[batch, seq]` ids and mask (1 = token) with each row's adapter →
    /// `[batch, seq, hidden]`.
    pub fn encode(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>, tasks: &[Option<usize>]) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let device = ids.device();
        let tasks = RowTasks::new(tasks, self.folded, &device, self.dtype());
        let s = self.lora_scale;
        let heads = self.layers.first().map(|l| l.heads).unwrap_or(1);
        let hidden = self.word.dims()[1];
        let token_type = self.token_type.forward(Tensor::<2, Int>::zeros([batch, 1], &device), &tasks, s);
        let mut x = self.emb_norm.forward(self.word.forward(ids, &tasks, s) + token_type);
        let rope = Rotary::sequence(seq, hidden / heads, self.rotary_base, self.dtype(), &device);
        let padding = padding_mask(mask, Heads(heads));
        for layer in &self.layers {
            x = layer.forward(x, padding.clone(), &rope, &tasks, s);
        }
        x
    }

    /// Mean-pooled states over the mask (padding never pooled), in f32, not normalised:
    /// `[batch, seq]` → `[batch, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>, tasks: &[Option<usize>]) -> Tensor<2> {
        let states = self.encode(ids, mask.clone(), tasks);
        mean_pool(states, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_places_base_weights_adapters_and_norms() {
        let layer = "roberta.encoder.layers.7.mixer.Wqkv";
        assert_eq!(
            module_path(&format!("{layer}.parametrizations.weight.original")).as_deref(),
            Some("layers.7.wqkv.base.weight")
        );
        assert_eq!(module_path(&format!("{layer}.bias")).as_deref(), Some("layers.7.wqkv.base.bias"));
        assert_eq!(
            module_path(&format!("{layer}.parametrizations.weight.0.lora_A")).as_deref(),
            Some("layers.7.wqkv.lora_a")
        );
        assert_eq!(module_path("roberta.encoder.layers.7.norm2.bias").as_deref(), Some("layers.7.norm2.beta"));
        assert_eq!(
            module_path("roberta.embeddings.word_embeddings.parametrizations.weight.original").as_deref(),
            Some("word.weight")
        );
        assert_eq!(module_path("roberta.emb_ln.weight").as_deref(), Some("emb_norm.gamma"));
        assert_eq!(module_path("roberta.pooler.dense.weight"), None);
    }
}
