//! The power-user use cases: bulk actions over every result of a search (checked first,
//! then committed in chunks of leads as operation batches on the bulk write path, with
//! progress and cancel, one undoable action), undo, lead merge and possible duplicates, and
//! the reports (aggregate queries in the store, optionally over a search's results).

use crate::{App, AppError, Result, SearchOptions};
use rapport_core::ops::{self, BulkAction};
use rapport_core::*;
use rapport_import::csv::DuplicateGroup;
use rapport_store::{CallsReport, FunnelReport, PipelineReport, UndoAction, UndoReport};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Leads per transaction of a bulk action: each chunk commits on its own (progress, cancel,
/// and other writers get the lock between chunks).
pub const BULK_CHUNK: usize = 1_000;

/// What a bulk action did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct BulkOutcome {
    /// Leads the query matched.
    pub matched: usize,
    /// Leads changed (a lead already in that state is not written).
    pub changed: usize,
    /// Records written (leads, status changes, tasks, tombstones).
    pub records: usize,
    pub dry_run: bool,
    pub cancelled: bool,
    pub label: String,
}

/// Two leads about to be merged: what moves and what conflicts.
#[derive(Debug, Clone, Serialize)]
pub struct MergePreview {
    pub survivor: Lead,
    pub merged: Lead,
    pub conflicts: Vec<ops::MergeConflict>,
    /// Records of the merged lead that move: contacts, activities, tasks, opportunities.
    pub moves: [usize; 4],
}

/// A duplicate group with the leads' names.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateView {
    pub reason: &'static str,
    pub leads: Vec<(String, String)>,
}

impl App {
    /// Every lead matching `query` (all of them, not a page), in the query's order.
    pub async fn matching_ids(&self, query: &str, opts: &SearchOptions) -> Result<Vec<Id>> {
        let index = self.search_index().await?;
        let first = index.search(query, App::clock(opts)?, 0, 0).await?;
        let hits = index
            .search(query, App::clock(opts)?, 0, first.total as usize)
            .await?;
        Ok(hits.rows.into_iter().map(|h| h.id).collect())
    }

    /// Checks `action` against the store's settings without writing (bad input is refused
    /// here, before any lead is touched).
    pub async fn check_bulk(&self, action: &BulkAction) -> Result<BulkAction> {
        let users = self.store.users().await?;
        let w = self.store.begin_write().await?;
        let checked = action.check(&w.ctx, &users);
        drop(w);
        Ok(checked?)
    }

    /// Applies `action` to every lead matching `query`. `progress(done, total)` after each
    /// chunk; setting `cancel` stops after the current chunk (what committed stays, and is
    /// undone by one undo with the rest of the action).
    pub async fn bulk(
        &self,
        query: &str,
        action: &BulkAction,
        opts: &SearchOptions,
        dry_run: bool,
        progress: impl Fn(usize, usize),
        cancel: Arc<AtomicBool>,
    ) -> Result<BulkOutcome> {
        let action = self.check_bulk(action).await?;
        let ids = self.matching_ids(query, opts).await?;
        let mut out = BulkOutcome {
            matched: ids.len(),
            changed: 0,
            records: 0,
            dry_run,
            cancelled: false,
            label: format!("{} of {} leads", action.label(), ids.len()),
        };
        if dry_run {
            return Ok(out);
        }
        let mut journal_action = None;
        for (n, chunk) in ids.chunks(BULK_CHUNK).enumerate() {
            if cancel.load(Ordering::SeqCst) {
                out.cancelled = true;
                break;
            }
            let mut w = self.store.begin_write().await?;
            w.journal_into(out.label.clone(), journal_action);
            let leads = w.live_leads(chunk).await?;
            let mut writes = Vec::new();
            for lead in &leads {
                let children = match action.needs_children() {
                    true => w.children_of(lead.id).await?,
                    false => vec![],
                };
                let plan = ops::bulk_plan(lead, children, &action, &mut w.ctx)?;
                if !plan.is_empty() {
                    out.changed += 1;
                }
                writes.extend(plan.writes);
            }
            let report = w.apply_batch(writes).await?;
            journal_action = w.action().or(journal_action);
            w.commit().await?;
            out.records += report.records;
            self.nudge_index();
            progress(((n + 1) * BULK_CHUNK).min(ids.len()), ids.len());
        }
        Ok(out)
    }

    /// The newest action `undo` would revert.
    pub async fn last_action(&self) -> Result<Option<UndoAction>> {
        Ok(self.store.last_action().await?)
    }

    /// Reverts the newest action not undone yet (a single edit or a whole bulk action).
    pub async fn undo(&self) -> Result<Option<UndoReport>> {
        let r = self.store.undo().await?;
        self.nudge_index();
        Ok(r)
    }

    /// The live lead an id names, following merge aliases.
    pub async fn resolve_lead(&self, id: Id) -> Result<Id> {
        self.store
            .resolve_lead(id)
            .await?
            .ok_or_else(|| Error::not_found("lead", id).into())
    }

    /// What merging `merged` into `survivor` would move, and the fields that conflict.
    pub async fn merge_preview(&self, survivor: Id, merged: Id) -> Result<MergePreview> {
        if survivor == merged {
            return Err(Error::bad_input("a lead cannot be merged with itself").into());
        }
        let (s, m) = (
            self.store.lead(survivor).await?,
            self.store.lead(merged).await?,
        );
        let agg = self.store.aggregates(merged).await?;
        Ok(MergePreview {
            conflicts: ops::merge_conflicts(&s, &m),
            moves: [
                agg.n_contacts as usize,
                agg.n_activities as usize,
                agg.n_tasks as usize,
                agg.n_opportunities as usize,
            ],
            survivor: s,
            merged: m,
        })
    }

    /// Merges `merged` into `survivor` (one transaction, one undoable action); `take` names
    /// the conflicting fields to take from the merged lead.
    pub async fn merge_leads(&self, survivor: Id, merged: Id, take: &[String]) -> Result<Lead> {
        let mut w = self.store.begin_write().await?;
        w.journal("Merge leads");
        let s = w.lead(survivor).await?;
        let m = w.lead(merged).await?;
        let children = w.children_of(merged).await?;
        let (lead, plan) = ops::merge_leads(&s, &m, children, take, &mut w.ctx)?;
        w.apply(plan).await?;
        w.commit().await?;
        self.nudge_index();
        Ok(lead)
    }

    /// Groups of leads that may be one company (see `rapport_import::csv::possible_duplicates`).
    pub async fn duplicates(&self, limit: usize) -> Result<Vec<DuplicateView>> {
        let groups: Vec<DuplicateGroup> =
            rapport_import::csv::possible_duplicates(&self.store, limit).await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut leads = Vec::new();
            for s in self.store.lead_summaries(&g.leads).await? {
                leads.push((s.id, s.name));
            }
            leads.sort();
            out.push(DuplicateView {
                reason: g.reason,
                leads,
            });
        }
        Ok(out)
    }

    /// The leads a report covers: every lead, or a query's results.
    async fn report_scope(
        &self,
        query: Option<&str>,
        opts: &SearchOptions,
    ) -> Result<Option<Vec<Id>>> {
        match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => Ok(Some(self.matching_ids(q, opts).await?)),
            None => Ok(None),
        }
    }

    pub async fn report_pipeline(
        &self,
        query: Option<&str>,
        opts: &SearchOptions,
    ) -> Result<PipelineReport> {
        let scope = self.report_scope(query, opts).await?;
        Ok(self.store.pipeline_report(scope.as_deref()).await?)
    }

    pub async fn report_calls(
        &self,
        query: Option<&str>,
        since: Option<&str>,
        opts: &SearchOptions,
    ) -> Result<CallsReport> {
        if let Some(s) = since
            && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err()
        {
            return Err(AppError {
                field: Some("since".into()),
                ..AppError::new("bad_input", format!("`{s}` is not a date (YYYY-MM-DD)"))
            });
        }
        let scope = self.report_scope(query, opts).await?;
        Ok(self.store.calls_report(scope.as_deref(), since).await?)
    }

    pub async fn report_funnel(
        &self,
        query: Option<&str>,
        opts: &SearchOptions,
    ) -> Result<FunnelReport> {
        let scope = self.report_scope(query, opts).await?;
        Ok(self.store.funnel_report(scope.as_deref()).await?)
    }
}

#[cfg(test)]
#[path = "power_tests.rs"]
mod tests;
