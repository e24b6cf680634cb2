//! Pokes and presence in this process: one broadcast channel per org. Pokes carry only the
//! org's new `seq` (the pull is the only data path); presence (who has which lead open) lives
//! only here and on the sockets, never in storage.

use rapport_sync::wire::{PresenceEntry, ServerMessage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Default)]
pub struct Hub {
    inner: Arc<Mutex<Inner>>,
    /// Set on PostgreSQL: pokes go through `NOTIFY` so other processes see them too.
    pub notify: Option<crate::db::Db>,
}

#[derive(Debug, Default)]
struct Inner {
    orgs: HashMap<String, broadcast::Sender<ServerMessage>>,
    /// org → client id → entry.
    presence: HashMap<String, HashMap<String, PresenceEntry>>,
}

impl Hub {
    /// The org's message stream.
    pub fn subscribe(&self, org: &str) -> broadcast::Receiver<ServerMessage> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.orgs
            .entry(org.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    fn send(&self, org: &str, m: ServerMessage) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = g.orgs.get(org) {
            let _ = tx.send(m);
        }
    }

    /// Tells this process's sockets of `org` that it reached `seq`.
    pub fn poke_local(&self, org: &str, seq: i64) {
        self.send(org, ServerMessage::Poke { seq });
    }

    /// After a commit: pokes every process's sockets (through `NOTIFY` on PostgreSQL).
    pub async fn poke(&self, org: &str, seq: i64) {
        match &self.notify {
            Some(db) => {
                if let Err(e) = crate::postgres::notify(db, org, seq).await {
                    tracing::warn!("NOTIFY failed ({e}); poking this process only");
                    self.poke_local(org, seq);
                }
            }
            None => self.poke_local(org, seq),
        }
    }

    /// Sets (or clears) what a client has open and tells the org.
    pub fn presence(&self, org: &str, entry: PresenceEntry, open: bool) {
        let entries = {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let p = g.presence.entry(org.to_string()).or_default();
            if open {
                p.insert(entry.client_id.clone(), entry);
            } else {
                p.remove(&entry.client_id);
            }
            let mut v: Vec<PresenceEntry> = p.values().cloned().collect();
            v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
            v
        };
        self.send(org, ServerMessage::Presence { entries });
    }

    pub fn presence_now(&self, org: &str) -> Vec<PresenceEntry> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.presence
            .get(org)
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }
}
