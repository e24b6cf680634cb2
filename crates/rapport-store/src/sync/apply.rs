//! Applying pulled (or bootstrapped) records: each is merged with the local row through the
//! shared merge (`rapport_sync::merge`), written with the merged clocks, fed to the change
//! feed, and the touched leads' aggregates refreshed — in one transaction with the cursor.
//! Nothing received goes to the outbox. Remote stamps advance the local clock (bounded: a
//! stamp further ahead than the server allows is refused). A note whose body has
//! un-pushed local edits keeps its local body until they are acknowledged.

use super::push::stored_state;
use crate::error::{Error, Result};
use crate::rows::{self, Val};
use crate::write::CHANGES;
use crate::{Store, Writer, aggregates};
use rapport_core::Hlc;
use rapport_core::plan::{Entity, Record};
use rapport_sync::state::{RecordState, merge};
use rapport_sync::wire::{Change, MAX_FUTURE_SKEW_MS};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Rows per multi-row statement of an apply.
const ROWS: usize = 200;

/// What an apply did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Records whose local state changed.
    pub changed: usize,
    /// Records received that changed nothing (already merged).
    pub unchanged: usize,
    /// Records kept aside because this version cannot read them.
    pub unknown: usize,
    /// Distinct leads touched.
    pub leads: usize,
}

/// Where an apply moves the sync bookkeeping, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A pull page: the cursor moves to `next_since`.
    Pull { next_since: i64, last_seq: i64 },
    /// A bootstrap chunk: resume after `after_id`. `sweep`: the store held records when the
    /// bootstrap began; the ids streamed are kept so that what the server no longer has can
    /// be dropped at the end ([`Store::finish_bootstrap`]).
    Bootstrap {
        snapshot_seq: i64,
        after_id: String,
        sweep: bool,
    },
    /// Nothing (tests, reconcile).
    None,
}

impl Store {
    /// Applies records from the server and moves the cursor, in one transaction.
    pub async fn apply_changes(
        &self,
        changes: &[Change],
        progress: Progress,
    ) -> Result<ApplyReport> {
        let mut w = self.begin_write().await?;
        let report = w.apply_changes(changes).await?;
        match progress {
            Progress::Pull {
                next_since,
                last_seq,
            } => {
                sqlx::query(
                    "UPDATE sync_state SET pull_cursor = max(pull_cursor, ?), server_seq = max(server_seq, ?)",
                )
                .bind(next_since)
                .bind(last_seq)
                .execute(&mut *w.tx)
                .await?;
            }
            Progress::Bootstrap {
                snapshot_seq,
                after_id,
                sweep,
            } => {
                if sweep {
                    let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
                    sqlx::query(
                        "INSERT OR IGNORE INTO bootstrap_seen (id) SELECT value FROM json_each(?);
                         UPDATE sync_state SET bootstrap_sweep = 1;",
                    )
                    .bind(serde_json::to_string(&ids).unwrap_or_default())
                    .execute(&mut *w.tx)
                    .await?;
                }
                // A resumed stream comes from a newer snapshot: the pull after it must start at
                // the oldest one, or changes between them to records already imported are missed.
                sqlx::query(
                    "UPDATE sync_state SET
                        bootstrap_snapshot_seq = CASE WHEN bootstrap = 'in_progress'
                            THEN min(bootstrap_snapshot_seq, ?1) ELSE ?1 END,
                        bootstrap = 'in_progress', bootstrap_after_id = ?2",
                )
                .bind(snapshot_seq)
                .bind(after_id)
                .execute(&mut *w.tx)
                .await?;
            }
            Progress::None => {}
        }
        w.commit().await?;
        Ok(report)
    }
}

impl Writer {
    /// Merges `changes` into this transaction's store (see the module docs).
    pub async fn apply_changes(&mut self, changes: &[Change]) -> Result<ApplyReport> {
        let mut report = ApplyReport::default();
        // Bounded receive rule: a stamp past what the server lets through means a clock
        // that is wrong here or there; refuse rather than adopt it.
        let limit = self.now_ms() + 2 * MAX_FUTURE_SKEW_MS as u64;
        let mut newest: Option<Hlc> = None;
        for c in changes {
            if let Some(m) = c.state.max_clock() {
                if m.ms > limit {
                    return Err(Error::Sync {
                        code: "clock_skew",
                        message: format!(
                            "a pulled change of {} {} is stamped {} ms ahead of this clock",
                            c.entity,
                            c.id,
                            m.ms.saturating_sub(self.now_ms())
                        ),
                    });
                }
                newest = newest.max(Some(m));
            }
        }
        let mut by_entity: HashMap<Entity, Vec<&Change>> = HashMap::new();
        let mut unknown: Vec<&Change> = Vec::new();
        for c in changes {
            match Entity::parse(&c.entity) {
                Some(e) => by_entity.entry(e).or_default().push(c),
                None => unknown.push(c),
            }
        }
        let dirty_notes = self.dirty_notes(changes).await?;
        let mut overridden = Vec::new();
        let mut leads: HashSet<String> = HashSet::new();
        for e in Entity::ALL {
            let Some(list) = by_entity.get(&e) else {
                continue;
            };
            let t = rows::table(e);
            for chunk in list.chunks(ROWS) {
                let local = self.local_states(&t, chunk).await?;
                let mut vals = Vec::new();
                let mut feed = Vec::new();
                let mut n = 0;
                let mut bases: Vec<(String, i64)> = Vec::new();
                for c in chunk {
                    let here = local.get(&c.id);
                    let mut merged = match here {
                        Some(l) => merge(l, &c.state),
                        None => merge(&RecordState::default(), &c.state),
                    };
                    let dirty = dirty_notes.contains(&c.id);
                    if dirty && let Some(l) = here {
                        keep_local_body(&mut merged, l);
                    }
                    if !dirty && let Some(rev) = c.body_rev {
                        bases.push((c.id.clone(), rev));
                    }
                    if here == Some(&merged) {
                        report.unchanged += 1;
                        continue;
                    }
                    if let Some(l) = here {
                        overridden.extend(overrides(l, &merged, self.hlc.node).into_iter().map(
                            |(field, mine, theirs)| {
                                (
                                    e,
                                    c.id.clone(),
                                    c.lead_id.clone(),
                                    field,
                                    mine,
                                    theirs,
                                    c.updated_by.clone(),
                                )
                            },
                        ));
                    }
                    let record = match Record::from_json(e, Value::Object(merged.fields.clone())) {
                        Ok(r) => r,
                        Err(_) => {
                            unknown.push(c);
                            continue;
                        }
                    };
                    let data = serde_json::to_string(&merged.fields).unwrap_or_default();
                    let clocks = serde_json::to_string(&merged.clocks).unwrap_or_default();
                    vals.extend(rows::columns(&record));
                    vals.push(Val::Text(data));
                    vals.push(Val::Text(clocks));
                    vals.push(Val::Int(merged.deleted as i64));
                    let lead = record.lead_id().map(|l| l.to_string());
                    if let Some(l) = &lead {
                        leads.insert(l.clone());
                    }
                    feed.push((e.as_str(), c.id.clone(), lead));
                    n += 1;
                    report.changed += 1;
                }
                if n > 0 {
                    rows::bind(sqlx::query(&rows::put_sql(&t, n)), vals)
                        .execute(&mut *self.tx)
                        .await?;
                    self.feed(&feed).await?;
                }
                for (id, rev) in bases {
                    sqlx::query(
                        "INSERT INTO note_base (note_id, rev) VALUES (?, ?)
                         ON CONFLICT(note_id) DO UPDATE SET rev = max(rev, excluded.rev)",
                    )
                    .bind(id)
                    .bind(rev)
                    .execute(&mut *self.tx)
                    .await?;
                }
            }
        }
        for c in &unknown {
            sqlx::query(
                "INSERT INTO sync_unknown (entity, id, state, seq) VALUES (?, ?, ?, ?)
                 ON CONFLICT(entity, id) DO UPDATE SET state = excluded.state, seq = excluded.seq",
            )
            .bind(&c.entity)
            .bind(&c.id)
            .bind(serde_json::to_string(c).unwrap_or_default())
            .bind(c.seq)
            .execute(&mut *self.tx)
            .await?;
        }
        let at = rapport_core::time::fmt(&self.ctx.now);
        for (e, id, lead, field, mine, theirs, by) in overridden {
            sqlx::query(
                "INSERT INTO overrides (entity, record_id, lead_id, field, mine, theirs, by_user, at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.as_str())
            .bind(id)
            .bind(lead)
            .bind(field)
            .bind(mine.map(|v| v.to_string()))
            .bind(theirs.map(|v| v.to_string()))
            .bind(by)
            .bind(&at)
            .execute(&mut *self.tx)
            .await?;
        }
        report.unknown = unknown.len();
        let leads: Vec<String> = leads.into_iter().collect();
        report.leads = leads.len();
        aggregates::refresh(&mut self.tx, &leads).await?;
        if let Some(m) = newest {
            self.hlc = self.hlc.observe(&m, self.now_ms());
            self.hlc_unsaved = true;
            self.raise_floor(Some(m)).await?;
        }
        self.records += report.changed as u64;
        if changes.len() > 1000 {
            self.bulk = true;
        }
        Ok(report)
    }

    /// The local states of those of `chunk`'s records that exist.
    async fn local_states(
        &mut self,
        t: &rows::Table,
        chunk: &[&Change],
    ) -> Result<HashMap<String, RecordState>> {
        let ids: Vec<&str> = chunk.iter().map(|c| c.id.as_str()).collect();
        let sql = format!(
            "SELECT id, data, clocks, deleted FROM {} WHERE id IN (SELECT value FROM json_each(?))",
            t.name
        );
        let rows: Vec<(String, String, String, bool)> = sqlx::query_as(&sql)
            .bind(serde_json::to_string(&ids).unwrap_or_default())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter()
            .map(|(id, d, c, del)| Ok((id, stored_state(&d, &c, del)?)))
            .collect()
    }

    /// Notes among `changes` with un-pushed local body edits.
    async fn dirty_notes(&mut self, changes: &[Change]) -> Result<HashSet<String>> {
        let ids: Vec<&str> = changes
            .iter()
            .filter(|c| c.entity == Entity::Activity.as_str())
            .map(|c| c.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT record_id FROM outbox
             WHERE entity = 'activity' AND seq > (SELECT acked_seq FROM sync_state WHERE id = 1)
               AND record_id IN (SELECT value FROM json_each(?1))
               AND EXISTS (SELECT 1 FROM json_each(outbox.fields) f WHERE f.value IN ('note', '*'))",
        )
        .bind(serde_json::to_string(&ids).unwrap_or_default())
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Change-feed entries for records a pull changed.
    async fn feed(&mut self, entries: &[(&str, String, Option<String>)]) -> Result<()> {
        for (entity, id, lead) in entries {
            sqlx::query(CHANGES)
                .bind(*entity)
                .bind(id)
                .bind(lead)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}

/// The fields whose value this store wrote (its node's clock) that the merge replaced with
/// another value under a newer clock: (field, mine, theirs).
fn overrides(
    local: &RecordState,
    merged: &RecordState,
    me: rapport_core::NodeId,
) -> Vec<(String, Option<Value>, Option<Value>)> {
    local
        .keys()
        .into_iter()
        .filter(|k| !matches!(k.as_str(), "*" | "custom" | "date_updated"))
        .filter_map(|k| {
            let (lc, mc) = (local.effective(&k), merged.effective(&k));
            let (lv, mv) = (local.value(&k), merged.value(&k));
            (lc.node == me && mc != lc && lv != mv).then_some((k, lv, mv))
        })
        .collect()
}

/// Keeps the local note body (and its clock) over a pulled one while local body edits are
/// waiting to be pushed: the server merges them against their base revision.
fn keep_local_body(merged: &mut RecordState, local: &RecordState) {
    if let Some(v) = local.fields.get("note") {
        rapport_sync::state::set(merged, "note", Some(v.clone()), local.effective("note"));
    }
}
