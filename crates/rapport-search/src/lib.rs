//! Lead search (DESIGN §5): a tantivy index of leads that follows the store, and the planner
//! that turns a `rapport-query` AST into index queries. Never depends on Tauri; never builds
//! SQL from query text (the bench's SQL baseline binds every value).
//!
//! Design, in brief:
//! - **Documents** (`document`): one per lead — its own text fields, labels, user ids, the
//!   store's aggregates as fast fields, and its contacts' text as free text — plus one
//!   *child document* per contact, call, email, note, meeting, task and opportunity, told
//!   apart by `kind`, each holding its own values (indexed there only). A lead's documents
//!   are one contiguous block, lead first; activities linked to a contact carry the
//!   contact's position in the block (`contact_pos`). Deleting by the `lead_id` term
//!   removes a lead and its children.
//! - **Sub-queries** (`query`): a block join. `call(…)` matches call documents and maps each
//!   to the lead document before it; `contact(email(…))` maps emails to their contact through
//!   `contact_pos`. Lead-level conditions on contact fields and free text found in activity
//!   text are joins too. A per-segment cache (the reader's warmer) keeps each kind's documents,
//!   the lead bits and custom values, so filters and joins read lists, not postings.
//! - **Planner** (`plan`, `plan_custom`, `time`): AST → [`Plan`] (typed, dates resolved
//!   against a fixed "now" and time zone, Smart Views inlined, errors as diagnostics with
//!   spans) → tantivy query. Relative dates compare ages; absolute dates are intervals.
//! - **Indexer** (`indexer`): one task owns the `IndexWriter`, replays the outbox after the
//!   `seq` stored in the commit payload (in bulk mode, for large imports, with one commit at
//!   the end), and rebuilds from SQLite when asked or when the index is missing, damaged or
//!   incompatible ([`SearchIndex::open`]).
//! - **Results** (`collect`): counted, sorted by several keys (missing values last, ties by
//!   id) from fast fields.

mod collect;
pub mod document;
mod index;
mod indexer;
mod plan;
mod query;
pub mod schema;
mod time;
pub mod words;

pub mod bench;

pub use index::{Hit, Hits, IndexStatus, SearchIndex, check, index_dir};
pub use indexer::{Progress, ReindexReport};
pub use plan::{Context, Node, Plan, SortSource, SortSpec, plan, plan_text};
pub use time::{Clock, DateCond};

pub use jiff;

/// What can go wrong while searching or indexing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query is wrong: the diagnostic has the span and a hint.
    #[error("{0}")]
    Query(rapport_query::Diagnostic),
    #[error(transparent)]
    Store(#[from] rapport_store::Error),
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index is owned by another process, or the indexer stopped.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// The machine code shells expose.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Query(_) => "bad_query",
            Error::Store(e) => e.code(),
            Error::Index(_) => "search_index",
            Error::Busy(_) => "index_busy",
            Error::Io(_) => "io",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
