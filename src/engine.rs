//! The engine: loaded models, the label-embedding cache and the classifier store, serving
//! classify / train / list / delete. The CLI, the server and the browser are thin faces
//! over it; every request goes through [`crate::api`]'s validation first, and nothing is
//! written to the store until a request has been fully computed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::api::{
    ClassificationResponse, ClassifierSummary, ClassifyRequest, DeleteResponse, EmbeddingData, EmbeddingResponse,
    EmbeddingUsage, EmbeddingsRequest, Input, Labels, TrainItem, TrainRequest, TrainingResponse, Usage,
    ZeroShotRequest,
};
use crate::classify::{self, LabelSet};
use crate::encoder::{TaskChoice, TextEncoder};
use crate::error::{Result, TriageError};
use crate::fewshot::PassiveAggressive;
use crate::registry::{self, ModelSpec};
use crate::store::{self, ClassifierRecord, ClassifierStore};

/// Builds a model on first use (from a directory natively, from fetched bytes in the browser).
pub type ModelLoader = Box<dyn Fn(&'static ModelSpec) -> Result<TextEncoder> + Send + Sync>;

/// Label embeddings kept across requests, per (model, text). Bounded: cleared when full.
const LABEL_CACHE_CAPACITY: usize = 16_384;

pub struct Engine<S: ClassifierStore> {
    store: S,
    /// The model of requests that name none.
    default_model: &'static ModelSpec,
    loader: ModelLoader,
    models: Mutex<HashMap<&'static str, Arc<TextEncoder>>>,
    label_cache: Mutex<HashMap<LabelKey, Vec<f32>>>,
}

/// A cached label embedding: model, adapter, label text.
type LabelKey = (&'static str, TaskChoice, String);

/// Texts embedded for a request, and how many tokens that took.
struct Embedded {
    vectors: Vec<Vec<f32>>,
    tokens: usize,
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock().map_err(|e| TriageError::internal("engine lock", e))
}

/// Text of every input, or a clear error for images on a text-only model.
fn texts_of<'a>(spec: &ModelSpec, inputs: impl Iterator<Item = &'a Input>) -> Result<Vec<&'a str>> {
    inputs
        .enumerate()
        .map(|(i, input)| match input {
            Input::Text(t) => Ok(t.as_str()),
            Input::Image(_) => Err(TriageError::validation(
                format!("input[{i}]"),
                format!(
                    "Model '{}' has no image tower: image inputs need an image model (jina-clip-v1 or jina-clip-v2)",
                    spec.id
                ),
            )),
        })
        .collect()
}

impl<S: ClassifierStore> Engine<S> {
    /// An engine whose default model is the registry's ([`registry::DEFAULT_MODEL`]).
    pub fn new(store: S, loader: ModelLoader) -> Self {
        let default_model = registry::find(registry::DEFAULT_MODEL).expect("the registry has its default model");
        Self { store, default_model, loader, models: Mutex::default(), label_cache: Mutex::default() }
    }

    /// Sets the model serving requests that name none.
    pub fn with_default_model(mut self, spec: &'static ModelSpec) -> Self {
        self.default_model = spec;
        self
    }

    pub fn default_model(&self) -> &'static ModelSpec {
        self.default_model
    }

    /// The model a request names, or the default.
    pub fn spec_of(&self, model: &Option<String>) -> Result<&'static ModelSpec> {
        match model {
            Some(id) => registry::find(id),
            None => Ok(self.default_model),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The model, loading it on first use.
    pub fn model(&self, spec: &'static ModelSpec) -> Result<Arc<TextEncoder>> {
        if let Some(m) = lock(&self.models)?.get(spec.id) {
            return Ok(m.clone());
        }
        let loaded = Arc::new((self.loader)(spec)?);
        lock(&self.models)?.insert(spec.id, loaded.clone());
        Ok(loaded)
    }

    /// Adds an already built model (the browser builds models from fetched bytes, which is
    /// async, before the first request), replacing any loaded one with the same id.
    pub fn add_model(&self, encoder: TextEncoder) -> Result<()> {
        lock(&self.models)?.insert(encoder.spec.id, Arc::new(encoder));
        Ok(())
    }

    /// Whether a model is loaded in memory now.
    pub fn is_loaded(&self, id: &str) -> bool {
        lock(&self.models).map(|m| m.contains_key(id)).unwrap_or(false)
    }

    async fn embed(&self, model: &TextEncoder, texts: &[&str], task: TaskChoice) -> Result<Embedded> {
        let ids = model.tokenize(texts, task)?;
        let tokens = ids.iter().map(Vec::len).sum();
        let vectors = model.embed_ids(&ids, task).await?;
        Ok(Embedded { vectors, tokens })
    }

    /// Label embeddings through the cache; tokens are counted for every label whether
    /// cached or not (usage does not depend on cache state).
    async fn embed_labels(&self, model: &TextEncoder, labels: &[&str], task: TaskChoice) -> Result<Embedded> {
        let ids = model.tokenize(labels, task)?;
        let tokens = ids.iter().map(Vec::len).sum();
        let key = |l: &str| (model.spec.id, task, l.to_string());
        let missing: Vec<usize> = {
            let cache = lock(&self.label_cache)?;
            (0..labels.len()).filter(|&i| !cache.contains_key(&key(labels[i]))).collect()
        };
        let fresh = model.embed_ids(&missing.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>(), task).await?;
        let mut cache = lock(&self.label_cache)?;
        if cache.len() + fresh.len() > LABEL_CACHE_CAPACITY {
            cache.clear();
        }
        let mut fresh_by_index: HashMap<usize, Vec<f32>> = missing.into_iter().zip(fresh).collect();
        let mut vectors = Vec::with_capacity(labels.len());
        for (i, l) in labels.iter().enumerate() {
            let v = match fresh_by_index.remove(&i) {
                Some(v) => {
                    cache.insert(key(l), v.clone());
                    v
                }
                None => cache.get(&key(l)).cloned().ok_or_else(|| TriageError::Internal("label cache".into()))?,
            };
            vectors.push(v);
        }
        Ok(Embedded { vectors, tokens })
    }

    /// `POST /v1/classify` from a JSON body.
    pub async fn classify_json(&self, body: &Value) -> Result<ClassificationResponse> {
        self.classify(&ClassifyRequest::from_json(body)?).await
    }

    pub async fn classify(&self, request: &ClassifyRequest) -> Result<ClassificationResponse> {
        match request {
            ClassifyRequest::ZeroShot(z) => self.zero_shot(z).await,
            ClassifyRequest::FewShot { classifier_id, input } => self.few_shot(classifier_id, input).await,
        }
    }

    async fn zero_shot(&self, request: &ZeroShotRequest) -> Result<ClassificationResponse> {
        let spec = self.spec_of(&request.model)?;
        let texts = texts_of(spec, request.input.iter())?;
        let model = self.model(spec)?;
        let task = model.task(request.task.as_deref())?;
        let groups: Vec<(Option<&str>, &[String])> = match &request.labels {
            Labels::List(l) => vec![(None, l.as_slice())],
            Labels::Groups(g) => g.iter().map(|(name, l)| (Some(name.as_str()), l.as_slice())).collect(),
        };
        let mut label_vectors = Vec::with_capacity(groups.len());
        let mut tokens = 0;
        for (_, labels) in &groups {
            let e = self.embed_labels(&model, &labels.iter().map(String::as_str).collect::<Vec<_>>(), task).await?;
            tokens += e.tokens;
            label_vectors.push(e.vectors);
        }
        let inputs = self.embed(&model, &texts, task).await?;
        tokens += inputs.tokens;
        let sets: Vec<LabelSet<'_>> = groups
            .iter()
            .zip(&label_vectors)
            .map(|((group, labels), embeddings)| LabelSet { group: *group, labels, embeddings })
            .collect();
        let data = inputs
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| classify::zero_shot(i, v, &sets, request.temperature))
            .collect();
        Ok(ClassificationResponse { usage: Usage { total_tokens: tokens }, data })
    }

    async fn find_classifier(&self, id: &str) -> Result<ClassifierRecord> {
        self.store.get(id).await?.ok_or_else(|| TriageError::NotFound { kind: "Classifier", id: id.to_string() })
    }

    async fn few_shot(&self, classifier_id: &str, input: &[Input]) -> Result<ClassificationResponse> {
        let record = self.find_classifier(classifier_id).await?;
        let spec = registry::find(&record.model)?;
        let texts = texts_of(spec, input.iter())?;
        let model = self.model(spec)?;
        let task = model.task(record.task.as_deref())?;
        let pa = &record.classifier;
        if pa.dim != model.dim() {
            return Err(TriageError::Internal(format!(
                "Classifier '{classifier_id}' has {} dims but model '{}' gives {}",
                pa.dim,
                spec.id,
                model.dim()
            )));
        }
        let embedded = self.embed(&model, &texts, task).await?;
        let data = embedded
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (prediction, score, predictions) = classify::rank(&pa.labels, &pa.predict(v));
                classify::single(i, prediction, score, predictions)
            })
            .collect();
        // Usage statistics are best effort: a classify never fails, nor blocks a
        // concurrent training, because of them.
        let mut used = record.clone();
        used.used_number += 1;
        used.used_at = Some(store::now_rfc3339());
        let _ = self.store.put(used, Some(record.version)).await;
        Ok(ClassificationResponse { usage: Usage { total_tokens: embedded.tokens }, data })
    }

    /// `POST /v1/train` from a JSON body.
    pub async fn train_json(&self, body: &Value) -> Result<TrainingResponse> {
        self.train(&TrainRequest::from_json(body)?).await
    }

    /// Training items' embeddings with their labels, the tokens used and the model's width.
    async fn embed_items(
        &self,
        spec: &'static ModelSpec,
        task: Option<&str>,
        items: &[TrainItem],
    ) -> Result<(Vec<(Vec<f32>, String)>, usize, usize)> {
        let texts = texts_of(spec, items.iter().map(|i| &i.input))?;
        let model = self.model(spec)?;
        let task = model.task(task)?;
        let embedded = self.embed(&model, &texts, task).await?;
        let examples = embedded.vectors.into_iter().zip(items.iter().map(|i| i.label.clone())).collect();
        Ok((examples, embedded.tokens, model.dim()))
    }

    pub async fn train(&self, request: &TrainRequest) -> Result<TrainingResponse> {
        let num_iters = request.num_iters();
        let items = request.items();
        let (record, expected, tokens) = match request {
            TrainRequest::Create { model, access, task, .. } => {
                let spec = self.spec_of(model)?;
                let (examples, tokens, dim) = self.embed_items(spec, task.as_deref(), items).await?;
                let mut classifier = PassiveAggressive::new(dim);
                classifier.train(&examples, num_iters);
                let mut record =
                    ClassifierRecord::new(uuid::Uuid::new_v4().to_string(), spec.id.to_string(), *access, classifier);
                record.task = task.clone();
                (record, None, tokens)
            }
            TrainRequest::Update { classifier_id, .. } => {
                let mut record = self.find_classifier(classifier_id).await?;
                let spec = registry::find(&record.model)?;
                let (examples, tokens, _) = self.embed_items(spec, record.task.as_deref(), items).await?;
                let expected = Some(record.version);
                record.classifier.train(&examples, num_iters);
                record.updated_at = store::now_rfc3339();
                record.updated_number += 1;
                (record, expected, tokens)
            }
        };
        let stored = self.store.put(record, expected).await?;
        Ok(TrainingResponse {
            classifier_id: stored.classifier_id,
            num_samples: items.len(),
            usage: Usage { total_tokens: tokens * num_iters as usize },
        })
    }

    /// `GET|POST /v1/classifiers`.
    pub async fn classifiers(&self) -> Result<Vec<ClassifierSummary>> {
        Ok(self.store.list().await?.iter().map(ClassifierRecord::summary).collect())
    }

    /// `DELETE /v1/classifiers/{id}`.
    pub async fn delete_classifier(&self, id: &str) -> Result<DeleteResponse> {
        if !self.store.delete(id).await? {
            return Err(TriageError::NotFound { kind: "Classifier", id: id.to_string() });
        }
        Ok(DeleteResponse { classifier_id: id.to_string(), deleted: true })
    }

    /// The model a classify request needs: its own, or its classifier's. Lets a face that
    /// loads models asynchronously (the browser) load it before calling [`Self::classify`].
    pub async fn classify_model(&self, request: &ClassifyRequest) -> Result<&'static ModelSpec> {
        match request {
            ClassifyRequest::ZeroShot(z) => self.spec_of(&z.model),
            ClassifyRequest::FewShot { classifier_id, .. } => {
                registry::find(&self.find_classifier(classifier_id).await?.model)
            }
        }
    }

    /// The model a train request needs (see [`Self::classify_model`]).
    pub async fn train_model(&self, request: &TrainRequest) -> Result<&'static ModelSpec> {
        match request {
            TrainRequest::Create { model, .. } => self.spec_of(model),
            TrainRequest::Update { classifier_id, .. } => {
                registry::find(&self.find_classifier(classifier_id).await?.model)
            }
        }
    }

    /// `POST /v1/embeddings` from a JSON body.
    pub async fn embeddings_json(&self, body: &Value) -> Result<EmbeddingResponse> {
        self.embeddings(&EmbeddingsRequest::from_json(body)?).await
    }

    /// `POST /v1/embeddings`: Jina's embeddings call on the same models.
    pub async fn embeddings(&self, request: &EmbeddingsRequest) -> Result<EmbeddingResponse> {
        let spec = self.spec_of(&request.model)?;
        let model = self.model(spec)?;
        let dim = model.dim();
        let width = match request.dimensions {
            None => dim,
            Some(d) if d == dim => d,
            Some(d) if d < dim && !spec.matryoshka_dims.is_empty() => d,
            Some(d) if spec.matryoshka_dims.is_empty() => {
                return Err(TriageError::validation(
                    "dimensions",
                    format!(
                        "Model '{}' gives {dim}-dimensional embeddings and has no Matryoshka sizes; asked {d}",
                        spec.id
                    ),
                ));
            }
            Some(d) => {
                return Err(TriageError::validation(
                    "dimensions",
                    format!("'dimensions' is at most {dim} for model '{}'; asked {d}", spec.id),
                ));
            }
        };
        // Jina's embeddings call uses the base weights unless a task is named.
        let task = match &request.task {
            Some(t) => model.task(Some(t))?,
            None => TaskChoice::NONE,
        };
        let texts: Vec<&str> = request.input.iter().map(String::as_str).collect();
        let tokenized = model.tokenize_checked(&texts, task)?;
        if !request.truncate
            && let Some(i) = tokenized.iter().position(|(_, cut)| *cut)
        {
            return Err(TriageError::validation(
                format!("input[{i}]"),
                format!(
                    "input[{i}] is longer than the {} tokens model '{}' reads; shorten it or set \"truncate\": true",
                    spec.max_tokens, spec.id
                ),
            ));
        }
        let ids: Vec<Vec<u32>> = tokenized.into_iter().map(|(ids, _)| ids).collect();
        let tokens = ids.iter().map(Vec::len).sum();
        let mut vectors = model.pooled_ids(&ids, task).await?;
        // Matryoshka: cut first, then normalise.
        vectors.iter_mut().for_each(|v| v.truncate(width));
        if request.normalized {
            vectors.iter_mut().for_each(|v| classify::l2_normalize(v));
        }
        let data = vectors
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let embedding = if request.embedding_type_is_list {
                    Value::Object(
                        request.embedding_types.iter().map(|t| (t.as_str().to_string(), t.encode(v))).collect(),
                    )
                } else {
                    request.embedding_types[0].encode(v)
                };
                EmbeddingData { object: "embedding", index, embedding }
            })
            .collect();
        Ok(EmbeddingResponse {
            model: spec.id.to_string(),
            object: "list",
            usage: EmbeddingUsage { total_tokens: tokens, prompt_tokens: tokens },
            data,
        })
    }

    /// Embeddings of texts with a model (unit vectors) and the tokens used.
    pub async fn embed_texts(&self, model: &str, texts: &[&str]) -> Result<(Vec<Vec<f32>>, usize)> {
        let spec = registry::find(model)?;
        let model = self.model(spec)?;
        let task = model.task(None)?;
        let e = self.embed(&model, texts, task).await?;
        Ok((e.vectors, e.tokens))
    }
}

/// Parses a request body; malformed JSON is a validation error, as Jina answers it.
pub fn parse_body(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| TriageError::validation("body", format!("The request body is not valid JSON: {e}")))
}
