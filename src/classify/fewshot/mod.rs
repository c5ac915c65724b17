//! Few-shot classification over embeddings: label-name prior, class-mean prototypes, and a
//! logistic-regression refinement that starts from them. Plain `Vec<f32>` math, the same
//! natively and in the browser.
//!
//! # The model
//! Every embedding is unit-normalised, then centred on the mean of the class means `μ`
//! and normalised again: `z(x) = norm(x̂ − μ)`. Embedding models put all their vectors
//! in a narrow cone (multilingual-e5: every pair of texts has a cosine above ~0.7), so
//! raw cosines differ little between classes; centring spreads the classes over the
//! sphere (the "SimpleShot" observation: centring + L2 normalisation helps nearest-mean
//! classifiers). Scores are `softmax(W·[z, 1])`, one row of `W` per class, bias last.
//!
//! # Training
//! 1. The prior `W₀`: each class's row is `τ · norm(n_c · norm(m_c − μ) + β · norm(e_c − ē))`
//!    — its mean direction `m_c` from its `n_c` examples, blended with the direction of its
//!    label name's embedding `e_c` (centred on the mean label embedding `ē`), which counts as
//!    β examples: 1 to 9, more the better zero-shot on the names classifies the training
//!    examples ([`label_name_weight`]). With one example per class good label names still
//!    carry most of what zero-shot knows; with dozens of examples they have faded.
//! 2. The refinement: multinomial logistic regression on the kept examples, penalised
//!    towards the prior, `Σᵢ CE(W·[zᵢ,1], yᵢ) + λ/2 ‖W − W₀‖²` ([`PRIOR_STRENGTH`] = λ),
//!    solved by accelerated gradient descent with gradient restarts (strongly convex: the
//!    minimum is unique). With few examples the penalty keeps it near the prototypes; with
//!    many, the data's discriminative directions win.
//! 3. The temperature: a fitted classifier is sure of its training examples, so its raw
//!    scores are overconfident. The same fit on 4/5 of the examples scores the other 1/5
//!    (five folds); the softmax temperature that minimises those held-out scores' negative
//!    log-likelihood divides the final weights ([`held_out_temperature`]).
//!
//! The same examples in the same order give the same classifier, bit for bit; the weights
//! do not depend on the order (the optimum is unique), the folds of step 3 do, slightly.
//! The constants were chosen on the quality benchmark (benches/fewshot, docs/fewshot.md).
//!
//! `num_iters` (Jina's "number of iterations for the training process") is the number of
//! optimisation rounds, each [`STEPS_PER_ITER`] full-batch steps; training stops earlier
//! once the gradient vanishes, so a larger value never changes a converged result.
//!
//! # What is stored, and updates
//! No texts: per class the label, the sample count, the running mean of every example's
//! embedding, up to [`KEPT_PER_CLASS`] example embeddings (a uniform sample of all seen,
//! by deterministic reservoir sampling once there are more), the label name's embedding,
//! and the fitted weights. An update adds its examples to these and refits from all of
//! them, so a batch holding one new class does not push the old ones down (it is fitted
//! exactly as if all examples had come at once, up to the reservoir). Stored size: 4·dim
//! bytes per kept example and per label name (base64), plus the means, the centre and
//! the weights as JSON numbers (all-MiniLM, 7 classes × 4 examples: 140 kB).
//!
//! # Cost
//! Each training step touches every kept example once per class; a fit is at most
//! `num_iters × 30` steps, the five calibration folds a third of that each. Measured
//! natively (release, 2 cores): 10 classes × 32 examples 0.2 s, 256 classes × 1 example
//! 4.9 s, 20 classes × 128 examples 5.6 s (random vectors, dim 384).

mod passive_aggressive;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::classify::{dot, l2_normalize, softmax};
pub use passive_aggressive::PassiveAggressive;

/// β₀: how many examples a label name's embedding counts as at least in its class's prior
/// direction ...
pub const LABEL_PRIOR_WEIGHT: f32 = 1.0;
/// ... plus this many times how much better than chance zero-shot on the label names
/// classifies the training examples (see [`label_name_weight`]).
pub const LABEL_QUALITY_WEIGHT: f32 = 8.0;
/// τ: the logit scale of the prior (its softmax temperature is 1/τ).
pub const PRIOR_SCALE: f32 = 5.0;
/// λ: the pull of the refinement towards the prior.
pub const PRIOR_STRENGTH: f32 = 1.0;
/// Full-batch optimisation steps per `num_iters`.
pub const STEPS_PER_ITER: u32 = 30;
/// Example embeddings kept per class for refits.
pub const KEPT_PER_CLASS: usize = 128;
/// Folds of the held-out calibration of the scores' temperature.
const CALIBRATION_FOLDS: usize = 5;
/// Training stops when the gradient's norm falls below this.
const GRADIENT_TOLERANCE: f64 = 1e-5;
/// ... or below this fraction of its norm where training starts.
const RELATIVE_TOLERANCE: f64 = 1e-4;

/// An embedding stored as base64 of its little-endian f32 values: exact, and a third of
/// the JSON text of a float list.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed(pub Vec<f32>);

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.0.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom("packed embedding length is not a multiple of 4"));
        }
        Ok(Packed(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
    }
}

/// A trained few-shot classifier (record format 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewShot {
    pub dim: usize,
    pub labels: Vec<String>,
    /// Training samples seen per class.
    pub counts: Vec<u64>,
    /// Mean of every training embedding (unit-normalised) seen per class.
    pub means: Vec<Vec<f32>>,
    /// Kept training embeddings per class, unit-normalised.
    pub examples: Vec<Vec<Packed>>,
    /// Each label name's embedding, unit-normalised; absent for classes converted from
    /// format 1 until their next training.
    pub label_embeddings: Vec<Option<Packed>>,
    /// `μ`, the centre inputs are moved by.
    pub center: Vec<f32>,
    /// One row per class, `dim + 1` wide (bias last).
    pub weights: Vec<Vec<f32>>,
}

/// SplitMix64: the deterministic source of the reservoir's choices (and of the
/// passive-aggressive learner's shuffles).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn normalized(x: &[f32]) -> Vec<f32> {
    let mut v = x.to_vec();
    l2_normalize(&mut v);
    v
}

fn mean_of<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> Option<Vec<f32>> {
    let mut sum = vec![0.0f64; dim];
    let mut n = 0usize;
    for row in rows {
        sum.iter_mut().zip(row).for_each(|(s, x)| *s += *x as f64);
        n += 1;
    }
    (n > 0).then(|| sum.iter().map(|s| (s / n as f64) as f32).collect())
}

impl FewShot {
    pub fn new(dim: usize) -> Self {
        FewShot {
            dim,
            labels: Vec::new(),
            counts: Vec::new(),
            means: Vec::new(),
            examples: Vec::new(),
            label_embeddings: Vec::new(),
            center: vec![0.0; dim],
            weights: Vec::new(),
        }
    }

    /// A format-1 classifier's aggregates as the starting point of this learner: each
    /// class's running mean stands in for its (never stored) examples. Label embeddings
    /// are added by the next training.
    pub fn from_passive_aggressive(pa: &PassiveAggressive) -> Self {
        let n = pa.labels.len();
        FewShot {
            dim: pa.dim,
            labels: pa.labels.clone(),
            counts: pa.counts.clone(),
            means: pa.centroids.clone(),
            examples: vec![Vec::new(); n],
            label_embeddings: vec![None; n],
            center: vec![0.0; pa.dim],
            weights: Vec::new(),
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn class_of(&mut self, label: &str) -> usize {
        match self.labels.iter().position(|l| l == label) {
            Some(i) => i,
            None => {
                self.labels.push(label.to_string());
                self.counts.push(0);
                self.means.push(vec![0.0; self.dim]);
                self.examples.push(Vec::new());
                self.label_embeddings.push(None);
                self.labels.len() - 1
            }
        }
    }

    /// The labels, known or among `examples`, whose name embedding is not stored yet (in
    /// first-seen order): what the caller embeds and passes to [`Self::train`].
    pub fn missing_priors(&self, examples: &[(Vec<f32>, String)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let known = self.labels.iter().zip(&self.label_embeddings).filter(|(_, e)| e.is_none()).map(|(l, _)| l);
        let new = examples.iter().map(|(_, l)| l).filter(|l| !self.labels.contains(l));
        for label in known.chain(new) {
            if !out.contains(label) {
                out.push(label.clone());
            }
        }
        out
    }

    /// Adds `examples` (embedding, label; new labels become new classes), stores the
    /// label-name embeddings `priors` of classes that lack one, and refits. The caller
    /// checks that every embedding has `dim` values.
    pub fn train(&mut self, examples: &[(Vec<f32>, String)], priors: &[(String, Vec<f32>)], num_iters: u32) {
        for (x, label) in examples {
            let c = self.class_of(label);
            let x = normalized(x);
            self.counts[c] += 1;
            let n = self.counts[c];
            for (m, xi) in self.means[c].iter_mut().zip(&x) {
                *m += (xi - *m) / n as f32;
            }
            // Reservoir sampling (Algorithm R): the kept examples stay a uniform sample.
            let kept = &mut self.examples[c];
            if kept.len() < KEPT_PER_CLASS {
                kept.push(Packed(x));
            } else {
                let mut state = n ^ ((c as u64) << 48);
                let j = (splitmix(&mut state) % n) as usize;
                if j < KEPT_PER_CLASS {
                    kept[j] = Packed(x);
                }
            }
        }
        for (label, e) in priors {
            if let Some(c) = self.labels.iter().position(|l| l == label)
                && self.label_embeddings[c].is_none()
            {
                self.label_embeddings[c] = Some(Packed(normalized(e)));
            }
        }
        self.fit(num_iters);
    }

    /// Fits the weights to everything stored (see the module docs).
    fn fit(&mut self, num_iters: u32) {
        let steps = num_iters.saturating_mul(STEPS_PER_ITER);
        // Each class's kept examples; a class converted from format 1 has only its mean.
        let mut rows: Vec<(&[f32], usize)> = Vec::new();
        for c in 0..self.labels.len() {
            if self.examples[c].is_empty() {
                rows.push((&self.means[c], c));
            }
            rows.extend(self.examples[c].iter().map(|x| (x.0.as_slice(), c)));
        }
        let means: Vec<Option<&[f32]>> = self.means.iter().map(|m| Some(m.as_slice())).collect();
        let counts: Vec<f32> = self.counts.iter().map(|&n| n.max(1) as f32).collect();
        let beta = label_name_weight(&rows, &self.label_embeddings);
        let fitted = fit_weights(self.dim, &rows, &means, &counts, &self.label_embeddings, beta, None, steps);
        let temperature = held_out_temperature(self.dim, &rows, &self.label_embeddings, beta, &fitted, steps);
        self.center = fitted.center;
        self.weights = fitted.weights.iter().map(|w| w.iter().map(|x| x / temperature).collect()).collect();
    }

    /// Class scores of an embedding, in `labels` order, summing to 1.
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        let z = feature(x, &self.center);
        softmax(&self.weights.iter().map(|w| dot(w, &z)).collect::<Vec<_>>(), 1.0)
    }

    /// Why this could not have been written by [`Self::train`], if so.
    pub fn check(&self) -> Result<(), String> {
        let n = self.labels.len();
        let finite = |v: &[f32], width: usize| v.len() == width && v.iter().all(|x| x.is_finite());
        if [self.counts.len(), self.means.len(), self.examples.len(), self.label_embeddings.len(), self.weights.len()]
            .iter()
            .any(|&len| len != n)
        {
            return Err("labels, counts, means, examples, label embeddings and weights differ in length".into());
        }
        if n < 2 {
            return Err("fewer than two classes".into());
        }
        if !finite(&self.center, self.dim)
            || self.means.iter().any(|m| !finite(m, self.dim))
            || self.weights.iter().any(|w| !finite(w, self.dim + 1))
            || self.examples.iter().flatten().any(|x| !finite(&x.0, self.dim))
            || self.label_embeddings.iter().flatten().any(|e| !finite(&e.0, self.dim))
        {
            return Err("a vector has the wrong width or non-finite values".into());
        }
        if self
            .examples
            .iter()
            .zip(&self.counts)
            .any(|(kept, &count)| kept.len() > KEPT_PER_CLASS || kept.len() as u64 > count)
        {
            return Err("more kept examples than allowed or seen".into());
        }
        Ok(())
    }
}

/// The centred, normalised feature of an embedding, with the bias input appended.
fn feature(x: &[f32], center: &[f32]) -> Vec<f32> {
    let mut z: Vec<f32> = normalized(x).iter().zip(center).map(|(a, m)| a - m).collect();
    l2_normalize(&mut z);
    z.push(1.0);
    z
}

struct Fitted {
    center: Vec<f32>,
    weights: Vec<Vec<f32>>,
    /// The gradient norm at which the refinement stopped.
    tolerance: f64,
}

/// The prior `W₀` and its refinement on `rows` (embedding, class) (see the module docs).
/// `means[c]` is class c's mean embedding (None: no examples, its row comes from its label
/// name alone), `counts[c]` the examples it stands for.
fn fit_weights(
    dim: usize,
    rows: &[(&[f32], usize)],
    means: &[Option<&[f32]>],
    counts: &[f32],
    label_embeddings: &[Option<Packed>],
    beta: f32,
    start: Option<&Fitted>,
    steps: u32,
) -> Fitted {
    let center = mean_of(means.iter().flatten().copied(), dim).unwrap_or_else(|| vec![0.0; dim]);
    let prior = prior_weights(dim, &center, means, counts, label_embeddings, beta);
    let features: Vec<Vec<f32>> = rows.iter().map(|(x, _)| feature(x, &center)).collect();
    let classes: Vec<usize> = rows.iter().map(|(_, c)| *c).collect();
    let (weights, tolerance) =
        if prior.len() < 2 { (prior, GRADIENT_TOLERANCE) } else { refine(&features, &classes, prior, start, steps) };
    Fitted { center, weights, tolerance }
}

/// The prior weights `W₀`: per class `τ · norm(n_c · norm(m_c − μ) + β · norm(e_c − ē))`.
fn prior_weights(
    dim: usize,
    center: &[f32],
    means: &[Option<&[f32]>],
    counts: &[f32],
    label_embeddings: &[Option<Packed>],
    beta: f32,
) -> Vec<Vec<f32>> {
    let labelled: Vec<&[f32]> = label_embeddings.iter().flatten().map(|p| p.0.as_slice()).collect();
    // A label direction needs at least two label names to be centred against.
    let label_center = if labelled.len() >= 2 { mean_of(labelled.into_iter(), dim) } else { None };
    (0..means.len())
        .map(|c| {
            let mut direction = vec![0.0f32; dim];
            if let Some(m) = means[c] {
                let mut from_mean: Vec<f32> = m.iter().zip(center).map(|(a, m)| a - m).collect();
                l2_normalize(&mut from_mean);
                direction.iter_mut().zip(&from_mean).for_each(|(d, a)| *d += counts[c] * a);
            }
            if let (Some(lc), Some(e)) = (&label_center, &label_embeddings[c]) {
                let mut from_label: Vec<f32> = e.0.iter().zip(lc).map(|(a, m)| a - m).collect();
                l2_normalize(&mut from_label);
                direction.iter_mut().zip(&from_label).for_each(|(d, l)| *d += beta * l);
            }
            l2_normalize(&mut direction);
            let mut row: Vec<f32> = direction.iter().map(|d| d * PRIOR_SCALE).collect();
            row.push(0.0);
            row
        })
        .collect()
}

/// β, the weight of the label names in the prior: [`LABEL_PRIOR_WEIGHT`] plus
/// [`LABEL_QUALITY_WEIGHT`] times zero-shot's accuracy on the training examples above
/// chance, `max(0, (a − 1/C) / (1 − 1/C))`. Zero-shot never saw those examples, so this is
/// a fair estimate of how much the names know even at one example per class: good names
/// ("positive" / "negative" on reviews) then weigh up to 9 examples, names that say
/// little (two candidates' names on their tweets) stay near 1.
fn label_name_weight(rows: &[(&[f32], usize)], label_embeddings: &[Option<Packed>]) -> f32 {
    let n_classes = label_embeddings.len();
    let names: Option<Vec<&[f32]>> = label_embeddings.iter().map(|e| e.as_ref().map(|p| p.0.as_slice())).collect();
    let Some(names) = names else { return LABEL_PRIOR_WEIGHT };
    if rows.is_empty() || n_classes < 2 {
        return LABEL_PRIOR_WEIGHT;
    }
    let right = rows
        .iter()
        .filter(|(x, c)| {
            let sims: Vec<f32> = names.iter().map(|e| dot(x, e)).collect();
            (0..n_classes).fold(0, |best, i| if sims[i] > sims[best] { i } else { best }) == *c
        })
        .count();
    let chance = 1.0 / n_classes as f32;
    let quality = ((right as f32 / rows.len() as f32 - chance) / (1.0 - chance)).max(0.0);
    LABEL_PRIOR_WEIGHT + LABEL_QUALITY_WEIGHT * quality
}

/// The softmax temperature that makes the classifier's scores calibrated on examples it
/// did not see: `rows` split into [`CALIBRATION_FOLDS`] folds (every fifth row, classes
/// in order, so each fold holds every class in proportion), each fold scored by a
/// classifier fitted to the others (a class with no other examples keeps its label-name
/// direction), and the temperature that minimises their negative log-likelihood, with a
/// pull `(ln T)²/2` towards 1 so that a handful of examples cannot push it far. Chosen
/// from a fixed grid of `ln T` in [-3, 3] by steps of 0.05: deterministic.
/// Each fold's fit starts from the full fit's weights `start` (the minimum is unique, so
/// only the time to reach it changes).
fn held_out_temperature(
    dim: usize,
    rows: &[(&[f32], usize)],
    label_embeddings: &[Option<Packed>],
    beta: f32,
    start: &Fitted,
    steps: u32,
) -> f32 {
    let n_classes = label_embeddings.len();
    if n_classes < 2 || rows.len() < 2 {
        return 1.0;
    }
    // The folds only estimate one number: a third of the full fit's steps serve.
    let fold_steps = (steps / 3).max(10);
    let mut held_out: Vec<(Vec<f32>, usize)> = Vec::with_capacity(rows.len());
    for fold in 0..CALIBRATION_FOLDS {
        let (held, kept): (Vec<_>, Vec<_>) = rows.iter().enumerate().partition(|(i, _)| i % CALIBRATION_FOLDS == fold);
        if held.is_empty() || kept.is_empty() {
            continue;
        }
        let kept: Vec<(&[f32], usize)> = kept.into_iter().map(|(_, r)| *r).collect();
        let means: Vec<Option<Vec<f32>>> =
            (0..n_classes).map(|c| mean_of(kept.iter().filter(|(_, k)| *k == c).map(|(x, _)| *x), dim)).collect();
        let counts: Vec<f32> = (0..n_classes).map(|c| kept.iter().filter(|(_, k)| *k == c).count() as f32).collect();
        let mean_refs: Vec<Option<&[f32]>> = means.iter().map(|m| m.as_deref()).collect();
        let fitted = fit_weights(dim, &kept, &mean_refs, &counts, label_embeddings, beta, Some(start), fold_steps);
        for (_, (x, c)) in held {
            let z = feature(x, &fitted.center);
            held_out.push((fitted.weights.iter().map(|w| dot(w, &z)).collect(), *c));
        }
    }
    let cost = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        let nll: f64 = held_out.iter().map(|(logits, c)| -(softmax(logits, t)[*c] as f64).max(1e-12).ln()).sum();
        nll + 0.5 * log_t * log_t
    };
    let mut best = (cost(0.0), 0.0);
    for step in -60..=60 {
        let log_t = step as f64 * 0.05;
        let c = cost(log_t);
        if c < best.0 {
            best = (c, log_t);
        }
    }
    best.1.exp() as f32
}

/// `λ_max(Σᵢ aᵢaᵢᵀ)` by power iteration from a fixed start (deterministic).
fn largest_eigenvalue(features: &[Vec<f32>]) -> f64 {
    let width = features.first().map_or(0, Vec::len);
    let mut v = vec![1.0 / (width.max(1) as f64).sqrt(); width];
    let mut eigenvalue = 0.0;
    for _ in 0..30 {
        let mut u = vec![0.0f64; width];
        for a in features {
            let proj: f64 = a.iter().zip(&v).map(|(x, y)| *x as f64 * y).sum();
            u.iter_mut().zip(a).for_each(|(ui, x)| *ui += proj * *x as f64);
        }
        eigenvalue = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        if eigenvalue == 0.0 {
            break;
        }
        v = u.iter().map(|x| x / eigenvalue).collect();
    }
    eigenvalue
}

/// Minimises `Σᵢ CE(W·aᵢ, yᵢ) + λ/2 ‖W − W₀‖²` from `W₀` by Nesterov's accelerated
/// gradient for strongly convex functions, restarting the momentum whenever the gradient
/// turns against it (O'Donoghue & Candès, "Adaptive restart for accelerated gradient
/// schemes", 2015). In f64, so the native and browser builds agree.
fn refine(
    features: &[Vec<f32>],
    classes: &[usize],
    prior: Vec<Vec<f32>>,
    start: Option<&Fitted>,
    steps: u32,
) -> (Vec<Vec<f32>>, f64) {
    let width = prior[0].len();
    let lambda = PRIOR_STRENGTH as f64;
    // The cross-entropy's Hessian in the logits is at most 1/2 in norm.
    let smoothness = 0.5 * largest_eigenvalue(features) * 1.05 + lambda;
    let step = 1.0 / smoothness;
    let q = (lambda / smoothness).sqrt();
    let momentum = (1.0 - q) / (1.0 + q);
    let w0: Vec<f64> = prior.iter().flatten().map(|&x| x as f64).collect();
    let mut w: Vec<f64> = match start {
        Some(fitted) => fitted.weights.iter().flatten().map(|&x| x as f64).collect(),
        None => w0.clone(),
    };
    let mut ahead = w.clone();
    let mut ahead_f32 = vec![0.0f32; w.len()];
    let mut data_gradient = vec![0.0f32; w.len()];
    let mut gradient = vec![0.0f64; w.len()];
    // A warm start stops where the fit it starts from stopped.
    let mut tolerance = start.map_or(GRADIENT_TOLERANCE, |f| f.tolerance);
    for iteration in 0..steps {
        // Gradient at the look-ahead point: the data part in f32 (the costly part, with
        // vectorisable loops), the penalty and the steps in f64.
        ahead_f32.iter_mut().zip(&ahead).for_each(|(a, b)| *a = *b as f32);
        data_gradient.iter_mut().for_each(|g| *g = 0.0);
        for (a, &y) in features.iter().zip(classes) {
            let logits: Vec<f32> = ahead_f32.chunks_exact(width).map(|row| dot8(row, a)).collect();
            let p = softmax(&logits, 1.0);
            for (c, g_row) in data_gradient.chunks_exact_mut(width).enumerate() {
                let r = p[c] - if c == y { 1.0 } else { 0.0 };
                g_row.iter_mut().zip(a).for_each(|(g, x)| *g += r * x);
            }
        }
        gradient
            .iter_mut()
            .zip(data_gradient.iter().zip(ahead.iter().zip(&w0)))
            .for_each(|(g, (d, (a, b)))| *g = *d as f64 + lambda * (a - b));
        let norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        if iteration == 0 && start.is_none() {
            // Relative to where it starts, so that large training sets stop as early.
            tolerance = tolerance.max(RELATIVE_TOLERANCE * norm);
        }
        if norm < tolerance {
            w.clone_from(&ahead);
            break;
        }
        let next: Vec<f64> = ahead.iter().zip(&gradient).map(|(a, g)| a - step * g).collect();
        let against: f64 = gradient.iter().zip(next.iter().zip(&w)).map(|(g, (n, o))| g * (n - o)).sum();
        let beta = if against > 0.0 { 0.0 } else { momentum };
        ahead = next.iter().zip(&w).map(|(n, o)| n + beta * (n - o)).collect();
        w = next;
    }
    (w.chunks(width).map(|row| row.iter().map(|&x| x as f32).collect()).collect(), tolerance)
}

/// Dot product with eight partial sums, which the compiler turns into SIMD lanes (a
/// single running sum cannot be reordered); the same order of operations on every target.
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A stored classifier: the current learner, or one stored by record format 1, which
/// classifies as it always did and becomes a [`FewShot`] when next trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Classifier {
    FewShot(FewShot),
    PassiveAggressive(PassiveAggressive),
}

impl Classifier {
    pub fn new(dim: usize) -> Self {
        Classifier::FewShot(FewShot::new(dim))
    }

    pub fn dim(&self) -> usize {
        match self {
            Classifier::FewShot(f) => f.dim,
            Classifier::PassiveAggressive(p) => p.dim,
        }
    }

    pub fn labels(&self) -> &[String] {
        match self {
            Classifier::FewShot(f) => &f.labels,
            Classifier::PassiveAggressive(p) => &p.labels,
        }
    }

    /// Training samples seen per class.
    pub fn counts(&self) -> &[u64] {
        match self {
            Classifier::FewShot(f) => &f.counts,
            Classifier::PassiveAggressive(p) => &p.counts,
        }
    }

    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        match self {
            Classifier::FewShot(f) => f.predict(x),
            Classifier::PassiveAggressive(p) => p.predict(x),
        }
    }

    /// The label names whose embeddings [`Self::train`] needs.
    pub fn missing_priors(&self, examples: &[(Vec<f32>, String)]) -> Vec<String> {
        match self {
            Classifier::FewShot(f) => f.missing_priors(examples),
            Classifier::PassiveAggressive(p) => FewShot::from_passive_aggressive(p).missing_priors(examples),
        }
    }

    /// Trains on `examples` ([`FewShot::train`]); a format-1 classifier is converted first.
    pub fn train(&mut self, examples: &[(Vec<f32>, String)], priors: &[(String, Vec<f32>)], num_iters: u32) {
        if let Classifier::PassiveAggressive(p) = self {
            *self = Classifier::FewShot(FewShot::from_passive_aggressive(p));
        }
        if let Classifier::FewShot(f) = self {
            f.train(examples, priors, num_iters);
        }
    }

    /// Why this could not have been written by triage, if so.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Classifier::FewShot(f) => f.check(),
            Classifier::PassiveAggressive(p) => p.check(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(v: &[f32], l: &str) -> (Vec<f32>, String) {
        (v.to_vec(), l.to_string())
    }

    fn trained(data: &[(Vec<f32>, String)]) -> FewShot {
        let mut f = FewShot::new(data[0].0.len());
        f.train(data, &[], 10);
        f
    }

    #[test]
    fn separates_classes_and_scores_sum_to_one() {
        let f = trained(&[ex(&[1.0, 0.0, 0.2], "a"), ex(&[0.0, 1.0, 0.2], "b"), ex(&[0.9, 0.1, 0.2], "a")]);
        let p = f.predict(&[1.0, 0.1, 0.2]);
        assert!(p[0] > 0.9, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        f.check().unwrap();
    }

    #[test]
    fn training_converges_to_the_penalised_optimum() {
        // At the optimum the gradient of the objective vanishes: check it from outside.
        let data: Vec<(Vec<f32>, usize)> = vec![
            (normalized(&[1.0, 0.1, 0.3]), 0),
            (normalized(&[0.8, 0.3, 0.1]), 0),
            (normalized(&[0.1, 1.0, 0.2]), 1),
            (normalized(&[0.3, 0.9, 0.4]), 1),
            (normalized(&[0.2, 0.2, 1.0]), 2),
        ];
        let rows: Vec<(&[f32], usize)> = data.iter().map(|(x, c)| (x.as_slice(), *c)).collect();
        let means: Vec<Vec<f32>> =
            (0..3).map(|c| mean_of(rows.iter().filter(|r| r.1 == c).map(|r| r.0), 3).unwrap()).collect();
        let means: Vec<Option<&[f32]>> = means.iter().map(|m| Some(m.as_slice())).collect();
        let counts = [2.0, 2.0, 1.0];
        let labels = vec![None, None, None];
        let fitted = fit_weights(3, &rows, &means, &counts, &labels, 1.0, None, 300);
        let prior = prior_weights(3, &fitted.center, &means, &counts, &labels, 1.0);
        let mut gradient: Vec<Vec<f64>> = fitted
            .weights
            .iter()
            .zip(&prior)
            .map(|(w, p)| w.iter().zip(p).map(|(a, b)| PRIOR_STRENGTH as f64 * (a - b) as f64).collect())
            .collect();
        for (x, y) in &rows {
            let z = feature(x, &fitted.center);
            let p = softmax(&fitted.weights.iter().map(|w| dot(w, &z)).collect::<Vec<_>>(), 1.0);
            for c in 0..3 {
                let r = p[c] as f64 - if c == *y { 1.0 } else { 0.0 };
                gradient[c].iter_mut().zip(&z).for_each(|(g, zi)| *g += r * *zi as f64);
            }
        }
        let norm = gradient.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
        assert!(norm < 1e-3, "gradient norm at the fitted weights: {norm}");
        assert_ne!(fitted.weights, prior, "the refinement moved the weights");
    }

    #[test]
    fn the_temperature_tempers_a_classifier_that_fails_on_held_out_examples() {
        // Labels that do not follow the geometry: held-out examples are misclassified, so
        // the scores are softened (T > 1); a clean split sharpens them or leaves them.
        let noisy: Vec<(Vec<f32>, String)> = (0..20)
            .map(|i| {
                (
                    vec![1.0, (i as f32 * 0.7).sin(), (i as f32 * 1.3).cos()],
                    if i % 2 == 0 { "a" } else { "b" }.to_string(),
                )
            })
            .collect();
        let clean: Vec<(Vec<f32>, String)> = (0..20)
            .map(|i| {
                let side = if i % 2 == 0 { 1.0 } else { -1.0 };
                (
                    vec![1.0, side + 0.05 * (i as f32).sin(), 0.05 * (i as f32).cos()],
                    if side > 0.0 { "a" } else { "b" }.to_string(),
                )
            })
            .collect();
        let top = |data: &[(Vec<f32>, String)]| {
            let f = trained(data);
            data.iter().map(|(x, _)| f.predict(x).into_iter().fold(0.0f32, f32::max)).sum::<f32>() / data.len() as f32
        };
        let (noisy_top, clean_top) = (top(&noisy), top(&clean));
        assert!(noisy_top < 0.75, "{noisy_top}");
        assert!(clean_top > 0.9, "{clean_top}");
    }

    #[test]
    fn label_names_guide_a_single_example() {
        // Two classes whose single examples are equally close to the input; the label
        // names break the tie towards the class whose name points at the input.
        let data = [ex(&[1.0, 0.0, 0.0, 1.0], "a"), ex(&[0.0, 1.0, 0.0, 1.0], "b")];
        let input = [0.5, 0.5, 0.7, 1.0];
        let towards = |name_a: &[f32], name_b: &[f32]| {
            let mut f = FewShot::new(4);
            f.train(&data, &[("a".into(), name_a.to_vec()), ("b".into(), name_b.to_vec())], 10);
            f.predict(&input)
        };
        let p = towards(&[0.0, 0.0, 1.0, 1.0], &[0.0, 0.0, -1.0, 1.0]);
        assert!(p[0] > p[1], "{p:?}");
        let p = towards(&[0.0, 0.0, -1.0, 1.0], &[0.0, 0.0, 1.0, 1.0]);
        assert!(p[1] > p[0], "{p:?}");
    }

    #[test]
    fn an_update_with_one_new_class_keeps_the_old_ones() {
        let first = [
            ex(&[1.0, 0.0, 0.0], "a"),
            ex(&[0.9, 0.2, 0.0], "a"),
            ex(&[0.0, 1.0, 0.0], "b"),
            ex(&[0.1, 0.9, 0.0], "b"),
        ];
        let mut f = trained(&first);
        f.train(&[ex(&[0.0, 0.0, 1.0], "c"), ex(&[0.1, 0.0, 0.9], "c")], &[], 10);
        assert_eq!(f.labels, vec!["a", "b", "c"]);
        assert_eq!(f.counts, vec![2, 2, 2]);
        for (x, want) in [([1.0, 0.1, 0.0], 0), ([0.1, 1.0, 0.0], 1), ([0.0, 0.1, 1.0], 2)] {
            let p = f.predict(&x);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, want, "{x:?}: {p:?}");
        }
        // The same examples in one batch give the same classifier.
        let all: Vec<_> = first.iter().cloned().chain([ex(&[0.0, 0.0, 1.0], "c"), ex(&[0.1, 0.0, 0.9], "c")]).collect();
        let once = trained(&all);
        for (a, b) in f.weights.iter().flatten().zip(once.weights.iter().flatten()) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn deterministic_and_order_free() {
        let data = vec![ex(&[1.0, 0.2], "a"), ex(&[0.1, 1.0], "b"), ex(&[0.7, 0.6], "a"), ex(&[0.5, 0.9], "b")];
        assert_eq!(trained(&data), trained(&data));
        let mut reversed = data.clone();
        reversed.reverse();
        let (a, b) = (trained(&data), trained(&reversed));
        let pa = a.predict(&[0.6, 0.6]);
        let pb = b.predict(&[0.6, 0.6]);
        // Classes are numbered in first-seen order: compare by label.
        let pb_by_label: Vec<f32> =
            a.labels.iter().map(|l| pb[b.labels.iter().position(|x| x == l).unwrap()]).collect();
        assert!(pa.iter().zip(&pb_by_label).all(|(x, y)| (x - y).abs() < 1e-5), "{pa:?} vs {pb_by_label:?}");
    }

    #[test]
    fn the_reservoir_keeps_at_most_its_size_and_counts_everything() {
        let data: Vec<_> = (0..(KEPT_PER_CLASS + 40))
            .map(|i| ex(&[1.0, (i as f32 * 0.01).sin(), 0.0], if i % 2 == 0 { "a" } else { "b" }))
            .chain((0..KEPT_PER_CLASS + 10).map(|i| ex(&[0.0, 1.0, i as f32 * 0.001], "b")))
            .collect();
        let f = trained(&data);
        assert!(f.examples.iter().all(|k| k.len() <= KEPT_PER_CLASS));
        assert_eq!(f.counts.iter().sum::<u64>() as usize, data.len());
        f.check().unwrap();
    }

    #[test]
    fn packed_embeddings_round_trip_exactly() {
        let v = Packed(vec![1.0, -0.0, f32::MIN_POSITIVE, 0.1, -3.5e7]);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Packed>(&text).unwrap(), v);
        assert!(serde_json::from_str::<Packed>("\"AAA\"").is_err());
    }

    #[test]
    fn a_format_one_classifier_converts_on_training() {
        let mut pa = PassiveAggressive::new(2);
        pa.train(&[ex(&[1.0, 0.0], "a"), ex(&[0.0, 1.0], "b")], 10);
        let mut c = Classifier::PassiveAggressive(pa.clone());
        assert_eq!(c.predict(&[1.0, 0.0]), pa.predict(&[1.0, 0.0]), "classifies as before");
        assert_eq!(c.missing_priors(&[ex(&[0.5, 0.5], "c")]), vec!["a", "b", "c"]);
        c.train(&[ex(&[0.6, 0.8], "c")], &[], 10);
        let Classifier::FewShot(f) = &c else { panic!("not converted") };
        assert_eq!(f.labels, vec!["a", "b", "c"]);
        assert_eq!(f.counts, vec![1, 1, 1]);
        let p = c.predict(&[1.0, 0.0]);
        assert!(p[0] > p[1] && p[0] > p[2], "{p:?}");
    }
}
