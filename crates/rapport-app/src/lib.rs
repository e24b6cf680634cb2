//! The facade: every use case the shells offer (desktop commands, CLI, later the server API),
//! each a few lines over the core's operations and the store. Knows nothing of Tauri or axum.

mod csv;
mod demo;
mod error;
mod phone;
mod power;
mod recent;
mod search;
pub mod sync;
mod views;
mod watch;

pub use csv::{
    CsvExportReport, CsvImportOptions, CsvPhase, CsvPreview, CsvProgress, CsvTarget, ImportSummary,
    Mapping, MatchKey, UnknownColumns,
};
pub use demo::{DemoOptions, DemoReport};
pub use error::{AppError, Result};
pub use phone::{
    AudioChoice, CallMarker, CallView, KEYCHAIN_SERVICE, PhoneSettings, PhoneSnapshot,
    RegistrationView, Softphone, call_marker_path, forget_password, keychain_backend,
    load_password, save_password,
};
pub use power::{BULK_CHUNK, BulkOutcome, DuplicateView, MergePreview};
pub use rapport_store::{CallsReport, FunnelReport, PipelineReport, UndoAction, UndoReport};
pub use recent::{RecentTouch, recent_touch};
pub use search::{SearchOptions, SearchResult, SearchRow};
pub use views::*;
pub use watch::StoreWatcher;

use rapport_core::ops::{self, *};
use rapport_core::*;
use rapport_store::Store;
use std::path::{Path, PathBuf};

/// The application: one open store, and its search index (opened on first use).
#[derive(Clone, Debug)]
pub struct App {
    store: Store,
    search: std::sync::Arc<tokio::sync::OnceCell<rapport_search::SearchIndex>>,
    /// Told after every local write, while a sync driver runs (`sync_nudges`).
    sync_nudge: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<()>>>>,
}

/// Runs one operation in one write transaction: `$op` gets `&mut ctx` via `$w.ctx`.
macro_rules! write_op {
    ($self:ident, |$w:ident| $body:expr) => {{
        let mut $w = $self.store.begin_write().await?;
        $w.journal("Edit");
        let (out, plan) = $body;
        $w.apply(plan).await?;
        $w.commit().await?;
        $self.nudge_index();
        Ok::<_, AppError>(out)
    }};
}

impl App {
    /// The platform's default store location (e.g. `~/.local/share/rapport/rapport.db`).
    pub fn default_db_path() -> PathBuf {
        directories::ProjectDirs::from("com", "Rapport", "rapport")
            .map(|d| d.data_dir().join("rapport.db"))
            .unwrap_or_else(|| PathBuf::from("rapport.db"))
    }

    pub async fn open(path: impl AsRef<Path>) -> Result<App> {
        Ok(App::from_store(Store::open(path).await?))
    }

    pub fn from_store(store: Store) -> App {
        App {
            store,
            search: Default::default(),
            sync_nudge: Default::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn info(&self) -> Result<AppInfo> {
        Ok(AppInfo {
            db_path: self.store.path().display().to_string(),
            user: self.store.local_user().await?,
            lead_count: self.store.lead_count().await?,
            default_region: self
                .store
                .meta("region")
                .await?
                .unwrap_or_else(|| "US".into()),
            recent_touch_minutes: self.recent_touch_minutes().await?,
        })
    }

    /// The "someone just touched this lead" window, in minutes (a local setting).
    pub async fn recent_touch_minutes(&self) -> Result<i64> {
        Ok(self
            .store
            .meta(recent::MINUTES_KEY)
            .await?
            .and_then(|m| recent::parse_minutes(&m))
            .unwrap_or(recent::DEFAULT_MINUTES))
    }

    /// Sets the window: whole minutes from 1 to a day, else `invalid` and nothing changes.
    pub async fn set_recent_touch_minutes(&self, minutes: i64) -> Result<()> {
        if recent::parse_minutes(&minutes.to_string()).is_none() {
            let mut e = AppError::new(
                "invalid",
                format!(
                    "the recent-touch window must be 1 to {} minutes, not {minutes}",
                    recent::MAX_MINUTES
                ),
            );
            e.field = Some("recent_touch_minutes".into());
            return Err(e);
        }
        Ok(self
            .store
            .set_meta(recent::MINUTES_KEY, &minutes.to_string())
            .await?)
    }

    // --- leads -------------------------------------------------------------------------

    pub async fn list_leads(&self, offset: i64, limit: i64) -> Result<LeadList> {
        Ok(LeadList {
            total: self.store.lead_count().await?,
            rows: self.store.list_leads(offset, limit).await?,
        })
    }

    pub async fn lead(&self, id: Id) -> Result<Lead> {
        Ok(self.store.lead(id).await?)
    }

    /// A lead by id, or by exact name when that is unique.
    pub async fn find_lead(&self, key: &str) -> Result<Lead> {
        if let Ok(id) = key.parse::<Id>() {
            return self.lead(self.resolve_lead(id).await?).await;
        }
        let mut found = self.store.leads_named(key).await?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::not_found("lead", key).into()),
            n => Err(Error::bad_input(format!("{n} leads are named `{key}`; use the id")).into()),
        }
    }

    /// A lead's page; the id of a lead merged into another opens the survivor's.
    pub async fn lead_page(&self, id: Id) -> Result<LeadPageView> {
        let page = self.store.lead_page(self.resolve_lead(id).await?).await?;
        self.page_view(page).await
    }

    pub async fn timeline(&self, lead: Id, before: Option<Id>) -> Result<TimelineView> {
        let page = self
            .store
            .timeline(lead, before, rapport_store::TIMELINE_PAGE)
            .await?;
        let users = self.store.users().await?;
        Ok(TimelineView {
            items: page
                .items
                .iter()
                .map(|a| activity_view(a, &users))
                .collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }

    pub async fn create_lead(&self, input: NewLead) -> Result<Lead> {
        write_op!(self, |w| ops::create_lead(input, &mut w.ctx)?)
    }

    pub async fn update_lead(&self, id: Id, patch: LeadPatch) -> Result<Lead> {
        write_op!(self, |w| {
            let lead = w.lead(id).await?;
            ops::update_lead(&lead, patch, &mut w.ctx)?
        })
    }

    /// Deletes a lead with everything in it (one plan: every record tombstoned with one stamp).
    pub async fn delete_lead(&self, id: Id) -> Result<()> {
        write_op!(self, |w| {
            let lead = w.lead(id).await?;
            let children = w.children_of(id).await?;
            ((), ops::delete_lead(&lead, children))
        })
    }

    /// Brings back a deleted lead with the records its delete removed.
    pub async fn undelete_lead(&self, id: Id) -> Result<Lead> {
        write_op!(self, |w| {
            let (lead, stamp) = w.deleted_lead(id).await?;
            let children = w.children_deleted_with(id, &stamp).await?;
            (lead.clone(), ops::undelete_lead(&lead, children))
        })
    }

    /// A lead with its first contact and, when given, a first activity on that contact, in
    /// one transaction: an error in any part (or a crash) leaves none of them.
    pub async fn create_lead_with_contact(
        &self,
        lead: NewLead,
        contact: NewContact,
        activity: Option<NewActivity>,
    ) -> Result<(Lead, Contact, Option<Activity>)> {
        write_op!(self, |w| {
            let (lead, contact, mut plan) =
                ops::create_lead_with_contact(lead, contact, &mut w.ctx)?;
            let activity = match activity {
                Some(input) => {
                    let input = NewActivity {
                        contact_id: Some(contact.id),
                        ..input
                    };
                    let contacts = std::slice::from_ref(&contact);
                    let (a, more) = ops::add_activity(&lead, contacts, input, &mut w.ctx)?;
                    plan.writes.extend(more.writes);
                    Some(a)
                }
                None => None,
            };
            ((lead, contact, activity), plan)
        })
    }

    // --- contacts ----------------------------------------------------------------------

    pub async fn add_contact(&self, lead: Id, input: NewContact) -> Result<Contact> {
        write_op!(self, |w| {
            let lead = w.lead(lead).await?;
            ops::add_contact(&lead, input, &mut w.ctx)?
        })
    }

    pub async fn update_contact(&self, id: Id, patch: ContactPatch) -> Result<Contact> {
        write_op!(self, |w| {
            let c = w.contact(id).await?;
            ops::update_contact(&c, patch, &mut w.ctx)?
        })
    }

    pub async fn delete_contact(&self, id: Id) -> Result<()> {
        write_op!(self, |w| ((), ops::delete_contact(&w.contact(id).await?)))
    }

    // --- activities --------------------------------------------------------------------

    pub async fn add_activity(&self, lead: Id, input: NewActivity) -> Result<Activity> {
        write_op!(self, |w| {
            let lead = w.lead(lead).await?;
            // the contacts only matter to check that a named contact is on this lead
            let contacts = match input.contact_id {
                Some(_) => w.contacts_of(lead.id).await?,
                None => Vec::new(),
            };
            ops::add_activity(&lead, &contacts, input, &mut w.ctx)?
        })
    }

    /// Adds a note and returns it as the UI shows it (with sanitised HTML).
    pub async fn create_note(
        &self,
        lead: Id,
        title: Option<String>,
        note: String,
    ) -> Result<ActivityView> {
        let input = NewActivity {
            contact_id: None,
            activity_at: None,
            kind: ActivityKind::Note(NoteFields {
                title,
                note,
                pinned: false,
            }),
        };
        let a = self.add_activity(lead, input).await?;
        Ok(activity_view(&a, &self.store.users().await?))
    }

    pub async fn update_note(&self, id: Id, patch: NotePatch) -> Result<ActivityView> {
        let a: Activity = write_op!(self, |w| {
            let a = w.activity(id).await?;
            ops::update_note(&a, patch, &mut w.ctx)?
        })?;
        Ok(activity_view(&a, &self.store.users().await?))
    }

    /// The unresolved note conflicts (of one note, or all).
    pub async fn note_conflicts(&self, note: Option<Id>) -> Result<Vec<NoteConflict>> {
        Ok(self.store.note_conflicts(note).await?)
    }

    /// Resolves a note conflict with the text to keep (see `ops::resolve_note_conflict`).
    pub async fn resolve_note_conflict(&self, conflict: Id, body: String) -> Result<ActivityView> {
        let a: Activity = write_op!(self, |w| {
            let c: NoteConflict = w
                .record(rapport_core::plan::Entity::NoteConflict, conflict)
                .await?;
            let note = w.activity(c.note_id).await?;
            ops::resolve_note_conflict(&note, &c, body, &mut w.ctx)?
        })?;
        Ok(activity_view(&a, &self.store.users().await?))
    }

    /// Changes a logged call: its note (autosaved from the call bar) or its outcome.
    pub async fn update_call(&self, id: Id, patch: CallPatch) -> Result<ActivityView> {
        let a: Activity = write_op!(self, |w| {
            let a = w.activity(id).await?;
            ops::update_call(&a, patch, &mut w.ctx)?
        })?;
        Ok(activity_view(&a, &self.store.users().await?))
    }

    pub async fn delete_activity(&self, id: Id) -> Result<()> {
        write_op!(self, |w| ((), ops::delete_activity(&w.activity(id).await?)))
    }

    // --- tasks and opportunities ---------------------------------------------------------

    pub async fn add_task(&self, lead: Id, input: NewTask) -> Result<Task> {
        write_op!(self, |w| {
            let lead = w.lead(lead).await?;
            ops::add_task(&lead, input, &mut w.ctx)?
        })
    }

    pub async fn update_task(&self, id: Id, patch: TaskPatch) -> Result<Task> {
        write_op!(self, |w| {
            let t = w.task(id).await?;
            ops::update_task(&t, patch, &mut w.ctx)?
        })
    }

    pub async fn set_task_done(&self, id: Id, done: bool) -> Result<Task> {
        self.update_task(
            id,
            TaskPatch {
                is_complete: Some(done),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn tasks(&self, include_done: bool) -> Result<Vec<Task>> {
        Ok(self.store.tasks(include_done, 10_000).await?)
    }

    pub async fn add_opportunity(&self, lead: Id, input: NewOpportunity) -> Result<Opportunity> {
        write_op!(self, |w| {
            let lead = w.lead(lead).await?;
            let contacts = w.contacts_of(lead.id).await?;
            ops::add_opportunity(&lead, &contacts, input, &mut w.ctx)?
        })
    }

    pub async fn update_opportunity(&self, id: Id, patch: OpportunityPatch) -> Result<Opportunity> {
        write_op!(self, |w| {
            let o = w.opportunity(id).await?;
            ops::update_opportunity(&o, patch, &mut w.ctx)?
        })
    }

    // --- settings ----------------------------------------------------------------------

    pub async fn statuses(&self) -> Result<Vec<LeadStatus>> {
        Ok(self.store.statuses().await?)
    }

    pub async fn add_status(&self, label: &str) -> Result<LeadStatus> {
        write_op!(self, |w| {
            let existing = w.statuses().await?;
            ops::add_status(label, &existing, &mut w.ctx)?
        })
    }

    pub async fn fields(&self) -> Result<Vec<CustomFieldDef>> {
        Ok(self.store.fields().await?)
    }

    pub async fn add_field(
        &self,
        name: &str,
        kind: FieldType,
        target: FieldTarget,
        choices: Vec<String>,
    ) -> Result<CustomFieldDef> {
        write_op!(self, |w| ops::add_field(
            name, kind, target, choices, &mut w.ctx
        )?)
    }

    /// Several custom field definitions in one transaction: all of them, or none.
    pub async fn add_fields(&self, defs: Vec<CustomFieldDef>) -> Result<Vec<CustomFieldDef>> {
        write_op!(self, |w| {
            let mut plan = Plan::default();
            let mut added = Vec::new();
            for def in defs {
                let (d, more) =
                    ops::add_field(&def.name, def.kind, def.applies_to, def.choices, &mut w.ctx)?;
                // the next definition is checked against this one too (no duplicate names)
                w.ctx.fields.push(d.clone());
                plan.writes.extend(more.writes);
                added.push(d);
            }
            (added, plan)
        })
    }

    pub async fn views(&self) -> Result<Vec<SmartView>> {
        Ok(self.store.views().await?)
    }

    pub async fn add_view(&self, name: &str, query: &str, shared: bool) -> Result<SmartView> {
        write_op!(self, |w| {
            let existing = w.views().await?;
            ops::add_view(name, query, shared, &existing, &mut w.ctx)?
        })
    }

    pub async fn delete_view(&self, key: &str) -> Result<()> {
        write_op!(self, |w| ((), ops::delete_view(&w.view(key).await?)))
    }

    pub async fn set_region(&self, region: &str) -> Result<()> {
        Ok(self.store.set_region(region).await?)
    }

    /// Starts watching the store file for writes by other processes (see `StoreWatcher`).
    pub async fn watch(
        &self,
        on_change: impl Fn(i64) + Send + Sync + 'static,
    ) -> Result<StoreWatcher> {
        StoreWatcher::start(self.store.clone(), on_change).await
    }
}

#[cfg(test)]
mod tests;
