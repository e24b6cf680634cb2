//! The store's side of team sync (SYNC.md §1.4): the one row of sync state, joining and
//! leaving an org, the outbox as pushed ops ([`push`]), and applying pulled or bootstrapped
//! records through the shared merge ([`apply`]). Every change here runs on the write
//! connection in one transaction with the cursor or acknowledgement it belongs to.

mod apply;
mod push;

pub use apply::{ApplyReport, Progress};

use crate::error::{Error, Result};
use crate::{Store, rows};
use rapport_core::plan::Entity;
use serde::Serialize;

/// The row of `sync_state`: which server and org this store syncs with, and how far.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SyncState {
    pub server_url: String,
    pub org_id: String,
    pub org_name: String,
    pub user_id: String,
    pub role: String,
    pub client_id: String,
    pub device_name: String,
    pub epoch: Option<String>,
    pub pull_cursor: i64,
    pub seq_base: i64,
    pub acked_seq: i64,
    pub server_seq: i64,
    pub clock_offset_ms: i64,
    pub bootstrap: String,
    pub bootstrap_snapshot_seq: i64,
    pub bootstrap_after_id: Option<String>,
    pub bootstrap_sweep: bool,
    pub last_success_at: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub joined_at: String,
}

/// What joining an org needs to know (from the server's login and register answers).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub server_url: String,
    pub org_id: String,
    pub org_name: String,
    pub user_id: String,
    pub user_name: String,
    pub user_email: Option<String>,
    pub role: String,
    pub client_id: String,
    pub device_name: String,
}

/// One sync status snapshot (for `rapport sync status` and the app's status bar).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Local changes not yet acknowledged by the server.
    pub pending: i64,
    /// Note conflicts not yet resolved.
    pub conflicts: i64,
}

const COLUMNS: &str = "server_url, org_id, org_name, user_id, role, client_id, device_name, epoch, \
     pull_cursor, seq_base, acked_seq, server_seq, clock_offset_ms, bootstrap, bootstrap_snapshot_seq, \
     bootstrap_after_id, bootstrap_sweep, last_success_at, last_error_code, last_error, joined_at";

impl Store {
    /// The sync state, or `None` for a store that never joined (or left) an org.
    pub async fn sync_state(&self) -> Result<Option<SyncState>> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM sync_state WHERE id = 1"))
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The sync state, or a `not_joined` error.
    pub async fn joined_state(&self) -> Result<SyncState> {
        self.sync_state().await?.ok_or_else(|| Error::Sync {
            code: "not_joined",
            message: "this store has not joined a team server (run `rapport sync login`)".into(),
        })
    }

    /// The state with the pending and conflict counts.
    pub async fn sync_status(&self) -> Result<Option<SyncStatus>> {
        let Some(state) = self.sync_state().await? else {
            return Ok(None);
        };
        let (pending, conflicts): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox WHERE seq > ?),
                    (SELECT count(*) FROM note_conflicts WHERE deleted = 0
                        AND json_extract(data, '$.resolved') = 0)",
        )
        .bind(state.acked_seq)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(SyncStatus {
            state,
            pending,
            conflicts,
        }))
    }

    /// Joins an org: records the sync state, makes the server's user this store's user
    /// (what this store wrote as its earlier local user is reassigned to them), and queues
    /// every record's whole state for the first push — a store that worked offline before
    /// joining keeps everything. Run after the org's records were pulled, so that org-level
    /// records this store also has under other ids are merged first ([`Store::dedupe_settings`]).
    pub async fn join(&self, j: &Join) -> Result<()> {
        if self.sync_state().await?.is_some() {
            return Err(Error::Sync {
                code: "already_joined",
                message: "this store already syncs with a team server; sign out first".into(),
            });
        }
        let mut w = self.begin_write().await?;
        let now = rapport_core::time::fmt(&w.ctx.now);
        let old_user = w.ctx.user.map(|u| u.to_string());
        w.adopt_user(old_user.as_deref(), j).await?;
        // What was queued before joining is in the records' whole states, queued next.
        sqlx::query("DELETE FROM outbox")
            .execute(&mut *w.tx)
            .await?;
        w.snapshot_outbox().await?;
        let base: i64 = sqlx::query_scalar(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
        )
        .fetch_one(&mut *w.tx)
        .await?;
        // The snapshot's rows are the first pushed: local_seq 1 is the first of them.
        let first: i64 = sqlx::query_scalar("SELECT coalesce(min(seq), ?) FROM outbox")
            .bind(base + 1)
            .fetch_one(&mut *w.tx)
            .await?;
        sqlx::query(
            "INSERT INTO sync_state (id, server_url, org_id, org_name, user_id, role, client_id,
                device_name, seq_base, acked_seq, joined_at)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&j.server_url)
        .bind(&j.org_id)
        .bind(&j.org_name)
        .bind(&j.user_id)
        .bind(&j.role)
        .bind(&j.client_id)
        .bind(&j.device_name)
        .bind(first - 1)
        .bind(first - 1)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Leaves the org: forgets the sync state (the data stays, and works offline as before).
    /// Returns how many local changes the server had not acknowledged (they stay in the
    /// store; joining again pushes every record's whole state).
    pub async fn leave(&self) -> Result<i64> {
        let pending = self
            .sync_status()
            .await?
            .map(|s| s.pending)
            .unwrap_or_default();
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM sync_state; DELETE FROM note_base;")
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(pending)
    }

    /// Records the outcome of a sync round: success (clears the error) or an error code and
    /// message (the status bar shows them).
    pub async fn record_sync_outcome(&self, error: Option<(&str, &str)>) -> Result<()> {
        let now = rapport_core::time::fmt(&self.now());
        let mut w = self.begin_write().await?;
        match error {
            None => {
                sqlx::query(
                    "UPDATE sync_state SET last_success_at = ?, last_error_code = NULL, last_error = NULL",
                )
                .bind(now)
                .execute(&mut *w.tx)
                .await?
            }
            Some((code, msg)) => {
                sqlx::query("UPDATE sync_state SET last_error_code = ?, last_error = ?")
                    .bind(code)
                    .bind(msg)
                    .execute(&mut *w.tx)
                    .await?
            }
        };
        w.commit().await
    }

    /// Marks the bootstrap done: the pull cursor starts at the (oldest) snapshot it streamed.
    /// After a sweeping bootstrap, every record the stream did not carry and no local change
    /// is waiting for is dropped here (the server no longer has it live: a tombstone, or
    /// garbage-collected); changes after the snapshot come by the pull that follows.
    pub async fn finish_bootstrap(&self) -> Result<()> {
        let mut w = self.begin_write().await?;
        let sweep: bool = sqlx::query_scalar("SELECT bootstrap_sweep FROM sync_state WHERE id = 1")
            .fetch_optional(&mut *w.tx)
            .await?
            .unwrap_or(false);
        if sweep {
            const UNSEEN: &str = "id NOT IN (SELECT id FROM bootstrap_seen)
                AND id NOT IN (SELECT record_id FROM outbox
                               WHERE seq > (SELECT acked_seq FROM sync_state WHERE id = 1))";
            let mut leads: Vec<String> = Vec::new();
            for e in Entity::ALL {
                let t = rows::table(e).name;
                if e.lead_scoped() {
                    let col = if e == Entity::Lead { "id" } else { "lead_id" };
                    let mut l: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT DISTINCT {col} FROM {t} WHERE {UNSEEN}"
                    ))
                    .fetch_all(&mut *w.tx)
                    .await?;
                    leads.append(&mut l);
                }
                sqlx::query(&format!("DELETE FROM {t} WHERE {UNSEEN}"))
                    .execute(&mut *w.tx)
                    .await?;
            }
            leads.sort();
            leads.dedup();
            for l in &leads {
                sqlx::query(crate::write::CHANGES)
                    .bind("lead")
                    .bind(l)
                    .bind(l)
                    .execute(&mut *w.tx)
                    .await?;
            }
            crate::aggregates::refresh(&mut w.tx, &leads).await?;
        }
        sqlx::query(
            "UPDATE sync_state SET bootstrap = 'done', bootstrap_after_id = NULL, bootstrap_sweep = 0,
                pull_cursor = max(pull_cursor, bootstrap_snapshot_seq);
             DELETE FROM bootstrap_seen;",
        )
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Whether the store holds any record of the org's kind (leads and what is in them,
    /// Smart Views, custom fields), beyond the seed statuses and the users.
    pub async fn holds_records(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM smart_views)
                  + (SELECT count(*) FROM custom_fields)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Sets sync bookkeeping columns (epoch, server seq, bootstrap progress, offset).
    pub async fn update_sync_state(&self, patch: SyncPatch) -> Result<()> {
        let mut w = self.begin_write().await?;
        w.patch_sync_state(&patch).await?;
        w.commit().await
    }

    /// The unresolved note conflicts (of one note, or all), oldest first.
    pub async fn note_conflicts(
        &self,
        note: Option<rapport_core::Id>,
    ) -> Result<Vec<rapport_core::NoteConflict>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM note_conflicts WHERE deleted = 0
               AND json_extract(data, '$.resolved') = 0 AND (?1 IS NULL OR note_id = ?1)
             ORDER BY id",
        )
        .bind(note.map(|n| n.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|d| rows::decode(d)).collect()
    }

    /// The fields of a lead's records where a pulled change replaced a value this store had
    /// written, newest first.
    pub async fn overrides(&self, lead: rapport_core::Id) -> Result<Vec<Override>> {
        Ok(sqlx::query_as(
            "SELECT entity, record_id, field, mine, theirs, by_user, at FROM overrides
             WHERE lead_id = ? ORDER BY id DESC",
        )
        .bind(lead.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Org-level records that exist twice under one natural key (a status label, a custom
    /// field's name and target, a Smart View's name) — a store's own and the org's — keep
    /// the one with the smallest id (the same choice on every replica; the fixed-id default
    /// statuses sort first) and tombstone the others. Returns how many were merged away.
    pub async fn dedupe_settings(&self) -> Result<usize> {
        let mut w = self.begin_write().await?;
        let mut plan = rapport_core::Plan::default();
        let key = |s: &str| rapport_core::validate::status_key(s);
        let statuses = w.statuses().await?;
        let mut seen = std::collections::HashSet::new();
        let mut by_id = statuses;
        by_id.sort_by_key(|s| s.id);
        for s in by_id {
            if !seen.insert(key(&s.label)) {
                plan.push(rapport_core::Write::delete(
                    rapport_core::plan::Record::LeadStatus(s),
                ));
            }
        }
        let mut fields = w.ctx.fields.clone();
        fields.sort_by_key(|f| f.id);
        let mut seen = std::collections::HashSet::new();
        for f in fields {
            if !seen.insert((f.applies_to as u8, f.name.to_lowercase())) {
                plan.push(rapport_core::Write::delete(
                    rapport_core::plan::Record::CustomField(f),
                ));
            }
        }
        let mut views = w.views().await?;
        views.sort_by_key(|v| v.id);
        let mut seen = std::collections::HashSet::new();
        for v in views {
            if !seen.insert(v.name.to_lowercase()) {
                plan.push(rapport_core::Write::delete(
                    rapport_core::plan::Record::SmartView(v),
                ));
            }
        }
        let n = plan.writes.len();
        w.apply(plan).await?;
        w.commit().await?;
        Ok(n)
    }
}

/// A value this store wrote that a newer pulled one replaced (JSON texts).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Override {
    pub entity: String,
    pub record_id: String,
    pub field: String,
    pub mine: Option<String>,
    pub theirs: Option<String>,
    pub by_user: Option<String>,
    pub at: String,
}

/// Sync bookkeeping to set (each `Some` is written).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncPatch {
    pub epoch: Option<String>,
    pub server_seq: Option<i64>,
    pub clock_offset_ms: Option<i64>,
    pub bootstrap: Option<&'static str>,
    pub bootstrap_snapshot_seq: Option<i64>,
    pub bootstrap_after_id: Option<Option<String>>,
    pub pull_cursor: Option<i64>,
    pub role: Option<String>,
}

impl crate::Writer {
    pub(crate) async fn patch_sync_state(&mut self, p: &SyncPatch) -> Result<()> {
        sqlx::query(
            "UPDATE sync_state SET
                epoch = coalesce(?, epoch),
                server_seq = coalesce(?, server_seq),
                clock_offset_ms = coalesce(?, clock_offset_ms),
                bootstrap = coalesce(?, bootstrap),
                bootstrap_snapshot_seq = coalesce(?, bootstrap_snapshot_seq),
                bootstrap_after_id = CASE WHEN ? THEN ? ELSE bootstrap_after_id END,
                pull_cursor = coalesce(?, pull_cursor),
                role = coalesce(?, role)",
        )
        .bind(&p.epoch)
        .bind(p.server_seq)
        .bind(p.clock_offset_ms)
        .bind(p.bootstrap)
        .bind(p.bootstrap_snapshot_seq)
        .bind(p.bootstrap_after_id.is_some())
        .bind(p.bootstrap_after_id.clone().flatten())
        .bind(p.pull_cursor)
        .bind(&p.role)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Makes the server's user this store's user: a user record for them (zero clock: the
    /// org's own record wins), `meta.local_user`, and every reference to the earlier local
    /// user moved to them; the earlier user record is tombstoned.
    async fn adopt_user(&mut self, old: Option<&str>, j: &Join) -> Result<()> {
        let new_id: rapport_core::Id = j.user_id.parse()?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
            .bind(&j.user_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        if exists.is_none() {
            let mut plan = rapport_core::Plan::default();
            plan.push(rapport_core::Write::create(
                rapport_core::plan::Record::User(rapport_core::User {
                    id: new_id,
                    name: j.user_name.clone(),
                    email: j.user_email.clone(),
                }),
            ));
            self.apply_seed(plan).await?;
        }
        self.set_meta("local_user", &j.user_id).await?;
        self.ctx.user = Some(new_id);
        let Some(old) = old.filter(|o| *o != j.user_id) else {
            return Ok(());
        };
        self.hlc = self.hlc.tick(self.now_ms());
        let stamp = self.hlc.to_string();
        // (table, field) pairs holding a user id.
        const REFS: [(&str, &str); 5] = [
            ("leads", "owner_id"),
            ("activities", "user_id"),
            ("opportunities", "user_id"),
            ("tasks", "assigned_to"),
            ("note_conflicts", "user_id"),
        ];
        let mut moved = 0u64;
        for (table, field) in REFS {
            let r = sqlx::query(&format!(
                "UPDATE {table} SET data = json_set(data, '$.{field}', ?1),
                        clocks = json_set(clocks, '$.{field}', ?2)
                 WHERE json_extract(data, '$.{field}') = ?3"
            ))
            .bind(&j.user_id)
            .bind(&stamp)
            .bind(old)
            .execute(&mut *self.tx)
            .await?;
            moved += r.rows_affected();
        }
        let old_user: Option<String> = sqlx::query_scalar("SELECT data FROM users WHERE id = ?")
            .bind(old)
            .fetch_optional(&mut *self.tx)
            .await?;
        if let Some(d) = old_user {
            let u: rapport_core::User = rows::decode(&d)?;
            let mut plan = rapport_core::Plan::default();
            plan.push(rapport_core::Write::delete(
                rapport_core::plan::Record::User(u),
            ));
            self.apply(plan).await?;
        }
        if moved > 0 {
            // Owners and authors are indexed: the indexer re-reads every lead.
            sqlx::query(
                "INSERT INTO changes (entity, record_id, lead_id) SELECT 'lead', id, id FROM leads WHERE deleted = 0",
            )
            .execute(&mut *self.tx)
            .await?;
        }
        self.hlc_unsaved = true;
        Ok(())
    }

    /// Queues every record (tombstones too) for the first push as its whole state.
    pub(crate) async fn snapshot_outbox(&mut self) -> Result<()> {
        for e in Entity::ALL {
            let t = rows::table(e);
            let lead = if e == Entity::Lead {
                "id"
            } else if e.lead_scoped() {
                "lead_id"
            } else {
                "NULL"
            };
            sqlx::query(&format!(
                "INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc)
                 SELECT ?, id, {lead}, 'create', '[\"*\"]', coalesce(json_extract(clocks, '$.\"*\"'), '')
                 FROM {} ORDER BY id",
                t.name
            ))
            .bind(e.as_str())
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
