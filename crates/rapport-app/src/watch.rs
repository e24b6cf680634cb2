//! Live updates from other processes: watches the store's directory with `notify` and, when
//! the outbox grew (any write by anyone), reports the newest sequence number.

use crate::{AppError, Result};
use notify::{RecursiveMode, Watcher};
use rapport_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Keeps the watch alive; dropping it stops watching.
pub struct StoreWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for StoreWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreWatcher")
    }
}

impl Drop for StoreWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StoreWatcher {
    pub async fn start(
        store: Store,
        on_change: impl Fn(i64) + Send + Sync + 'static,
    ) -> Result<StoreWatcher> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok_and(|e| e.kind.is_modify() || e.kind.is_create()) {
                let _ = tx.send(());
            }
        })
        .map_err(|e| AppError::new("io", format!("cannot watch the store: {e}")))?;
        let dir = store
            .path()
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| ".".into());
        let dir = if dir.as_os_str().is_empty() {
            ".".into()
        } else {
            dir
        };
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| AppError::new("io", format!("cannot watch {}: {e}", dir.display())))?;
        let on_change = Arc::new(on_change);
        let mut last = store.last_seq().await?;
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Coalesce a burst of file events into one check.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while rx.try_recv().is_ok() {}
                if let Ok(seq) = store.last_seq().await
                    && seq != last
                {
                    last = seq;
                    on_change(seq);
                }
            }
        });
        Ok(StoreWatcher {
            _watcher: watcher,
            task,
        })
    }
}
