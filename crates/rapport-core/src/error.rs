//! The core's error type: a stable machine code, a human message and the offending field.

use serde::Serialize;

/// A stable, machine-readable error code; shells branch on it, never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field failed validation (bad email, phone, url, empty name…).
    InvalidField,
    /// A status label that is not configured.
    UnknownStatus,
    /// The record does not exist (or is deleted).
    NotFound,
    /// A record with that name already exists.
    Duplicate,
    /// Malformed input document (e.g. a JSONL line).
    BadInput,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownStatus => "unknown_status",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::BadInput => "bad_input",
        }
    }
}

/// A domain error. `field` names the offending field (`emails[0].email`, `status_label`…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            code: ErrorCode::InvalidField,
            message: message.into(),
            field: Some(field.into()),
        }
    }
    pub fn not_found(entity: &str, id: impl std::fmt::Display) -> Self {
        Error {
            code: ErrorCode::NotFound,
            message: format!("no {entity} with id {id}"),
            field: None,
        }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Error {
            code: ErrorCode::BadInput,
            message: message.into(),
            field: None,
        }
    }
    /// Prefix the field path, e.g. `emails[0]` + `email` → `emails[0].email`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_string(),
        });
        self
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
