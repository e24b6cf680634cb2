//! Per-lead aggregates (counts, latest call/email/open/activity, primary contact), refreshed
//! inside the write transaction for every lead a write touched — never computed on read.

use crate::error::Result;
use rapport_core::plan::{Entity, Write, WriteKind};
use sqlx::SqliteConnection;

pub(crate) const REFRESH: &str = "
UPDATE leads SET
  primary_contact = (SELECT json_extract(c.data, '$.name') FROM contacts c
                     WHERE c.lead_id = leads.id AND c.deleted = 0 ORDER BY c.id LIMIT 1),
  n_contacts      = (SELECT count(*) FROM contacts c WHERE c.lead_id = leads.id AND c.deleted = 0),
  n_calls         = (SELECT count(*) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'call' AND a.deleted = 0),
  n_emails        = (SELECT count(*) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'email' AND a.deleted = 0),
  n_notes         = (SELECT count(*) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'note' AND a.deleted = 0),
  n_meetings      = (SELECT count(*) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'meeting' AND a.deleted = 0),
  n_activities    = (SELECT count(*) FROM activities a WHERE a.lead_id = leads.id AND a.deleted = 0),
  n_tasks         = (SELECT count(*) FROM tasks t WHERE t.lead_id = leads.id AND t.deleted = 0 AND t.done = 0),
  n_opportunities = (SELECT count(*) FROM opportunities o WHERE o.lead_id = leads.id AND o.deleted = 0),
  last_called     = (SELECT max(a.at) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'call' AND a.deleted = 0),
  last_emailed    = (SELECT max(a.at) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'email' AND a.deleted = 0),
  email_opened    = (SELECT max(a.extra_at) FROM activities a WHERE a.lead_id = leads.id AND a.kind = 'email' AND a.deleted = 0),
  last_activity   = (SELECT max(a.at) FROM activities a WHERE a.lead_id = leads.id AND a.deleted = 0)
WHERE id IN (SELECT value FROM json_each(?))";

/// Whether a write can change its lead's aggregates. Creations and tombstones do; an update
/// only when a field the aggregates read changed (an autosaved note body does not). Updates
/// come from operations on live records read in the same transaction, so they never revive
/// a tombstone. A write to the lead row alone leaves them as they are.
pub fn affected_by(w: &Write) -> bool {
    let read: &[&str] = match w.record.entity() {
        Entity::Contact => &["lead_id", "name"],
        Entity::Activity => &["lead_id", "_type", "activity_at", "opens"],
        Entity::Task => &["lead_id", "is_complete"],
        Entity::Opportunity => &["lead_id"],
        _ => return false,
    };
    match &w.kind {
        WriteKind::Update(fields) => fields.iter().any(|f| read.contains(&f.as_str())),
        WriteKind::Create | WriteKind::Delete | WriteKind::Undelete => true,
    }
}

/// Recomputes the aggregates of the given leads.
pub async fn refresh(tx: &mut SqliteConnection, leads: &[String]) -> Result<()> {
    if leads.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(leads).unwrap_or_else(|_| "[]".into());
    sqlx::query(REFRESH).bind(ids).execute(tx).await?;
    Ok(())
}
