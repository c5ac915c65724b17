//! Request and response types of Jina's Classifier API, validated up front.
//!
//! Follows `ClassificationResponse`, `TrainingResponse`, `ClassifierSummary`,
//! `FewShotClassificationRequest`, the `*ZeroShotClassificationRequest`s,
//! `*CreateTrainingRequest`s and `UpdateTrainingRequest` of Jina's 2026 OpenAPI schema, and
//! accepts the 2024 shapes too (`ClassificationAPIInput`, `TrainingAPIInput`: a single
//! training item instead of a list, `access` on create only).
//!
//! Requests are read in two steps: serde reads the body into its wire shape (`ClassifyBody`,
//! `TrainBody`, `EmbeddingsBody`; unknown fields refused, as Jina's schemas declare no
//! others), tracking the path so a malformed value gets an error naming it (`input[3]`,
//! `labels.topic[2]`); then the `check_*` functions apply the rules a schema cannot state
//! (limits, blank labels, text or image) and build the request types. Nothing here touches a
//! model or the store: a request that parses is within every limit that can be checked
//! without tokenizing.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;
use serde_path_to_error::Segment;

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
/// Bytes of one text input: 64 per token of [`MAX_TOKENS_PER_INPUT`] (real text averages
/// 3–6). Longer texts are refused before tokenizing, which would otherwise cost seconds of
/// CPU per megabyte only to be truncated.
pub const MAX_TEXT_BYTES: usize = MAX_TOKENS_PER_INPUT * 64;
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
#[cfg_attr(test, derive(ts_rs::TS))]
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

// ---------------------------------------------------------------------------------------
// Requests as they arrive: serde shapes, read with the path of any bad value
// (`input[3]`, `labels.topic[2]`), then checked into the types above.
// ---------------------------------------------------------------------------------------

/// Jina's `POST /v1/classify` body, both schemas' fields.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    model: Option<String>,
    classifier_id: Option<String>,
    #[cfg_attr(test, ts(type = "OneOrMany<InputItem>"))]
    input: Option<OneOrMany<InputItem>>,
    labels: Option<LabelsBody>,
    /// Softmax temperature over cosine similarities (triage extension; default 1).
    temperature: Option<f64>,
    /// Task adapter for inputs and labels (triage extension; default: the model's
    /// classification task).
    #[cfg_attr(test, ts(optional, type = "Task"))]
    task: Option<String>,
}

/// Jina's `POST /v1/train` body (2024: `input` may be one item).
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainBody {
    model: Option<String>,
    classifier_id: Option<String>,
    #[cfg_attr(test, ts(type = "OneOrMany<TrainItemBody>"))]
    input: Option<OneOrMany<TrainItemBody>>,
    #[cfg_attr(test, ts(optional, type = "Access"))]
    access: Option<String>,
    /// Training passes, 1–100 (default 10).
    #[cfg_attr(test, ts(optional, type = "number"))]
    num_iters: Option<u64>,
    /// Task adapter the classifier's examples and later inputs are embedded with (triage
    /// extension; default: the model's classification task). Chosen once, at creation.
    #[cfg_attr(test, ts(optional, type = "Task"))]
    task: Option<String>,
}

/// One training example: a text or an image with its label.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = r#"{"text" or "image", "label"}"#)]
struct TrainItemBody {
    text: Option<String>,
    image: Option<String>,
    #[cfg_attr(test, ts(type = "string"))]
    label: Option<String>,
}

/// `{"text": …}` or `{"image": …}`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = r#"{"text": string} or {"image": string}"#)]
struct DocBody {
    text: Option<String>,
    image: Option<String>,
}

/// `POST /v1/embeddings` in Jina's and OpenAI's shapes.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingsBody {
    model: Option<String>,
    #[cfg_attr(test, ts(type = "OneOrMany<InputItem>"))]
    input: Option<OneOrMany<InputItem>>,
    /// L2-normalise each vector (default true).
    normalized: Option<bool>,
    embedding_type: Option<OneOrMany<EmbeddingType>>,
    #[cfg_attr(test, ts(optional, type = "number"))]
    dimensions: Option<u64>,
    truncate: Option<bool>,
    /// Task adapter (jina-embeddings-v3, jina-clip-v2); default: the base weights.
    #[cfg_attr(test, ts(optional, type = "Task"))]
    task: Option<String>,
    /// Accepted when false; true is refused (not implemented).
    late_chunking: Option<bool>,
    /// OpenAI's name for the encoding; must agree with `embedding_type` if both are given.
    #[cfg_attr(test, ts(optional, type = "\"float\" | \"base64\""))]
    encoding_format: Option<EmbeddingType>,
    /// OpenAI's end-user id: accepted, never stored or logged.
    #[allow(dead_code)]
    user: Option<String>,
}

/// A value or a list of them (Jina's `input` and `embedding_type`).
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(untagged))]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// An `input` item: a bare string is a text.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(untagged))]
enum InputItem {
    Text(String),
    Doc(DocBody),
}

/// `labels`: a list, or named groups in the order given.
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(untagged))]
enum LabelsBody {
    List(Vec<String>),
    Groups(#[cfg_attr(test, ts(type = "Record<string, string[]>"))] Vec<(String, Vec<String>)>),
}

// Hand-written visitors only where serde's derive cannot say it: these three dispatch on
// the JSON kind without buffering (as `untagged` would), so a bad value deep inside still
// gets its exact path.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one item or a list of items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(s)).map(OneOrMany::One)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InputItem;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a string, {"text": string} or {"image": string}"#)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(InputItem::Text(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
                DocBody::deserialize(de::value::MapAccessDeserializer::new(map)).map(InputItem::Doc)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for LabelsBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LabelsBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of strings or a dict of lists")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(LabelsBody::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
                let mut groups = Vec::new();
                while let Some(group) = map.next_entry()? {
                    groups.push(group);
                }
                Ok(LabelsBody::Groups(groups))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a field must be, said instead of serde's wording when its value has the wrong type.
const FIELD_RULES: &[(&str, &str)] = &[
    ("num_iters", "'num_iters' must be an integer from 1 to 100"),
    ("temperature", "'temperature' must be a number greater than 0 and at most 100"),
    ("access", "'access' must be 'public' or 'private'"),
    ("dimensions", "'dimensions' must be a positive integer"),
    ("embedding_type", "'embedding_type' must be one of float, base64, binary, ubinary, or a non-empty list of them"),
    (
        "encoding_format",
        "'encoding_format' must be \"float\" or \"base64\" (OpenAI's values; Jina's embedding_type has more)",
    ),
    ("labels", "'labels' must be a list of strings or a dict of lists"),
];

/// The rule of a field of [`FIELD_RULES`].
fn field_rule(name: &str) -> &'static str {
    FIELD_RULES.iter().find(|(field, _)| *field == name).map_or("invalid value", |(_, rule)| rule)
}

/// Reads a request body into its serde shape; a bad value is Jina's validation error naming
/// its path (`input[3]`, `labels.topic[2]`, the unknown field's name).
fn read_body<'de, T: Deserialize<'de>>(v: &'de Value) -> Result<T> {
    if !v.is_object() {
        return Err(TriageError::validation("body", "The request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut field = String::new();
        let mut parent = String::new();
        for segment in e.path().iter() {
            parent.clone_from(&field);
            match segment {
                Segment::Seq { index } => field.push_str(&format!("[{index}]")),
                Segment::Map { key } if field.is_empty() => field.push_str(key),
                Segment::Map { key } => field.push_str(&format!(".{key}")),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        let detail = e.inner().to_string();
        // An unknown field: serde's path ends at its key, and its message ("unknown field
        // `x`, expected one of `a`, `b`") lists the allowed ones.
        if let Some(Segment::Map { key }) = e.path().iter().next_back()
            && let Some(rest) = detail.strip_prefix(&format!("unknown field `{key}`"))
        {
            let allowed = rest.trim_start_matches(", expected one of ").trim_start_matches(", expected ");
            let allowed = allowed.replace('`', "").replace(" or ", ", ");
            let at = if parent.is_empty() { String::new() } else { format!("{parent}: ") };
            return TriageError::validation(field, format!("{at}Unknown field '{key}'. Allowed fields: {allowed}"));
        }
        if field.is_empty() {
            return TriageError::validation("body", detail);
        }
        let top = field.split(['.', '[']).next().unwrap_or_default();
        match FIELD_RULES.iter().find(|(name, _)| *name == top) {
            Some((_, rule)) if !field.starts_with("labels") || field == "labels" => {
                TriageError::validation(field, *rule)
            }
            _ => TriageError::validation(field.clone(), format!("{field}: {detail}")),
        }
    })
}

/// A given, non-blank string field (`model`, `classifier_id`).
fn non_empty(value: Option<String>, field: &str) -> Result<Option<String>> {
    match value {
        Some(s) if s.trim().is_empty() => Err(TriageError::validation(field, format!("'{field}' must not be empty"))),
        other => Ok(other),
    }
}

fn check_image(i: String, field: &str) -> Result<Input> {
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
    crate::image::parse_ref(&i).map_err(|m| TriageError::validation(field, format!("{field}: {m}")))?;
    Ok(Input::Image(i))
}

fn check_text(text: String, field: &str) -> Result<Input> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TriageError::validation(
            field,
            format!(
                "{field}: the text is {} bytes; at most {MAX_TEXT_BYTES} are accepted ({MAX_TOKENS_PER_INPUT} tokens are read)",
                text.len()
            ),
        ));
    }
    Ok(Input::Text(text))
}

fn check_doc(text: Option<String>, image: Option<String>, field: &str) -> Result<Input> {
    match (text, image) {
        (Some(t), None) => check_text(t, field),
        (None, Some(i)) => check_image(i, field),
        (Some(_), Some(_)) => {
            Err(TriageError::validation(field, format!("{field}: give either 'text' or 'image', not both")))
        }
        (None, None) => Err(TriageError::validation(
            field,
            format!("{field}: expected {{\"text\": string}} or {{\"image\": string}}"),
        )),
    }
}

fn check_input_item(item: InputItem, field: &str) -> Result<Input> {
    match item {
        InputItem::Text(t) => check_text(t, field),
        InputItem::Doc(DocBody { text, image }) => check_doc(text, image, field),
    }
}

/// `input` present, one item or a non-empty list of at most [`MAX_INPUTS`], each checked by
/// `check` with its field name (`input` or `input[i]`).
fn check_inputs<T, U>(input: Option<OneOrMany<T>>, check: impl Fn(T, &str) -> Result<U>) -> Result<Vec<U>> {
    match input.ok_or_else(|| TriageError::validation("input", "'input' is required"))? {
        OneOrMany::One(item) => Ok(vec![check(item, "input")?]),
        OneOrMany::Many(items) if items.is_empty() => {
            Err(TriageError::validation("input", "'input' must not be an empty list"))
        }
        OneOrMany::Many(items) if items.len() > MAX_INPUTS => Err(TriageError::validation(
            "input",
            format!("'input' has {} items; at most {MAX_INPUTS} are allowed", items.len()),
        )),
        OneOrMany::Many(items) => {
            items.into_iter().enumerate().map(|(i, item)| check(item, &format!("input[{i}]"))).collect()
        }
    }
}

/// Folds repeated labels into one; the first occurrence keeps its place.
pub fn distinct_labels(labels: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    labels.iter().filter(|l| seen.insert(l.as_str())).cloned().collect()
}

/// No blank label in `list` (named `field`), repeats folded.
fn check_label_list(list: Vec<String>, field: &str) -> Result<Vec<String>> {
    if let Some(i) = list.iter().position(|l| l.trim().is_empty()) {
        return Err(TriageError::InvalidLabels(format!(
            "Invalid labels: {field}[{i}] is empty. Labels must be non-empty strings."
        )));
    }
    Ok(distinct_labels(&list))
}

fn check_labels(labels: Option<LabelsBody>) -> Result<Labels> {
    match labels {
        None => Err(TriageError::validation("labels", "'labels' is required for zero-shot classification")),
        Some(LabelsBody::List(list)) if list.len() > MAX_LABELS => Err(TriageError::LabelLimitExceeded {
            current: list.len(),
            max: MAX_LABELS,
            hint: "Reduce the number of labels.".into(),
        }),
        Some(LabelsBody::List(list)) if list.is_empty() => {
            Err(TriageError::InvalidLabels("Invalid labels: at least 1 label is required.".into()))
        }
        Some(LabelsBody::List(list)) => Ok(Labels::List(check_label_list(list, "labels")?)),
        Some(LabelsBody::Groups(groups)) if groups.is_empty() => {
            Err(TriageError::InvalidLabels("Invalid labels: the label dict has no groups.".into()))
        }
        Some(LabelsBody::Groups(groups)) if groups.len() > MAX_LABEL_GROUPS => Err(TriageError::LabelLimitExceeded {
            current: groups.len(),
            max: MAX_LABEL_GROUPS,
            hint: format!("A label dict holds at most {MAX_LABEL_GROUPS} groups."),
        }),
        Some(LabelsBody::Groups(groups)) => groups
            .into_iter()
            .map(|(name, list)| {
                if list.len() > MAX_LABELS_PER_GROUP {
                    return Err(TriageError::LabelLimitExceeded {
                        current: list.len(),
                        max: MAX_LABELS_PER_GROUP,
                        hint: format!("Group '{name}' holds more than {MAX_LABELS_PER_GROUP} labels."),
                    });
                }
                if list.is_empty() {
                    return Err(TriageError::InvalidLabels(format!("Invalid labels: group '{name}' has no labels.")));
                }
                let list = check_label_list(list, &format!("labels.{name}"))?;
                Ok((name, list))
            })
            .collect::<Result<_>>()
            .map(Labels::Groups),
    }
}

/// Jina's task names (`EmbeddingsV3Request.task`).
pub const TASKS: &[&str] = &["retrieval.query", "retrieval.passage", "text-matching", "classification", "separation"];

/// The optional `task` field: one of Jina's task names. Whether the model has it is the
/// engine's check.
fn check_task(task: Option<String>) -> Result<Option<String>> {
    match task {
        Some(t) if !TASKS.contains(&t.as_str()) => {
            Err(TriageError::validation("task", format!("'task' must be one of {}, not '{t}'", TASKS.join(", "))))
        }
        other => Ok(other),
    }
}

/// Requests about an existing classifier take its task; they may not name one.
fn refuse_task_with_classifier(task: &Option<String>) -> Result<()> {
    match task {
        Some(_) => Err(TriageError::validation(
            "task",
            "'task' is chosen when a classifier is created; requests naming 'classifier_id' use the classifier's",
        )),
        None => Ok(()),
    }
}

fn model_or_classifier(
    model: Option<String>,
    classifier_id: Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    let model = non_empty(model, "model")?;
    let classifier_id = non_empty(classifier_id, "classifier_id")?;
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
        let body: ClassifyBody = read_body(v)?;
        let (model, classifier_id) = model_or_classifier(body.model, body.classifier_id)?;
        let input = check_inputs(body.input, check_input_item)?;
        if let Some(classifier_id) = classifier_id {
            refuse_task_with_classifier(&body.task)?;
            if body.labels.is_some() {
                return Err(TriageError::validation(
                    "labels",
                    "'labels' belong to zero-shot requests; a classifier already knows its labels",
                ));
            }
            return Ok(ClassifyRequest::FewShot { classifier_id, input });
        }
        let labels = check_labels(body.labels)?;
        let temperature = match body.temperature {
            None => 1.0,
            Some(t) if t.is_finite() && t > 0.0 && t <= 100.0 => t as f32,
            Some(_) => return Err(TriageError::validation("temperature", field_rule("temperature"))),
        };
        Ok(ClassifyRequest::ZeroShot(ZeroShotRequest {
            model,
            input,
            labels,
            temperature,
            task: check_task(body.task)?,
        }))
    }
}

fn check_train_item(item: TrainItemBody, field: &str) -> Result<TrainItem> {
    let label = match item.label {
        Some(l) if !l.trim().is_empty() => l,
        Some(_) => return Err(TriageError::InvalidLabels(format!("Invalid training labels: {field}.label is empty."))),
        None => return Err(TriageError::validation(field, format!("{field}: 'label' is required"))),
    };
    Ok(TrainItem { input: check_doc(item.text, item.image, field)?, label })
}

impl TrainRequest {
    pub fn from_json(v: &Value) -> Result<Self> {
        let body: TrainBody = read_body(v)?;
        let (model, classifier_id) = model_or_classifier(body.model, body.classifier_id)?;
        let input = check_inputs(body.input, check_train_item)?;
        let num_iters = match body.num_iters {
            None => DEFAULT_NUM_ITERS,
            Some(n) if NUM_ITERS_RANGE.contains(&(n.min(u32::MAX as u64) as u32)) => n as u32,
            Some(_) => return Err(TriageError::validation("num_iters", field_rule("num_iters"))),
        };
        if let Some(classifier_id) = classifier_id {
            refuse_task_with_classifier(&body.task)?;
            // 2024 schema: `access` is ignored when updating.
            return Ok(TrainRequest::Update { classifier_id, input, num_iters });
        }
        let access = match body.access.as_deref() {
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
        Ok(TrainRequest::Create { model, input, access, num_iters, task: check_task(body.task)? })
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

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationPrediction {
    #[cfg_attr(test, ts(type = "\"classification\""))]
    pub object: &'static str,
    pub index: usize,
    /// A label, or one per label group when `labels` was a dict.
    #[cfg_attr(test, ts(type = "string | Record<string, string>"))]
    pub prediction: PerGroup<String>,
    #[cfg_attr(test, ts(type = "number | Record<string, number>"))]
    pub score: PerGroup<f32>,
    #[cfg_attr(test, ts(type = "LabelScore[] | Record<string, LabelScore[]>"))]
    pub predictions: PerGroup<Vec<LabelScore>>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    pub total_tokens: usize,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationResponse {
    pub usage: Usage,
    pub data: Vec<ClassificationPrediction>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingResponse {
    pub classifier_id: String,
    pub num_samples: usize,
    pub usage: Usage,
}

/// Jina's `ClassifierSummary`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierSummary {
    pub classifier_id: String,
    pub user_id: String,
    pub model: String,
    pub labels: Vec<String>,
    pub access: Access,
    #[cfg_attr(test, ts(type = "number"))]
    pub updated_number: u64,
    #[cfg_attr(test, ts(type = "number"))]
    pub used_number: u64,
    pub created_at: String,
    pub updated_at: String,
    pub used_at: Option<String>,
    pub is_active: bool,
    pub is_latest: bool,
    #[cfg_attr(test, ts(type = "{ num_samples: number; samples_per_label: Record<string, number>; dim: number }"))]
    pub metadata_: Value,
}

#[cfg_attr(test, derive(ts_rs::TS))]
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
    fn errors_name_the_bad_value_by_its_path() {
        let field_and_message = |v: Value| {
            let e = ClassifyRequest::from_json(&v).unwrap_err();
            assert_eq!(e.code(), "INPUT_VALIDATION_ERROR", "{v}");
            let r = e.to_response();
            (r.errors[0].field.clone(), r.errors[0].message.clone())
        };
        let (field, message) = field_and_message(json!({"input": ["a", {"text": 5}], "labels": ["x"]}));
        assert_eq!(field, "input[1].text");
        assert!(message.contains("expected a string"), "{message}");
        assert_eq!(field_and_message(json!({"input": "a", "labels": {"g": ["x", 3]}})).0, "labels.g[1]");
        assert_eq!(field_and_message(json!({"input": [42], "labels": ["x"]})).0, "input[0]");
        assert_eq!(
            field_and_message(json!({"input": "a", "labels": ["x"], "lables": []})),
            (
                "lables".to_string(),
                "Unknown field 'lables'. Allowed fields: model, classifier_id, input, labels, temperature, task".into()
            )
        );
        assert_eq!(
            field_and_message(json!({"input": [{"text": "a", "foo": 1}], "labels": ["x"]})),
            ("input[0].foo".to_string(), "input[0]: Unknown field 'foo'. Allowed fields: text, image".into())
        );
        // Wrong types of fields with a stated rule get the rule, not serde's wording.
        assert_eq!(
            field_and_message(json!({"input": "a", "labels": ["x"], "temperature": "hot"})).1,
            "'temperature' must be a number greater than 0 and at most 100"
        );
    }

    #[test]
    fn per_group_serialises_as_map() {
        let p = PerGroup::Groups(vec![("b".to_string(), 1.0f32), ("a".to_string(), 2.0)]);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"b":1.0,"a":2.0}"#);
    }
}

/// How `POST /v1/embeddings` returns each vector (`embedding_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
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

impl EmbeddingsRequest {
    pub fn from_json(v: &Value) -> Result<Self> {
        let body: EmbeddingsBody = read_body(v)?;
        // Jina's late chunking (one pass over all inputs, pooled per input) is not
        // implemented: `false` is what every request without it means, `true` is refused
        // rather than silently embedding each input alone.
        if body.late_chunking == Some(true) {
            return Err(TriageError::validation(
                "late_chunking",
                "'late_chunking': true is not supported by triage: each input is embedded on its own (omit it or send false)",
            ));
        }
        if body.encoding_format.is_some_and(|f| !matches!(f, EmbeddingType::Float | EmbeddingType::Base64)) {
            return Err(TriageError::validation("encoding_format", field_rule("encoding_format")));
        }
        let model = non_empty(body.model, "model")?;
        let input = check_inputs(body.input, |item, field| match check_input_item(item, field)? {
            Input::Text(t) => Ok(t),
            Input::Image(_) => Err(TriageError::validation(
                field,
                format!("{field}: image inputs need an image model (jina-clip-v1 or jina-clip-v2)"),
            )),
        })?;
        let (embedding_types, embedding_type_is_list) = match body.embedding_type {
            None => (vec![body.encoding_format.unwrap_or(EmbeddingType::Float)], false),
            Some(OneOrMany::One(t)) => (vec![t], false),
            Some(OneOrMany::Many(types)) if types.is_empty() => {
                return Err(TriageError::validation("embedding_type", field_rule("embedding_type")));
            }
            Some(OneOrMany::Many(types)) => {
                let mut distinct = Vec::new();
                for t in types {
                    if !distinct.contains(&t) {
                        distinct.push(t);
                    }
                }
                (distinct, true)
            }
        };
        // Both named: they must agree (Jina's field wins where they could differ in meaning).
        if let Some(format) = body.encoding_format
            && (embedding_type_is_list || embedding_types != [format])
        {
            return Err(TriageError::validation(
                "encoding_format",
                "'encoding_format' and 'embedding_type' name different encodings: give one of them",
            ));
        }
        let dimensions = match body.dimensions {
            None => None,
            Some(d) if d > 0 => Some(d as usize),
            Some(_) => return Err(TriageError::validation("dimensions", field_rule("dimensions"))),
        };
        Ok(Self {
            model,
            input,
            normalized: body.normalized.unwrap_or(true),
            embedding_types,
            embedding_type_is_list,
            dimensions,
            truncate: body.truncate.unwrap_or(false),
            task: check_task(body.task)?,
        })
    }
}

/// Jina's `EmbeddingUsage`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmbeddingUsage {
    pub total_tokens: usize,
    pub prompt_tokens: usize,
}

/// Jina's `SingleEmbeddingData`: `embedding` is a list of numbers, a string (base64), a
/// list of bytes (binary/ubinary), or an object keyed by type when several were asked for.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingData {
    #[cfg_attr(test, ts(type = "\"embedding\""))]
    pub object: &'static str,
    pub index: usize,
    #[cfg_attr(test, ts(type = "number[] | string | Record<string, number[] | string>"))]
    pub embedding: Value,
}

/// Jina's `EmbeddingResponse`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingResponse {
    pub model: String,
    #[cfg_attr(test, ts(type = "\"list\""))]
    pub object: &'static str,
    pub usage: EmbeddingUsage,
    pub data: Vec<EmbeddingData>,
}

/// `pkg/api.d.ts` is generated from the types above, so the package's TypeScript cannot
/// drift from what the engine reads and writes: this test fails while the file differs, and
/// `TRIAGE_WRITE_TYPES=1 cargo test --lib api::typescript` rewrites it.
#[cfg(test)]
mod typescript {
    use super::*;
    use ts_rs::TS;

    fn declarations() -> String {
        let tasks: Vec<String> = TASKS.iter().map(|t| format!("\"{t}\"")).collect();
        let mut out = String::from(
            "// Generated from src/api.rs by `TRIAGE_WRITE_TYPES=1 cargo test --lib api::typescript`: do not edit.\n\
             // The wire shapes of Jina's Classifier API as triage reads (…Body) and writes them.\n\n",
        );
        out += &format!("/** Jina's task adapters. */\nexport type Task = {};\n", tasks.join(" | "));
        for decl in [
            Access::decl(),
            EmbeddingType::decl(),
            <OneOrMany<()>>::decl(),
            DocBody::decl(),
            InputItem::decl(),
            LabelsBody::decl(),
            ClassifyBody::decl(),
            TrainItemBody::decl(),
            TrainBody::decl(),
            EmbeddingsBody::decl(),
            LabelScore::decl(),
            ClassificationPrediction::decl(),
            Usage::decl(),
            ClassificationResponse::decl(),
            TrainingResponse::decl(),
            ClassifierSummary::decl(),
            DeleteResponse::decl(),
            EmbeddingUsage::decl(),
            EmbeddingData::decl(),
            EmbeddingResponse::decl(),
        ] {
            out += &format!("export {decl}\n");
        }
        out
    }

    #[test]
    fn typescript_types_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/api.d.ts");
        let generated = declarations();
        if std::env::var_os("TRIAGE_WRITE_TYPES").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "pkg/api.d.ts differs from the Rust types: run `TRIAGE_WRITE_TYPES=1 cargo test --lib api::typescript`"
        );
    }
}
