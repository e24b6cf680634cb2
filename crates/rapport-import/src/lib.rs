//! Imports and exports. JSONL is the canonical interchange format and the backup (definition
//! lines, then one lead per line with everything nested; schema in `schema/lead.schema.json`):
//! export then import into an empty store reproduces it.
//! CSV is the spreadsheet format: streamed, mapped, grouped, deduplicated and resumable.

pub mod csv;
pub mod defs;
pub mod jsonl;

pub use jsonl::{JsonlOptions, JsonlReport, Rejected, export_jsonl, import_jsonl};
