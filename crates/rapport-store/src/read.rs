//! The read side: the lead page (lead, contacts, open tasks, opportunities and the newest
//! timeline items in one read transaction), the lead list, settings and the outbox.

use crate::Store;
use crate::error::Result;
use crate::rows::decode;
use rapport_core::*;
use serde::Serialize;
use sqlx::Row;

/// Timeline items per page.
pub const TIMELINE_PAGE: i64 = 50;

#[derive(Debug, Clone, Serialize)]
pub struct LeadPage {
    pub lead: Lead,
    pub contacts: Vec<Contact>,
    /// Open tasks only.
    pub tasks: Vec<Task>,
    pub opportunities: Vec<Opportunity>,
    /// Newest first.
    pub timeline: Vec<Activity>,
    /// Pass as `before` to read older items; `None` when there are none.
    pub next_cursor: Option<Id>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelinePage {
    pub items: Vec<Activity>,
    pub next_cursor: Option<Id>,
}

/// One row of the lead list, read from indexed columns and aggregates only.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LeadSummary {
    pub id: String,
    pub name: String,
    pub status_label: String,
    pub primary_contact: Option<String>,
    pub city: Option<String>,
    pub contacts: i64,
    pub last_activity: Option<String>,
    pub date_updated: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    pub leads: i64,
    pub contacts: i64,
    pub activities: i64,
    pub tasks: i64,
    pub opportunities: i64,
    pub outbox: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    pub seq: i64,
    pub entity: String,
    pub record_id: String,
    pub lead_id: Option<String>,
    pub op: String,
    pub fields: String,
    pub hlc: String,
}

/// A lead's aggregates, as maintained by the write path.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Aggregates {
    pub n_contacts: i64,
    pub n_calls: i64,
    pub n_emails: i64,
    pub n_notes: i64,
    pub n_meetings: i64,
    pub n_activities: i64,
    pub n_tasks: i64,
    pub n_opportunities: i64,
    pub last_called: Option<String>,
    pub last_emailed: Option<String>,
    pub email_opened: Option<String>,
    pub last_activity: Option<String>,
}

fn decode_all<T: serde::de::DeserializeOwned>(rows: &[String]) -> Result<Vec<T>> {
    rows.iter().map(|d| decode(d)).collect()
}

fn split_page(mut items: Vec<Activity>, limit: i64) -> (Vec<Activity>, Option<Id>) {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let cursor = if more {
        items.last().map(|a| a.id)
    } else {
        None
    };
    (items, cursor)
}

/// Live leads after an id, in id order (`+deleted`: see `feed`).
pub(crate) const BUNDLES_SQL: &str =
    "SELECT data FROM leads WHERE +deleted = 0 AND id > ? ORDER BY id LIMIT ?";

impl Store {
    /// The lead page in one read transaction (a consistent snapshot).
    pub async fn lead_page(&self, id: Id) -> Result<LeadPage> {
        let key = id.to_string();
        let mut tx = self.pool.begin().await?;
        let lead: Option<String> =
            sqlx::query_scalar("SELECT data FROM leads WHERE id = ? AND deleted = 0")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        let lead: Lead = decode(&lead.ok_or_else(|| rapport_core::Error::not_found("lead", id))?)?;
        let contacts: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM contacts WHERE lead_id = ? AND deleted = 0 ORDER BY id",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await?;
        let tasks: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM tasks WHERE lead_id = ? AND deleted = 0 AND done = 0 ORDER BY id",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await?;
        let opps: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM opportunities WHERE lead_id = ? AND deleted = 0 ORDER BY id",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await?;
        let timeline: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM activities WHERE lead_id = ? AND deleted = 0 ORDER BY id DESC LIMIT ?",
        )
        .bind(&key)
        .bind(TIMELINE_PAGE + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let (timeline, next_cursor) = split_page(decode_all(&timeline)?, TIMELINE_PAGE);
        Ok(LeadPage {
            lead,
            contacts: decode_all(&contacts)?,
            tasks: decode_all(&tasks)?,
            opportunities: decode_all(&opps)?,
            timeline,
            next_cursor,
        })
    }

    /// Timeline items strictly older than `before` (an activity id), newest first.
    pub async fn timeline(&self, lead: Id, before: Option<Id>, limit: i64) -> Result<TimelinePage> {
        let before = before.map(|b| b.to_string()).unwrap_or_else(|| "~".into());
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM activities WHERE lead_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(lead.to_string())
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let (items, next_cursor) = split_page(decode_all(&rows)?, limit);
        Ok(TimelinePage { items, next_cursor })
    }

    pub async fn lead(&self, id: Id) -> Result<Lead> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM leads WHERE id = ? AND deleted = 0")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        decode(&data.ok_or_else(|| rapport_core::Error::not_found("lead", id))?)
    }

    pub async fn aggregates(&self, id: Id) -> Result<Aggregates> {
        let row = sqlx::query_as::<_, Aggregates>(
            "SELECT n_contacts, n_calls, n_emails, n_notes, n_meetings, n_activities, n_tasks, n_opportunities,
                    last_called, last_emailed, email_opened, last_activity FROM leads WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| rapport_core::Error::not_found("lead", id).into())
    }

    /// Leads ordered by last update, newest first.
    pub async fn list_leads(&self, offset: i64, limit: i64) -> Result<Vec<LeadSummary>> {
        Ok(sqlx::query_as::<_, LeadSummary>(
            "SELECT id, name, status_label, primary_contact, city, n_contacts AS contacts, last_activity, date_updated
             FROM leads WHERE deleted = 0 ORDER BY date_updated DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit.clamp(0, 10_000))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn lead_count(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM leads WHERE deleted = 0")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Finds leads by exact (case-insensitive) name — for the CLI's `lead show NAME`.
    pub async fn leads_named(&self, name: &str) -> Result<Vec<Lead>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM leads WHERE deleted = 0 AND name = ? COLLATE NOCASE ORDER BY id LIMIT 20")
                .bind(name.trim())
                .fetch_all(&self.pool)
                .await?;
        decode_all(&rows)
    }

    pub async fn stats(&self) -> Result<StoreStats> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM leads WHERE deleted = 0), (SELECT count(*) FROM contacts WHERE deleted = 0),
                    (SELECT count(*) FROM activities WHERE deleted = 0), (SELECT count(*) FROM tasks WHERE deleted = 0),
                    (SELECT count(*) FROM opportunities WHERE deleted = 0), (SELECT count(*) FROM outbox)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreStats {
            leads: row.get(0),
            contacts: row.get(1),
            activities: row.get(2),
            tasks: row.get(3),
            opportunities: row.get(4),
            outbox: row.get(5),
        })
    }

    pub async fn statuses(&self) -> Result<Vec<LeadStatus>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM lead_statuses WHERE deleted = 0 ORDER BY position",
        )
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows)
    }

    pub async fn fields(&self) -> Result<Vec<CustomFieldDef>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM custom_fields WHERE deleted = 0 ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        decode_all(&rows)
    }

    pub async fn views(&self) -> Result<Vec<SmartView>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM smart_views WHERE deleted = 0 ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        decode_all(&rows)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT data FROM users WHERE deleted = 0")
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows)
    }

    /// Open tasks across all leads (or all tasks), soonest due first.
    pub async fn tasks(&self, include_done: bool, limit: i64) -> Result<Vec<Task>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT t.data FROM tasks t JOIN leads l ON l.id = t.lead_id AND l.deleted = 0
             WHERE t.deleted = 0 AND (? OR t.done = 0)
             ORDER BY coalesce(json_extract(t.data, '$.date'), '9999') , t.id LIMIT ?",
        )
        .bind(include_done)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows)
    }

    /// Outbox entries after `seq`, oldest first.
    pub async fn outbox_since(&self, seq: i64, limit: i64) -> Result<Vec<OutboxEntry>> {
        Ok(sqlx::query_as::<_, OutboxEntry>(
            "SELECT seq, entity, record_id, lead_id, op, fields, hlc FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest change-feed sequence number: advances whenever anything is written or
    /// pulled (read from `sqlite_sequence`, so compacting the feed never moves it back).
    pub async fn last_seq(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// The newest outbox sequence number: advances on every local write (never on a pull).
    pub async fn outbox_seq(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Drops change-feed entries up to `seq` (the search index has them), and, on a store
    /// that has not joined a team server, the outbox: joining pushes every record's whole
    /// state, so a store that never syncs needs none of it (a joined store's outbox is
    /// compacted by the server's acknowledgements instead).
    pub async fn compact_feed(&self, seq: i64) -> Result<()> {
        // On the write connection, queued with the other writes (a pooled connection would
        // wait on SQLite's lock instead).
        let mut w = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM changes WHERE seq <= ?1;
             DELETE FROM outbox WHERE NOT EXISTS (SELECT 1 FROM sync_state)",
        )
        .bind(seq)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// A live activity by id.
    pub async fn activity(&self, id: Id) -> Result<Activity> {
        let d: Option<String> =
            sqlx::query_scalar("SELECT data FROM activities WHERE id = ? AND deleted = 0")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        match d {
            Some(d) => decode(&d),
            None => Err(rapport_core::Error::not_found("activity", id).into()),
        }
    }

    /// The stored field clocks of a record, as JSON text.
    pub async fn clocks(&self, table_entity: plan::Entity, id: Id) -> Result<Option<String>> {
        let t = crate::rows::table(table_entity);
        let sql = format!("SELECT clocks FROM {} WHERE id = ?", t.name);
        Ok(sqlx::query_scalar(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whole leads with everything nested, in id order after `after` (for export).
    pub async fn bundles(&self, after: Option<Id>, limit: i64) -> Result<Vec<LeadBundle>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        let leads: Vec<String> = sqlx::query_scalar(BUNDLES_SQL)
            .bind(&after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let leads: Vec<Lead> = decode_all(&leads)?;
        let (Some(first), Some(last)) = (leads.first(), leads.last()) else {
            return Ok(vec![]);
        };
        let (lo, hi) = (first.id.to_string(), last.id.to_string());
        let mut out: Vec<LeadBundle> = leads
            .into_iter()
            .map(|lead| LeadBundle {
                lead,
                contacts: vec![],
                activities: vec![],
                tasks: vec![],
                opportunities: vec![],
            })
            .collect();
        let index: std::collections::HashMap<Id, usize> = out
            .iter()
            .enumerate()
            .map(|(i, b)| (b.lead.id, i))
            .collect();
        for table in ["contacts", "activities", "tasks", "opportunities"] {
            let sql = format!(
                "SELECT lead_id, data FROM {table} WHERE deleted = 0 AND lead_id >= ? AND lead_id <= ? ORDER BY lead_id, id"
            );
            let rows = sqlx::query(&sql)
                .bind(&lo)
                .bind(&hi)
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let lead: String = row.get(0);
                let Ok(lead) = lead.parse::<Id>() else {
                    continue;
                };
                let Some(&i) = index.get(&lead) else { continue };
                let data: String = row.get(1);
                let b = &mut out[i];
                match table {
                    "contacts" => b.contacts.push(decode(&data)?),
                    "activities" => b.activities.push(decode(&data)?),
                    "tasks" => b.tasks.push(decode(&data)?),
                    _ => b.opportunities.push(decode(&data)?),
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}
