//! Request and response types of Jina's Classifier API, validated up front.
//!
//! Follows `ClassificationResponse`, `TrainingResponse`, `ClassifierSummary`,
//! `FewShotClassificationRequest`, the `*ZeroShotClassificationRequest`s,
//! `*CreateTrainingRequest`s and `UpdateTrainingRequest` of Jina's 2026 OpenAPI schema, and
//! accepts the 2024 shapes too (`ClassificationAPIInput`, `TrainingAPIInput`: a single
//! training item instead of a list, `access` on create only).
//!
//! Requests are parsed by hand from JSON values rather than derived, so that every
//! malformed field gets an error naming the field (`input[3]`, `labels.topic[2]`).
//! Nothing here touches a model or the store: a request that parses is within every limit
//! that can be checked without tokenizing.

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use crate::error::{Result, TriageError};

/// Inputs per classify or train request (Jina: "list of up to 512 items").
pub const MAX_INPUTS: usize = 512;
/// Labels in a flat label list.
pub const MAX_LABELS: usize = 512;
/// Groups in a label dict.
pub const MAX_LABEL_GROUPS: usize = 8;
/// Labels per group of a label dict.
pub const MAX_LABELS_PER_GROUP: usize = 64;
/// Tokens per input; longer inputs are truncated (and the model's own limit may be lower).
pub const MAX_TOKENS_PER_INPUT: usize = 8192;
/// Training passes accepted by `num_iters`.
pub const NUM_ITERS_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// Jina's default `num_iters`.
pub const DEFAULT_NUM_ITERS: u32 = 10;
pub use crate::image::MAX_IMAGE_BYTES;

/// One thing to classify or embed.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// A URL or base64 string, as given.
    Image(String),
}

/// Candidate labels: a flat list, or named groups each classified separately.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    List(Vec<String>),
    Groups(Vec<(String, Vec<String>)>),
}

/// Who may use a classifier (kept for Jina compatibility; the local server enforces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Public,
    Private,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Private => "private",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClassifyRequest {
    ZeroShot(ZeroShotRequest),
    FewShot { classifier_id: String, input: Vec<Input> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZeroShotRequest {
    /// `None`: the engine's default model.
    pub model: Option<String>,
    pub input: Vec<Input>,
    pub labels: Labels,
    /// Softmax temperature over cosine similarities (triage extension; default 1).
    pub temperature: f32,
    /// Task adapter for inputs and labels (triage extension; default: the model's
    /// classification task).
    pub task: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainItem {
    pub input: Input,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainRequest {
    /// `task`: the adapter the classifier's examples (and later inputs) are embedded with
    /// (triage extension; default: the model's classification task).
    Create {
        /// `None`: the engine's default model.
        model: Option<String>,
        input: Vec<TrainItem>,
        access: Access,
        num_iters: u32,
        task: Option<String>,
    },
    Update {
        classifier_id: String,
        input: Vec<TrainItem>,
        num_iters: u32,
    },
}

impl TrainRequest {
    pub fn items(&self) -> &[TrainItem] {
        match self {
            TrainRequest::Create { input, .. } | TrainRequest::Update { input, .. } => input,
        }
    }
    pub fn num_iters(&self) -> u32 {
        match self {
            TrainRequest::Create { num_iters, .. } | TrainRequest::Update { num_iters, .. } => *num_iters,
        }
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| TriageError::validation("body", format!("{what} must be a JSON object")))
}

fn reject_unknown(obj: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(TriageError::validation(
            k.clone(),
            format!("Unknown field '{k}'. Allowed fields: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn string_field(obj: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TriageError::validation(field, format!("'{field}' must be a string"))),
    }
}

fn non_empty_string_field(obj: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match string_field(obj, field)? {
        Some(s) if s.trim().is_empty() => Err(TriageError::validation(field, format!("'{field}' must not be empty"))),
        other => Ok(other),
    }
}

/// [`reject_unknown`] for an object inside `input`: the error names the item (`input[2]`),
/// its message the unknown field.
fn reject_unknown_in_item(o: &Map<String, Value>, allowed: &[&str], field: &str) -> Result<()> {
    reject_unknown(o, allowed).map_err(|e| match e {
        TriageError::Validation { detail, .. } => TriageError::validation(field, format!("{field}: {detail}")),
        other => other,
    })
}

fn parse_input_item(v: &Value, field: &str) -> Result<Input> {
    match v {
        Value::String(s) => Ok(Input::Text(s.clone())),
        Value::Object(o) => {
            reject_unknown_in_item(o, &["text", "image"], field)?;
            match (o.get("text"), o.get("image")) {
                (Some(Value::String(t)), None) => Ok(Input::Text(t.clone())),
                (None, Some(Value::String(i))) => parse_image(i, field),
                (Some(_), Some(_)) => {
                    Err(TriageError::validation(field, format!("{field}: give either 'text' or 'image', not both")))
                }
                _ => Err(TriageError::validation(
                    field,
                    format!("{field}: expected {{\"text\": string}} or {{\"image\": string}}"),
                )),
            }
        }
        _ => Err(TriageError::validation(
            field,
            format!("{field}: expected a string, {{\"text\": ...}} or {{\"image\": ...}}"),
        )),
    }
}

fn parse_image(i: &str, field: &str) -> Result<Input> {
    if i.trim().is_empty() {
        return Err(TriageError::validation(field, format!("{field}: 'image' must not be empty")));
    }
    // base64 inflates by 4/3; a URL is short. Either way the string bounds the image.
    if i.len() > MAX_IMAGE_BYTES * 4 / 3 + 4096 {
        return Err(TriageError::validation(
            field,
            format!("{field}: image is larger than {} MB", MAX_IMAGE_BYTES / (1024 * 1024)),
        ));
    }
    // Bad base64, a data URL that is not an image, a scheme other than http(s): refused here,
    // before any model is loaded.
    crate::image::parse_ref(i).map_err(|m| TriageError::validation(field, format!("{field}: {m}")))?;
    Ok(Input::Image(i.to_string()))
}

/// `input` as one item or a non-empty list of at most [`MAX_INPUTS`] items, each parsed by
/// `item` with its field name (`input` or `input[i]`).
fn parse_one_or_many<T>(v: Option<&Value>, item: impl Fn(&Value, &str) -> Result<T>) -> Result<Vec<T>> {
    let v = v.ok_or_else(|| TriageError::validation("input", "'input' is required"))?;
    match v {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(TriageError::validation("input", "'input' must not be an empty list"));
            }
            if items.len() > MAX_INPUTS {
                return Err(TriageError::validation(
                    "input",
                    format!("'input' has {} items; at most {MAX_INPUTS} are allowed", items.len()),
                ));
            }
            items.iter().enumerate().map(|(i, it)| item(it, &format!("input[{i}]"))).collect()
        }
        single => Ok(vec![item(single, "input")?]),
    }
}

/// `input` as a string, a `{text}`/`{image}` object, or a list of those.
pub fn parse_inputs(v: Option<&Value>) -> Result<Vec<Input>> {
    parse_one_or_many(v, parse_input_item)
}

fn parse_label_list(v: &Value, field: &str) -> Result<Vec<String>> {
    let items =
        v.as_array().ok_or_else(|| TriageError::validation(field, format!("'{field}' must be a list of strings")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, l)| match l {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::String(_) => Err(TriageError::InvalidLabels(format!(
                "Invalid labels: {field}[{i}] is empty. Labels must be non-empty strings."
            ))),
            _ => Err(TriageError::validation(format!("{field}[{i}]"), format!("{field}[{i}] must be a string"))),
        })
        .collect()
}

/// Folds repeated labels into one; the first occurrence keeps its place.
pub fn distinct_labels(labels: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    labels.iter().filter(|l| seen.insert(l.as_str())).cloned().collect()
}

fn parse_labels(v: Option<&Value>) -> Result<Labels> {
    let v = v.ok_or_else(|| TriageError::validation("labels", "'labels' is required for zero-shot classification"))?;
    match v {
        Value::Array(items) => {
            if items.len() > MAX_LABELS {
                return Err(TriageError::LabelLimitExceeded {
                    current: items.len(),
                    max: MAX_LABELS,
                    hint: "Reduce the number of labels.".into(),
                });
            }
            let list = parse_label_list(v, "labels")?;
            if list.is_empty() {
                return Err(TriageError::InvalidLabels("Invalid labels: at least 1 label is required.".into()));
            }
            Ok(Labels::List(distinct_labels(&list)))
        }
        Value::Object(groups) => {
            if groups.is_empty() {
                return Err(TriageError::InvalidLabels("Invalid labels: the label dict has no groups.".into()));
            }
            if groups.len() > MAX_LABEL_GROUPS {
                return Err(TriageError::LabelLimitExceeded {
                    current: groups.len(),
                    max: MAX_LABEL_GROUPS,
                    hint: format!("A label dict holds at most {MAX_LABEL_GROUPS} groups."),
                });
            }
            let mut out = Vec::with_capacity(groups.len());
            for (name, list) in groups {
                let field = format!("labels.{name}");
                if let Some(n) = list.as_array().map(Vec::len)
                    && n > MAX_LABELS_PER_GROUP
                {
                    return Err(TriageError::LabelLimitExceeded {
                        current: n,
                        max: MAX_LABELS_PER_GROUP,
                        hint: format!("Group '{name}' holds more than {MAX_LABELS_PER_GROUP} labels."),
                    });
                }
                let list = parse_label_list(list, &field)?;
                if list.is_empty() {
                    return Err(TriageError::InvalidLabels(format!("Invalid labels: group '{name}' has no labels.")));
                }
                out.push((name.clone(), distinct_labels(&list)));
            }
            Ok(Labels::Groups(out))
        }
        _ => Err(TriageError::validation("labels", "'labels' must be a list of strings or a dict of lists")),
    }
}

fn parse_num_iters(obj: &Map<String, Value>) -> Result<u32> {
    match obj.get("num_iters") {
        None | Some(Value::Null) => Ok(DEFAULT_NUM_ITERS),
        Some(v) => match v.as_u64() {
            Some(n) if NUM_ITERS_RANGE.contains(&(n.min(u32::MAX as u64) as u32)) => Ok(n as u32),
            _ => Err(TriageError::validation(
                "num_iters",
                format!("'num_iters' must be an integer from {} to {}", NUM_ITERS_RANGE.start(), NUM_ITERS_RANGE.end()),
            )),
        },
    }
}

/// Jina's task names (`EmbeddingsV3Request.task`).
pub const TASKS: &[&str] = &["retrieval.query", "retrieval.passage", "text-matching", "classification", "separation"];

/// The optional `task` field: one of Jina's task names. Whether the model has it is the
/// engine's check.
fn parse_task(obj: &Map<String, Value>) -> Result<Option<String>> {
    match string_field(obj, "task")? {
        None => Ok(None),
        Some(t) if TASKS.contains(&t.as_str()) => Ok(Some(t)),
        Some(t) => {
            Err(TriageError::validation("task", format!("'task' must be one of {}, not '{t}'", TASKS.join(", "))))
        }
    }
}

/// Requests about an existing classifier take its task; they may not name one.
fn reject_task_with_classifier(obj: &Map<String, Value>) -> Result<()> {
    if obj.get("task").is_some_and(|t| !t.is_null()) {
        return Err(TriageError::validation(
            "task",
            "'task' is chosen when a classifier is created; requests naming 'classifier_id' use the classifier's",
        ));
    }
    Ok(())
}

fn parse_model_or_classifier(obj: &Map<String, Value>) -> Result<(Option<String>, Option<String>)> {
    let model = non_empty_string_field(obj, "model")?;
    let classifier_id = non_empty_string_field(obj, "classifier_id")?;
    if model.is_some() && classifier_id.is_some() {
        return Err(TriageError::validation(
            "classifier_id",
            "Provide either 'model' (zero-shot / a new classifier) or 'classifier_id' (an existing classifier), not both",
        ));
    }
    // Jina's own sample request names no model: the engine's default model serves it.
    Ok((model, classifier_id))
}

impl ClassifyRequest {
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = object(v, "The request body")?;
        reject_unknown(obj, &["model", "classifier_id", "input", "labels", "temperature", "task"])?;
        let (model, classifier_id) = parse_model_or_classifier(obj)?;
        let input = parse_inputs(obj.get("input"))?;
        if let Some(classifier_id) = classifier_id {
            reject_task_with_classifier(obj)?;
            if obj.get("labels").is_some_and(|l| !l.is_null()) {
                return Err(TriageError::validation(
                    "labels",
                    "'labels' belong to zero-shot requests; a classifier already knows its labels",
                ));
            }
            return Ok(ClassifyRequest::FewShot { classifier_id, input });
        }
        let labels = parse_labels(obj.get("labels"))?;
        let temperature = match obj.get("temperature") {
            None | Some(Value::Null) => 1.0,
            Some(t) => match t.as_f64() {
                Some(t) if t.is_finite() && t > 0.0 && t <= 100.0 => t as f32,
                _ => {
                    return Err(TriageError::validation(
                        "temperature",
                        "'temperature' must be a number greater than 0 and at most 100",
                    ));
                }
            },
        };
        Ok(ClassifyRequest::ZeroShot(ZeroShotRequest { model, input, labels, temperature, task: parse_task(obj)? }))
    }
}

fn parse_train_item(v: &Value, field: &str) -> Result<TrainItem> {
    let o = v.as_object().ok_or_else(|| {
        TriageError::validation(field, format!("{field}: expected {{\"text\" or \"image\", \"label\"}}"))
    })?;
    reject_unknown_in_item(o, &["text", "image", "label"], field)?;
    let label = match o.get("label") {
        Some(Value::String(l)) if !l.trim().is_empty() => l.clone(),
        Some(Value::String(_)) => {
            return Err(TriageError::InvalidLabels(format!("Invalid training labels: {field}.label is empty.")));
        }
        Some(_) => return Err(TriageError::validation(field, format!("{field}: 'label' must be a string"))),
        None => return Err(TriageError::validation(field, format!("{field}: 'label' is required"))),
    };
    let mut doc = o.clone();
    doc.remove("label");
    let input = parse_input_item(&Value::Object(doc), field)?;
    Ok(TrainItem { input, label })
}

impl TrainRequest {
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = object(v, "The request body")?;
        reject_unknown(obj, &["model", "classifier_id", "input", "access", "num_iters", "task"])?;
        let (model, classifier_id) = parse_model_or_classifier(obj)?;
        let input = parse_one_or_many(obj.get("input"), parse_train_item)?;
        let num_iters = parse_num_iters(obj)?;
        if let Some(classifier_id) = classifier_id {
            reject_task_with_classifier(obj)?;
            // 2024 schema: `access` is ignored when updating.
            return Ok(TrainRequest::Update { classifier_id, input, num_iters });
        }
        let access = match string_field(obj, "access")?.as_deref() {
            None | Some("public") => Access::Public,
            Some("private") => Access::Private,
            Some(other) => {
                return Err(TriageError::validation(
                    "access",
                    format!("'access' must be 'public' or 'private', not '{other}'"),
                ));
            }
        };
        let distinct = distinct_labels(&input.iter().map(|i| i.label.clone()).collect::<Vec<_>>());
        if distinct.len() < 2 {
            return Err(TriageError::InvalidLabels(
                "Invalid training labels. At least 2 unique labels are required for training.".into(),
            ));
        }
        Ok(TrainRequest::Create { model, input, access, num_iters, task: parse_task(obj)? })
    }
}

/// A value per label group, or a single value when labels were a flat list.
#[derive(Debug, Clone, PartialEq)]
pub enum PerGroup<T> {
    Single(T),
    Groups(Vec<(String, T)>),
}

impl<T: Serialize> Serialize for PerGroup<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            PerGroup::Single(v) => v.serialize(s),
            PerGroup::Groups(groups) => {
                let mut m = s.serialize_map(Some(groups.len()))?;
                for (k, v) in groups {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationPrediction {
    pub object: &'static str,
    pub index: usize,
    pub prediction: PerGroup<String>,
    pub score: PerGroup<f32>,
    pub predictions: PerGroup<Vec<LabelScore>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    pub total_tokens: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationResponse {
    pub usage: Usage,
    pub data: Vec<ClassificationPrediction>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingResponse {
    pub classifier_id: String,
    pub num_samples: usize,
    pub usage: Usage,
}

/// Jina's `ClassifierSummary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierSummary {
    pub classifier_id: String,
    pub user_id: String,
    pub model: String,
    pub labels: Vec<String>,
    pub access: Access,
    pub updated_number: u64,
    pub used_number: u64,
    pub created_at: String,
    pub updated_at: String,
    pub used_at: Option<String>,
    pub is_active: bool,
    pub is_latest: bool,
    pub metadata_: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteResponse {
    pub classifier_id: String,
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_take_openais_encoding_format_and_user() {
        let parse = |v: Value| EmbeddingsRequest::from_json(&v);
        let r = parse(serde_json::json!({"input": ["a"], "model": "m", "encoding_format": "base64", "user": "u-1"}))
            .unwrap();
        assert_eq!(r.embedding_types, [EmbeddingType::Base64]);
        assert!(!r.embedding_type_is_list);
        let r = parse(serde_json::json!({"input": "a", "encoding_format": "float"})).unwrap();
        assert_eq!(r.embedding_types, [EmbeddingType::Float]);
        // Agreeing fields are fine; disagreeing or unknown ones are Jina's validation error.
        assert!(
            parse(serde_json::json!({"input": "a", "encoding_format": "base64", "embedding_type": "base64"})).is_ok()
        );
        for bad in [
            serde_json::json!({"input": "a", "encoding_format": "base64", "embedding_type": "float"}),
            serde_json::json!({"input": "a", "encoding_format": "binary"}),
            serde_json::json!({"input": "a", "encoding_format": 1}),
            serde_json::json!({"input": "a", "user": 5}),
        ] {
            assert_eq!(parse(bad.clone()).unwrap_err().code(), "INPUT_VALIDATION_ERROR", "{bad}");
        }
    }

    #[test]
    fn embeddings_accept_late_chunking_off_and_refuse_it_on() {
        for off in [json!(false), Value::Null] {
            assert!(EmbeddingsRequest::from_json(&json!({"input": "a", "late_chunking": off})).is_ok());
        }
        let err = EmbeddingsRequest::from_json(&json!({"input": "a", "late_chunking": true})).unwrap_err();
        assert_eq!(
            (err.code(), err.to_response().errors[0].field.as_str()),
            ("INPUT_VALIDATION_ERROR", "late_chunking")
        );
    }

    use serde_json::json;

    #[test]
    fn input_shapes() {
        let r = ClassifyRequest::from_json(&json!({"model":"m","input":"hi","labels":["a","b"]})).unwrap();
        let ClassifyRequest::ZeroShot(z) = r else { panic!() };
        assert_eq!(z.input, vec![Input::Text("hi".into())]);
        let r = ClassifyRequest::from_json(&json!({"model":"m","input":{"text":"hi"},"labels":["a"]})).unwrap();
        let ClassifyRequest::ZeroShot(z) = r else { panic!() };
        assert_eq!(z.input, vec![Input::Text("hi".into())]);
        let r = ClassifyRequest::from_json(
            &json!({"model":"m","input":["x",{"text":"y"},{"image":"http://a/b.png"}],"labels":["a","a","b"]}),
        )
        .unwrap();
        let ClassifyRequest::ZeroShot(z) = r else { panic!() };
        assert_eq!(z.input.len(), 3);
        assert_eq!(z.input[2], Input::Image("http://a/b.png".into()));
        assert_eq!(z.labels, Labels::List(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn label_groups_keep_order() {
        let r =
            ClassifyRequest::from_json(&json!({"model":"m","input":"x","labels":{"z":["1","2"],"a":["3"]}})).unwrap();
        let ClassifyRequest::ZeroShot(z) = r else { panic!() };
        let Labels::Groups(g) = z.labels else { panic!() };
        assert_eq!(g[0].0, "z");
        assert_eq!(g[1].0, "a");
    }

    #[test]
    fn train_accepts_2024_single_item_and_defaults() {
        let r = TrainRequest::from_json(&json!({"classifier_id":"c","input":{"text":"t","label":"l"}})).unwrap();
        assert_eq!(r.num_iters(), DEFAULT_NUM_ITERS);
        assert_eq!(r.items().len(), 1);
    }

    #[test]
    fn per_group_serialises_as_map() {
        let p = PerGroup::Groups(vec![("b".to_string(), 1.0f32), ("a".to_string(), 2.0)]);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"b":1.0,"a":2.0}"#);
    }
}

/// How `POST /v1/embeddings` returns each vector (`embedding_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingType {
    /// A list of numbers.
    Float,
    /// The little-endian f32 bytes, base64.
    Base64,
    /// Sign bits packed 8 per byte (first value in the high bit), as signed bytes (`ubinary − 128`).
    Binary,
    /// Sign bits packed 8 per byte, as unsigned bytes.
    Ubinary,
}

impl EmbeddingType {
    fn parse(s: &str, field: &str) -> Result<Self> {
        match s {
            "float" => Ok(Self::Float),
            "base64" => Ok(Self::Base64),
            "binary" => Ok(Self::Binary),
            "ubinary" => Ok(Self::Ubinary),
            other => Err(TriageError::validation(
                field,
                format!("'{other}' is not an embedding type: use float, base64, binary or ubinary"),
            )),
        }
    }

    /// One vector in this encoding.
    pub fn encode(self, v: &[f32]) -> Value {
        use base64::Engine as _;
        let packed = || -> Vec<u8> {
            v.chunks(8)
                .map(|c| {
                    c.iter().enumerate().fold(0u8, |byte, (i, &x)| if x > 0.0 { byte | (0x80 >> i) } else { byte })
                })
                .collect()
        };
        match self {
            Self::Float => Value::Array(v.iter().map(|&x| Value::from(x)).collect()),
            Self::Base64 => {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Self::Binary => Value::Array(packed().into_iter().map(|b| Value::from(b as i16 - 128)).collect()),
            Self::Ubinary => Value::Array(packed().into_iter().map(Value::from).collect()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Base64 => "base64",
            Self::Binary => "binary",
            Self::Ubinary => "ubinary",
        }
    }
}

/// `POST /v1/embeddings` (Jina's `EmbeddingsV3Request` shape, text inputs), also in
/// OpenAI's shape: `encoding_format` (`"float"` | `"base64"`, what OpenAI's SDKs send, base64
/// of little-endian f32 as OpenAI returns it) stands for `embedding_type`, and `user` is
/// accepted and ignored (never stored or logged). `dimensions` means the same in both.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// `None`: the engine's default model.
    pub model: Option<String>,
    pub input: Vec<String>,
    /// L2-normalise each vector (Jina's default: true).
    pub normalized: bool,
    /// One type, or several (then each item's `embedding` is an object keyed by type).
    pub embedding_types: Vec<EmbeddingType>,
    pub embedding_type_is_list: bool,
    /// Matryoshka width: the vector is cut to its first `dimensions` values (then
    /// normalised); models without Matryoshka training accept only their own width.
    pub dimensions: Option<usize>,
    /// Cut inputs longer than the model's limit instead of refusing them (Jina's default: false).
    pub truncate: bool,
    /// Task adapter (jina-embeddings-v3); `None`: the base weights, as Jina's API does.
    pub task: Option<String>,
}

fn bool_field(obj: &Map<String, Value>, field: &str, default: bool) -> Result<bool> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(TriageError::validation(field, format!("'{field}' must be true or false"))),
    }
}

impl EmbeddingsRequest {
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = object(v, "The request body")?;
        reject_unknown(
            obj,
            &[
                "model",
                "input",
                "normalized",
                "embedding_type",
                "dimensions",
                "truncate",
                "task",
                "late_chunking",
                "encoding_format",
                "user",
            ],
        )?;
        // Jina's late chunking (one pass over all inputs, pooled per input) is not
        // implemented: `false` is what every request without it means, `true` is refused
        // rather than silently embedding each input alone.
        if bool_field(obj, "late_chunking", false)? {
            return Err(TriageError::validation(
                "late_chunking",
                "'late_chunking': true is not supported by triage: each input is embedded on its own (omit it or send false)",
            ));
        }
        match obj.get("user") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(TriageError::validation("user", "'user' must be a string")),
        }
        let encoding_format = match obj.get("encoding_format") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "float" || s == "base64" => {
                Some(EmbeddingType::parse(s, "encoding_format")?)
            }
            Some(_) => {
                return Err(TriageError::validation(
                    "encoding_format",
                    "'encoding_format' must be \"float\" or \"base64\" (OpenAI's values; Jina's embedding_type has more)",
                ));
            }
        };
        let model = non_empty_string_field(obj, "model")?;
        let input = parse_one_or_many(obj.get("input"), |v, field| match parse_input_item(v, field)? {
            Input::Text(t) => Ok(t),
            Input::Image(_) => Err(TriageError::validation(
                field,
                format!("{field}: image inputs need an image model (jina-clip-v1 or jina-clip-v2)"),
            )),
        })?;
        let (embedding_types, embedding_type_is_list) = match obj.get("embedding_type") {
            None | Some(Value::Null) => (vec![encoding_format.unwrap_or(EmbeddingType::Float)], false),
            Some(Value::String(s)) => (vec![EmbeddingType::parse(s, "embedding_type")?], false),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut types = Vec::new();
                for (i, t) in items.iter().enumerate() {
                    let field = format!("embedding_type[{i}]");
                    let t = t
                        .as_str()
                        .ok_or_else(|| TriageError::validation(&field, format!("'{field}' must be a string")))?;
                    let t = EmbeddingType::parse(t, &field)?;
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                (types, true)
            }
            Some(_) => {
                return Err(TriageError::validation(
                    "embedding_type",
                    "'embedding_type' must be a string or a non-empty list of strings",
                ));
            }
        };
        // Both named: they must agree (Jina's field wins where they could differ in meaning).
        if let (Some(format), Some(_)) = (encoding_format, obj.get("embedding_type").filter(|t| !t.is_null()))
            && (embedding_type_is_list || embedding_types != [format])
        {
            return Err(TriageError::validation(
                "encoding_format",
                "'encoding_format' and 'embedding_type' name different encodings: give one of them",
            ));
        }
        let dimensions = match obj.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(d) => match d.as_u64() {
                Some(d) if d > 0 => Some(d as usize),
                _ => return Err(TriageError::validation("dimensions", "'dimensions' must be a positive integer")),
            },
        };
        Ok(Self {
            model,
            input,
            normalized: bool_field(obj, "normalized", true)?,
            embedding_types,
            embedding_type_is_list,
            dimensions,
            truncate: bool_field(obj, "truncate", false)?,
            task: parse_task(obj)?,
        })
    }
}

/// Jina's `EmbeddingUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmbeddingUsage {
    pub total_tokens: usize,
    pub prompt_tokens: usize,
}

/// Jina's `SingleEmbeddingData`: `embedding` is a list of numbers, a string (base64), a
/// list of bytes (binary/ubinary), or an object keyed by type when several were asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingData {
    pub object: &'static str,
    pub index: usize,
    pub embedding: Value,
}

/// Jina's `EmbeddingResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingResponse {
    pub model: String,
    pub object: &'static str,
    pub usage: EmbeddingUsage,
    pub data: Vec<EmbeddingData>,
}
