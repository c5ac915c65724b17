//! EVA02 vision transformer: the image tower of jina-clip-v1 (B/16 at 224) and jina-clip-v2
//! (L/14 at 512).
//!
//! Follows Jina's `eva_model.py` (jina-clip-implementation) and timm's `timm.models.eva.Eva`
//! built with `qkv_fused=False, swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True,
//! use_rot_pos_emb=True, global_pool='token'` (the golden reference, see
//! `tests/fixtures/gen_clip_fixtures.py`): patch convolution, CLS token, absolute positions
//! on every token; pre-norm blocks with q/v biases but no k bias, interleaved 2-D rotary on
//! the patch tokens (tables computed from the config, not read), a LayerNorm inside
//! attention before its projection, and a SwiGLU MLP with a LayerNorm before its output
//! projection; the CLS state after the final norm is the image embedding (no head).

use std::sync::LazyLock;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm};
use burn::tensor::{DType, Device, Tensor};
use serde::Deserialize;

use super::layers::keys::{LAYER_NORM_RENAMES, Unmatched};
use super::layers::position::RotaryPairs;
use super::layers::{Activation, Heads, KeyMap, Linear, Rotary, first_token, layer_norm};

/// The fields of jina-clip's `vision_config` that shape the tower.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Eva02Config {
    /// Hidden width (768 for B/16, 1024 for L/14).
    pub width: usize,
    /// Number of blocks.
    pub layers: usize,
    /// Width of one attention head.
    #[serde(default = "default_head_width")]
    pub head_width: usize,
    /// MLP hidden width = `int(width · mlp_ratio)` (2.6667: 2048 for B, 2730 for L).
    pub mlp_ratio: f64,
    pub patch_size: usize,
    pub image_size: usize,
    /// Side of the patch grid the rotary frequencies were trained on.
    #[serde(default = "default_pt_hw_seq_len")]
    pub pt_hw_seq_len: usize,
    /// Rotary positions scaled to `pt_hw_seq_len` (`i · pt / grid`) instead of `0..grid`.
    #[serde(default)]
    pub intp_freq: bool,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Layer scale: not used by jina-clip, not implemented.
    #[serde(default)]
    pub ls_init_value: Option<f64>,
    #[serde(default = "yes")]
    pub rope_embeddings: bool,
    /// A projection head after the CLS state: jina-clip has none.
    #[serde(default)]
    pub proj_type: Option<String>,
}

fn default_head_width() -> usize {
    64
}
fn default_pt_hw_seq_len() -> usize {
    16
}
fn default_eps() -> f64 {
    1e-6
}
fn yes() -> bool {
    true
}

/// Checkpoint names (under `vision_model.`, stripped by the caller) → module paths; the
/// names no rule places (`cls_token`, `pos_embed`, `blocks.N.norm1`, `norm`) are the paths.
const PLACING: &[(&str, &str)] = &[
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.inner_attn_ln\.", "blocks.$1.inner_attn_norm."),
    (r"^blocks\.(\d+)\.mlp\.ffn_ln\.", "blocks.$1.ffn_norm."),
    (r"^blocks\.(\d+)\.attn\.", "blocks.$1."),
    (r"^blocks\.(\d+)\.mlp\.", "blocks.$1."),
];

static KEYS: LazyLock<KeyMap> = LazyLock::new(|| KeyMap::new(PLACING, LAYER_NORM_RENAMES, Unmatched::Keep));

/// The module path of a checkpoint tensor (its name under the tower's prefix).
pub fn module_path(name: &str) -> Option<String> {
    KEYS.path(name)
}

impl Eva02Config {
    pub fn validate(&self) -> Result<(), String> {
        if self.head_width == 0 || !self.width.is_multiple_of(self.head_width) {
            return Err(format!("width {} is not a multiple of head_width {}", self.width, self.head_width));
        }
        if !self.head_width.is_multiple_of(4) {
            return Err("head_width must be a multiple of 4 (two rotary axes of interleaved pairs)".into());
        }
        // jina-clip-v2 is 512 px in 14-px patches: the grid is 36 and the convolution leaves
        // the last 8 rows and columns unread, as the reference does.
        if self.patch_size == 0 || self.image_size < self.patch_size {
            return Err("image_size must be at least patch_size".into());
        }
        if self.ls_init_value.is_some() {
            return Err("layer scale (ls_init_value) is not supported".into());
        }
        if !self.rope_embeddings {
            return Err("EVA02 without rotary embeddings is not supported".into());
        }
        if self.proj_type.is_some() {
            return Err("a vision projection head (proj_type) is not supported".into());
        }
        Ok(())
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    pub fn mlp_hidden(&self) -> usize {
        (self.width as f64 * self.mlp_ratio) as usize
    }

    /// The tower with zeroed parameters (every one is replaced when weights are installed).
    pub fn init(&self, device: &Device) -> Eva02 {
        let w = self.width;
        let hidden = self.mlp_hidden();
        let norm = |n: usize| layer_norm(n, self.layer_norm_eps, device);
        let tokens = 1 + self.grid() * self.grid();
        Eva02 {
            patch_embed: Conv2dConfig::new([3, w], [self.patch_size, self.patch_size])
                .with_stride([self.patch_size, self.patch_size])
                .with_initializer(Initializer::Zeros)
                .init(device),
            cls_token: Initializer::Zeros.init([1, 1, w], device),
            pos_embed: Initializer::Zeros.init([1, tokens, w], device),
            blocks: (0..self.layers)
                .map(|_| Eva02Block {
                    norm1: norm(w),
                    q_proj: Linear::init(w, w, false, device),
                    k_proj: Linear::init(w, w, false, device),
                    v_proj: Linear::init(w, w, false, device),
                    q_bias: Initializer::Zeros.init([w], device),
                    v_bias: Initializer::Zeros.init([w], device),
                    inner_attn_norm: norm(w),
                    proj: Linear::init(w, w, true, device),
                    norm2: norm(w),
                    w1: Linear::init(w, hidden, true, device),
                    w2: Linear::init(w, hidden, true, device),
                    ffn_norm: norm(hidden),
                    w3: Linear::init(hidden, w, true, device),
                    heads: w / self.head_width,
                })
                .collect(),
            norm: norm(w),
            grid: self.grid(),
            image_size: self.image_size,
            rope_positions: if self.intp_freq { self.pt_hw_seq_len } else { self.grid() },
        }
    }
}

#[derive(Module, Debug)]
pub struct Eva02Block {
    norm1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    q_bias: Param<Tensor<1>>,
    v_bias: Param<Tensor<1>>,
    inner_attn_norm: LayerNorm,
    proj: Linear,
    norm2: LayerNorm,
    /// SwiGLU gate (`silu(w1·x)`).
    w1: Linear,
    /// SwiGLU value.
    w2: Linear,
    ffn_norm: LayerNorm,
    w3: Linear,
    heads: usize,
}

#[derive(Module, Debug)]
pub struct Eva02 {
    patch_embed: Conv2d,
    /// `[1, 1, width]`
    cls_token: Param<Tensor<3>>,
    /// `[1, 1 + grid², width]`
    pos_embed: Param<Tensor<3>>,
    blocks: Vec<Eva02Block>,
    norm: LayerNorm,
    /// Patches per side.
    grid: usize,
    /// Side of the images taken (the grid's pixels plus any remainder the patches skip).
    image_size: usize,
    /// The rotary positions span `0..rope_positions` over the grid (the grid itself unless
    /// the frequencies are interpolated).
    rope_positions: usize,
}

impl Eva02Block {
    /// # Shapes
    /// `[batch, 1 + grid², width]` → same; `rope` over the grid² patch tokens.
    fn forward(&self, x: Tensor<3>, rope: &Rotary) -> Tensor<3> {
        let [batch, tokens, width] = x.dims();
        let heads = Heads(self.heads);
        let head_dim = width / self.heads;
        let h = self.norm1.forward(x.clone());
        let q = heads.split(self.q_proj.forward(h.clone()) + self.q_bias.val().reshape([1, 1, width]));
        let k = heads.split(self.k_proj.forward(h.clone()));
        let v = heads.split(self.v_proj.forward(h) + self.v_bias.val().reshape([1, 1, width]));
        // Rotary on the patch tokens; the CLS token (index 0) is left as it is.
        let turn_patches = |t: Tensor<4>| {
            let cls = t.clone().slice([0..batch, 0..self.heads, 0..1, 0..head_dim]);
            let patches = t.slice([0..batch, 0..self.heads, 1..tokens, 0..head_dim]);
            Tensor::cat(vec![cls, rope.apply(patches)], 2)
        };
        let context = heads.attend(turn_patches(q), turn_patches(k), v, None, None);
        let x = x + self.proj.forward(self.inner_attn_norm.forward(context));
        let h = self.norm2.forward(x.clone());
        let gated = Activation::Silu.gated(self.w1.forward(h.clone()), self.w2.forward(h));
        x + self.w3.forward(self.ffn_norm.forward(gated))
    }
}

impl Eva02 {
    /// The dtype the weights are stored in (inputs are converted to it).
    pub fn dtype(&self) -> DType {
        self.cls_token.val().dtype()
    }

    /// Embedding width.
    pub fn width(&self) -> usize {
        self.cls_token.dims()[2]
    }

    /// Image side the tower takes.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// The 2-D rotary tables over the grid² patches: per patch (r, c) the angles
    /// `pos[r]·inv[k]` for k < head_dim/4, each twice (interleaved pairs), then `pos[c]·inv[k]`.
    fn rope(&self, head_dim: usize, device: &Device) -> Rotary {
        let bands = head_dim / 4;
        let inv: Vec<f64> = (0..bands).map(|k| 10000f64.powf(-(k as f64) / bands as f64)).collect();
        let pos = |i: usize| i as f64 * self.rope_positions as f64 / self.grid as f64;
        let n = self.grid * self.grid;
        let mut angles = Vec::with_capacity(n * head_dim);
        for r in 0..self.grid {
            for c in 0..self.grid {
                for axis in [pos(r), pos(c)] {
                    for f in &inv {
                        angles.extend([axis * f, axis * f]);
                    }
                }
            }
        }
        Rotary::from_angles(&angles, head_dim, RotaryPairs::Interleaved, self.dtype(), device)
    }

    /// Image embeddings: the CLS state after the final norm (not normalised).
    ///
    /// # Shapes
    /// `[batch, 3, size, size]` normalised pixels → `[batch, width]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let device = pixels.device();
        let [batch, ..] = pixels.dims();
        let patches = self.patch_embed.forward(pixels); // [batch, width, grid, grid]
        let [_, width, gh, gw] = patches.dims();
        let patches = patches.reshape([batch, width, gh * gw]).swap_dims(1, 2);
        let cls = self.cls_token.val().expand([batch, 1, width]);
        let mut x = Tensor::cat(vec![cls, patches], 1) + self.pos_embed.val();
        let heads = self.blocks.first().map_or(1, |b| b.heads);
        let rope = self.rope(width / heads, &device);
        for block in &self.blocks {
            x = block.forward(x, &rope);
        }
        first_token(self.norm.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_keeps_tower_names_and_places_attention_and_mlp() {
        assert_eq!(module_path("blocks.3.attn.q_proj.weight").as_deref(), Some("blocks.3.q_proj.weight"));
        assert_eq!(module_path("blocks.3.attn.inner_attn_ln.bias").as_deref(), Some("blocks.3.inner_attn_norm.beta"));
        assert_eq!(module_path("blocks.3.mlp.ffn_ln.weight").as_deref(), Some("blocks.3.ffn_norm.gamma"));
        assert_eq!(module_path("blocks.3.norm1.weight").as_deref(), Some("blocks.3.norm1.gamma"));
        assert_eq!(module_path("patch_embed.proj.weight").as_deref(), Some("patch_embed.weight"));
        assert_eq!(module_path("cls_token").as_deref(), Some("cls_token"));
    }
}
