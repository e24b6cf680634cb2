//! Lead search for every shell: run a query or a Smart View, check a query as it is typed,
//! rebuild the index. The index (`rapport-search`) is opened on first use and nudged after
//! every write this `App` makes. Query problems come back as `bad_query` with a span and hint.

use crate::{App, AppError, Result};
use rapport_core::time::Timestamp;
use rapport_query::Diagnostic;
use rapport_search::jiff::tz::TimeZone;
use rapport_search::{Clock, IndexStatus, ReindexReport, SearchIndex};
use rapport_store::LeadSummary;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// How to evaluate a query. `now` and `tz` default to the clock and the system time zone;
/// pass them for reproducible results.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub now: Option<Timestamp>,
    /// An IANA zone name (`Europe/Paris`).
    pub tz: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            now: None,
            tz: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One result: the lead-list row plus the value of each sort key (keyed as written:
/// `relevance`, `-updated`, `custom.Employees`, …).
#[derive(Debug, Clone, Serialize)]
pub struct SearchRow {
    #[serde(flatten)]
    pub lead: LeadSummary,
    pub sort_values: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// Every matching lead (the rows are one page).
    pub total: u64,
    pub rows: Vec<SearchRow>,
    /// The sort keys applied, in order.
    pub sort: Vec<String>,
    /// The index could not catch up in time (another process owns it): results may miss
    /// the newest writes.
    pub stale: bool,
}

/// A query diagnostic as the error shells see: `bad_query`, with span and hint.
pub fn query_error(d: Diagnostic) -> AppError {
    AppError {
        code: "bad_query".into(),
        message: d.message,
        field: Some("query".into()),
        span: Some([d.span.start, d.span.end]),
        hint: d.hint,
    }
}

impl From<rapport_search::Error> for AppError {
    fn from(e: rapport_search::Error) -> Self {
        match e {
            rapport_search::Error::Query(d) => query_error(d),
            rapport_search::Error::Store(e) => e.into(),
            other => AppError::new(other.code(), other.to_string()),
        }
    }
}

impl App {
    /// The search index, opened (and caught up in the background) on first use.
    pub async fn search_index(&self) -> Result<&SearchIndex> {
        Ok(self
            .search
            .get_or_try_init(|| SearchIndex::open(self.store.clone()))
            .await?)
    }

    /// Tells the indexer about a write (no-op until the index is opened).
    pub fn nudge_index(&self) {
        if let Some(index) = self.search.get() {
            index.nudge();
        }
        if let Ok(n) = self.sync_nudge.lock()
            && let Some(tx) = n.as_ref()
        {
            let _ = tx.send(());
        }
    }

    /// A channel told after every write this `App` makes (a running sync driver pushes).
    pub fn sync_nudges(&self) -> tokio::sync::mpsc::UnboundedReceiver<()> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut n) = self.sync_nudge.lock() {
            *n = Some(tx);
        }
        rx
    }

    /// Opens the index now, so that later writes are indexed as they happen (the desktop
    /// shell calls this at startup).
    pub async fn start_search(&self) -> Result<IndexStatus> {
        Ok(self.search_index().await?.status())
    }

    pub(crate) fn clock(opts: &SearchOptions) -> Result<Clock> {
        let now = match opts.now {
            Some(t) => rapport_search::jiff::Timestamp::from_millisecond(t.timestamp_millis())
                .map_err(|e| AppError::new("bad_input", format!("bad time: {e}")))?,
            None => rapport_search::jiff::Timestamp::now(),
        };
        let tz = match &opts.tz {
            Some(name) => TimeZone::get(name).map_err(|_| AppError {
                field: Some("tz".into()),
                ..AppError::new("bad_input", format!("unknown time zone `{name}`"))
            })?,
            None => TimeZone::system(),
        };
        Ok(Clock::new(now, tz))
    }

    /// Leads matching `query` (DESIGN §5), one page, in `sort:` order.
    pub async fn search(&self, query: &str, opts: SearchOptions) -> Result<SearchResult> {
        let clock = App::clock(&opts)?;
        let index = self.search_index().await?;
        let hits = index.search(query, clock, opts.offset, opts.limit).await?;
        let ids: Vec<_> = hits.rows.iter().map(|h| h.id).collect();
        let mut summaries: std::collections::HashMap<String, LeadSummary> = self
            .store
            .lead_summaries(&ids)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let rows = hits
            .rows
            .iter()
            .filter_map(|h| {
                let lead = summaries.remove(&h.id.to_string())?;
                let sort_values = hits.sort.iter().cloned().zip(h.values.clone()).collect();
                Some(SearchRow { lead, sort_values })
            })
            .collect();
        Ok(SearchResult {
            total: hits.total,
            rows,
            sort: hits.sort,
            stale: hits.stale,
        })
    }

    /// Runs a Smart View (by name, any case, or id).
    pub async fn run_view(&self, name: &str, opts: SearchOptions) -> Result<SearchResult> {
        let view = self
            .store
            .views()
            .await?
            .into_iter()
            .find(|v| v.name.eq_ignore_ascii_case(name.trim()) || v.id.to_string() == name)
            .ok_or_else(|| rapport_core::Error::not_found("smart view", name))?;
        self.search(&view.query, opts)
            .await
            .map_err(|e| match e.code.as_str() {
                "bad_query" => AppError {
                    message: format!("Smart View `{}`: {}", view.name, e.message),
                    ..e
                },
                _ => e,
            })
    }

    /// The parser's problems with `query` (no store needed): for as-you-type feedback.
    pub fn check_query(query: &str) -> Vec<Diagnostic> {
        rapport_query::parse_lenient(query).1
    }

    /// Every problem with `query`, including the ones only the store can tell (unknown
    /// custom fields or Smart Views, wrong-typed custom values, view cycles).
    pub async fn check_query_full(
        &self,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Vec<Diagnostic>> {
        let clock = App::clock(opts)?;
        let index = self.search_index().await?;
        Ok(index.check(query, clock).await?)
    }

    /// Rebuilds the index from the store; `progress(done, total)` per page; `cancel` stops
    /// and keeps the previous index.
    pub async fn reindex(
        &self,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
        cancel: Arc<AtomicBool>,
    ) -> Result<ReindexReport> {
        let index = self.search_index().await?;
        Ok(index.reindex(Some(Arc::new(progress)), cancel).await?)
    }
}
