//! The invariants of SYNC.md §2.1, checked at quiescence against independent records of what
//! happened: every state a client committed locally (I2's per-field max oracle), every line
//! ever typed into a note (I3), the server's records, each client's store.

use rapport_core::Hlc;
use rapport_core::plan::Entity;
use rapport_store::Store;
use rapport_sync::state::{DELETED, RecordState};
use rapport_sync::wire::Change;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

type Key = (String, String);
/// Every (clock, value) committed for one value key.
type Candidates = Vec<(Hlc, Option<Value>)>;

/// What clients committed.
#[derive(Default)]
pub struct Oracle {
    /// (entity, id) → value key → every (clock, value) a client committed.
    candidates: BTreeMap<Key, BTreeMap<String, Candidates>>,
    /// note id → every line ever typed into it.
    pub note_lines: BTreeMap<String, BTreeSet<String>>,
}

/// Keys not decided by LWW: note bodies (three-way merge, checked by I3) and the derived
/// `date_updated` (the max of its values).
fn lww_key(entity: &str, state: &RecordState, key: &str) -> bool {
    if key == "date_updated" || key == "*" || key == "custom" {
        return false;
    }
    !(entity == "activity"
        && key == "note"
        && state.fields.get("_type").and_then(Value::as_str) == Some("note"))
}

fn cmp(a: &(Hlc, Option<Value>), b: &(Hlc, Option<Value>)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| {
        let t = |v: &Option<Value>| v.as_ref().map(rapport_sync::state::canonical);
        match (t(&a.1), t(&b.1)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y),
        }
    })
}

/// Every record in a store: (entity, id) → state.
pub async fn store_records(s: &Store) -> Result<BTreeMap<Key, RecordState>, String> {
    let mut out = BTreeMap::new();
    for e in Entity::ALL {
        let table = rapport_store::table_of(e);
        let rows: Vec<(String, String, String, bool)> =
            sqlx::query_as(&format!("SELECT id, data, clocks, deleted FROM {table}"))
                .fetch_all(s.pool())
                .await
                .map_err(|e| e.to_string())?;
        for (id, d, c, del) in rows {
            out.insert(
                (e.as_str().to_string(), id),
                RecordState {
                    fields: serde_json::from_str(&d).map_err(|e| e.to_string())?,
                    clocks: serde_json::from_str(&c).map_err(|e| e.to_string())?,
                    deleted: del,
                },
            );
        }
    }
    Ok(out)
}

impl Oracle {
    /// Records a state a client committed (every value key with its deciding clock).
    pub fn committed(&mut self, entity: &str, id: &str, state: &RecordState) {
        let per = self
            .candidates
            .entry((entity.to_string(), id.to_string()))
            .or_default();
        for k in state.keys() {
            if !lww_key(entity, state, &k) {
                continue;
            }
            per.entry(k.clone())
                .or_default()
                .push((state.effective(&k), state.value(&k)));
        }
    }

    /// A client re-stamped a pending key after `clock_skew` (`old` → `new`): the value
    /// committed under `old` was refused under it and now carries `new`.
    /// Values this client committed earlier under stamps past the bound (`limit` ms) and
    /// then overwrote itself were never accepted either: they are gone with the re-stamp.
    pub fn remap(&mut self, entity: &str, id: &str, key: &str, old: Hlc, new: Hlc, limit: u64) {
        if let Some(c) = self
            .candidates
            .get_mut(&(entity.to_string(), id.to_string()))
            .and_then(|k| k.get_mut(key))
        {
            c.retain(|(clock, _)| *clock == old || !(clock.node == old.node && clock.ms > limit));
            for (clock, _) in c.iter_mut() {
                if *clock == old {
                    *clock = new;
                }
            }
        }
    }

    pub fn typed(&mut self, note: &str, line: &str) {
        self.note_lines
            .entry(note.to_string())
            .or_default()
            .insert(line.to_string());
    }

    /// I1 (every client equals the server), I2 (every LWW key is the max committed), I3 (no
    /// typed line lost), I6 (tombstones by their own clock, inside I2's `_deleted`).
    pub fn check(
        &self,
        server: &[Change],
        clients: &[(String, BTreeMap<Key, RecordState>)],
    ) -> Result<(), String> {
        let srv: BTreeMap<Key, &Change> = server
            .iter()
            .map(|c| ((c.entity.clone(), c.id.clone()), c))
            .collect();
        // I1.
        for (name, recs) in clients {
            for (k, c) in &srv {
                match recs.get(k) {
                    // A bootstrap omits tombstones: a client that never had a record need
                    // not hold its tombstone.
                    None if c.state.deleted => {}
                    None => return Err(format!("I1: {name} lacks {k:?}")),
                    Some(s) if *s != c.state => {
                        return Err(format!(
                            "I1: {name} differs on {k:?}:\n  client {}\n  server {}",
                            serde_json::to_string(s).unwrap_or_default(),
                            serde_json::to_string(&c.state).unwrap_or_default()
                        ));
                    }
                    _ => {}
                }
            }
            for k in recs.keys() {
                if !srv.contains_key(k) {
                    return Err(format!("I1: {name} has {k:?}, the server does not"));
                }
            }
        }
        // I2 and I6.
        for (k, keys) in &self.candidates {
            let Some(c) = srv.get(k) else {
                return Err(format!(
                    "I2: {k:?} was committed but never reached the server"
                ));
            };
            for (key, cands) in keys {
                let want = cands.iter().max_by(|a, b| cmp(a, b)).map(|w| w.1.clone());
                let want = match (key.as_str(), want) {
                    (DELETED, w) => Some(w.flatten().unwrap_or(Value::Bool(false))),
                    (_, w) => w.flatten(),
                };
                let got = c.state.value(key);
                if got != want {
                    return Err(format!(
                        "I2: {k:?}.{key} is {got:?} at {}; the newest committed value is {want:?}; candidates {:?}",
                        c.state.effective(key),
                        cands
                            .iter()
                            .map(|(c, v)| format!("{c} {v:?}"))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        // I3.
        for (note, lines) in &self.note_lines {
            let mut kept = String::new();
            if let Some(c) = srv.get(&("activity".to_string(), note.clone())) {
                kept.push_str(
                    c.state
                        .fields
                        .get("note")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                );
            }
            for c in server.iter().filter(|c| c.entity == "note_conflict") {
                if c.state.fields.get("note_id").and_then(Value::as_str) == Some(note) {
                    kept.push('\n');
                    kept.push_str(
                        c.state
                            .fields
                            .get("body")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    );
                }
            }
            let have: BTreeSet<&str> = kept.lines().collect();
            for l in lines {
                if !have.contains(l.as_str()) {
                    return Err(format!(
                        "I3: note {note} lost the line `{l}`; kept:\n{kept}"
                    ));
                }
            }
        }
        Ok(())
    }
}
