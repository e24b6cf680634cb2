//! What the UI and `--json` show: records plus derived display fields (sanitised note HTML,
//! formatted phones, user names). Derived on read, never stored.

use crate::{App, Result};
use rapport_core::markdown::to_safe_html;
use rapport_core::validate::phone_display;
use rapport_core::*;
use rapport_store::{LeadPage, LeadSummary};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub db_path: String,
    pub user: User,
    pub lead_count: i64,
    pub default_region: String,
    pub recent_touch_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadList {
    pub total: i64,
    pub rows: Vec<LeadSummary>,
}

/// The lead page as shown: JSON values so display fields sit beside the record's own.
#[derive(Debug, Clone, Serialize)]
pub struct LeadPageView {
    pub lead: Value,
    pub contacts: Vec<Value>,
    pub tasks: Vec<Task>,
    pub opportunities: Vec<Opportunity>,
    pub timeline: Vec<ActivityView>,
    pub next_cursor: Option<String>,
    /// A coworker's call, email or meeting within the recent-touch window ("Joe called 12 min
    /// ago"): shown on the page and confirmed before dialling.
    pub recent_touch: Option<crate::RecentTouch>,
    /// Unresolved note conflicts on this lead's notes (the note shows a badge; review them).
    pub conflicts: Vec<NoteConflictView>,
    /// This store's values a coworker's newer change replaced, newest first.
    pub overrides: Vec<OverrideView>,
}

/// A note conflict with the name of who typed the text that did not become the body.
#[derive(Debug, Clone, Serialize)]
pub struct NoteConflictView {
    #[serde(flatten)]
    pub conflict: NoteConflict,
    pub user_name: Option<String>,
}

/// "Your change to *status* was replaced by Joe's newer one": a field override, with names.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideView {
    #[serde(flatten)]
    pub record: rapport_store::Override,
    pub by_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineView {
    pub items: Vec<ActivityView>,
    pub next_cursor: Option<String>,
}

/// An activity with `user_name`, and for notes `note_html` (sanitised).
pub type ActivityView = Value;

fn user_name(users: &[User], id: Option<Id>) -> Value {
    id.and_then(|id| users.iter().find(|u| u.id == id))
        .map(|u| json!(u.name))
        .unwrap_or(Value::Null)
}

pub fn activity_view(a: &Activity, users: &[User]) -> ActivityView {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("user_name".into(), user_name(users, a.user_id));
        if let ActivityKind::Note(n) = &a.kind {
            o.insert("note_html".into(), json!(to_safe_html(&n.note)));
        }
    }
    v
}

pub fn contact_view(c: &Contact, region: &str) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(phones) = v.get_mut("phones").and_then(Value::as_array_mut) {
        for p in phones {
            let formatted = p
                .get("phone")
                .and_then(Value::as_str)
                .map(|e| phone_display(e, region));
            if let (Some(o), Some(f)) = (p.as_object_mut(), formatted) {
                o.insert("phone_formatted".into(), json!(f));
            }
        }
    }
    v
}

impl App {
    pub(crate) async fn page_view(&self, page: LeadPage) -> Result<LeadPageView> {
        let users = self.store.users().await?;
        let region = self
            .store
            .meta("region")
            .await?
            .unwrap_or_else(|| "US".into());
        let recent_touch = crate::recent_touch(
            &page.timeline,
            &users,
            self.store.local_user().await?.id,
            chrono::Utc::now(),
            self.recent_touch_minutes().await?,
        );
        let name_of = |id: Option<Id>| {
            id.and_then(|id| users.iter().find(|u| u.id == id))
                .map(|u| u.name.clone())
        };
        let conflicts = self
            .store
            .note_conflicts(None)
            .await?
            .into_iter()
            .filter(|c| c.lead_id == page.lead.id)
            .map(|c| NoteConflictView {
                user_name: name_of(c.user_id),
                conflict: c,
            })
            .collect();
        let overrides = self
            .store
            .overrides(page.lead.id)
            .await?
            .into_iter()
            .map(|o| OverrideView {
                by_name: name_of(o.by_user.as_deref().and_then(|u| u.parse().ok())),
                record: o,
            })
            .collect();
        let mut lead = serde_json::to_value(&page.lead).unwrap_or(Value::Null);
        if let Some(o) = lead.as_object_mut() {
            o.insert("owner_name".into(), user_name(&users, page.lead.owner_id));
        }
        Ok(LeadPageView {
            lead,
            contacts: page
                .contacts
                .iter()
                .map(|c| contact_view(c, &region))
                .collect(),
            tasks: page.tasks,
            opportunities: page.opportunities,
            timeline: page
                .timeline
                .iter()
                .map(|a| activity_view(a, &users))
                .collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
            recent_touch,
            conflicts,
            overrides,
        })
    }
}

/// A new note from the UI's composer.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub note: String,
}
