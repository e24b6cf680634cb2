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
use rapport_core::plan::{Entity, Plan, Write, WriteKind};
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
    hlc: Hlc,
    /// The HLC advanced past what this transaction stored in `meta`.
    hlc_unsaved: bool,
    /// Records written, for the background checkpoint.
    records: u64,
    /// A bulk write ran: checkpoint right after the commit.
    bulk: bool,
    writes: Arc<Slot>,
    pool: SqlitePool,
}

/// Takes the write lock, then reads everything an operation consults in one statement: the
/// HLC, the default region and the local user from `meta`, the live statuses in order, the
/// live custom field definitions. One round trip.
const BEGIN: &str = "BEGIN IMMEDIATE;
SELECT 0 AS part, key AS k, value AS v, 0 AS ord FROM meta WHERE key IN ('hlc', 'region', 'local_user')
UNION ALL SELECT 1, label, NULL, position FROM lead_statuses WHERE deleted = 0
UNION ALL SELECT 2, id, data, 0 FROM custom_fields WHERE deleted = 0
ORDER BY part, ord, k";

const OUTBOX: &str =
    "INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc) VALUES (?, ?, ?, ?, ?, ?)";
const SAVE_HLC: &str = "UPDATE meta SET value = ? WHERE key = 'hlc'";

/// What follows a write's upsert and outbox entry in its batch.
#[derive(Clone, Copy)]
enum Tail {
    /// More writes of the plan follow.
    None,
    /// The plan's last write: store the HLC.
    Hlc,
    /// The plan's last write: refresh the touched leads' aggregates, store the HLC.
    AggregatesHlc,
}

const ENTITIES: [Entity; 9] = [
    Entity::Lead,
    Entity::Contact,
    Entity::Activity,
    Entity::Task,
    Entity::Opportunity,
    Entity::LeadStatus,
    Entity::CustomField,
    Entity::SmartView,
    Entity::User,
];

/// The batch for one write: upsert; outbox entry; then the plan's tail. Built once per
/// (entity, tail), so each is one cached prepared statement list per connection.
fn batch_sql(e: Entity, tail: Tail) -> &'static str {
    static SQL: OnceLock<Vec<[String; 3]>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        ENTITIES
            .iter()
            .map(|e| {
                let head = format!("{};\n{OUTBOX}", rows::upsert_sql(&rows::table(*e), 1));
                [
                    head.clone(),
                    format!("{head};\n{SAVE_HLC}"),
                    format!("{head};\n{};\n{SAVE_HLC}", aggregates::REFRESH),
                ]
            })
            .collect()
    });
    let i = ENTITIES.iter().position(|x| *x == e).unwrap_or_default();
    &all[i][tail as usize]
}

impl Store {
    /// Starts a write: takes the write lock, reads the HLC and the settings operations consult.
    pub async fn begin_write(&self) -> Result<Writer> {
        let mut tx = self.writes.take().await?;
        tx.opening();
        let rows = sqlx::query(BEGIN).fetch_all(&mut *tx).await?;
        let (mut hlc, mut region, mut user) = (None, None, None);
        let mut statuses = Vec::new();
        let mut fields = Vec::new();
        for r in &rows {
            let part: i64 = r.try_get(0)?;
            let k: String = r.try_get(1)?;
            match part {
                0 => {
                    let v: String = r.try_get(2)?;
                    match k.as_str() {
                        "hlc" => hlc = Some(v),
                        "region" => region = Some(v),
                        _ => user = Some(v),
                    }
                }
                1 => statuses.push(k),
                _ => fields.push(rows::decode::<CustomFieldDef>(&r.try_get::<String, _>(2)?)?),
            }
        }
        let hlc_text = hlc.ok_or_else(|| Error::Corrupt("no hlc in meta".into()))?;
        let hlc = Hlc::from_str(&hlc_text)
            .map_err(|_| Error::Corrupt(format!("bad hlc `{hlc_text}`")))?;
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
            hlc_unsaved: false,
            records: 0,
            bulk: false,
            writes: self.writes.clone(),
            pool: self.pool.clone(),
        })
    }
}

/// The outbox operation, the fields it names and the clocks patch of one write.
fn stamps(w: &Write, stamp: &str) -> (&'static str, String, String, bool) {
    let one = |k: &str| {
        (
            serde_json::to_string(&[k]).unwrap_or_default(),
            serde_json::json!({ k: stamp }).to_string(),
        )
    };
    match &w.kind {
        WriteKind::Create => {
            let (f, c) = one("*");
            ("create", f, c, false)
        }
        WriteKind::Update(f) => {
            let clocks: serde_json::Map<String, serde_json::Value> = f
                .iter()
                .map(|k| (k.clone(), serde_json::Value::String(stamp.to_string())))
                .collect();
            (
                "update",
                serde_json::to_string(f).unwrap_or_default(),
                serde_json::Value::Object(clocks).to_string(),
                false,
            )
        }
        WriteKind::Delete => {
            let (f, c) = one("_deleted");
            ("delete", f, c, true)
        }
    }
}

impl Writer {
    /// Executes one plan inside this transaction: per write one batch (row upsert with its
    /// clocks, outbox entry); the last batch also refreshes the touched leads' aggregates and
    /// stores the advanced HLC.
    pub async fn apply(&mut self, plan: Plan) -> Result<()> {
        if plan.is_empty() {
            return Ok(());
        }
        self.hlc = self.hlc.tick(self.ctx.now.timestamp_millis().max(0) as u64);
        let stamp = self.hlc.to_string();
        let mut leads: Vec<String> = Vec::new();
        for w in &plan.writes {
            if aggregates::affected_by(w)
                && let Some(l) = w.record.lead_id().map(|l| l.to_string())
                && !leads.contains(&l)
            {
                leads.push(l);
            }
        }
        let last = plan.writes.len() - 1;
        for (i, w) in plan.writes.iter().enumerate() {
            let (op, fields, clocks, deleted) = stamps(w, &stamp);
            let tail = match (i == last, leads.is_empty()) {
                (false, _) => Tail::None,
                (true, true) => Tail::Hlc,
                (true, false) => Tail::AggregatesHlc,
            };
            let mut vals = rows::row_values(&w.record, clocks, deleted)?;
            vals.extend([
                rows::Val::Text(w.record.entity().as_str().into()),
                rows::Val::Text(w.record.id().to_string()),
                rows::Val::OptText(w.record.lead_id().map(|l| l.to_string())),
                rows::Val::Text(op.into()),
                rows::Val::Text(fields),
                rows::Val::Text(stamp.clone()),
            ]);
            if let Tail::AggregatesHlc = tail {
                vals.push(rows::Val::Text(
                    serde_json::to_string(&leads).unwrap_or_else(|_| "[]".into()),
                ));
            }
            if !matches!(tail, Tail::None) {
                vals.push(rows::Val::Text(stamp.clone()));
            }
            rows::bind(sqlx::query(batch_sql(w.record.entity(), tail)), vals)
                .execute(&mut *self.tx)
                .await?;
        }
        self.hlc_unsaved = false;
        self.records += plan.writes.len() as u64;
        Ok(())
    }

    /// Persists the HLC (when a bulk write advanced it) and commits everything applied.
    pub async fn commit(mut self) -> Result<()> {
        if self.hlc_unsaved {
            sqlx::query(SAVE_HLC)
                .bind(self.hlc.to_string())
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
        let sql = match e {
            Entity::Lead => "SELECT data FROM leads WHERE id = ? AND deleted = 0",
            Entity::Contact => "SELECT data FROM contacts WHERE id = ? AND deleted = 0",
            Entity::Activity => "SELECT data FROM activities WHERE id = ? AND deleted = 0",
            Entity::Task => "SELECT data FROM tasks WHERE id = ? AND deleted = 0",
            Entity::Opportunity => "SELECT data FROM opportunities WHERE id = ? AND deleted = 0",
            Entity::SmartView => "SELECT data FROM smart_views WHERE id = ? AND deleted = 0",
            _ => {
                return Err(Error::Corrupt(format!(
                    "no single-record read for {}",
                    e.as_str()
                )));
            }
        };
        let data: Option<String> = sqlx::query_scalar(sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        match data {
            Some(d) => rows::decode(&d),
            None => Err(rapport_core::Error::not_found(e.as_str(), id).into()),
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
