//! A record's replicated state — its canonical JSON fields, per-field clocks and tombstone —
//! and the merge every replica runs: per key, the larger `(clock, value)` wins. The merge is a
//! join-semilattice (commutative, associative, idempotent), so order and duplicates never
//! matter. Never touches IO; the client store and the server both call [`merge`].
//!
//! Clock keys form a small tree: `"*"` (the creation stamp) is the fallback of every key; a
//! top-level field (`name`) falls back to `"*"`; a key of a map field (`custom.<id>`) falls back
//! to the map's own key (`custom`, which older stores stamped as one unit) and then `"*"`;
//! `_deleted` falls back to `"*"` (created alive). A key's *effective* clock is its own entry
//! or its parent's effective clock. Merging takes, for every key, the max of the effective
//! clocks, and keeps an explicit entry only where it differs from the parent's merged clock,
//! so equal states have equal representations.

use rapport_core::{Hlc, NodeId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Per-key clocks: `"*"`, field names, `custom.<key>`, `_deleted`.
pub type Clocks = BTreeMap<String, Hlc>;

/// The creation stamp's key.
pub const CREATED: &str = "*";
/// The tombstone's key.
pub const DELETED: &str = "_deleted";
pub use rapport_core::plan::MAP_FIELDS;
/// Fields derived from the others, merged as the max of their values and never clocked:
/// `date_updated` is "the last time anything changed".
pub const MAX_FIELDS: [&str; 1] = ["date_updated"];

/// The zero stamp: older than every real stamp (seed records carry it, so any real edit wins).
pub const ZERO: Hlc = Hlc {
    ms: 0,
    counter: 0,
    node: NodeId(0),
};

/// One record as replicas exchange it. `fields` is the canonical JSON object (what the store
/// keeps in `data`); a *partial* state (a pushed update) carries only the fields it sets and
/// their clocks, and no `"*"`, so the fields it omits lose to everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordState {
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub clocks: Clocks,
    #[serde(default)]
    pub deleted: bool,
}

/// The parent of a clock key (`None` for `"*"`).
pub fn parent(key: &str) -> Option<&str> {
    if key == CREATED {
        return None;
    }
    match key.split_once('.') {
        Some((map, _)) if MAP_FIELDS.contains(&map) => Some(map),
        _ => Some(CREATED),
    }
}

impl RecordState {
    /// The clock that decides `key`: its own entry, else its parent's, else [`ZERO`].
    pub fn effective(&self, key: &str) -> Hlc {
        let mut k = key;
        loop {
            if let Some(c) = self.clocks.get(k) {
                return *c;
            }
            match parent(k) {
                Some(p) => k = p,
                None => return ZERO,
            }
        }
    }

    /// The value of a value key (`name`, `custom.<key>`, `_deleted`); `None` when absent.
    pub fn value(&self, key: &str) -> Option<Value> {
        if key == DELETED {
            return Some(Value::Bool(self.deleted));
        }
        if let Some((map, sub)) = key.split_once('.')
            && MAP_FIELDS.contains(&map)
        {
            return self
                .fields
                .get(map)
                .and_then(Value::as_object)
                .and_then(|m| m.get(sub))
                .cloned();
        }
        self.fields.get(key).cloned()
    }

    /// Every key that holds a value or a clock (map fields expanded to their keys).
    pub fn keys(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (k, v) in &self.fields {
            if MAP_FIELDS.contains(&k.as_str()) {
                if let Some(m) = v.as_object() {
                    out.extend(m.keys().map(|s| format!("{k}.{s}")));
                }
                out.insert(k.clone());
            } else {
                out.insert(k.clone());
            }
        }
        out.extend(self.clocks.keys().cloned());
        out.insert(DELETED.to_string());
        out.insert(CREATED.to_string());
        out
    }

    /// The newest stamp in this state (for skew checks and the HLC's receive rule).
    pub fn max_clock(&self) -> Option<Hlc> {
        self.clocks.values().max().copied()
    }
}

/// A total order on JSON values for ties (equal clocks): absent < present, then by canonical
/// text (object keys sorted), so every replica picks the same winner.
fn cmp_values(a: &Option<Value>, b: &Option<Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => canonical(x).cmp(&canonical(y)),
    }
}

/// JSON text with object keys sorted, whatever map ordering serde_json was built with.
pub fn canonical(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&m[*k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s
}

fn is_value_key(k: &str) -> bool {
    k != CREATED && !MAP_FIELDS.contains(&k)
}

/// Merges two states of one record. Commutative, associative and idempotent.
pub fn merge(a: &RecordState, b: &RecordState) -> RecordState {
    let keys: BTreeSet<String> = a.keys().union(&b.keys()).cloned().collect();
    // Merged effective clock of every key: the max of both sides'.
    let eff: BTreeMap<&str, Hlc> = keys
        .iter()
        .map(|k| (k.as_str(), a.effective(k).max(b.effective(k))))
        .collect();
    let mut out = RecordState::default();
    let has_map = |m: &str| a.fields.contains_key(m) || b.fields.contains_key(m);
    for m in MAP_FIELDS {
        if has_map(m) {
            out.fields.insert(m.to_string(), Value::Object(Map::new()));
        }
    }
    for k in &keys {
        let k = k.as_str();
        let clock = eff[k];
        let parent_clock = parent(k).map(|p| a.effective(p).max(b.effective(p)));
        if parent_clock != Some(clock) && !(parent_clock.is_none() && clock == ZERO) {
            out.clocks.insert(k.to_string(), clock);
        }
        if !is_value_key(k) {
            continue;
        }
        let (va, vb) = (a.value(k), b.value(k));
        let value = if MAX_FIELDS.contains(&k) {
            match cmp_values(&va, &vb) {
                Ordering::Less => vb,
                _ => va,
            }
        } else {
            let (ca, cb) = (a.effective(k), b.effective(k));
            match ca.cmp(&cb).then_with(|| cmp_values(&va, &vb)) {
                Ordering::Less => vb,
                _ => va,
            }
        };
        if k == DELETED {
            out.deleted = value.and_then(|v| v.as_bool()).unwrap_or(false);
            continue;
        }
        let Some(value) = value else { continue };
        match k.split_once('.') {
            Some((m, sub)) if MAP_FIELDS.contains(&m) => {
                if let Some(Value::Object(map)) = out.fields.get_mut(m) {
                    map.insert(sub.to_string(), value);
                }
            }
            _ => {
                out.fields.insert(k.to_string(), value);
            }
        }
    }
    for f in MAX_FIELDS {
        out.clocks.remove(f);
    }
    out
}

/// Sets one value key's value and clock, keeping the representation canonical (no explicit
/// clock equal to its parent's), as [`merge`] leaves it.
pub fn set(state: &mut RecordState, key: &str, value: Option<Value>, clock: Hlc) {
    match key.split_once('.') {
        Some((m, sub)) if MAP_FIELDS.contains(&m) => {
            let map = state
                .fields
                .entry(m.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                match value {
                    Some(v) => map.insert(sub.to_string(), v),
                    None => map.remove(sub),
                };
            }
        }
        _ => match value {
            Some(v) => {
                state.fields.insert(key.to_string(), v);
            }
            None => {
                state.fields.remove(key);
            }
        },
    }
    let parent = parent(key).map(|p| state.effective(p)).unwrap_or(ZERO);
    if clock == parent {
        state.clocks.remove(key);
    } else {
        state.clocks.insert(key.to_string(), clock);
    }
}

/// Whether merging `incoming` into `current` changes it (a no-op push allocates no seq).
pub fn changes(current: &RecordState, incoming: &RecordState) -> bool {
    merge(current, incoming) != *current
}

/// The keys of `incoming` whose value or clock won against `current` (what a push applied).
pub fn winning_keys(current: &RecordState, incoming: &RecordState) -> Vec<String> {
    incoming
        .keys()
        .into_iter()
        .filter(|k| is_value_key(k) && !MAX_FIELDS.contains(&k.as_str()))
        .filter(|k| incoming.clocks.contains_key(k) || incoming.clocks.contains_key(CREATED))
        .filter(|k| {
            let (ci, cc) = (incoming.effective(k), current.effective(k));
            ci.cmp(&cc)
                .then_with(|| cmp_values(&incoming.value(k), &current.value(k)))
                == Ordering::Greater
        })
        .collect()
}
