//! CSV import and export for 100k–1M leads: the file is streamed (never held in memory),
//! its encoding, delimiter and header sniffed, its columns mapped (suggested or from a saved
//! JSON mapping), rows grouped into leads with contacts, matched against the store (upsert),
//! and written in chunks through the bulk path — each chunk one transaction together with the
//! import's checkpoint, so an interrupted import resumes without duplicates. Bad lines go to
//! `FILE.errors.csv`; the rest imports. Never touches the network or Tauri.

mod bench;
mod duplicates;
mod errors_file;
mod export;
mod framing;
mod import;
mod index;
mod mapping;
mod merge;
mod reader;
mod row;
mod sample;
mod source;
mod suggest;
mod summary;
mod values;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_input;
#[cfg(test)]
mod tests_resume;

pub use bench::{BenchCsv, generate_bench_csv};
pub use duplicates::{DuplicateGroup, loose_name, possible_duplicates};
pub use export::{CsvExportReport, CsvExporter, export_csv};
pub use import::import_csv;
pub use mapping::{Mapping, MatchKey, Target, UnknownColumns};
pub use merge::Counts;
pub use sample::{SwitchboardCsv, comparable_export, generate_switchboard_csv};
pub use source::{MAX_RECORD_BYTES, Preview, preview_csv};
pub use summary::{CsvImportOptions, ImportSummary, Phase, Progress};

use serde::{Deserialize, Serialize};

/// Why a CSV import or export stopped. `code` is stable; shells branch on it.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file or the mapping cannot be imported; nothing was written.
    #[error("{message}")]
    Input { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] rapport_store::Error),
}

impl CsvError {
    pub(crate) fn input(code: &'static str, message: impl Into<String>) -> CsvError {
        CsvError::Input {
            code,
            message: message.into(),
        }
    }
    pub(crate) fn io(what: impl std::fmt::Display, e: impl std::fmt::Display) -> CsvError {
        CsvError::input("io", format!("{what}: {e}"))
    }
    /// `csv_empty`, `csv_no_rows`, `csv_binary`, `csv_header`, `csv_mapping`,
    /// `csv_resume`, `io`, or the store's code.
    pub fn code(&self) -> &str {
        match self {
            CsvError::Input { code, .. } => code,
            CsvError::Store(e) => e.code(),
        }
    }
}

impl From<rapport_core::Error> for CsvError {
    fn from(e: rapport_core::Error) -> Self {
        CsvError::Store(e.into())
    }
}

/// A line that was not imported (also a row of `FILE.errors.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// 1-based line where the record starts in the file.
    pub line: u64,
    /// The column at fault, when there is one.
    pub column: Option<String>,
    pub reason: String,
}
