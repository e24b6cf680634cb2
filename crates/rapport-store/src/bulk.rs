//! The bulk write path (demo data, imports): whole leads with their records, upserted with
//! multi-row statements in one transaction per call, with the same clocks and outbox entries
//! as single operations, and the aggregates of every touched lead refreshed.

use crate::aggregates;
use crate::error::Result;
use crate::rows::{self, Val};
use crate::{Store, Writer};
use rapport_core::LeadBundle;
use rapport_core::plan::{Entity, Record};
use serde::Serialize;

/// Rows per multi-row statement (well under SQLite's bound-variable limit).
const ROWS_PER_STATEMENT: usize = 100;

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
    pub async fn write_bundles(&mut self, bundles: Vec<LeadBundle>) -> Result<BulkReport> {
        let w = self;
        let now_ms = w.ctx.now.timestamp_millis().max(0) as u64;
        let stamp = {
            let h = w.hlc_mut();
            *h = h.tick(now_ms);
            h.to_string()
        };
        let clocks = serde_json::json!({ "*": stamp }).to_string();
        let mut by_entity: Vec<(Entity, Vec<Record>)> = vec![
            (Entity::Lead, vec![]),
            (Entity::Contact, vec![]),
            (Entity::Activity, vec![]),
            (Entity::Task, vec![]),
            (Entity::Opportunity, vec![]),
        ];
        let mut lead_ids = Vec::with_capacity(bundles.len());
        let n_leads = bundles.len();
        for b in bundles {
            lead_ids.push(b.lead.id.to_string());
            by_entity[0].1.push(Record::Lead(b.lead));
            by_entity[1]
                .1
                .extend(b.contacts.into_iter().map(Record::Contact));
            by_entity[2]
                .1
                .extend(b.activities.into_iter().map(Record::Activity));
            by_entity[3].1.extend(b.tasks.into_iter().map(Record::Task));
            by_entity[4]
                .1
                .extend(b.opportunities.into_iter().map(Record::Opportunity));
        }
        let mut records = 0;
        let fields = r#"["*"]"#.to_string();
        for (entity, list) in &by_entity {
            let t = rows::table(*entity);
            for chunk in list.chunks(ROWS_PER_STATEMENT) {
                let sql = rows::upsert_sql(&t, chunk.len());
                let mut vals = Vec::with_capacity(chunk.len() * (t.cols.len() + 3));
                let mut outbox = Vec::with_capacity(chunk.len() * 5);
                for r in chunk {
                    vals.extend(rows::row_values(r, clocks.clone(), false)?);
                    outbox.push(Val::Text(entity.as_str().into()));
                    outbox.push(Val::Text(r.id().to_string()));
                    outbox.push(Val::OptText(r.lead_id().map(|l| l.to_string())));
                    outbox.push(Val::Text(fields.clone()));
                    outbox.push(Val::Text(stamp.clone()));
                }
                rows::bind(sqlx::query(&sql), vals)
                    .execute(&mut *w.tx)
                    .await?;
                let osql = format!(
                    "INSERT INTO outbox (entity, record_id, lead_id, op, fields, hlc) VALUES {}",
                    vec!["(?, ?, ?, 'create', ?, ?)"; chunk.len()].join(", ")
                );
                rows::bind(sqlx::query(&osql), outbox)
                    .execute(&mut *w.tx)
                    .await?;
                records += chunk.len();
            }
        }
        aggregates::refresh(&mut w.tx, &lead_ids).await?;
        w.mark_wrote();
        Ok(BulkReport {
            leads: n_leads,
            records,
        })
    }
}
