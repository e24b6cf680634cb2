//! Team sync in the desktop shell: while the store is signed in to a team server, one
//! background task keeps it in sync (`App::sync_live`: pushes every autosaved edit, pulls on
//! every poke) and reports to the UI as `sync-event` (the protocol status, bootstrap progress).
//! Coworkers' changes land in the store, so the store watcher's `store-changed` refreshes the
//! open pages as it does for any other write. Presence: the UI says which lead it shows
//! (`sync_presence`), the server tells who else has which lead open (`sync-event` with
//! `presence`). Commands: status, sign in, sync now, sign out, presence, settings.

use rapport_app::sync::{Credentials, Hooks, LoginArgs};
use rapport_app::{App, AppError};
use rapport_sync::wire::{ClientMessage, PresenceEntry};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, State};

type R<T> = Result<T, AppError>;

/// The running sync task (none while signed out).
#[derive(Default)]
pub struct SyncTask {
    stop: Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    /// The latest protocol status, as JSON (for a window opened after it was sent).
    last: Arc<Mutex<serde_json::Value>>,
    /// Where the running task's socket takes presence messages.
    presence_out: Mutex<Option<tokio::sync::mpsc::UnboundedSender<ClientMessage>>>,
    /// The lead this window shows (re-sent when the task restarts).
    open_lead: Mutex<Option<String>>,
    /// Who else has a lead open, as the server last said.
    presence: Arc<Mutex<Vec<PresenceEntry>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the status line shows.
#[derive(Debug, Serialize)]
pub struct SyncInfo {
    /// `None`: this store is not signed in.
    pub joined: Option<rapport_store::SyncStatus>,
    /// The protocol's status (`synced`, `syncing`, `offline`, `stopped`, `error`).
    pub live: serde_json::Value,
    /// Coworkers' open leads (this store's own user left out by the UI).
    pub presence: Vec<PresenceEntry>,
}

/// Starts syncing if the store is signed in (at launch, after sign-in, for "sync now").
pub fn start(handle: &AppHandle, app: &App, task: &SyncTask) {
    let (tx, stop) = tokio::sync::watch::channel(false);
    if let Some(old) = task
        .stop
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(tx)
    {
        let _ = old.send(true);
    }
    let (presence_tx, presence_rx) = tokio::sync::mpsc::unbounded_channel();
    if let Some(lead) = lock(&task.open_lead).clone() {
        let _ = presence_tx.send(ClientMessage::Presence {
            lead_id: Some(lead),
        });
    }
    *lock(&task.presence_out) = Some(presence_tx);
    let (app, h1, h2, h3, last, seen) = (
        app.clone(),
        handle.clone(),
        handle.clone(),
        handle.clone(),
        task.last.clone(),
        task.presence.clone(),
    );
    tauri::async_runtime::spawn(async move {
        match app.sync_status().await {
            Ok(Some(_)) => {}
            _ => return,
        }
        let hooks = Hooks {
            status: Some(Arc::new(move |s| {
                let v = serde_json::to_value(&s).unwrap_or_default();
                *last.lock().unwrap_or_else(|e| e.into_inner()) = v.clone();
                let _ = h1.emit("sync-event", serde_json::json!({ "status": v }));
            })),
            bootstrap: Some(Arc::new(move |p| {
                let _ = h2.emit("sync-event", serde_json::json!({ "bootstrap": p }));
            })),
            presence: Some(Arc::new(move |entries: Vec<PresenceEntry>| {
                *lock(&seen) = entries.clone();
                let _ = h3.emit("sync-event", serde_json::json!({ "presence": entries }));
            })),
            ..Default::default()
        };
        if let Err(e) = app.sync_live(hooks, stop, presence_rx).await {
            eprintln!("sync: {}", e.message);
        }
    });
}

fn stop(task: &SyncTask) {
    if let Some(old) = lock(&task.stop).take() {
        let _ = old.send(true);
    }
    lock(&task.presence_out).take();
    lock(&task.presence).clear();
}

#[tauri::command]
pub async fn sync_info(app: State<'_, App>, task: State<'_, SyncTask>) -> R<SyncInfo> {
    Ok(SyncInfo {
        joined: app.store().sync_status().await?,
        live: lock(&task.last).clone(),
        presence: lock(&task.presence).clone(),
    })
}

/// Tells the server which lead this window shows (`None`: none), so coworkers see it.
#[tauri::command]
pub async fn sync_presence(task: State<'_, SyncTask>, lead_id: Option<String>) -> R<()> {
    *lock(&task.open_lead) = lead_id.clone();
    if let Some(tx) = lock(&task.presence_out).as_ref() {
        let _ = tx.send(ClientMessage::Presence { lead_id });
    }
    Ok(())
}

/// The local settings the Settings dialog edits (the phone region, the recent-touch window).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub recent_touch_minutes: Option<i64>,
}

/// Saves the settings given (the dialog autosaves one at a time); a bad value is refused
/// with `invalid` and not written.
#[tauri::command]
pub async fn save_settings(app: State<'_, App>, input: SettingsInput) -> R<rapport_app::AppInfo> {
    if let Some(m) = input.recent_touch_minutes {
        app.set_recent_touch_minutes(m).await?;
    }
    if let Some(r) = input.region {
        app.set_region(&r).await?;
    }
    app.info().await
}

/// Sign-in as the Settings form sends it: a password or a token.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    pub server_url: String,
    pub org: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

#[tauri::command]
pub async fn sync_login(
    handle: AppHandle,
    app: State<'_, App>,
    task: State<'_, SyncTask>,
    input: SignIn,
) -> R<SyncInfo> {
    let credentials = match (input.token.filter(|t| !t.trim().is_empty()), input.email) {
        (Some(t), _) => Credentials::Token(t.trim().to_string()),
        (None, Some(email)) if !email.trim().is_empty() => Credentials::Password {
            email: email.trim().to_string(),
            password: input.password.unwrap_or_default(),
        },
        _ => {
            return Err(AppError::new(
                "bad_input",
                "give an email and password, or a device token",
            ));
        }
    };
    let device = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into());
    app.sync_login(LoginArgs {
        server_url: input.server_url,
        org: input.org,
        credentials,
        device_name: format!("Rapport on {device}"),
        ca_file: None,
    })
    .await?;
    start(&handle, &app, &task);
    sync_info(app, task).await
}

#[tauri::command]
pub async fn sync_now(handle: AppHandle, app: State<'_, App>, task: State<'_, SyncTask>) -> R<()> {
    start(&handle, &app, &task);
    Ok(())
}

/// Signs out; returns how many local changes the server never received.
#[tauri::command]
pub async fn sync_logout(app: State<'_, App>, task: State<'_, SyncTask>) -> R<i64> {
    stop(&task);
    *lock(&task.last) = serde_json::Value::Null;
    app.sync_logout().await
}
