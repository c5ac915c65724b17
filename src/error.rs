//! One error type for the whole engine, rendered as Jina's `ErrorResponse`
//! (`{"code", "detail"}`) with the HTTP status Jina uses for that code.
//!
//! Codes follow `components.responses` of Jina's 2026 OpenAPI schema. Jina answers a
//! request that fails schema validation with a 422 `HTTPValidationError`
//! (`detail` + `errors[]`, no code); triage gives those the code `INPUT_VALIDATION_ERROR`
//! so that every error a caller sees has a machine-readable code.
//!
//! Every error also carries OpenAI's error object (`error: {message, type, code, param}`):
//! the OpenAI SDKs read only that object, so without it an application calling
//! `/v1/embeddings` through them sees "400 status code (no body)" instead of the reason.
//! Jina's schema allows the extra property; Jina's `code` and `detail` stay as they are.

use serde::Serialize;

/// Every way a request can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TriageError {
    /// The request does not fit the schema or Jina's limits (HTTP 422).
    #[error("{detail}")]
    Validation { field: String, detail: String },
    /// `model` names no model triage knows (HTTP 400).
    #[error("Model '{model}' not found. Available models: {available}")]
    ModelNotFound { model: String, available: String },
    /// Training labels are unusable: fewer than two distinct, or empty (HTTP 400).
    #[error("{0}")]
    InvalidLabels(String),
    /// Too many labels, groups or labels in a group (HTTP 400).
    #[error("Label limit exceeded: {current} labels provided, maximum {max} allowed. {hint}")]
    LabelLimitExceeded { current: usize, max: usize, hint: String },
    /// A classifier id that does not exist (HTTP 404).
    #[error("{kind} '{id}' not found or access denied. Verify the ID and your permissions.")]
    NotFound { kind: &'static str, id: String },
    /// A classifier was changed by someone else between read and write (HTTP 409).
    #[error("{kind} '{id}' is currently being modified. Please retry after a few moments.")]
    Conflict { kind: &'static str, id: String },
    /// The device's storage for classifiers is full (the browser's quota) (HTTP 403).
    #[error("Resource limit exceeded: {0}")]
    StorageFull(String),
    /// Model files are missing or do not match the registry (HTTP 503).
    #[error("{0}")]
    ModelUnavailable(String),
    /// A server with API keys got none, a malformed or an unknown one (HTTP 401). `code` is
    /// one of Jina's `AUTH_MISSING_API_KEY`, `AUTH_INVALID_FORMAT`, `AUTH_INVALID_API_KEY`.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// A caller sent more requests than the server's rate limit allows (HTTP 429). `code` is
    /// Jina's `RATE_REQUEST_LIMIT_EXCEEDED` (per key) or `RATE_IP_LIMIT_EXCEEDED` (per address).
    #[error("{detail}")]
    RateLimited { code: &'static str, detail: String, retry_after_secs: u64 },
    /// The request took longer than the server allows (HTTP 504).
    #[error("Request timed out after {0} seconds. Try with smaller inputs or retry later.")]
    Timeout(u64),
    /// Anything else: I/O, a backend failure, a corrupt stored record (HTTP 500).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = TriageError> = std::result::Result<T, E>;

/// Jina's `ErrorResponse`, plus the `errors` list of its 422 `HTTPValidationError` and
/// OpenAI's `error` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorResponse {
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    pub error: OpenAiError,
}

/// OpenAI's error object: `code` is Jina's code, `param` the request field at fault.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenAiError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'static str,
    pub param: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl TriageError {
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        TriageError::Validation { field: field.into(), detail: detail.into() }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        TriageError::Internal(format!("{context}: {err}"))
    }

    /// Jina's machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TriageError::Validation { .. } => "INPUT_VALIDATION_ERROR",
            TriageError::ModelNotFound { .. } => "INPUT_MODEL_NOT_FOUND",
            TriageError::InvalidLabels(_) => "INPUT_INVALID_LABELS",
            TriageError::LabelLimitExceeded { .. } => "INPUT_LABEL_LIMIT_EXCEEDED",
            TriageError::NotFound { .. } => "RESOURCE_NOT_FOUND",
            TriageError::Conflict { .. } => "CONFLICT_RESOURCE_BUSY",
            TriageError::StorageFull(_) => "AUTHZ_RESOURCE_LIMIT_EXCEEDED",
            TriageError::ModelUnavailable(_) => "SERVICE_UNAVAILABLE",
            TriageError::Unauthorized { code, .. } | TriageError::RateLimited { code, .. } => code,
            TriageError::Timeout(_) => "SERVICE_TIMEOUT",
            TriageError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status Jina answers this code with.
    pub fn http_status(&self) -> u16 {
        match self {
            TriageError::Validation { .. } => 422,
            TriageError::ModelNotFound { .. }
            | TriageError::InvalidLabels(_)
            | TriageError::LabelLimitExceeded { .. } => 400,
            TriageError::StorageFull(_) => 403,
            TriageError::NotFound { .. } => 404,
            TriageError::Conflict { .. } => 409,
            TriageError::ModelUnavailable(_) => 503,
            TriageError::Unauthorized { .. } => 401,
            TriageError::RateLimited { .. } => 429,
            TriageError::Timeout(_) => 504,
            TriageError::Internal(_) => 500,
        }
    }

    /// OpenAI's error `type` for this error's status.
    fn openai_type(&self) -> &'static str {
        match self.http_status() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }

    pub fn to_response(&self) -> ErrorResponse {
        let (errors, param) = match self {
            TriageError::Validation { field, detail } => (
                vec![FieldError { field: field.clone(), message: detail.clone(), kind: "value_error" }],
                Some(field.clone()),
            ),
            TriageError::ModelNotFound { .. } => (Vec::new(), Some("model".to_string())),
            _ => (Vec::new(), None),
        };
        let detail = self.to_string();
        let error = OpenAiError { message: detail.clone(), kind: self.openai_type(), code: self.code(), param };
        ErrorResponse { code: self.code(), detail, errors, error }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_response())
            .unwrap_or_else(|_| format!("{{\"code\":\"{}\",\"detail\":\"\"}}", self.code()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_jina_error_response() {
        let e = TriageError::NotFound { kind: "Classifier", id: "abc".into() };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], "RESOURCE_NOT_FOUND");
        assert_eq!(v["detail"], "Classifier 'abc' not found or access denied. Verify the ID and your permissions.");
        assert!(v.get("errors").is_none());
        assert_eq!(e.http_status(), 404);
        let v = TriageError::validation("input", "bad").to_response();
        assert_eq!(v.errors[0].field, "input");
    }

    #[test]
    fn carries_openai_error_object() {
        let v: serde_json::Value = serde_json::from_str(&TriageError::validation("input", "bad").to_json()).unwrap();
        assert_eq!(
            v["error"],
            serde_json::json!({"message": "bad", "type": "invalid_request_error", "code": "INPUT_VALIDATION_ERROR", "param": "input"})
        );
        let e = TriageError::ModelNotFound { model: "gpt-9".into(), available: "x".into() };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["message"], v["detail"]);
        let v: serde_json::Value = serde_json::from_str(&TriageError::Internal("boom".into()).to_json()).unwrap();
        assert_eq!((v["error"]["type"].as_str(), v["error"]["param"].is_null()), (Some("server_error"), true));
    }
}
