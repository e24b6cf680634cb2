//! Calls cut off by a crash: while a call runs, a small marker file beside the store names its
//! Call activity and when it was last seen alive (rewritten every few seconds while connected).
//! If the app dies mid-call the activity would stay "in-progress" forever; at the next start
//! the marker is found and the call is logged as `interrupted` with the duration talked up to
//! the last heartbeat. The marker is local to this device: a coworker's running call, synced
//! into this store, is never touched.

use crate::App;
use chrono::Utc;
use rapport_core::ops::CallPatch;
use rapport_core::time::Timestamp;
use rapport_core::{ActivityKind, Id};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How often a connected call refreshes its marker: the most talk time a crash can lose
/// from the logged duration.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the marker file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallMarker {
    pub activity_id: Id,
    #[serde(with = "rapport_core::time::serde_opt_ts", default)]
    pub connected_at: Option<Timestamp>,
    #[serde(with = "rapport_core::time::serde_ts")]
    pub seen_at: Timestamp,
}

/// `<db>.call` beside the store.
pub fn marker_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".call");
    db.with_file_name(name)
}

/// Writes the marker atomically (temporary file, then rename), so a crash mid-write leaves
/// the old marker or the new one, never half of one.
pub fn write(path: &Path, marker: &CallMarker) -> std::io::Result<()> {
    let tmp = path.with_extension("call.tmp");
    let json = serde_json::to_vec(marker).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

pub fn clear(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// The patch that closes an interrupted call: answered calls keep the time talked up to the
/// last heartbeat.
pub fn interrupted_patch(marker: &CallMarker) -> CallPatch {
    let duration = marker
        .connected_at
        .map(|c| u32::try_from((marker.seen_at - c).num_seconds().max(0)).unwrap_or(u32::MAX));
    CallPatch {
        status: Some("interrupted".into()),
        disposition: Some(
            if duration.is_some() {
                "answered"
            } else {
                "unknown"
            }
            .into(),
        ),
        duration: Some(duration.unwrap_or(0)),
        note: None,
    }
}

/// Closes the call a previous run left open, if any; returns its activity id. A marker whose
/// call was already logged (the crash came after the outcome was written) only goes away.
pub async fn recover(app: &App, path: &Path) -> Option<Id> {
    let text = std::fs::read(path).ok()?;
    let Ok(marker) = serde_json::from_slice::<CallMarker>(&text) else {
        eprintln!(
            "rapport: ignoring an unreadable call marker {}",
            path.display()
        );
        clear(path);
        return None;
    };
    let still_open = match app.store().begin_write().await {
        Ok(mut w) => match w.activity(marker.activity_id).await {
            Ok(a) => matches!(&a.kind, ActivityKind::Call(f) if f.status == "in-progress"),
            Err(_) => false,
        },
        Err(e) => {
            eprintln!("rapport: the interrupted call could not be checked: {e}");
            return None;
        }
    };
    let mut closed = None;
    if still_open {
        match app
            .update_call(marker.activity_id, interrupted_patch(&marker))
            .await
        {
            Ok(_) => closed = Some(marker.activity_id),
            Err(e) => {
                eprintln!("rapport: the interrupted call could not be logged: {e}");
                return None;
            }
        }
    }
    clear(path);
    closed
}

/// A fresh marker for `activity`, seen now.
pub fn marker(activity: Id, connected_at: Option<Timestamp>) -> CallMarker {
    CallMarker {
        activity_id: activity,
        connected_at,
        seen_at: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_counts_from_answer_to_the_last_heartbeat() {
        let id = Id::at(Utc::now(), 7);
        let t = Utc::now();
        let answered = CallMarker {
            activity_id: id,
            connected_at: Some(t - chrono::Duration::seconds(42)),
            seen_at: t,
        };
        let p = interrupted_patch(&answered);
        assert_eq!(p.duration, Some(42));
        assert_eq!(p.status.as_deref(), Some("interrupted"));
        assert_eq!(p.disposition.as_deref(), Some("answered"));
        let ringing = CallMarker {
            connected_at: None,
            ..answered
        };
        assert_eq!(interrupted_patch(&ringing).duration, Some(0));
        assert_eq!(
            interrupted_patch(&ringing).disposition.as_deref(),
            Some("unknown")
        );
    }

    #[test]
    fn the_marker_round_trips_and_sits_beside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = marker_path(&dir.path().join("x.db"));
        assert_eq!(path, dir.path().join("x.db.call"));
        let m = marker(Id::at(Utc::now(), 9), Some(Utc::now()));
        write(&path, &m).unwrap();
        let back: CallMarker = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back.activity_id, m.activity_id);
        clear(&path);
        assert!(!path.exists());
    }
}
