//! The IPC commands: extract state, call the facade, return its result. Errors cross as
//! `{ code, message, field }`. Registered in one place (`handler`).

use rapport_app::*;
use rapport_core::ops::{LeadPatch, NewContact, NewLead, NewTask, NotePatch};
use rapport_core::{Contact, Id, Lead, LeadStatus, Task};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tauri::State;

type R<T> = Result<T, AppError>;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        app_info,
        list_leads,
        lead_page,
        timeline,
        list_statuses,
        create_lead,
        update_lead,
        add_contact,
        add_task,
        set_task_done,
        create_note,
        update_note,
        resolve_note_conflict,
        load_demo,
        crate::phone::phone_status,
        crate::phone::phone_dial,
        crate::phone::phone_answer,
        crate::phone::phone_reject,
        crate::phone::phone_hangup,
        crate::phone::phone_hold,
        crate::phone::phone_mute,
        crate::phone::phone_dtmf,
        crate::phone::phone_dismiss,
        crate::phone::phone_set_password,
        crate::phone::update_call,
        crate::search::search,
        crate::search::query_fields,
        crate::search::list_views,
        crate::search::view_counts,
        crate::search::add_view,
        crate::search::delete_view,
        crate::import::import_default_path,
        crate::import::import_preview,
        crate::import::import_run,
        crate::import::import_cancel,
        crate::sync::sync_info,
        crate::sync::sync_login,
        crate::sync::sync_now,
        crate::sync::sync_logout,
        crate::sync::sync_presence,
        crate::sync::save_settings
    ]
}

#[tauri::command]
async fn app_info(app: State<'_, App>) -> R<AppInfo> {
    app.info().await
}

#[tauri::command]
async fn list_leads(app: State<'_, App>, offset: i64, limit: i64) -> R<LeadList> {
    app.list_leads(offset, limit).await
}

#[tauri::command]
async fn lead_page(app: State<'_, App>, id: Id) -> R<LeadPageView> {
    app.lead_page(id).await
}

#[tauri::command]
async fn timeline(app: State<'_, App>, lead_id: Id, before: Option<Id>) -> R<TimelineView> {
    app.timeline(lead_id, before).await
}

#[tauri::command]
async fn list_statuses(app: State<'_, App>) -> R<Vec<LeadStatus>> {
    app.statuses().await
}

#[tauri::command]
async fn create_lead(app: State<'_, App>, input: NewLead) -> R<Lead> {
    app.create_lead(input).await
}

#[tauri::command]
async fn update_lead(app: State<'_, App>, id: Id, patch: LeadPatch) -> R<Lead> {
    app.update_lead(id, patch).await
}

#[tauri::command]
async fn add_contact(app: State<'_, App>, lead_id: Id, input: NewContact) -> R<Contact> {
    app.add_contact(lead_id, input).await
}

#[tauri::command]
async fn add_task(app: State<'_, App>, lead_id: Id, input: NewTask) -> R<Task> {
    app.add_task(lead_id, input).await
}

#[tauri::command]
async fn set_task_done(app: State<'_, App>, id: Id, done: bool) -> R<Task> {
    app.set_task_done(id, done).await
}

#[tauri::command]
async fn create_note(app: State<'_, App>, lead_id: Id, input: NoteInput) -> R<ActivityView> {
    app.create_note(lead_id, input.title, input.note).await
}

#[tauri::command]
async fn update_note(app: State<'_, App>, id: Id, patch: NotePatch) -> R<ActivityView> {
    app.update_note(id, patch).await
}

/// Resolves a note conflict with the text to keep (the body, the conflict's, or a merge).
#[tauri::command]
async fn resolve_note_conflict(
    app: State<'_, App>,
    conflict_id: Id,
    body: String,
) -> R<ActivityView> {
    app.resolve_note_conflict(conflict_id, body).await
}

#[tauri::command]
async fn load_demo(app: State<'_, App>, leads: u64) -> R<DemoReport> {
    let opts = DemoOptions {
        leads,
        seed: 1,
        now: chrono::Utc::now(),
        chunk: 2000,
    };
    app.load_demo(opts, |_, _| {}, Arc::new(AtomicBool::new(false)))
        .await
}
