//! The engine: loaded models, the label-embedding cache and the classifier store, serving
//! classify / train / list / delete. The CLI, the server and the browser are thin faces
//! over it; every request goes through [`crate::api`]'s validation first, and nothing is
//! written to the store until a request has been fully computed.

#[cfg(target_arch = "wasm32")]
pub mod backend;
pub mod encoder;
pub mod label_cache;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::api::{
    ClassificationResponse, ClassifierSummary, ClassifyRequest, DeleteResponse, EmbeddingData, EmbeddingResponse,
    EmbeddingUsage, EmbeddingsRequest, Input, Labels, TrainItem, TrainRequest, TrainingResponse, Usage,
    ZeroShotRequest,
};
use crate::classify::fewshot::Classifier;
use crate::classify::{self, LabelSet};
use crate::engine::encoder::{Encoder, TaskChoice};
use crate::engine::label_cache::LabelCache;
use crate::error::{Result, TriageError};
use crate::registry::{self, ModelSpec};
use crate::store::{self, ClassifierRecord, ClassifierStore};

/// Who makes a request, for classifier ownership: as on Jina's API, a private classifier
/// belongs to the key that trained it, and a public one may be used (not changed) by anyone
/// holding its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A face without keys (the CLI, the browser, a server started without API keys): sees
    /// and changes every classifier.
    Local,
    /// The owner id of an API key (a digest of the key; the key itself is never stored).
    Key(String),
}

impl Caller {
    /// May change, delete and list the classifier. Classifiers trained without a key (by a
    /// face without keys) belong to every caller.
    fn owns(&self, record: &ClassifierRecord) -> bool {
        match (self, &record.owner) {
            (Caller::Local, _) | (_, None) => true,
            (Caller::Key(key), Some(owner)) => key == owner,
        }
    }

    /// May classify with the classifier.
    fn may_use(&self, record: &ClassifierRecord) -> bool {
        self.owns(record) || record.access == crate::api::Access::Public
    }

    fn owner(&self) -> Option<String> {
        match self {
            Caller::Local => None,
            Caller::Key(key) => Some(key.clone()),
        }
    }
}

/// Times a training update re-reads and retries when another writer changed the classifier
/// between its read and its write (each retry only re-runs the cheap training step).
const TRAIN_RETRIES: usize = 1000;

/// Builds a model on first use (from a directory natively, from fetched bytes in the browser).
pub type ModelLoader = Box<dyn Fn(&'static ModelSpec) -> Result<Encoder> + Send + Sync>;

pub struct Engine<S: ClassifierStore> {
    store: S,
    /// The model of requests that name none.
    default_model: &'static ModelSpec,
    loader: ModelLoader,
    models: Mutex<HashMap<&'static str, Arc<Encoder>>>,
    label_cache: Mutex<LabelCache<LabelKey>>,
    /// Which hosts image URLs may reach (natively: public ones unless allowed).
    image_urls: crate::image::UrlPolicy,
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

/// Refuses image inputs for a model without an image tower, before anything is loaded.
fn check_modalities<'a>(spec: &ModelSpec, inputs: impl Iterator<Item = &'a Input>) -> Result<()> {
    for (i, input) in inputs.enumerate() {
        if matches!(input, Input::Image(_)) && !spec.has_image_tower() {
            return Err(TriageError::validation(
                format!("input[{i}]"),
                format!(
                    "input[{i}]: model '{}' has no image tower: image inputs need an image model (jina-clip-v1 or jina-clip-v2)",
                    spec.id
                ),
            ));
        }
    }
    Ok(())
}

/// The image inputs of a request, read (fetched, decoded) and preprocessed for a model.
#[derive(Default)]
struct PreparedImages {
    /// Each image's index among the inputs.
    index: Vec<usize>,
    /// `[3·size·size]` normalised pixels per image.
    pixels: Vec<Vec<f32>>,
    /// Tokens the images count for, together.
    tokens: usize,
}

/// Every image input read and preprocessed for `model`. The first bad image fails the
/// request with its field named.
async fn prepare_images(model: &Encoder, inputs: &[&Input], urls: crate::image::UrlPolicy) -> Result<PreparedImages> {
    let mut out = PreparedImages::default();
    for (i, input) in inputs.iter().enumerate() {
        let Input::Image(value) = input else { continue };
        let field = format!("input[{i}]");
        let bad = |msg: String| TriageError::validation(&field, format!("{field}: {msg}"));
        let size = model.image_size().ok_or_else(|| bad(format!("model '{}' has no image tower", model.spec.id)))?;
        let bytes = crate::image::bytes_of(crate::image::parse_ref(value).map_err(bad)?, urls).await.map_err(bad)?;
        let decoded = crate::image::decode(&bytes).map_err(bad)?;
        out.tokens += model.spec.image_tokens.count(decoded.width(), decoded.height());
        out.pixels.push(crate::image::normalize(&crate::image::resize_center_crop(&decoded, size)));
        out.index.push(i);
    }
    Ok(out)
}

impl<S: ClassifierStore> Engine<S> {
    /// An engine whose default model is the registry's ([`registry::DEFAULT_MODEL`]).
    pub fn new(store: S, loader: ModelLoader) -> Self {
        let default_model = registry::find(registry::DEFAULT_MODEL).expect("the registry has its default model");
        Self {
            store,
            default_model,
            loader,
            models: Mutex::default(),
            label_cache: Mutex::new(LabelCache::new(label_cache::DEFAULT_BUDGET_BYTES)),
            image_urls: crate::image::UrlPolicy::default(),
        }
    }

    /// Which hosts image URLs may reach ([`crate::image::UrlPolicy`]).
    pub fn with_image_urls(mut self, policy: crate::image::UrlPolicy) -> Self {
        self.image_urls = policy;
        self
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
    pub fn model(&self, spec: &'static ModelSpec) -> Result<Arc<Encoder>> {
        if let Some(m) = lock(&self.models)?.get(spec.id) {
            return Ok(m.clone());
        }
        let loaded = Arc::new((self.loader)(spec)?);
        lock(&self.models)?.insert(spec.id, loaded.clone());
        Ok(loaded)
    }

    /// Adds an already built model (the browser builds models from fetched bytes, which is
    /// async, before the first request), replacing any loaded one with the same id.
    pub fn add_model(&self, encoder: Encoder) -> Result<()> {
        lock(&self.models)?.insert(encoder.spec.id, Arc::new(encoder));
        Ok(())
    }

    /// Whether a model is loaded in memory now.
    pub fn is_loaded(&self, id: &str) -> bool {
        lock(&self.models).map(|m| m.contains_key(id)).unwrap_or(false)
    }

    async fn embed(&self, model: &Encoder, texts: &[&str], task: TaskChoice) -> Result<Embedded> {
        let ids = model.tokenize(texts, task)?;
        let tokens = ids.iter().map(Vec::len).sum();
        let vectors = model.embed_ids(&ids, task).await?;
        Ok(Embedded { vectors, tokens })
    }

    /// Text and image inputs embedded into one space, in input order. Images are all read
    /// and checked before anything is computed; tokens are the texts' plus each image's
    /// count under the model's rule ([`crate::registry::ImageTokens`]).
    async fn embed_inputs(&self, model: &Encoder, inputs: &[&Input], task: TaskChoice) -> Result<Embedded> {
        let images = prepare_images(model, inputs, self.image_urls).await?;
        let texts: Vec<(usize, &str)> = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, input)| match input {
                Input::Text(t) => Some((i, t.as_str())),
                Input::Image(_) => None,
            })
            .collect();
        let text_part = self.embed(model, &texts.iter().map(|(_, t)| *t).collect::<Vec<_>>(), task).await?;
        let image_vectors =
            if images.pixels.is_empty() { Vec::new() } else { model.embed_images(&images.pixels).await? };
        let mut vectors = vec![Vec::new(); inputs.len()];
        for ((i, _), v) in texts.iter().zip(text_part.vectors) {
            vectors[*i] = v;
        }
        for (&i, v) in images.index.iter().zip(image_vectors) {
            vectors[i] = v;
        }
        let tokens = text_part.tokens + images.tokens;
        Ok(Embedded { vectors, tokens })
    }

    /// Label embeddings through the cache; tokens are counted for every label whether
    /// cached or not (usage does not depend on cache state).
    async fn embed_labels(&self, model: &Encoder, labels: &[&str], task: TaskChoice) -> Result<Embedded> {
        let ids = model.tokenize(labels, task)?;
        let tokens = ids.iter().map(Vec::len).sum();
        let key = |l: &str| (model.spec.id, task, l.to_string());
        // Hits are copied out under the first lock, so an eviction while the misses are
        // embedded cannot take a vector this request already counted on.
        let mut vectors: Vec<Option<Vec<f32>>> = {
            let mut cache = lock(&self.label_cache)?;
            labels.iter().map(|l| cache.get(&key(l)).cloned()).collect()
        };
        let missing: Vec<usize> = (0..labels.len()).filter(|&i| vectors[i].is_none()).collect();
        if !missing.is_empty() {
            let fresh = model.embed_ids(&missing.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>(), task).await?;
            let mut cache = lock(&self.label_cache)?;
            for (i, v) in missing.into_iter().zip(fresh) {
                cache.put(key(labels[i]), v.clone());
                vectors[i] = Some(v);
            }
        }
        let vectors = vectors
            .into_iter()
            .map(|v| v.ok_or_else(|| TriageError::Internal("a label without an embedding".into())))
            .collect::<Result<Vec<_>>>()?;
        Ok(Embedded { vectors, tokens })
    }

    /// Inputs embedded as few-shot training and classification embed them (the adapter
    /// `task`, default the model's classification task; texts and images in one space), in
    /// input order, with their tokens.
    async fn classifier_inputs(
        &self,
        spec: &'static ModelSpec,
        task: Option<&str>,
        inputs: &[&Input],
    ) -> Result<Embedded> {
        check_modalities(spec, inputs.iter().copied())?;
        let model = self.model(spec)?;
        let task = model.task(task)?;
        self.embed_inputs(&model, inputs, task).await
    }

    /// [`Self::classifier_inputs`]' vectors with the default task: what a benchmark needs to
    /// fit other learners on the embeddings `/v1/train` uses.
    pub async fn classification_embeddings(&self, spec: &'static ModelSpec, inputs: &[Input]) -> Result<Vec<Vec<f32>>> {
        Ok(self.classifier_inputs(spec, None, &inputs.iter().collect::<Vec<_>>()).await?.vectors)
    }

    /// Label names embedded as zero-shot classification embeds them (the few-shot
    /// learner's prior), with the adapter `task` (default the classification task), in
    /// label order.
    pub async fn label_embeddings(
        &self,
        spec: &'static ModelSpec,
        task: Option<&str>,
        labels: &[&str],
    ) -> Result<Vec<Vec<f32>>> {
        let model = self.model(spec)?;
        let task = model.task(task)?;
        Ok(self.embed_labels(&model, labels, task).await?.vectors)
    }

    /// `POST /v1/classify` from a JSON body.
    pub async fn classify_json(&self, body: &Value) -> Result<ClassificationResponse> {
        self.classify(&ClassifyRequest::from_json(body)?).await
    }

    pub async fn classify(&self, request: &ClassifyRequest) -> Result<ClassificationResponse> {
        self.classify_as(&Caller::Local, request).await
    }

    /// [`Self::classify`] on behalf of `caller` (few-shot: its own or a public classifier).
    pub async fn classify_as(&self, caller: &Caller, request: &ClassifyRequest) -> Result<ClassificationResponse> {
        match request {
            ClassifyRequest::ZeroShot(z) => self.zero_shot(z).await,
            ClassifyRequest::FewShot { classifier_id, input } => self.few_shot(caller, classifier_id, input).await,
        }
    }

    async fn zero_shot(&self, request: &ZeroShotRequest) -> Result<ClassificationResponse> {
        let spec = self.spec_of(&request.model)?;
        check_modalities(spec, request.input.iter())?;
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
        let inputs = self.embed_inputs(&model, &request.input.iter().collect::<Vec<_>>(), task).await?;
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

    /// The classifier if `caller` may see it with `allowed`; a classifier of another key is
    /// "not found or access denied", as Jina answers, so ids of others are not confirmed.
    async fn find_classifier(
        &self,
        caller: &Caller,
        id: &str,
        allowed: fn(&Caller, &ClassifierRecord) -> bool,
    ) -> Result<ClassifierRecord> {
        match self.store.get(id).await? {
            Some(record) if allowed(caller, &record) => Ok(record),
            _ => Err(TriageError::NotFound { kind: "Classifier", id: id.to_string() }),
        }
    }

    async fn few_shot(&self, caller: &Caller, classifier_id: &str, input: &[Input]) -> Result<ClassificationResponse> {
        let record = self.find_classifier(caller, classifier_id, Caller::may_use).await?;
        let spec = registry::find(&record.model)?;
        check_modalities(spec, input.iter())?;
        let model = self.model(spec)?;
        let task = model.task(record.task.as_deref())?;
        let classifier = &record.classifier;
        if classifier.dim() != model.dim() {
            return Err(TriageError::Internal(format!(
                "Classifier '{classifier_id}' has {} dims but model '{}' gives {}",
                classifier.dim(),
                spec.id,
                model.dim()
            )));
        }
        let embedded = self.embed_inputs(&model, &input.iter().collect::<Vec<_>>(), task).await?;
        let data = embedded
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (prediction, score, predictions) = classify::rank(classifier.labels(), &classifier.predict(v));
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
        let embedded = self.classifier_inputs(spec, task, &items.iter().map(|i| &i.input).collect::<Vec<_>>()).await?;
        let examples = embedded.vectors.into_iter().zip(items.iter().map(|i| i.label.clone())).collect();
        Ok((examples, embedded.tokens, self.model(spec)?.dim()))
    }

    /// The label names' embeddings the few-shot learner lacks ([`Self::label_embeddings`]).
    async fn label_priors(
        &self,
        spec: &'static ModelSpec,
        task: Option<&str>,
        labels: Vec<String>,
    ) -> Result<Vec<(String, Vec<f32>)>> {
        if labels.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = labels.iter().map(String::as_str).collect();
        let vectors = self.label_embeddings(spec, task, &names).await?;
        Ok(labels.into_iter().zip(vectors).collect())
    }

    pub async fn train(&self, request: &TrainRequest) -> Result<TrainingResponse> {
        self.train_as(&Caller::Local, request).await
    }

    /// [`Self::train`] on behalf of `caller`: a new classifier is the caller's; an update
    /// needs a classifier the caller owns. Concurrent updates of one classifier all land:
    /// an update whose write finds the classifier changed since its read trains the fresh
    /// record again with the same embeddings.
    pub async fn train_as(&self, caller: &Caller, request: &TrainRequest) -> Result<TrainingResponse> {
        let num_iters = request.num_iters();
        let items = request.items();
        let (stored, tokens) = match request {
            TrainRequest::Create { model, access, task, .. } => {
                let spec = self.spec_of(model)?;
                let (examples, tokens, dim) = self.embed_items(spec, task.as_deref(), items).await?;
                let mut classifier = Classifier::new(dim);
                let priors = self.label_priors(spec, task.as_deref(), classifier.missing_priors(&examples)).await?;
                classifier.train(&examples, &priors, num_iters);
                let mut record =
                    ClassifierRecord::new(uuid::Uuid::new_v4().to_string(), spec.id.to_string(), *access, classifier);
                record.task = task.clone();
                record.owner = caller.owner();
                (self.store.put(record, None).await?, tokens)
            }
            TrainRequest::Update { classifier_id, .. } => {
                let first = self.find_classifier(caller, classifier_id, Caller::owns).await?;
                let spec = registry::find(&first.model)?;
                let (examples, tokens, _) = self.embed_items(spec, first.task.as_deref(), items).await?;
                let mut record = first;
                let mut attempt = 0;
                let stored = loop {
                    let expected = Some(record.version);
                    let missing = record.classifier.missing_priors(&examples);
                    let priors = self.label_priors(spec, record.task.as_deref(), missing).await?;
                    record.classifier.train(&examples, &priors, num_iters);
                    record.format = store::RECORD_FORMAT;
                    record.updated_at = store::now_rfc3339();
                    record.updated_number += 1;
                    match self.store.put(record, expected).await {
                        Err(TriageError::Conflict { .. }) if attempt < TRAIN_RETRIES => {
                            attempt += 1;
                            // Deleted meanwhile: not found, as if it had gone first.
                            record = self.find_classifier(caller, classifier_id, Caller::owns).await?;
                        }
                        other => break other?,
                    }
                };
                (stored, tokens)
            }
        };
        Ok(TrainingResponse {
            classifier_id: stored.classifier_id,
            num_samples: items.len(),
            usage: Usage { total_tokens: tokens * num_iters as usize },
        })
    }

    /// `GET|POST /v1/classifiers`.
    pub async fn classifiers(&self) -> Result<Vec<ClassifierSummary>> {
        self.classifiers_as(&Caller::Local).await
    }

    /// The classifiers `caller` owns.
    pub async fn classifiers_as(&self, caller: &Caller) -> Result<Vec<ClassifierSummary>> {
        Ok(self.store.list().await?.iter().filter(|r| caller.owns(r)).map(ClassifierRecord::summary).collect())
    }

    /// `DELETE /v1/classifiers/{id}`.
    pub async fn delete_classifier(&self, id: &str) -> Result<DeleteResponse> {
        self.delete_classifier_as(&Caller::Local, id).await
    }

    /// Deletes a classifier `caller` owns. A stored record that does not read back (corrupt)
    /// can be deleted by any caller: it serves no one, and deleting is the way out.
    pub async fn delete_classifier_as(&self, caller: &Caller, id: &str) -> Result<DeleteResponse> {
        if let Caller::Key(_) = caller
            && let Ok(record) = self.store.get(id).await
            && !record.is_some_and(|r| caller.owns(&r))
        {
            return Err(TriageError::NotFound { kind: "Classifier", id: id.to_string() });
        }
        if !self.store.delete(id).await? {
            return Err(TriageError::NotFound { kind: "Classifier", id: id.to_string() });
        }
        Ok(DeleteResponse { classifier_id: id.to_string(), deleted: true })
    }

    /// A classifier as a portable JSON document (the stored record without its owner and
    /// version), to keep as a file or move to another browser or machine.
    pub async fn export_classifier(&self, id: &str) -> Result<Value> {
        let record = self.find_classifier(&Caller::Local, id, Caller::owns).await?;
        let mut document = serde_json::to_value(&record).map_err(|e| TriageError::internal("exporting", e))?;
        if let Some(fields) = document.as_object_mut() {
            fields.remove("owner");
            fields.remove("version");
        }
        Ok(document)
    }

    /// Stores a document made by [`Self::export_classifier`] under its own id. Refused,
    /// with nothing stored, when it is not such a document, names a model triage does not
    /// know or weights of another width, or its id is already stored.
    pub async fn import_classifier(&self, document: &Value) -> Result<ClassifierSummary> {
        let invalid = |why: String| TriageError::validation("classifier", why);
        let mut fields =
            document.as_object().cloned().ok_or_else(|| invalid("A classifier export is a JSON object".into()))?;
        fields.insert("version".into(), Value::from(0));
        fields.insert("owner".into(), Value::Null);
        let record: ClassifierRecord = serde_json::from_value(Value::Object(fields))
            .map_err(|e| invalid(format!("Not a triage classifier export: {e}")))?;
        record.validate().map_err(|e| invalid(e.to_string()))?;
        let spec = registry::find(&record.model)?;
        if record.classifier.dim() != spec.dim {
            return Err(invalid(format!(
                "The classifier has {}-dimensional weights but model '{}' gives {}",
                record.classifier.dim(),
                spec.id,
                spec.dim
            )));
        }
        if let Some(task) = &record.task
            && spec.task_index(task).is_none()
        {
            return Err(invalid(format!("Model '{}' has no task '{task}'", spec.id)));
        }
        if self.store.get(&record.classifier_id).await?.is_some() {
            return Err(invalid(format!(
                "A classifier with id '{}' is already stored here; delete it first to replace it",
                record.classifier_id
            )));
        }
        Ok(self.store.put(record, None).await?.summary())
    }

    /// The model a classify request needs: its own, or its classifier's. Lets a face that
    /// loads models asynchronously (the browser) load it before calling [`Self::classify`].
    pub async fn classify_model(&self, request: &ClassifyRequest) -> Result<&'static ModelSpec> {
        match request {
            ClassifyRequest::ZeroShot(z) => self.spec_of(&z.model),
            ClassifyRequest::FewShot { classifier_id, .. } => {
                registry::find(&self.find_classifier(&Caller::Local, classifier_id, Caller::may_use).await?.model)
            }
        }
    }

    /// The model a train request needs (see [`Self::classify_model`]).
    pub async fn train_model(&self, request: &TrainRequest) -> Result<&'static ModelSpec> {
        match request {
            TrainRequest::Create { model, .. } => self.spec_of(model),
            TrainRequest::Update { classifier_id, .. } => {
                registry::find(&self.find_classifier(&Caller::Local, classifier_id, Caller::owns).await?.model)
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
