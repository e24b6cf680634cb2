//! The desktop shell: opens the store, registers the commands (each a few lines over the app
//! facade), starts the softphone (`phone-event`) and forwards store changes made by any
//! process to the UI as `store-changed`, and keeps a signed-in store in sync with its team
//! server (`sync-event`). On exit a running call is hung up and logged.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod import;
mod phone;
mod search;
mod sync;

use rapport_app::App;
use tauri::{Emitter, Manager};

/// mimalloc, as in the CLI: the in-process indexer and CSV import allocate on one thread
/// and free on another, which glibc's allocator handles slowly.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::var_os("RAPPORT_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(App::default_db_path);
    let result = tauri::Builder::default()
        .setup(move |tauri_app| {
            let app = tauri::async_runtime::block_on(App::open(&path))?;
            // open the search index now, so every write from here on is indexed as it happens
            if let Err(e) = tauri::async_runtime::block_on(app.start_search()) {
                eprintln!("warning: search index: {e}");
            }
            let handle = tauri_app.handle().clone();
            let watcher = tauri::async_runtime::block_on(app.watch(move |seq| {
                let _ = handle.emit("store-changed", serde_json::json!({ "seq": seq }));
            }))?;
            phone::setup(tauri_app, &app);
            let sync_task = sync::SyncTask::default();
            sync::start(tauri_app.handle(), &app, &sync_task);
            tauri_app.manage(sync_task);
            tauri_app.manage(app);
            tauri_app.manage(watcher);
            Ok(())
        })
        .manage(import::ImportCancel::default())
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!())
        .map(|built| {
            built.run(|handle, event| {
                if let tauri::RunEvent::Exit = event {
                    // hang up a running call (BYE) and log it before the process goes
                    if let Some(phone) = handle.try_state::<rapport_app::Softphone>() {
                        let phone = phone.inner().clone();
                        tauri::async_runtime::block_on(phone.shutdown());
                    }
                }
            })
        });
    if let Err(e) = result {
        eprintln!("error: Rapport could not start: {e}");
        std::process::exit(1);
    }
}
