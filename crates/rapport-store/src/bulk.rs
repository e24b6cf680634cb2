//! The bulk write path (demo data, imports): whole leads with their records, upserted with
//! multi-row statements in one transaction per call, with the same clocks and outbox entries
//! as single operations, and the aggregates of every touched lead refreshed.

use crate::aggregates;
use crate::error::Result;
use crate::rows::{self, Val};
use crate::undo::JournalRow;
use crate::{Store, Writer};
use rapport_core::plan::{Entity, Record, Write, WriteKind, changed_fields};
use rapport_core::{ActivityKind, LeadBundle, time};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// Rows per multi-row statement (well under SQLite's bound-variable limit).
const ROWS_PER_STATEMENT: usize = 100;
/// Rows per statement of `insert_new_bundles` (≤ 21 values a row: under 32766 variables).
const NEW_ROWS_PER_STATEMENT: usize = 400;

/// The aggregate columns of `leads`, in the order `new_lead_aggregates` returns them.
const AGGREGATE_COLS: [&str; 13] = [
    "primary_contact",
    "n_contacts",
    "n_calls",
    "n_emails",
    "n_notes",
    "n_meetings",
    "n_activities",
    "n_tasks",
    "n_opportunities",
    "last_called",
    "last_emailed",
    "email_opened",
    "last_activity",
];

/// A new lead's aggregates computed from its bundle, exactly as `aggregates::refresh` would
/// compute them from the rows (every record of a new bundle is live; dates compare as their
/// stored text).
fn new_lead_aggregates(b: &LeadBundle) -> Vec<Val> {
    let primary = b
        .contacts
        .iter()
        .min_by_key(|c| c.id)
        .map(|c| c.name.clone());
    let (mut calls, mut emails, mut notes, mut meetings) = (0i64, 0i64, 0i64, 0i64);
    let (mut last_called, mut last_emailed, mut opened, mut last) = (
        None::<String>,
        None::<String>,
        None::<String>,
        None::<String>,
    );
    fn newest(slot: &mut Option<String>, v: &str) {
        if slot.as_deref().is_none_or(|s| v > s) {
            *slot = Some(v.to_string());
        }
    }
    for a in &b.activities {
        let at = time::fmt(&a.activity_at);
        match &a.kind {
            ActivityKind::Call(_) => {
                calls += 1;
                newest(&mut last_called, &at);
            }
            ActivityKind::Email(e) => {
                emails += 1;
                newest(&mut last_emailed, &at);
                if let Some(o) = e.opens.iter().max() {
                    newest(&mut opened, &time::fmt(o));
                }
            }
            ActivityKind::Note(_) => notes += 1,
            ActivityKind::Meeting(_) => meetings += 1,
            _ => {}
        }
        newest(&mut last, &at);
    }
    vec![
        Val::OptText(primary),
        Val::Int(b.contacts.len() as i64),
        Val::Int(calls),
        Val::Int(emails),
        Val::Int(notes),
        Val::Int(meetings),
        Val::Int(b.activities.len() as i64),
        Val::Int(b.tasks.iter().filter(|t| !t.is_complete).count() as i64),
        Val::Int(b.opportunities.len() as i64),
        Val::OptText(last_called),
        Val::OptText(last_emailed),
        Val::OptText(opened),
        Val::OptText(last),
    ]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BulkReport {
    pub leads: usize,
    pub records: usize,
}

impl Store {
    /// Writes whole leads (created or replaced) in one transaction. The caller validated them.
    pub async fn write_bundles(&self, bundles: Vec<LeadBundle>) -> Result<BulkReport> {
        let mut w = self.begin_write().await?;
        let report = w.write_bundles(bundles).await?;
        w.commit().await?;
        Ok(report)
    }
}

impl Writer {
    /// `Store::write_bundles` inside this transaction (an import adds its checkpoint to it).
    /// A record whose id is new is created (every field under one creation stamp); one that
    /// exists is an update of the fields whose values differ, keeping its other clocks and its
    /// tombstone flag — a re-import never resets clocks or revives a deleted record.
    pub async fn write_bundles(&mut self, bundles: Vec<LeadBundle>) -> Result<BulkReport> {
        let w = self;
        let stamp = w.bulk_stamp();
        let create_clocks = serde_json::json!({ "*": stamp }).to_string();
        let mut by_entity: Vec<(Entity, Vec<Record>)> = std::iter::once(Entity::Lead)
            .chain(Entity::LEAD_CHILDREN)
            .map(|e| (e, Vec::new()))
            .collect();
        let slot = |e: Entity| {
            std::iter::once(Entity::Lead)
                .chain(Entity::LEAD_CHILDREN)
                .position(|x| x == e)
                .unwrap_or_default()
        };
        let mut lead_ids = Vec::with_capacity(bundles.len());
        let n_leads = bundles.len();
        for b in bundles {
            lead_ids.push(b.lead.id.to_string());
            by_entity[0].1.push(Record::Lead(b.lead));
            let children = b
                .contacts
                .into_iter()
                .map(Record::Contact)
                .chain(b.activities.into_iter().map(Record::Activity))
                .chain(b.tasks.into_iter().map(Record::Task))
                .chain(b.opportunities.into_iter().map(Record::Opportunity));
            for r in children {
                by_entity[slot(r.entity())].1.push(r);
            }
        }
        let mut records = 0;
        for (entity, list) in &by_entity {
            let t = rows::table(*entity);
            for chunk in list.chunks(ROWS_PER_STATEMENT) {
                let existing = w.existing(&t, chunk).await?;
                let (mut new_vals, mut new_outbox, mut n_new) = (Vec::new(), Vec::new(), 0);
                let (mut upd_vals, mut upd_outbox, mut n_upd) = (Vec::new(), Vec::new(), 0);
                for r in chunk {
                    let id = r.id().to_string();
                    match existing.get(&id) {
                        None => {
                            new_vals.extend(rows::row_values(r, create_clocks.clone(), false)?);
                            outbox_row(&mut new_outbox, r, "create", r#"["*"]"#.into(), &stamp);
                            n_new += 1;
                        }
                        Some((old, deleted)) => {
                            let fields = changed_fields(old, &r.to_json());
                            if fields.is_empty() {
                                continue;
                            }
                            let clocks: serde_json::Map<String, serde_json::Value> = fields
                                .iter()
                                .map(|k| (k.clone(), serde_json::Value::String(stamp.clone())))
                                .collect();
                            upd_vals.extend(rows::row_values(
                                r,
                                serde_json::Value::Object(clocks).to_string(),
                                *deleted,
                            )?);
                            let names = serde_json::to_string(&fields).unwrap_or_default();
                            outbox_row(&mut upd_outbox, r, "update", names, &stamp);
                            n_upd += 1;
                        }
                    }
                }
                for (n, sql, vals, outbox) in [
                    (n_new, rows::insert_sql(&t, n_new), new_vals, new_outbox),
                    (n_upd, rows::upsert_sql(&t, n_upd), upd_vals, upd_outbox),
                ] {
                    if n == 0 {
                        continue;
                    }
                    rows::bind(sqlx::query(&sql), vals)
                        .execute(&mut *w.tx)
                        .await?;
                    rows::bind(sqlx::query(&outbox_sql(n)), outbox)
                        .execute(&mut *w.tx)
                        .await?;
                    records += n;
                }
            }
        }
        w.feed_leads(&lead_ids).await?;
        aggregates::refresh(&mut w.tx, &lead_ids).await?;
        w.mark_wrote();
        Ok(BulkReport {
            leads: n_leads,
            records,
        })
    }

    /// Executes the writes of many plans (a bulk action over many leads, an undo) as one
    /// operation batch: one stamp, multi-row upserts per kind of record, one outbox entry
    /// per record naming the keys that changed, the feed and aggregates of every lead
    /// touched (before and after), and the undo journal when this writer keeps one. Each
    /// record appears at most once. The writes come from operations (validated).
    pub async fn apply_batch(&mut self, writes: Vec<Write>) -> Result<BulkReport> {
        let stamp = self.bulk_stamp();
        let mut groups: Vec<(Entity, Vec<Write>)> = Vec::new();
        for w in writes {
            let e = w.record.entity();
            match groups.iter_mut().find(|(x, _)| *x == e) {
                Some((_, v)) => v.push(w),
                None => groups.push((e, vec![w])),
            }
        }
        groups.sort_by_key(|(e, _)| Entity::ALL.iter().position(|x| x == e));
        let mut leads: BTreeSet<String> = BTreeSet::new();
        let mut journal = Vec::new();
        let mut records = 0;
        for (entity, list) in &groups {
            let t = rows::table(*entity);
            for chunk in list.chunks(ROWS_PER_STATEMENT) {
                let recs: Vec<Record> = chunk.iter().map(|w| w.record.clone()).collect();
                let existing = self.existing(&t, &recs).await?;
                let (mut vals, mut outbox, mut n) = (Vec::new(), Vec::new(), 0);
                for w in chunk {
                    let r = &w.record;
                    let id = r.id().to_string();
                    let new = r.to_json();
                    let old = existing.get(&id);
                    let was_deleted = old.is_some_and(|(_, d)| *d);
                    let deleted = match w.kind {
                        WriteKind::Delete => true,
                        WriteKind::Undelete => false,
                        _ => was_deleted,
                    };
                    let (op, keys) = match old {
                        None => ("create", vec!["*".to_string()]),
                        Some((old, _)) => {
                            let mut keys: Vec<String> = changed_fields(old, &new)
                                .into_iter()
                                .filter(|f| f != "date_updated")
                                .collect();
                            if deleted != was_deleted {
                                keys.push(crate::write::DELETED.into());
                            }
                            let op = if deleted && !was_deleted {
                                "delete"
                            } else {
                                "update"
                            };
                            (op, keys)
                        }
                    };
                    if keys.is_empty() {
                        continue;
                    }
                    if let Some(l) = r.lead_id() {
                        leads.insert(l.to_string());
                    }
                    if let Some(l) = old
                        .and_then(|(o, _)| o.get("lead_id"))
                        .and_then(|l| l.as_str())
                    {
                        leads.insert(l.to_string());
                    }
                    let clocks: serde_json::Map<String, serde_json::Value> = keys
                        .iter()
                        .map(|k| (k.clone(), serde_json::Value::String(stamp.clone())))
                        .collect();
                    vals.extend(rows::row_values(
                        r,
                        serde_json::Value::Object(clocks).to_string(),
                        deleted,
                    )?);
                    let names = serde_json::to_string(&keys).unwrap_or_default();
                    outbox_row(&mut outbox, r, op, names, &stamp);
                    if self.journal.is_some() {
                        journal.push(JournalRow {
                            entity: *entity,
                            id,
                            before: old.map(|(o, _)| o.to_string()),
                            before_deleted: was_deleted,
                            fields: keys,
                        });
                    }
                    n += 1;
                }
                if n == 0 {
                    continue;
                }
                rows::bind(sqlx::query(&rows::upsert_sql(&t, n)), vals)
                    .execute(&mut *self.tx)
                    .await?;
                rows::bind(sqlx::query(&outbox_sql(n)), outbox)
                    .execute(&mut *self.tx)
                    .await?;
                records += n;
            }
        }
        self.journal_rows(journal).await?;
        let lead_ids: Vec<String> = leads.into_iter().collect();
        self.feed_leads(&lead_ids).await?;
        for chunk in lead_ids.chunks(5_000) {
            aggregates::refresh(&mut self.tx, chunk).await?;
        }
        self.mark_wrote();
        self.records += records as u64;
        Ok(BulkReport {
            leads: lead_ids.len(),
            records,
        })
    }

    /// One stamp for a bulk write (its records are one operation batch).
    fn bulk_stamp(&mut self) -> String {
        let now_ms = self.now_ms();
        let h = self.hlc_mut();
        *h = h.tick(now_ms);
        h.to_string()
    }

    /// The stored JSON and tombstone flag of those of `chunk`'s records that exist.
    async fn existing(
        &mut self,
        t: &rows::Table,
        chunk: &[Record],
    ) -> Result<HashMap<String, (serde_json::Value, bool)>> {
        let ids: Vec<String> = chunk.iter().map(|r| r.id().to_string()).collect();
        let sql = format!(
            "SELECT id, data, deleted FROM {} WHERE id IN (SELECT value FROM json_each(?))",
            t.name
        );
        let rows: Vec<(String, String, bool)> = sqlx::query_as(&sql)
            .bind(serde_json::to_string(&ids).unwrap_or_default())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter()
            .map(|(id, data, deleted)| {
                let v = serde_json::from_str(&data)
                    .map_err(|e| crate::Error::Corrupt(format!("undecodable record: {e}")))?;
                Ok((id, (v, deleted)))
            })
            .collect()
    }

    /// One change-feed entry per lead of a bulk write (the indexer re-reads whole leads).
    pub(crate) async fn feed_leads(&mut self, lead_ids: &[String]) -> Result<()> {
        for chunk in lead_ids.chunks(NEW_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO changes (entity, record_id, lead_id) VALUES {}",
                vec!["('lead', ?, ?)"; chunk.len()].join(", ")
            );
            let vals = chunk
                .iter()
                .flat_map(|id| [Val::Text(id.clone()), Val::Text(id.clone())])
                .collect();
            rows::bind(sqlx::query(&sql), vals)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Writes leads that are not in the store yet (an import's new leads: fresh ids) with
    /// their records, in this transaction: the same rows, clocks and outbox entries as
    /// `write_bundles`, but each lead's aggregates are computed from its bundle and inserted
    /// with it instead of being recomputed by query. A lead id already in the store fails
    /// the statement (plain `INSERT`), so the shortcut can never leave wrong aggregates.
    pub async fn insert_new_bundles(&mut self, bundles: Vec<LeadBundle>) -> Result<BulkReport> {
        let w = self;
        let stamp = w.bulk_stamp();
        let clocks = serde_json::json!({ "*": stamp }).to_string();
        let fields = r#"["*"]"#.to_string();
        let n_leads = bundles.len();
        let mut records = 0;
        let lead_table = rows::table(Entity::Lead);
        let mut leads = Vec::with_capacity(n_leads);
        let mut lead_ids = Vec::with_capacity(n_leads);
        let mut children: Vec<(Entity, Vec<Record>)> = vec![
            (Entity::Contact, vec![]),
            (Entity::Activity, vec![]),
            (Entity::Task, vec![]),
            (Entity::Opportunity, vec![]),
        ];
        for b in bundles {
            let agg = new_lead_aggregates(&b);
            children[0]
                .1
                .extend(b.contacts.into_iter().map(Record::Contact));
            children[1]
                .1
                .extend(b.activities.into_iter().map(Record::Activity));
            children[2].1.extend(b.tasks.into_iter().map(Record::Task));
            children[3]
                .1
                .extend(b.opportunities.into_iter().map(Record::Opportunity));
            lead_ids.push(b.lead.id.to_string());
            leads.push((Record::Lead(b.lead), agg));
        }
        let outbox_of = |_: Entity, r: &Record, out: &mut Vec<Val>| {
            outbox_row(out, r, "create", fields.clone(), &stamp)
        };
        let ncols = lead_table.cols.len() + 3 + AGGREGATE_COLS.len();
        for chunk in leads.chunks(NEW_ROWS_PER_STATEMENT) {
            let group = format!("({})", vec!["?"; ncols].join(","));
            let sql = format!(
                "INSERT INTO leads ({}, data, clocks, deleted, {}) VALUES {}",
                lead_table.cols.join(", "),
                AGGREGATE_COLS.join(", "),
                vec![group; chunk.len()].join(",")
            );
            let mut vals = Vec::with_capacity(chunk.len() * ncols);
            let mut outbox = Vec::with_capacity(chunk.len() * 5);
            for (r, agg) in chunk {
                vals.extend(rows::row_values(r, clocks.clone(), false)?);
                vals.extend(agg.iter().cloned());
                outbox_of(Entity::Lead, r, &mut outbox);
            }
            rows::bind(sqlx::query(&sql), vals)
                .execute(&mut *w.tx)
                .await?;
            rows::bind(sqlx::query(&outbox_sql(chunk.len())), outbox)
                .execute(&mut *w.tx)
                .await?;
            records += chunk.len();
        }
        for (entity, list) in &children {
            let t = rows::table(*entity);
            for chunk in list.chunks(NEW_ROWS_PER_STATEMENT.min(32_000 / (t.cols.len() + 3))) {
                let sql = rows::insert_sql(&t, chunk.len());
                let mut vals = Vec::with_capacity(chunk.len() * (t.cols.len() + 3));
                let mut outbox = Vec::with_capacity(chunk.len() * 5);
                for r in chunk {
                    vals.extend(rows::row_values(r, clocks.clone(), false)?);
                    outbox_of(*entity, r, &mut outbox);
                }
                rows::bind(sqlx::query(&sql), vals)
                    .execute(&mut *w.tx)
                    .await?;
                rows::bind(sqlx::query(&outbox_sql(chunk.len())), outbox)
                    .execute(&mut *w.tx)
                    .await?;
                records += chunk.len();
            }
        }
        w.feed_leads(&lead_ids).await?;
        w.mark_wrote();
        Ok(BulkReport {
            leads: n_leads,
            records,
        })
    }
}

/// `INSERT INTO outbox … VALUES (…)×n` (values from [`outbox_row`]).
fn outbox_sql(n: usize) -> String {
    format!(
        "INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// The values of one outbox row.
fn outbox_row(out: &mut Vec<Val>, r: &Record, op: &str, fields: String, stamp: &str) {
    out.push(Val::Text(r.entity().as_str().into()));
    out.push(Val::Text(r.id().to_string()));
    out.push(Val::OptText(r.lead_id().map(|l| l.to_string())));
    out.push(Val::Text(op.into()));
    out.push(Val::Text(fields));
    out.push(Val::Text(stamp.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_core::DEFAULT_STATUSES;
    use sqlx::Row;

    async fn rows_of(s: &Store, sql: &str) -> Vec<Vec<Option<String>>> {
        let rows = sqlx::query(sql).fetch_all(s.pool()).await.unwrap();
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|n| Some(n.to_string())))
                            .unwrap()
                    })
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn new_bundles_get_the_aggregates_the_refresh_computes() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path().join("a.db")).await.unwrap();
        let b = Store::open(dir.path().join("b.db")).await.unwrap();
        let now = time::parse("2026-01-01T00:00:00Z").unwrap();
        let statuses: Vec<String> = DEFAULT_STATUSES.iter().map(|s| s.to_string()).collect();
        let bundles: Vec<LeadBundle> = (0..120)
            .map(|n| rapport_core::demo::lead(7, n, now, &statuses, None))
            .collect();
        assert!(
            bundles
                .iter()
                .any(|b| b.activities.len() > 2 && !b.tasks.is_empty())
        );
        a.write_bundles(bundles.clone()).await.unwrap();
        let mut w = b.begin_write().await.unwrap();
        let report = w.insert_new_bundles(bundles.clone()).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(report.leads, 120);
        let leads = format!(
            "SELECT id, name, status_label, date_updated, city, data, deleted, {} FROM leads ORDER BY id",
            AGGREGATE_COLS.join(", ")
        );
        let (ra, rb) = (rows_of(&a, &leads).await, rows_of(&b, &leads).await);
        assert_eq!(ra.len(), 120);
        assert!(ra == rb, "same rows and aggregates as the refresh");
        for t in ["contacts", "activities", "tasks", "opportunities"] {
            // Clocks differ (each store has its own node id); everything else is the same.
            let sql = format!("SELECT id, lead_id, data, deleted FROM {t} ORDER BY id");
            let same = rows_of(&a, &sql).await == rows_of(&b, &sql).await;
            assert!(same, "{t}");
        }
        let outbox = "SELECT entity, record_id, lead_id, op, fields FROM outbox
                      WHERE lead_id IS NOT NULL OR entity = 'lead' ORDER BY entity, record_id";
        let (oa, ob) = (rows_of(&a, outbox).await, rows_of(&b, outbox).await);
        assert_eq!(oa.len(), ob.len());
        for (x, y) in oa.iter().zip(&ob) {
            assert_eq!(x, y);
        }
        // A lead that is already there is refused, and nothing of the call stays.
        let seq = b.last_seq().await.unwrap();
        let mut w = b.begin_write().await.unwrap();
        assert!(w.insert_new_bundles(bundles[..1].to_vec()).await.is_err());
        drop(w);
        assert_eq!(b.last_seq().await.unwrap(), seq);
    }
}
