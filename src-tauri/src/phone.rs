//! The softphone in the desktop shell: starts `Softphone` beside the store, forwards every
//! change to the UI as `phone-event` (a `PhoneSnapshot`), and the phone commands — each a
//! few lines over the facade.

use rapport_app::{ActivityView, App, AppError, PhoneSnapshot, Softphone};
use rapport_core::Id;
use rapport_core::ops::CallPatch;
use tauri::{Emitter, Manager, State};

type R<T> = Result<T, AppError>;

/// Starts the phone (never fails: set-up problems show as the registration state).
pub fn setup(tauri_app: &tauri::App, app: &App) {
    let handle = tauri_app.handle().clone();
    let path = Softphone::settings_path(app);
    let phone = tauri::async_runtime::block_on(Softphone::start(app.clone(), path, move |s| {
        let _ = handle.emit("phone-event", s);
    }));
    tauri_app.manage(phone);
}

#[tauri::command]
pub async fn phone_status(phone: State<'_, Softphone>) -> R<PhoneSnapshot> {
    Ok(phone.snapshot().await)
}

#[tauri::command]
pub async fn phone_dial(
    phone: State<'_, Softphone>,
    lead_id: Id,
    contact_id: Option<Id>,
    number: String,
) -> R<PhoneSnapshot> {
    phone.dial(lead_id, contact_id, &number).await
}

#[tauri::command]
pub async fn phone_answer(phone: State<'_, Softphone>) -> R<()> {
    phone.answer().await
}

#[tauri::command]
pub async fn phone_reject(phone: State<'_, Softphone>, busy: bool) -> R<()> {
    phone.reject(busy).await
}

#[tauri::command]
pub async fn phone_hangup(phone: State<'_, Softphone>) -> R<()> {
    phone.hangup().await
}

#[tauri::command]
pub async fn phone_hold(phone: State<'_, Softphone>, hold: bool) -> R<()> {
    phone.hold(hold).await
}

#[tauri::command]
pub async fn phone_mute(phone: State<'_, Softphone>, muted: bool) -> R<PhoneSnapshot> {
    phone.mute(muted).await
}

#[tauri::command]
pub async fn phone_dtmf(phone: State<'_, Softphone>, digits: String) -> R<()> {
    phone.dtmf(&digits).await
}

#[tauri::command]
pub async fn phone_dismiss(phone: State<'_, Softphone>) -> R<PhoneSnapshot> {
    Ok(phone.dismiss().await)
}

/// The password goes straight to the OS keychain; it is never stored or logged.
#[tauri::command]
pub async fn phone_set_password(phone: State<'_, Softphone>, password: String) -> R<PhoneSnapshot> {
    phone.set_password(&password).await
}

/// The call bar's notes box autosaves through this (and any other change to a logged call).
#[tauri::command]
pub async fn update_call(app: State<'_, App>, id: Id, patch: CallPatch) -> R<ActivityView> {
    app.update_call(id, patch).await
}
