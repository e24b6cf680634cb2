//! The CSV import wizard's commands: preview a file (suggested mapping), run the import with
//! progress as `import-progress` events, cancel it. Each is a few lines over the csv facade;
//! never reads or parses CSV itself.

use rapport_app::{
    App, AppError, CsvImportOptions, CsvPreview, ImportSummary, Mapping, MatchKey, UnknownColumns,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, State};

type R<T> = Result<T, AppError>;

/// The running import's cancel flag (a fresh one per import).
#[derive(Default)]
pub struct ImportCancel(Mutex<Arc<AtomicBool>>);

impl ImportCancel {
    fn fresh(&self) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = flag.clone();
        flag
    }
}

/// Where the wizard's path box starts: `~/leads.csv`.
#[tauri::command]
pub fn import_default_path() -> String {
    let home = std::env::var_os("HOME").unwrap_or_default();
    std::path::Path::new(&home)
        .join("leads.csv")
        .display()
        .to_string()
}

#[tauri::command]
pub async fn import_preview(app: State<'_, App>, path: String) -> R<CsvPreview> {
    app.csv_preview(&path, 8).await
}

#[tauri::command]
pub async fn import_run(
    app: State<'_, App>,
    cancel: State<'_, ImportCancel>,
    handle: AppHandle,
    path: String,
    mapping: Mapping,
    match_on: Vec<MatchKey>,
    skip_unknown: bool,
) -> R<ImportSummary> {
    let options = CsvImportOptions {
        match_on: Some(match_on),
        unknown_columns: Some(if skip_unknown {
            UnknownColumns::Skip
        } else {
            UnknownColumns::Custom
        }),
        ..CsvImportOptions::default()
    };
    let progress = move |p: &rapport_app::CsvProgress| drop(handle.emit("import-progress", p));
    app.import_csv(&path, Some(mapping), options, progress, cancel.fresh())
        .await
}

#[tauri::command]
pub fn import_cancel(cancel: State<'_, ImportCancel>) {
    cancel
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .store(true, Ordering::Relaxed);
}
