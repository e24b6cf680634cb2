//! Import support: the key scans a dedupe table is built from (lead names and urls, contact
//! emails and phones, paged by id in one pass), the import checkpoints (`imports` table) and
//! the reads an upsert needs inside the chunk's write transaction. Never builds SQL from input.

use crate::error::Result;
use crate::rows::decode;
use crate::{Store, Writer};
use rapport_core::{Activity, Contact, Id, Lead};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;

/// What a lead can be matched by.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadKey {
    pub id: Id,
    pub name: String,
    pub url: Option<String>,
}

/// What a contact can be matched by (emails lower-case, phones E.164).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactKey {
    pub id: Id,
    pub lead_id: Id,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

/// The progress of one import, rewritten with every committed chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ImportCheckpoint {
    pub id: String,
    pub path: String,
    pub size: i64,
    pub head_hash: String,
    pub mapping: String,
    pub options: String,
    pub rows_done: i64,
    pub byte_offset: i64,
    pub next_line: i64,
    pub errors_len: i64,
    pub summary: String,
    /// `running` until the last chunk commits, then `done`.
    pub state: String,
    pub started_at: String,
    pub updated_at: String,
}

/// Unit separator: cannot occur in an email or an E.164 number.
const SEP: &str = "\u{1f}";

fn split(list: Option<String>) -> Vec<String> {
    list.map(|s| {
        s.split(SEP)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Live leads after an id, in id order: id, name, url (`+deleted`: see `feed`).
pub(crate) const LEAD_KEYS_SQL: &str = "SELECT id, name, json_extract(data, '$.url') FROM leads
     WHERE +deleted = 0 AND id > ? ORDER BY id LIMIT ?";

/// Live leads of an id list (JSON array) (`+deleted`: see `feed`).
pub(crate) const MERGE_LEADS_SQL: &str =
    "SELECT data FROM leads WHERE +deleted = 0 AND id IN (SELECT value FROM json_each(?))";

impl Store {
    /// The live lead `id` names: itself, or (for a lead merged away) the lead it was merged
    /// into, following a chain of merges. `None`: no such live lead.
    pub async fn resolve_lead(&self, id: Id) -> Result<Option<Id>> {
        let mut id = id;
        for _ in 0..16 {
            let row: Option<(bool, Option<String>)> = sqlx::query_as(
                "SELECT deleted, json_extract(data, '$.merged_into') FROM leads WHERE id = ?",
            )
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some((false, _)) => return Ok(Some(id)),
                Some((true, Some(next))) => id = next.parse()?,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Live leads with id > `after`, in id order: id, name and url.
    pub async fn lead_keys(&self, after: Option<Id>, limit: i64) -> Result<Vec<LeadKey>> {
        let rows = sqlx::query(LEAD_KEYS_SQL)
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LeadKey {
                    id: r.get::<String, _>(0).parse()?,
                    name: r.get(1),
                    url: r.get(2),
                })
            })
            .collect()
    }

    /// Live contacts (of live leads) with id > `after`, in id order, with their emails and
    /// phones.
    pub async fn contact_keys(&self, after: Option<Id>, limit: i64) -> Result<Vec<ContactKey>> {
        let rows = sqlx::query(
            "SELECT c.id, c.lead_id,
               (SELECT group_concat(e.value ->> 'email', char(31)) FROM json_each(c.data, '$.emails') e),
               (SELECT group_concat(p.value ->> 'phone', char(31)) FROM json_each(c.data, '$.phones') p)
             FROM contacts c WHERE c.deleted = 0 AND c.id > ?
               AND EXISTS (SELECT 1 FROM leads l WHERE l.id = c.lead_id AND l.deleted = 0)
             ORDER BY c.id LIMIT ?",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ContactKey {
                    id: r.get::<String, _>(0).parse()?,
                    lead_id: r.get::<String, _>(1).parse()?,
                    emails: split(r.get(2)),
                    phones: split(r.get(3)),
                })
            })
            .collect()
    }

    /// The newest unfinished import of this file (same path, size and head hash), if any.
    pub async fn running_import(
        &self,
        path: &str,
        size: i64,
        head_hash: &str,
    ) -> Result<Option<ImportCheckpoint>> {
        Ok(sqlx::query_as::<_, ImportCheckpoint>(
            "SELECT * FROM imports WHERE path = ? AND size = ? AND head_hash = ? AND state = 'running'
             ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(path)
        .bind(size)
        .bind(head_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The newest import of this file (same path, size and head hash), finished or not.
    pub async fn last_import(
        &self,
        path: &str,
        size: i64,
        head_hash: &str,
    ) -> Result<Option<ImportCheckpoint>> {
        Ok(sqlx::query_as::<_, ImportCheckpoint>(
            "SELECT * FROM imports WHERE path = ? AND size = ? AND head_hash = ?
             ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(path)
        .bind(size)
        .bind(head_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An import by id.
    pub async fn import_checkpoint(&self, id: &str) -> Result<Option<ImportCheckpoint>> {
        Ok(
            sqlx::query_as::<_, ImportCheckpoint>("SELECT * FROM imports WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Marks an import finished (nothing left to resume).
    pub async fn finish_import(&self, id: &str, summary: &str) -> Result<()> {
        sqlx::query("UPDATE imports SET state = 'done', summary = ?, updated_at = ? WHERE id = ?")
            .bind(summary)
            .bind(rapport_core::time::fmt(&self.now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Writer {
    /// Inserts or rewrites an import's checkpoint inside this transaction.
    pub async fn save_import(&mut self, cp: &ImportCheckpoint) -> Result<()> {
        sqlx::query(
            "INSERT INTO imports (id, path, size, head_hash, mapping, options, rows_done, byte_offset,
                                  next_line, errors_len, summary, state, started_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET rows_done = excluded.rows_done,
               byte_offset = excluded.byte_offset, next_line = excluded.next_line,
               errors_len = excluded.errors_len, summary = excluded.summary,
               state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(&cp.id)
        .bind(&cp.path)
        .bind(cp.size)
        .bind(&cp.head_hash)
        .bind(&cp.mapping)
        .bind(&cp.options)
        .bind(cp.rows_done)
        .bind(cp.byte_offset)
        .bind(cp.next_line)
        .bind(cp.errors_len)
        .bind(&cp.summary)
        .bind(&cp.state)
        .bind(&cp.started_at)
        .bind(&cp.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A live lead, or `None` (deleted meanwhile).
    pub async fn live_lead(&mut self, id: Id) -> Result<Option<Lead>> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM leads WHERE id = ? AND deleted = 0")
                .bind(id.to_string())
                .fetch_optional(&mut *self.tx)
                .await?;
        data.map(|d| decode(&d)).transpose()
    }

    /// The live leads among `ids` (any order; deleted and unknown ids are left out).
    pub async fn live_leads(&mut self, ids: &[Id]) -> Result<Vec<Lead>> {
        let list = serde_json::to_string(&ids.iter().map(|i| i.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let rows: Vec<String> = sqlx::query_scalar(MERGE_LEADS_SQL)
            .bind(&list)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|d| decode(d)).collect()
    }

    /// A lead's live notes (an import does not add the same note twice).
    pub async fn notes_of(&mut self, lead: Id) -> Result<Vec<Activity>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM activities WHERE lead_id = ? AND kind = 'note' AND deleted = 0 ORDER BY id",
        )
        .bind(lead.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|d| decode(d)).collect()
    }
}

impl Writer {
    /// The lead of each of `ids` that is a contact, activity, task or opportunity in the store
    /// (tombstones too): an import must not move a record to another lead.
    pub async fn leads_of_records(&mut self, ids: &[Id]) -> Result<HashMap<Id, Id>> {
        let list = serde_json::to_string(&ids.iter().map(|i| i.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let mut out = HashMap::new();
        for table in ["contacts", "activities", "tasks", "opportunities"] {
            let sql = format!(
                "SELECT id, lead_id FROM {table} WHERE id IN (SELECT value FROM json_each(?))"
            );
            let rows = sqlx::query(&sql)
                .bind(&list)
                .fetch_all(&mut *self.tx)
                .await?;
            for r in &rows {
                out.insert(
                    r.get::<String, _>(0).parse()?,
                    r.get::<String, _>(1).parse()?,
                );
            }
        }
        Ok(out)
    }
}

/// A lead as an upsert needs it: the lead, its live contacts and its live notes.
pub type MergeTarget = (Lead, Vec<Contact>, Vec<Activity>);

impl Writer {
    /// Live leads among `ids` with their contacts and notes, in three queries (an import
    /// chunk's upserts read everything they need at once).
    pub async fn merge_targets(&mut self, ids: &[Id]) -> Result<HashMap<Id, MergeTarget>> {
        let list = serde_json::to_string(&ids.iter().map(|i| i.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let leads: Vec<String> = sqlx::query_scalar(MERGE_LEADS_SQL)
            .bind(&list)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut out = HashMap::with_capacity(leads.len());
        for d in &leads {
            let lead: Lead = decode(d)?;
            out.insert(lead.id, (lead, vec![], vec![]));
        }
        let contacts = sqlx::query(
            "SELECT data FROM contacts WHERE deleted = 0 AND lead_id IN (SELECT value FROM json_each(?))
             ORDER BY lead_id, id",
        )
        .bind(&list)
        .fetch_all(&mut *self.tx)
        .await?;
        for r in &contacts {
            let c: Contact = decode(&r.get::<String, _>(0))?;
            if let Some(t) = out.get_mut(&c.lead_id) {
                t.1.push(c);
            }
        }
        let notes = sqlx::query(
            "SELECT data FROM activities WHERE kind = 'note' AND deleted = 0
               AND lead_id IN (SELECT value FROM json_each(?)) ORDER BY lead_id, id",
        )
        .bind(&list)
        .fetch_all(&mut *self.tx)
        .await?;
        for r in &notes {
            let a: Activity = decode(&r.get::<String, _>(0))?;
            if let Some(t) = out.get_mut(&a.lead_id) {
                t.2.push(a);
            }
        }
        Ok(out)
    }
}
