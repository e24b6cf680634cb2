//! The error every shell sees: `{ code, message, field }` — shells branch on `code`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// For `bad_query`: the byte range of the query text to underline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// For `bad_query`: how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> AppError {
        AppError {
            code: code.into(),
            message: message.into(),
            field: None,
            span: None,
            hint: None,
        }
    }
}

impl From<rapport_store::Error> for AppError {
    fn from(e: rapport_store::Error) -> Self {
        AppError {
            code: e.code().into(),
            message: e.to_string(),
            field: e.field().map(str::to_string),
            span: None,
            hint: None,
        }
    }
}

impl From<rapport_core::Error> for AppError {
    fn from(e: rapport_core::Error) -> Self {
        rapport_store::Error::Core(e).into()
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
