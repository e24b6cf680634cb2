//! The write path: a `Writer` holds one `BEGIN IMMEDIATE` transaction and the operation
//! context; `apply` executes a plan (row + field clocks + outbox, then the touched leads'
//! aggregates); `commit` persists the advanced HLC and commits. Nothing is half-written.

use crate::Store;
use crate::aggregates;
use crate::error::{Error, Result};
use crate::rows;
use rapport_core::ops::{Ctx, Rng};
use rapport_core::plan::{Entity, Plan, WriteKind};
use rapport_core::*;
use sqlx::{Sqlite, Transaction};
use std::collections::BTreeSet;
use std::str::FromStr;

pub struct Writer {
    pub(crate) tx: Transaction<'static, Sqlite>,
    pub ctx: Ctx,
    hlc: Hlc,
    wrote: bool,
}

impl Store {
    /// Starts a write: takes the write lock, reads the HLC and the settings operations consult.
    pub async fn begin_write(&self) -> Result<Writer> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let hlc_text: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'hlc'")
            .fetch_one(&mut *tx)
            .await?;
        let hlc = Hlc::from_str(&hlc_text)
            .map_err(|_| Error::Corrupt(format!("bad hlc `{hlc_text}`")))?;
        let region: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'region'")
            .fetch_one(&mut *tx)
            .await?;
        let user: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'local_user'")
                .fetch_optional(&mut *tx)
                .await?;
        let statuses: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM lead_statuses WHERE deleted = 0 ORDER BY position",
        )
        .fetch_all(&mut *tx)
        .await?;
        let field_rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM custom_fields WHERE deleted = 0 ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        let fields = field_rows
            .iter()
            .map(|d| rows::decode(d))
            .collect::<Result<Vec<CustomFieldDef>>>()?;
        let ctx = Ctx {
            now: self.now(),
            user: user.as_deref().map(Id::from_str).transpose()?,
            region,
            statuses,
            fields,
            rng: Rng(self.next_seed()),
        };
        Ok(Writer {
            tx,
            ctx,
            hlc,
            wrote: false,
        })
    }
}

impl Writer {
    /// Executes one plan inside this transaction.
    pub async fn apply(&mut self, plan: Plan) -> Result<()> {
        if plan.is_empty() {
            return Ok(());
        }
        self.hlc = self.hlc.tick(self.ctx.now.timestamp_millis().max(0) as u64);
        let stamp = self.hlc.to_string();
        let mut leads = BTreeSet::new();
        for w in &plan.writes {
            let (op, fields, clocks, deleted) = match &w.kind {
                WriteKind::Create => (
                    "create",
                    vec!["*".to_string()],
                    serde_json::json!({ "*": stamp }),
                    false,
                ),
                WriteKind::Update(f) => {
                    let clocks: serde_json::Map<String, serde_json::Value> = f
                        .iter()
                        .map(|k| (k.clone(), serde_json::Value::String(stamp.clone())))
                        .collect();
                    (
                        "update",
                        f.clone(),
                        serde_json::Value::Object(clocks),
                        false,
                    )
                }
                WriteKind::Delete => (
                    "delete",
                    vec!["_deleted".to_string()],
                    serde_json::json!({ "_deleted": stamp }),
                    true,
                ),
            };
            let t = rows::table(w.record.entity());
            let vals = rows::row_values(&w.record, clocks.to_string(), deleted)?;
            let sql = rows::upsert_sql(&t, 1);
            rows::bind(sqlx::query(&sql), vals)
                .execute(&mut *self.tx)
                .await?;
            let lead = w.record.lead_id().map(|l| l.to_string());
            sqlx::query("INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(w.record.entity().as_str())
                .bind(w.record.id().to_string())
                .bind(&lead)
                .bind(op)
                .bind(serde_json::to_string(&fields).unwrap_or_default())
                .bind(&stamp)
                .execute(&mut *self.tx)
                .await?;
            // Aggregates come from a lead's records, so a write to the lead row alone (or a
            // lead's creation, with no records yet) leaves them as they are.
            if w.record.entity() != Entity::Lead {
                leads.extend(lead);
            }
        }
        aggregates::refresh(&mut self.tx, &leads.into_iter().collect::<Vec<_>>()).await?;
        self.wrote = true;
        Ok(())
    }

    /// Persists the HLC and commits everything applied.
    pub async fn commit(mut self) -> Result<()> {
        if self.wrote {
            sqlx::query("UPDATE meta SET value = ? WHERE key = 'hlc'")
                .bind(self.hlc.to_string())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
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
    pub(crate) fn mark_wrote(&mut self) {
        self.wrote = true;
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
