//! What an import takes and returns: its options, the progress reports (rows and bytes, rate,
//! time left) and the summary (created / updated / skipped, problems, preview).

use super::Problem;
use super::mapping::{Mapping, MatchKey, UnknownColumns};
use super::merge::Counts;
use super::source::MAX_RECORD_BYTES;
use rapport_core::LeadBundle;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CsvImportOptions {
    /// Check everything and preview; write nothing (not even the error CSV).
    pub dry_run: bool,
    /// Continue the interrupted import of this file (its mapping is reused).
    pub resume: bool,
    /// Rows per transaction (a chunk may run longer to keep a company's rows together).
    pub chunk_rows: usize,
    /// New leads kept in the summary's `preview` (dry run).
    pub preview_leads: usize,
    pub max_record_bytes: usize,
    /// Overrides the mapping's `match`.
    pub match_on: Option<Vec<MatchKey>>,
    /// Overrides the mapping's `unknown_columns`.
    pub unknown_columns: Option<UnknownColumns>,
}

impl Default for CsvImportOptions {
    fn default() -> Self {
        CsvImportOptions {
            dry_run: false,
            resume: false,
            chunk_rows: 5000,
            preview_leads: 20,
            max_record_bytes: MAX_RECORD_BYTES,
            match_on: None,
            unknown_columns: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Scanning,
    Matching,
    Importing,
    Done,
}

/// Reported after the scan steps and after every chunk.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub rows_done: u64,
    pub rows_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub rows_per_sec: f64,
    pub eta_secs: Option<f64>,
    pub leads_created: u64,
    pub leads_updated: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    pub import_id: Option<String>,
    pub dry_run: bool,
    pub cancelled: bool,
    /// Continued after the chunks an interrupted run committed.
    pub resumed: bool,
    /// Said to the user before the summary (e.g. a `--resume` that had nothing to resume).
    pub notice: Option<String>,
    pub encoding: String,
    pub delimiter: String,
    pub rows_total: u64,
    /// Rows read so far (all of them unless cancelled).
    pub rows_done: u64,
    pub rows_imported: u64,
    pub rows_failed: u64,
    pub rows_blank: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub created_fields: Vec<String>,
    pub created_statuses: Vec<String>,
    /// Owner names no user matched (those leads keep the importing user).
    pub unmatched_owners: Vec<String>,
    /// Every failed line (capped at 10,000; all of them are in the error CSV).
    pub problems: Vec<Problem>,
    pub errors_file: Option<String>,
    /// The first new leads as they are (or would be) created.
    pub preview: Vec<LeadBundle>,
    pub mapping: Option<Mapping>,
    pub seconds: f64,
}
