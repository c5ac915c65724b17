//! Classification math on plain vectors: backend-free, unit-tested.
//!
//! Zero-shot follows Jina's Classifier: the cosine similarity of an input embedding to
//! each label embedding, turned into scores that sum to 1 by a softmax over the labels.
//! At the default temperature 1 the cosine range [-1, 1] gives the flat distributions
//! Jina's captured responses show (e.g. 0.35 / 0.34 / 0.31); a lower temperature sharpens
//! them while keeping the ranking.

pub mod fewshot;

use crate::api::{ClassificationPrediction, LabelScore, PerGroup};

/// Dot product; on L2-normalised vectors this is the cosine similarity.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cosine similarity, 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let na = dot(a, a).sqrt();
    let nb = dot(b, b).sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot(a, b) / (na * nb) }
}

/// How closely two sets of embeddings agree, row by row: (lowest cosine, largest absolute
/// difference of any component). Used to check a backend or a port against a reference.
pub fn agreement(got: &[Vec<f32>], want: &[Vec<f32>]) -> (f32, f32) {
    got.iter().zip(want).fold((1.0f32, 0.0f32), |(min_cos, max_diff), (g, w)| {
        let diff = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(max_diff, f32::max);
        (min_cos.min(cosine(g, w)), diff)
    })
}

/// Scales a vector to unit length in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Numerically stable softmax of `logits / temperature`, accumulated in f64.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature as f64;
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64 / t));
    let exps: Vec<f64> = logits.iter().map(|&x| (x as f64 / t - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// The prediction, its score, and every label's score.
pub type Ranked = (String, f32, Vec<LabelScore>);

/// Scores of one label set: softmax over label scores, in label order; returns the
/// prediction (the highest score, first label on ties), its score and all scores.
pub fn rank(labels: &[String], probs: &[f32]) -> Ranked {
    let mut best = 0;
    for (i, p) in probs.iter().enumerate() {
        if *p > probs[best] {
            best = i;
        }
    }
    let all = labels.iter().zip(probs).map(|(l, p)| LabelScore { label: l.clone(), score: *p }).collect();
    (labels[best].clone(), probs[best], all)
}

/// One label set as the engine sees it: the group name (None for a flat list), the labels
/// and their embeddings, L2-normalised.
pub struct LabelSet<'a> {
    pub group: Option<&'a str>,
    pub labels: &'a [String],
    pub embeddings: &'a [Vec<f32>],
}

/// Zero-shot prediction of one input against every label set.
pub fn zero_shot(index: usize, input: &[f32], sets: &[LabelSet<'_>], temperature: f32) -> ClassificationPrediction {
    let mut ranked: Vec<(Option<&str>, Ranked)> = sets
        .iter()
        .map(|set| {
            let sims: Vec<f32> = set.embeddings.iter().map(|l| cosine(input, l)).collect();
            (set.group, rank(set.labels, &softmax(&sims, temperature)))
        })
        .collect();
    if ranked.len() == 1 && ranked[0].0.is_none() {
        let (_, (prediction, score, predictions)) = ranked.remove(0);
        return single(index, prediction, score, predictions);
    }
    let mut prediction = Vec::new();
    let mut score = Vec::new();
    let mut predictions = Vec::new();
    for (group, (p, s, all)) in ranked {
        let g = group.unwrap_or_default().to_string();
        prediction.push((g.clone(), p));
        score.push((g.clone(), s));
        predictions.push((g, all));
    }
    ClassificationPrediction {
        object: "classification",
        index,
        prediction: PerGroup::Groups(prediction),
        score: PerGroup::Groups(score),
        predictions: PerGroup::Groups(predictions),
    }
}

/// A prediction over one flat label list.
pub fn single(index: usize, prediction: String, score: f32, predictions: Vec<LabelScore>) -> ClassificationPrediction {
    ClassificationPrediction {
        object: "classification",
        index,
        prediction: PerGroup::Single(prediction),
        score: PerGroup::Single(score),
        predictions: PerGroup::Single(predictions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_is_stable() {
        let p = softmax(&[1000.0, 999.0, -1000.0], 1.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
        let flat = softmax(&[0.3, 0.2, 0.1], 1.0);
        assert!((flat[0] - 0.3672).abs() < 1e-3, "{flat:?}");
        let sharp = softmax(&[0.3, 0.2, 0.1], 0.01);
        assert!(sharp[0] > 0.99);
    }

    #[test]
    fn agreement_takes_worst_row() {
        let want = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let got = vec![vec![1.0, 0.0], vec![0.1, 1.0]];
        let (min_cos, max_diff) = agreement(&got, &want);
        assert!((min_cos - cosine(&got[1], &want[1])).abs() < 1e-7);
        assert!((max_diff - 0.1).abs() < 1e-7);
    }

    #[test]
    fn cosine_and_normalize() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn zero_shot_picks_nearest_label_and_groups() {
        let labels = vec!["x".to_string(), "y".to_string()];
        let emb = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let flat = [LabelSet { group: None, labels: &labels, embeddings: &emb }];
        let p = zero_shot(3, &[0.9, 0.1], &flat, 1.0);
        assert_eq!(p.index, 3);
        assert_eq!(p.prediction, PerGroup::Single("x".to_string()));
        let PerGroup::Single(all) = &p.predictions else { panic!() };
        assert_eq!(all[0].label, "x");
        assert!((all.iter().map(|l| l.score).sum::<f32>() - 1.0).abs() < 1e-6);

        let grouped = [
            LabelSet { group: Some("g1"), labels: &labels, embeddings: &emb },
            LabelSet { group: Some("g2"), labels: &labels, embeddings: &emb },
        ];
        let p = zero_shot(0, &[0.1, 0.9], &grouped, 1.0);
        assert_eq!(p.prediction, PerGroup::Groups(vec![("g1".into(), "y".into()), ("g2".into(), "y".into())]));
    }

    #[test]
    fn rank_ties_take_first_label() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let (p, s, _) = rank(&labels, &[0.5, 0.5]);
        assert_eq!(p, "a");
        assert_eq!(s, 0.5);
    }
}
