//! The write path: a `Writer` holds one `BEGIN IMMEDIATE` transaction and the operation
//! context; `apply` executes a plan (row + field clocks + outbox, then the touched leads'
//! aggregates and the advanced HLC); `commit` commits. Nothing is half-written.
//!
//! Every statement is a round trip to the connection's worker thread, which costs more than
//! the SQL itself, so the settings are read in one statement and each write of a plan is one
//! multi-statement batch.

use crate::Store;
use crate::aggregates;
use crate::error::{Error, Result};
use crate::rows;
use crate::slot::{Slot, WriteConn};
use rapport_core::ops::{Ctx, Rng};
use rapport_core::plan::{Entity, Plan, Record, Write, WriteKind, changed_fields};
use rapport_core::*;
use sqlx::Row;
use sqlx::SqlitePool;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::OnceLock;

pub struct Writer {
    /// The write connection, inside `BEGIN IMMEDIATE` until `commit` (or rollback on drop).
    pub(crate) tx: WriteConn,
    pub ctx: Ctx,
    pub(crate) hlc: Hlc,
    /// Added to the wall clock for stamps (see `now_ms`).
    pub(crate) clock_offset_ms: i64,
    /// The HLC advanced past what this transaction stored in `meta`.
    pub(crate) hlc_unsaved: bool,
    /// Records written, for the background checkpoint.
    pub(crate) records: u64,
    /// A bulk write ran: checkpoint right after the commit.
    pub(crate) bulk: bool,
    /// The undo journal's label for what this transaction writes (`None`: not journaled).
    pub(crate) journal: Option<String>,
    /// The journal's action row, created by the first journaled write.
    pub(crate) action: Option<i64>,
    writes: Arc<Slot>,
    pool: SqlitePool,
}

/// Takes the write lock, then reads everything an operation consults in one statement: the
/// HLC, the default region and the local user from `meta`, the live statuses in order, the
/// live custom field definitions. One round trip.
const BEGIN: &str = "BEGIN IMMEDIATE;
SELECT 0 AS part, key AS k, value AS v, 0 AS ord FROM meta WHERE key IN ('hlc', 'region', 'local_user', 'node_id')
UNION ALL SELECT 1, label, NULL, position FROM lead_statuses WHERE deleted = 0
UNION ALL SELECT 2, id, data, 0 FROM custom_fields WHERE deleted = 0
UNION ALL SELECT 3, 'clock_offset_ms', CAST(clock_offset_ms AS TEXT), 0 FROM sync_state
ORDER BY part, ord, k";

const OUTBOX: &str =
    "INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc) VALUES (?, ?, ?, ?, ?, ?)";
/// The local change feed (search indexer, store watcher): every change, local or pulled.
pub(crate) const CHANGES: &str =
    "INSERT INTO changes (entity, record_id, lead_id) VALUES (?, ?, ?)";
const SAVE_HLC: &str = "UPDATE meta SET value = ? WHERE key = 'hlc'";

/// What follows a write's row and feed entries in its batch.
#[derive(Clone, Copy)]
enum Tail {
    /// More writes of the plan follow.
    None,
    /// The plan's last write: store the HLC.
    Hlc,
    /// The plan's last write: refresh the touched leads' aggregates, store the HLC.
    AggregatesHlc,
}

/// How a write's row is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowSql {
    /// A plain `INSERT` (a creation: fails on an id that exists, which then merges).
    Insert,
    /// Insert or update the columns, data and flag, patching the clocks.
    Upsert,
}

/// The batch for one write: row; outbox entry; feed entry; then the plan's tail. Built once
/// per (entity, row kind, tail), so each is one cached prepared statement list per connection.
fn batch_sql(e: Entity, row: RowSql, tail: Tail) -> &'static str {
    static SQL: OnceLock<Vec<[[String; 3]; 2]>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        Entity::ALL
            .iter()
            .map(|e| {
                let t = rows::table(*e);
                [rows::insert_sql(&t, 1), rows::upsert_sql(&t, 1)].map(|row| {
                    let head = format!("{row};\n{OUTBOX};\n{CHANGES}");
                    [
                        head.clone(),
                        format!("{head};\n{SAVE_HLC}"),
                        format!("{head};\n{};\n{SAVE_HLC}", aggregates::REFRESH),
                    ]
                })
            })
            .collect()
    });
    let i = Entity::ALL.iter().position(|x| *x == e).unwrap_or_default();
    &all[i][(row == RowSql::Upsert) as usize][tail as usize]
}

/// The stored form of the HLC: its time part (`{ms:012x}{counter:04x}`); the node is
/// `meta.node_id`, stored once.
pub(crate) fn hlc_text(h: &Hlc) -> String {
    h.to_string()[..16].to_string()
}

/// Reads the stored HLC (time part, or a whole stamp from before version 3) for `node`.
pub(crate) fn parse_hlc(text: &str, node: NodeId) -> Result<Hlc> {
    let bad = || Error::Corrupt(format!("bad hlc `{text}`"));
    let t = text.get(..16).ok_or_else(bad)?;
    let mut h = Hlc::from_str(&format!("{t}{:016x}", node.0)).map_err(|_| bad())?;
    h.node = node;
    Ok(h)
}

impl Store {
    /// Starts a write: takes the write lock, reads the HLC and the settings operations consult.
    pub async fn begin_write(&self) -> Result<Writer> {
        let mut tx = self.writes.take().await?;
        tx.opening();
        let rows = sqlx::query(BEGIN).fetch_all(&mut *tx).await?;
        let (mut hlc, mut region, mut user, mut node) = (None, None, None, None);
        let mut statuses = Vec::new();
        let mut fields = Vec::new();
        let mut offset = 0i64;
        for r in &rows {
            let part: i64 = r.try_get(0)?;
            let k: String = r.try_get(1)?;
            match part {
                0 => {
                    let v: String = r.try_get(2)?;
                    match k.as_str() {
                        "hlc" => hlc = Some(v),
                        "region" => region = Some(v),
                        "node_id" => node = Some(v),
                        _ => user = Some(v),
                    }
                }
                1 => statuses.push(k),
                2 => fields.push(rows::decode::<CustomFieldDef>(&r.try_get::<String, _>(2)?)?),
                _ => offset = r.try_get::<String, _>(2)?.parse().unwrap_or(0),
            }
        }
        let node = node
            .as_deref()
            .and_then(|n| u64::from_str_radix(n, 16).ok())
            .map(NodeId)
            .ok_or_else(|| Error::Corrupt("no node_id in meta".into()))?;
        let hlc = parse_hlc(
            &hlc.ok_or_else(|| Error::Corrupt("no hlc in meta".into()))?,
            node,
        )?;
        let ctx = Ctx {
            now: self.now(),
            user: user.as_deref().map(Id::from_str).transpose()?,
            region: region.ok_or_else(|| Error::Corrupt("no region in meta".into()))?,
            statuses,
            fields,
            rng: Rng(self.next_seed()),
        };
        Ok(Writer {
            tx,
            ctx,
            hlc,
            clock_offset_ms: offset,
            hlc_unsaved: false,
            records: 0,
            bulk: false,
            journal: None,
            action: None,
            writes: self.writes.clone(),
            pool: self.pool.clone(),
        })
    }
}

/// The outbox operation, the fields it names and the clocks patch of one write.
fn stamps(w: &Write, stamp: &str) -> (&'static str, String, String) {
    let one = |k: &str| {
        (
            serde_json::to_string(&[k]).unwrap_or_default(),
            serde_json::json!({ k: stamp }).to_string(),
        )
    };
    match &w.kind {
        WriteKind::Create => {
            let (f, c) = one("*");
            ("create", f, c)
        }
        WriteKind::Update(f) => update_stamps(f, stamp),
        WriteKind::Delete => {
            let (f, c) = one(DELETED);
            ("delete", f, c)
        }
        WriteKind::Undelete => {
            let (f, c) = one(DELETED);
            ("update", f, c)
        }
    }
}

fn update_stamps(fields: &[String], stamp: &str) -> (&'static str, String, String) {
    let clocks: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|k| (k.clone(), serde_json::Value::String(stamp.to_string())))
        .collect();
    (
        "update",
        serde_json::to_string(fields).unwrap_or_default(),
        serde_json::Value::Object(clocks).to_string(),
    )
}

/// The tombstone key in clocks and outbox entries.
pub(crate) const DELETED: &str = "_deleted";

impl Writer {
    /// The wall clock this store's stamps use: now, corrected by the offset the team server
    /// measured when it refused a stamp as too far ahead (`clock_skew`).
    pub(crate) fn now_ms(&self) -> u64 {
        (self.ctx.now.timestamp_millis() + self.clock_offset_ms).max(0) as u64
    }

    /// Executes one plan inside this transaction: per write one batch (row with its clocks,
    /// outbox entry, feed entry); the last batch also refreshes the touched leads' aggregates
    /// and stores the advanced HLC. A creation of an id that exists (a re-import) merges
    /// into it like an update of the fields that differ: it never resets clocks or revives a
    /// tombstone.
    pub async fn apply(&mut self, plan: Plan) -> Result<()> {
        if plan.is_empty() {
            return Ok(());
        }
        self.hlc = self.hlc.tick(self.now_ms());
        let stamp = self.hlc.to_string();
        self.execute(plan, &stamp).await
    }

    /// Like `apply`, but stamped with the zero clock: seed records (the default statuses)
    /// that every store creates alike and any real edit, from any device, wins over.
    pub(crate) async fn apply_seed(&mut self, plan: Plan) -> Result<()> {
        let zero = Hlc {
            ms: 0,
            counter: 0,
            node: NodeId(0),
        };
        self.execute(plan, &zero.to_string()).await
    }

    async fn execute(&mut self, plan: Plan, stamp: &str) -> Result<()> {
        let mut leads: Vec<String> = Vec::new();
        for w in &plan.writes {
            if aggregates::affected_by(w)
                && let Some(l) = w.record.lead_id().map(|l| l.to_string())
                && !leads.contains(&l)
            {
                leads.push(l);
            }
        }
        let n = plan.writes.len();
        if self.journal.is_some() {
            for w in &plan.writes {
                self.journal_write(w).await?;
            }
        }
        for (i, w) in plan.writes.into_iter().enumerate() {
            let tail = match (i + 1 == n, leads.is_empty()) {
                (false, _) => Tail::None,
                (true, true) => Tail::Hlc,
                (true, false) => Tail::AggregatesHlc,
            };
            let (op, fields, clocks) = stamps(&w, stamp);
            let row = match w.kind {
                WriteKind::Create => RowSql::Insert,
                _ => RowSql::Upsert,
            };
            let deleted = matches!(w.kind, WriteKind::Delete);
            let res = self
                .write_one(
                    &w.record,
                    row,
                    tail,
                    (op, fields, clocks),
                    deleted,
                    &leads,
                    stamp,
                )
                .await;
            match res {
                Err(Error::Db(sqlx::Error::Database(e)))
                    if row == RowSql::Insert && e.is_unique_violation() =>
                {
                    self.merge_existing(&w.record, tail, &leads, stamp).await?;
                }
                other => other?,
            }
        }
        self.hlc_unsaved = false;
        self.records += n as u64;
        Ok(())
    }

    /// One write's batch.
    #[allow(clippy::too_many_arguments)]
    async fn write_one(
        &mut self,
        record: &Record,
        row: RowSql,
        tail: Tail,
        (op, fields, clocks): (&str, String, String),
        deleted: bool,
        leads: &[String],
        stamp: &str,
    ) -> Result<()> {
        let entity = record.entity().as_str();
        let id = record.id().to_string();
        let lead = record.lead_id().map(|l| l.to_string());
        let mut vals = rows::row_values(record, clocks, deleted)?;
        vals.extend([
            rows::Val::Text(entity.into()),
            rows::Val::Text(id.clone()),
            rows::Val::OptText(lead.clone()),
            rows::Val::Text(op.into()),
            rows::Val::Text(fields),
            rows::Val::Text(stamp.to_string()),
            rows::Val::Text(entity.into()),
            rows::Val::Text(id),
            rows::Val::OptText(lead),
        ]);
        if let Tail::AggregatesHlc = tail {
            vals.push(rows::Val::Text(
                serde_json::to_string(leads).unwrap_or_else(|_| "[]".into()),
            ));
        }
        if !matches!(tail, Tail::None) {
            vals.push(rows::Val::Text(hlc_text(&self.hlc)));
        }
        rows::bind(sqlx::query(batch_sql(record.entity(), row, tail)), vals)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// A creation whose id exists: an update of the fields whose values differ (nothing when
    /// none do), keeping the row's tombstone flag and its other clocks.
    async fn merge_existing(
        &mut self,
        record: &Record,
        tail: Tail,
        leads: &[String],
        stamp: &str,
    ) -> Result<()> {
        let t = rows::table(record.entity());
        let sql = format!("SELECT data, deleted FROM {} WHERE id = ?", t.name);
        let (data, deleted): (String, bool) = sqlx::query_as(&sql)
            .bind(record.id().to_string())
            .fetch_one(&mut *self.tx)
            .await?;
        let old: serde_json::Value = serde_json::from_str(&data)
            .map_err(|e| Error::Corrupt(format!("undecodable record: {e}")))?;
        let fields: Vec<String> = changed_fields(&old, &record.to_json());
        if fields.is_empty() {
            // Nothing to write; the plan's tail (HLC, aggregates) still runs.
            if !matches!(tail, Tail::None) {
                sqlx::query(SAVE_HLC)
                    .bind(hlc_text(&self.hlc))
                    .execute(&mut *self.tx)
                    .await?;
                if let Tail::AggregatesHlc = tail {
                    aggregates::refresh(&mut self.tx, leads).await?;
                }
            }
            return Ok(());
        }
        let stamps = update_stamps(&fields, stamp);
        self.write_one(record, RowSql::Upsert, tail, stamps, deleted, leads, stamp)
            .await
    }

    /// Persists the HLC (when a bulk write advanced it) and commits everything applied.
    pub async fn commit(mut self) -> Result<()> {
        if self.hlc_unsaved {
            sqlx::query(SAVE_HLC)
                .bind(hlc_text(&self.hlc))
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query("COMMIT").execute(&mut *self.tx).await?;
        self.tx.closed();
        if self.bulk {
            self.tx.checkpoint(&self.writes).await;
        } else {
            self.writes.committed(self.records, &self.pool);
        }
        Ok(())
    }
    pub(crate) async fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub(crate) fn hlc_mut(&mut self) -> &mut Hlc {
        &mut self.hlc
    }
    /// A bulk write advanced the HLC; it is stored at commit, and a checkpoint follows.
    pub(crate) fn mark_wrote(&mut self) {
        self.hlc_unsaved = true;
        self.bulk = true;
    }

    async fn get<T: serde::de::DeserializeOwned>(&mut self, e: Entity, id: Id) -> Result<T> {
        let sql = format!(
            "SELECT data FROM {} WHERE id = ? AND deleted = 0",
            rows::table(e).name
        );
        let data: Option<String> = sqlx::query_scalar(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        match data {
            Some(d) => rows::decode(&d),
            None => Err(rapport_core::Error::not_found(e.as_str(), id).into()),
        }
    }

    /// A live record of any kind by id.
    pub async fn record<T: serde::de::DeserializeOwned>(&mut self, e: Entity, id: Id) -> Result<T> {
        self.get(e, id).await
    }

    /// The live records of a lead's partition (contacts, activities, tasks, opportunities).
    pub async fn children_of(&mut self, lead: Id) -> Result<Vec<Record>> {
        self.children(lead, "deleted = 0", None).await
    }

    /// The records of a lead's partition that were deleted with exactly this tombstone stamp
    /// (by the lead's cascading delete).
    pub async fn children_deleted_with(&mut self, lead: Id, stamp: &str) -> Result<Vec<Record>> {
        self.children(
            lead,
            "deleted = 1 AND json_extract(clocks, '$._deleted') = ?",
            Some(stamp),
        )
        .await
    }

    async fn children(&mut self, lead: Id, cond: &str, stamp: Option<&str>) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for e in Entity::LEAD_CHILDREN {
            let sql = format!(
                "SELECT data FROM {} WHERE lead_id = ? AND {cond} ORDER BY id",
                rows::table(e).name
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(lead.to_string());
            if let Some(s) = stamp {
                q = q.bind(s.to_string());
            }
            for d in q.fetch_all(&mut *self.tx).await? {
                let v: serde_json::Value = serde_json::from_str(&d)
                    .map_err(|e| Error::Corrupt(format!("undecodable record: {e}")))?;
                out.push(Record::from_json(e, v)?);
            }
        }
        Ok(out)
    }

    /// A deleted lead and the stamp of its tombstone.
    pub async fn deleted_lead(&mut self, id: Id) -> Result<(Lead, String)> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT data, json_extract(clocks, '$._deleted') FROM leads WHERE id = ? AND deleted = 1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        match row {
            Some((d, Some(stamp))) => Ok((rows::decode(&d)?, stamp)),
            _ => Err(rapport_core::Error::not_found("deleted lead", id).into()),
        }
    }

    pub async fn lead(&mut self, id: Id) -> Result<Lead> {
        self.get(Entity::Lead, id).await
    }
    pub async fn contact(&mut self, id: Id) -> Result<Contact> {
        self.get(Entity::Contact, id).await
    }
    pub async fn activity(&mut self, id: Id) -> Result<Activity> {
        self.get(Entity::Activity, id).await
    }
    pub async fn task(&mut self, id: Id) -> Result<Task> {
        self.get(Entity::Task, id).await
    }
    pub async fn opportunity(&mut self, id: Id) -> Result<Opportunity> {
        self.get(Entity::Opportunity, id).await
    }

    pub async fn contacts_of(&mut self, lead: Id) -> Result<Vec<Contact>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM contacts WHERE lead_id = ? AND deleted = 0 ORDER BY id",
        )
        .bind(lead.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|d| rows::decode(d)).collect()
    }

    pub async fn statuses(&mut self) -> Result<Vec<LeadStatus>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM lead_statuses WHERE deleted = 0 ORDER BY position",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|d| rows::decode(d)).collect()
    }

    pub async fn views(&mut self) -> Result<Vec<SmartView>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM smart_views WHERE deleted = 0 ORDER BY name")
                .fetch_all(&mut *self.tx)
                .await?;
        rows.iter().map(|d| rows::decode(d)).collect()
    }

    /// Finds a Smart View by id or (case-insensitive) name.
    pub async fn view(&mut self, key: &str) -> Result<SmartView> {
        let views = self.views().await?;
        views
            .into_iter()
            .find(|v| v.id.to_string() == key || v.name.eq_ignore_ascii_case(key.trim()))
            .ok_or_else(|| rapport_core::Error::not_found("smart view", key).into())
    }
}
