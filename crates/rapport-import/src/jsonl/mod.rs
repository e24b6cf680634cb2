//! Canonical JSONL, the lossless backup: the export writes the store's definitions first
//! (statuses, custom fields, users, Smart Views: one `_record` line each, `defs`), then one
//! lead per line in id order. The import is all-or-nothing by default: every line is checked
//! (the core's rules, one id per record across the file, no record moved from another lead)
//! inside one write transaction, every bad line is reported with its number and field, and
//! anything bad rolls the whole file back; `skip_invalid` writes the valid lines instead.

mod import;
#[cfg(test)]
mod tests;

pub use import::import_jsonl;

use crate::defs;
use rapport_store::{Error, Result, Store};
use serde::Serialize;
use std::io::Write;

/// Writes the definitions, then every lead as one JSON line. Returns the number of leads.
pub async fn export_jsonl(store: &Store, mut out: impl Write) -> Result<u64> {
    let io = |e: &dyn std::fmt::Display| Error::Io(format!("cannot write: {e}"));
    for d in defs::definitions(store).await? {
        serde_json::to_writer(&mut out, &d).map_err(|e| io(&e))?;
        out.write_all(b"\n").map_err(|e| io(&e))?;
    }
    let mut after = None;
    let mut n = 0;
    loop {
        let page = store.bundles(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.lead.id);
        for b in &page {
            serde_json::to_writer(&mut out, b).map_err(|e| io(&e))?;
            out.write_all(b"\n").map_err(|e| io(&e))?;
            n += 1;
        }
    }
    out.flush().map_err(|e| io(&e))?;
    Ok(n)
}

#[derive(Debug, Clone)]
pub struct JsonlOptions {
    /// Create statuses and custom fields that lead lines use but neither the store nor the
    /// file's definition lines define (types sniffed from the values).
    pub create_missing: bool,
    /// Leads checked and written per batch (all in the one transaction).
    pub chunk: usize,
    /// Validate and report only; write nothing.
    pub dry_run: bool,
    /// Write the valid lines even when some are bad (the report still lists them).
    pub skip_invalid: bool,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            create_missing: false,
            chunk: 500,
            dry_run: false,
            skip_invalid: false,
        }
    }
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JsonlReport {
    /// Leads written (0 when the file was rolled back or for a dry run).
    pub leads: u64,
    pub records: u64,
    /// Lead lines that passed every check.
    pub valid_leads: u64,
    /// Whether anything was written.
    pub written: bool,
    pub rejected: Vec<Rejected>,
    pub created_statuses: Vec<String>,
    pub created_fields: Vec<String>,
    pub created_users: Vec<String>,
    pub created_views: Vec<String>,
    /// Definitions that matched the store's but differ, and what was kept or added.
    pub notes: Vec<String>,
}
