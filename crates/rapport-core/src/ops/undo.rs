//! Undo as an operation: from what an action changed (each record's state before it and the
//! clock keys it wrote) and the records as they are now, the writes that put back exactly
//! those fields. Fields the action did not touch keep their current values, so an undo is
//! exact even after other edits of the same records; the writes get new stamps like any edit.

use crate::error::Result;
use crate::plan::{Entity, MAP_FIELDS, Plan, Record, Write};
use serde_json::Value;

/// One record an action wrote, coalesced over the action (first state before, every key).
#[derive(Debug, Clone)]
pub struct UndoEntry {
    pub entity: Entity,
    /// The record's JSON and tombstone flag before the action; `None`: the action created it.
    pub before: Option<(Value, bool)>,
    /// The record now (`None`: it is gone, which a tombstoning store never does).
    pub current: Option<(Value, bool)>,
    /// The clock keys the action wrote (`*`: the whole record, `_deleted`, `custom.<key>`).
    pub fields: Vec<String>,
}

/// The writes undoing the entries (empty when nothing differs any more).
pub fn undo_plan(entries: Vec<UndoEntry>) -> Result<Plan> {
    let mut plan = Plan::default();
    for e in entries {
        let Some((cur, cur_deleted)) = e.current else {
            continue;
        };
        let current = Record::from_json(e.entity, cur.clone())?;
        let Some((before, before_deleted)) = e.before else {
            if !cur_deleted {
                plan.push(Write::delete(current));
            }
            continue;
        };
        let restored = Record::from_json(e.entity, revert(&cur, &before, &e.fields))?;
        match (before_deleted, cur_deleted) {
            (true, false) => plan.push(Write::delete(restored)),
            (false, true) => plan.push(Write::undelete(restored)),
            (false, false) => plan.push_opt(Write::update(&current, restored)),
            (true, true) => {}
        }
    }
    Ok(plan)
}

/// `current` with each of `fields` set back to its value in `before` (absent there: removed),
/// and `date_updated` as it was.
fn revert(current: &Value, before: &Value, fields: &[String]) -> Value {
    if fields.iter().any(|f| f == "*") {
        return before.clone();
    }
    let mut out = current.clone();
    let (Some(o), Some(b)) = (out.as_object_mut(), before.as_object()) else {
        return before.clone();
    };
    let put = |map: &mut serde_json::Map<String, Value>, key: &str, v: Option<&Value>| match v {
        Some(v) => {
            map.insert(key.to_string(), v.clone());
        }
        None => {
            map.remove(key);
        }
    };
    for f in fields.iter().map(String::as_str).chain(["date_updated"]) {
        if f == "_deleted" {
            continue;
        }
        match f.split_once('.') {
            Some((map, key)) if MAP_FIELDS.contains(&map) => {
                let old = b.get(map).and_then(|m| m.get(key));
                let m = o
                    .entry(map.to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(m) = m.as_object_mut() {
                    put(m, key, old);
                }
            }
            _ => put(o, f, b.get(f)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn revert_touches_only_the_action_fields() {
        let before =
            json!({"name": "A", "status_label": "Cold", "custom": {"x": 1}, "date_updated": "t0"});
        let now = json!({"name": "B", "status_label": "Hot", "custom": {"x": 2, "y": 3}, "date_updated": "t2"});
        let fields = vec![
            "status_label".to_string(),
            "custom.x".into(),
            "custom.y".into(),
        ];
        assert_eq!(
            revert(&now, &before, &fields),
            json!({"name": "B", "status_label": "Cold", "custom": {"x": 1}, "date_updated": "t0"})
        );
        assert_eq!(revert(&now, &before, &["*".into()]), before);
    }
}
