//! The few-shot learner on real embeddings (tests/fixtures/fewshot: Reuters R8, 7 classes,
//! all-minilm-l6-v2, 4 training and 10 test texts per class), and format-1 records.

mod common;

use common::{FewShotFixture, fewshot_fixture, scores_in_order};
use triage::api::Access;
use triage::classify::cosine;
use triage::classify::fewshot::{Classifier, FewShot, PassiveAggressive};
use triage::store::{ClassifierRecord, ClassifierStore, FsStore};

fn trained(f: &FewShotFixture, examples: &[(Vec<f32>, String)]) -> FewShot {
    let mut learner = FewShot::new(f.train[0].0.len());
    learner.train(examples, &f.priors, f.num_iters);
    learner
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

fn accuracy(f: &FewShotFixture, predict: impl Fn(&[f32]) -> usize, classes: &[usize]) -> f32 {
    let rows: Vec<_> = f.test.iter().filter(|(_, c)| classes.contains(c)).collect();
    rows.iter().filter(|(x, c)| predict(x) == *c).count() as f32 / rows.len() as f32
}

#[test]
fn scores_equal_the_recorded_native_scores() {
    let f = fewshot_fixture();
    let learner = trained(&f, &f.train);
    let mut worst = 0.0f32;
    for ((x, _), want) in f.test.iter().zip(&f.expected) {
        let got = scores_in_order(&learner, &f.labels, x);
        worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
    }
    assert!(worst <= 1e-6, "largest difference from the recorded scores: {worst}");
}

#[test]
fn beats_nearest_centroid_and_zero_shot_on_the_fixture() {
    let f = fewshot_fixture();
    let all: Vec<usize> = (0..f.labels.len()).collect();
    let learner = trained(&f, &f.train);
    let ours = accuracy(&f, |x| argmax(&scores_in_order(&learner, &f.labels, x)), &all);
    let centroids: Vec<Vec<f32>> = (0..f.labels.len())
        .map(|c| {
            let rows: Vec<&Vec<f32>> = f.train.iter().filter(|(_, l)| *l == f.labels[c]).map(|(x, _)| x).collect();
            (0..rows[0].len()).map(|d| rows.iter().map(|r| r[d]).sum::<f32>() / rows.len() as f32).collect()
        })
        .collect();
    let centroid = accuracy(&f, |x| argmax(&centroids.iter().map(|m| cosine(x, m)).collect::<Vec<_>>()), &all);
    let zero_shot = accuracy(&f, |x| argmax(&f.priors.iter().map(|(_, e)| cosine(x, e)).collect::<Vec<_>>()), &all);
    eprintln!("accuracy: triage {ours:.3}, nearest centroid {centroid:.3}, zero-shot {zero_shot:.3}");
    assert!(ours >= centroid, "triage {ours} < centroid {centroid}");
    assert!(ours >= zero_shot, "triage {ours} < zero-shot {zero_shot}");
}

#[test]
fn an_update_with_new_classes_only_keeps_the_old_ones() {
    let f = fewshot_fixture();
    let (old, new): (Vec<_>, Vec<_>) = f.train.iter().cloned().partition(|(_, l)| f.labels[..5].contains(l));
    let old_classes: Vec<usize> = (0..5).collect();
    let before = trained(&f, &old);
    let before_accuracy = accuracy(&f, |x| argmax(&scores_in_order(&before, &f.labels[..5], x)), &old_classes);
    let mut after = before.clone();
    after.train(&new, &f.priors, f.num_iters);
    let after_accuracy = accuracy(&f, |x| argmax(&scores_in_order(&after, &f.labels, x)), &old_classes);
    eprintln!("old classes' accuracy: {before_accuracy:.3} before the update, {after_accuracy:.3} after");
    // Two more classes to confuse them with may cost a little, never the collapse an update
    // on the new classes alone gives an online learner.
    assert!(after_accuracy >= before_accuracy - 0.1, "{before_accuracy} → {after_accuracy}");
    // And the update is the classifier trained on everything at once.
    let at_once = trained(&f, &[old, new].concat());
    for (x, _) in &f.test {
        let (a, b) = (after.predict(x), at_once.predict(x));
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() <= 1e-6), "{a:?} vs {b:?}");
    }
}

#[test]
fn format_one_records_classify_as_before_and_convert_when_trained() {
    let f = fewshot_fixture();
    let mut pa = PassiveAggressive::new(f.train[0].0.len());
    pa.train(&f.train, f.num_iters);
    // A record as the previous release wrote it: format 1, the passive-aggressive learner.
    let mut record = ClassifierRecord::new(
        "old".into(),
        "all-minilm-l6-v2".into(),
        Access::Public,
        Classifier::PassiveAggressive(pa.clone()),
    );
    record.format = 1;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let loaded = pollster::block_on(store.get("old")).unwrap().unwrap();
    assert!(matches!(loaded.classifier, Classifier::PassiveAggressive(_)));
    for (x, _) in &f.test {
        assert_eq!(loaded.classifier.predict(x), pa.predict(x), "classifies exactly as before");
    }
    // Trained again, it becomes the current learner, seeded by the old class means.
    let mut updated = loaded.clone();
    let missing = updated.classifier.missing_priors(&f.train[..1]);
    assert_eq!(missing, f.labels, "every label's name is needed for the prior");
    updated.classifier.train(&f.train[..1], &f.priors, f.num_iters);
    updated.format = triage::store::RECORD_FORMAT;
    assert!(matches!(updated.classifier, Classifier::FewShot(_)));
    updated.validate().unwrap();
    assert_eq!(updated.classifier.counts().iter().sum::<u64>(), f.train.len() as u64 + 1);
    let stored = pollster::block_on(store.put(updated, Some(loaded.version))).unwrap();
    let all: Vec<usize> = (0..f.labels.len()).collect();
    let acc = accuracy(&f, |x| argmax(&stored.classifier.predict(x)), &all);
    let pa_acc = accuracy(&f, |x| argmax(&pa.predict(x)), &all);
    eprintln!("accuracy: format 1 {pa_acc:.3}, converted {acc:.3}");
    assert!(acc >= pa_acc - 0.05, "converted {acc} vs format 1 {pa_acc}");
    // A format-2 record that holds the old learner is refused as corrupt.
    let mut mixed = record.clone();
    mixed.format = triage::store::RECORD_FORMAT;
    assert!(mixed.validate().unwrap_err().to_string().contains("corrupt"));
}

#[test]
fn the_stored_record_is_compact() {
    let f = fewshot_fixture();
    let record = ClassifierRecord::new(
        "c".into(),
        "all-minilm-l6-v2".into(),
        Access::Public,
        Classifier::FewShot(trained(&f, &f.train)),
    );
    let bytes = serde_json::to_vec(&record).unwrap().len();
    // 28 kept examples + 3 vectors per class (mean, label, weights) + centre, 384 f32 each:
    // base64 for examples and label names, JSON numbers for the rest.
    eprintln!("record: {bytes} bytes for 7 classes × 4 examples");
    assert!(bytes < 200_000, "{bytes}");
    let back: ClassifierRecord = serde_json::from_slice(&serde_json::to_vec(&record).unwrap()).unwrap();
    assert_eq!(back, record);
}
