//! The store's error type: a domain error from an operation, or a database problem.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// An operation refused the request (validation, not found…).
    #[error(transparent)]
    Core(#[from] rapport_core::Error),
    #[error("cannot open the store at {0}")]
    Open(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(String),
    /// A sync precondition failed (`not_joined`, `clock_skew`, `already_joined`…).
    #[error("{message}")]
    Sync { code: &'static str, message: String },
}

impl Error {
    /// The machine code shells expose (`{ code, message }`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Core(e) => e.code.as_str(),
            Error::Open(_) | Error::Io(_) => "io",
            Error::Db(_) | Error::Migrate(_) => "database",
            Error::Corrupt(_) => "corrupt",
            Error::Sync { code, .. } => code,
        }
    }
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Core(e) => e.field.as_deref(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
