//! The undo journal (migration 0004): a `Writer` given a label records, for every record it
//! writes, the state before and the clock keys written, under one action row. `Store::undo`
//! reverts the newest action not yet undone through `ops::undo_plan`, as a new write with
//! new stamps (outbox and feed like any edit), and marks it undone. The journal is local.

use crate::error::Result;
use crate::rows::{self, Val};
use crate::{Store, Writer};
use rapport_core::ops::{UndoEntry, undo_plan};
use rapport_core::plan::{Entity, Write, WriteKind};
use serde::Serialize;
use std::collections::HashMap;

/// How many actions the journal keeps.
const KEEP_ACTIONS: i64 = 50;

/// One journal row: a record's state before the action and the keys the action wrote.
pub(crate) struct JournalRow {
    pub entity: Entity,
    pub id: String,
    pub before: Option<String>,
    pub before_deleted: bool,
    pub fields: Vec<String>,
}

/// An action in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoAction {
    pub id: i64,
    pub label: String,
    pub at: String,
    /// Records the action wrote.
    pub records: i64,
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoReport {
    pub action: UndoAction,
    /// Records written back.
    pub reverted: usize,
}

/// The clock keys a single write stamps (what its undo puts back).
fn keys_of(w: &Write) -> Vec<String> {
    match &w.kind {
        WriteKind::Create => vec!["*".into()],
        WriteKind::Update(f) => f.clone(),
        WriteKind::Delete | WriteKind::Undelete => vec!["_deleted".into()],
    }
}

impl Writer {
    /// Journals what this transaction writes as one undoable action called `label`.
    pub fn journal(&mut self, label: impl Into<String>) {
        self.journal = Some(label.into());
    }

    /// Journals what this transaction writes into an action an earlier transaction began
    /// (a bulk action committed in chunks is one action).
    pub fn journal_into(&mut self, label: impl Into<String>, action: Option<i64>) {
        self.journal = Some(label.into());
        self.action = action;
    }

    /// The journal action this transaction wrote to, if any.
    pub fn action(&self) -> Option<i64> {
        self.action
    }

    /// The action row of this transaction, created (and old actions pruned) on first use.
    async fn action_id(&mut self) -> Result<i64> {
        if let Some(a) = self.action {
            return Ok(a);
        }
        let label = self.journal.clone().unwrap_or_default();
        let at = rapport_core::time::fmt(&self.ctx.now);
        let id: i64 =
            sqlx::query_scalar("INSERT INTO undo_actions (label, at) VALUES (?, ?) RETURNING id")
                .bind(label)
                .bind(at)
                .fetch_one(&mut *self.tx)
                .await?;
        sqlx::query(
            "DELETE FROM undo_records WHERE action <= ?1; DELETE FROM undo_actions WHERE id <= ?1",
        )
        .bind(id - KEEP_ACTIONS)
        .execute(&mut *self.tx)
        .await?;
        self.action = Some(id);
        Ok(id)
    }

    /// Journals one write of `apply`: its record's row as it is before the write.
    pub(crate) async fn journal_write(&mut self, w: &Write) -> Result<()> {
        let action = self.action_id().await?;
        let t = rows::table(w.record.entity());
        let sql = format!(
            "INSERT INTO undo_records (action, entity, record_id, before, before_deleted, fields)
             SELECT ?1, ?2, ?3, (SELECT data FROM {t} WHERE id = ?3),
                    coalesce((SELECT deleted FROM {t} WHERE id = ?3), 0), ?4",
            t = t.name
        );
        sqlx::query(&sql)
            .bind(action)
            .bind(w.record.entity().as_str())
            .bind(w.record.id().to_string())
            .bind(serde_json::to_string(&keys_of(w)).unwrap_or_default())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Journals many rows at once (the bulk path, which read the rows already).
    pub(crate) async fn journal_rows(&mut self, list: Vec<JournalRow>) -> Result<()> {
        if self.journal.is_none() || list.is_empty() {
            return Ok(());
        }
        let action = self.action_id().await?;
        for chunk in list.chunks(400) {
            let sql = format!(
                "INSERT INTO undo_records (action, entity, record_id, before, before_deleted, fields) VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            let mut vals = Vec::with_capacity(chunk.len() * 6);
            for r in chunk {
                vals.extend([
                    Val::Int(action),
                    Val::Text(r.entity.as_str().into()),
                    Val::Text(r.id.clone()),
                    Val::OptText(r.before.clone()),
                    Val::Int(r.before_deleted as i64),
                    Val::Text(serde_json::to_string(&r.fields).unwrap_or_default()),
                ]);
            }
            rows::bind(sqlx::query(&sql), vals)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The newest action that can be undone.
    pub async fn last_action(&self) -> Result<Option<UndoAction>> {
        Ok(sqlx::query_as::<_, (i64, String, String, i64)>(
            "SELECT a.id, a.label, a.at, (SELECT count(*) FROM undo_records r WHERE r.action = a.id)
             FROM undo_actions a WHERE a.undone = 0 ORDER BY a.id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|(id, label, at, records)| UndoAction {
            id,
            label,
            at,
            records,
        }))
    }

    /// Undoes the newest action not undone yet (`None` when there is none), in one
    /// transaction: the fields it wrote go back to their values before it, with new stamps.
    pub async fn undo(&self) -> Result<Option<UndoReport>> {
        let mut w = self.begin_write().await?;
        let head: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT id, label, at FROM undo_actions WHERE undone = 0 ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some((id, label, at)) = head else {
            return Ok(None);
        };
        let list: Vec<(String, String, Option<String>, bool, String)> = sqlx::query_as(
            "SELECT entity, record_id, before, before_deleted, fields FROM undo_records
             WHERE action = ? ORDER BY rowid",
        )
        .bind(id)
        .fetch_all(&mut *w.tx)
        .await?;
        let records = list.len() as i64;
        // Coalesce per record: the first state before, every key written.
        let mut order: Vec<(Entity, String)> = Vec::new();
        let mut by: HashMap<(Entity, String), UndoEntry> = HashMap::new();
        for (entity, rid, before, before_deleted, fields) in list {
            let Some(e) = Entity::parse(&entity) else {
                continue;
            };
            let fields: Vec<String> = serde_json::from_str(&fields).unwrap_or_default();
            let key = (e, rid);
            match by.get_mut(&key) {
                Some(entry) => {
                    for f in fields {
                        if !entry.fields.contains(&f) {
                            entry.fields.push(f);
                        }
                    }
                }
                None => {
                    let before = before
                        .map(|b| serde_json::from_str(&b).map(|v| (v, before_deleted)))
                        .transpose()
                        .map_err(|e| crate::Error::Corrupt(format!("undo journal: {e}")))?;
                    order.push(key.clone());
                    by.insert(
                        key,
                        UndoEntry {
                            entity: e,
                            before,
                            current: None,
                            fields,
                        },
                    );
                }
            }
        }
        let mut entries = Vec::with_capacity(order.len());
        for (e, chunk) in group(&order) {
            let t = rows::table(e);
            let sql = format!(
                "SELECT id, data, deleted FROM {} WHERE id IN (SELECT value FROM json_each(?))",
                t.name
            );
            for ids in chunk.chunks(500) {
                let rows: Vec<(String, String, bool)> = sqlx::query_as(&sql)
                    .bind(serde_json::to_string(ids).unwrap_or_default())
                    .fetch_all(&mut *w.tx)
                    .await?;
                for (rid, data, deleted) in rows {
                    if let Some(entry) = by.get_mut(&(e, rid)) {
                        let v = serde_json::from_str(&data)
                            .map_err(|e| crate::Error::Corrupt(format!("record: {e}")))?;
                        entry.current = Some((v, deleted));
                    }
                }
            }
        }
        for key in order {
            if let Some(entry) = by.remove(&key) {
                entries.push(entry);
            }
        }
        let plan = undo_plan(entries)?;
        let reverted = plan.writes.len();
        w.apply_batch(plan.writes).await?;
        sqlx::query("UPDATE undo_actions SET undone = 1 WHERE id = ?")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(Some(UndoReport {
            action: UndoAction {
                id,
                label,
                at,
                records,
            },
            reverted,
        }))
    }
}

/// The record ids of `order` grouped by entity.
fn group(order: &[(Entity, String)]) -> Vec<(Entity, Vec<String>)> {
    let mut out: Vec<(Entity, Vec<String>)> = Vec::new();
    for (e, id) in order {
        match out.iter_mut().find(|(x, _)| x == e) {
            Some((_, v)) => v.push(id.clone()),
            None => out.push((*e, vec![id.clone()])),
        }
    }
    out
}
