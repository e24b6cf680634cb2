//! The error every shell sees: `{ code, message, field }` — shells branch on `code`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> AppError {
        AppError {
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }
}

impl From<rapport_store::Error> for AppError {
    fn from(e: rapport_store::Error) -> Self {
        AppError {
            code: e.code().into(),
            message: e.to_string(),
            field: e.field().map(str::to_string),
        }
    }
}

impl From<rapport_core::Error> for AppError {
    fn from(e: rapport_core::Error) -> Self {
        rapport_store::Error::Core(e).into()
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
