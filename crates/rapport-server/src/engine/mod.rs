//! The push planner: a pure function from (what the org holds, the client's position, one push,
//! now) to what to write and what to answer. Storage loads the inputs and writes the plan in one
//! transaction; no IO here, so the rules (dedupe, fork detection, gaps, the skew guard, the
//! per-field merge, note revisions and conflicts) are tested without a database.

use rapport_core::plan::{Entity, Record};
use rapport_core::{Hlc, NodeId};
use rapport_sync::note::{NoteMerge, merge3};
use rapport_sync::state::{Clocks, RecordState, merge};
use rapport_sync::wire::*;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The server's own node id in HLC stamps (note merges and conflicts it writes).
pub const SERVER_NODE: NodeId = NodeId(0);

/// One record as the org holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub entity: String,
    pub lead_id: Option<String>,
    pub state: RecordState,
    pub seq: i64,
    pub body_rev: Option<i64>,
    pub updated_by: Option<String>,
}

impl Held {
    pub fn change(&self, id: &str) -> Change {
        Change {
            seq: self.seq,
            entity: self.entity.clone(),
            id: id.to_string(),
            lead_id: self.lead_id.clone(),
            state: self.state.clone(),
            body_rev: self.body_rev,
            updated_by: self.updated_by.clone(),
        }
    }
}

/// What the planner reads.
#[derive(Debug)]
pub struct PushInput<'a> {
    pub req: &'a PushRequest,
    /// The last `local_seq` applied for this client.
    pub applied: i64,
    /// The op ids stored for the pushed `local_seq`s at or below `applied`.
    pub seen_ops: &'a HashMap<i64, String>,
    /// The records the ops name (absent: the org does not hold it).
    pub held: &'a HashMap<String, Held>,
    /// Note bodies by `(note id, revision)` for the `base_rev`s the ops name.
    pub revisions: &'a HashMap<(String, i64), String>,
    pub last_seq: i64,
    pub hlc: Option<Hlc>,
    pub user_id: &'a str,
    pub now: i64,
}

/// What to write and answer.
#[derive(Debug, Default)]
pub struct PushPlan {
    /// The final state of each record the push changed (by id).
    pub writes: Vec<(String, Held)>,
    pub op_ids: Vec<(i64, String)>,
    pub revisions: Vec<(String, i64, String)>,
    pub last_seq: i64,
    pub hlc: Option<Hlc>,
    pub applied_through: i64,
    pub applied_op_id: Option<String>,
    pub results: Vec<OpResult>,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(code, msg)
}

fn result(local_seq: i64, status: OpStatus) -> OpResult {
    OpResult {
        local_seq,
        status,
        seq: None,
        conflict_id: None,
        error: None,
    }
}

/// An RFC 3339 timestamp (ms, UTC) for `now`.
pub fn timestamp(now: i64) -> String {
    chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Checks one op before anything is merged; `Err` rejects it (the client's `applied_local_seq`
/// still advances past it, and it is told why).
fn validate(op: &Op, held: Option<&Held>, merged: &RecordState) -> Result<(), ApiError> {
    let Some(entity) = Entity::parse(&op.entity) else {
        return Err(err(
            ErrorCode::UnknownEntity,
            format!("unknown entity `{}`", op.entity),
        ));
    };
    if op.id.parse::<rapport_core::Id>().is_err() {
        return Err(err(ErrorCode::BadRequest, format!("`{}` is not an id", op.id)).field("id"));
    }
    if let Some(h) = held
        && h.entity != op.entity
    {
        return Err(err(
            ErrorCode::BadRequest,
            format!("`{}` is a {}, not a {}", op.id, h.entity, op.entity),
        ));
    }
    if entity == Entity::NoteConflict && held.is_none() {
        return Err(err(
            ErrorCode::Forbidden,
            "note conflicts are written by the server",
        ));
    }
    // A record whose whole state is known must be a valid record of its kind.
    if merged.clocks.contains_key("*") {
        let mut v = Value::Object(merged.fields.clone());
        v["id"] = json!(op.id);
        Record::from_json(entity, v).map_err(|e| {
            let mut a = err(ErrorCode::BadRequest, e.to_string());
            a.field = Some("fields".into());
            a
        })?;
    }
    Ok(())
}

/// Plans one push. `Err` refuses the whole push (nothing is written).
pub fn plan_push(input: PushInput<'_>) -> Result<PushPlan, ApiError> {
    let PushInput {
        req,
        applied,
        seen_ops,
        held,
        revisions,
        last_seq,
        hlc,
        user_id,
        now,
    } = input;
    if req.ops.len() > MAX_PUSH_OPS {
        return Err(err(
            ErrorCode::PayloadTooLarge,
            format!("a push carries at most {MAX_PUSH_OPS} ops"),
        ));
    }
    // First pass: dedupe, forks, contiguity, skew: refuse the push before writing anything.
    let mut through = applied;
    for (i, op) in req.ops.iter().enumerate() {
        if op.local_seq <= applied {
            if seen_ops.get(&op.local_seq).is_some_and(|o| *o != op.op_id) {
                let mut e = err(
                    ErrorCode::ClientForked,
                    format!(
                        "another device already pushed a different op {} under client {}; this store was copied",
                        op.local_seq, req.client_id
                    ),
                );
                e.applied_local_seq = Some(applied);
                return Err(e);
            }
            continue;
        }
        if op.local_seq != through + 1 {
            let mut e = err(
                ErrorCode::Gap,
                format!(
                    "ops must continue at local_seq {}, not {}",
                    through + 1,
                    op.local_seq
                ),
            );
            e.applied_local_seq = Some(through);
            return Err(e);
        }
        if let Some(c) = op_clock(op)
            && c.ms as i64 > now + MAX_FUTURE_SKEW_MS
        {
            let mut e = err(
                ErrorCode::ClockSkew,
                format!(
                    "op {} is stamped {} s ahead of the server's clock",
                    op.local_seq,
                    (c.ms as i64 - now) / 1000
                ),
            )
            .field(format!("ops[{i}]"));
            e.server_time = Some(now);
            return Err(e);
        }
        through = op.local_seq;
    }

    let mut plan = PushPlan {
        last_seq,
        hlc,
        applied_through: applied,
        ..Default::default()
    };
    let mut work: HashMap<String, Held> = HashMap::new();
    let mut order: Vec<String> = vec![];
    let stamp = |plan: &mut PushPlan, seen: &[Option<Hlc>]| -> Hlc {
        let mut h = plan.hlc.unwrap_or(Hlc::zero(SERVER_NODE)).tick(now as u64);
        for s in seen.iter().flatten() {
            h = h.observe(s, now as u64);
        }
        plan.hlc = Some(h);
        h
    };
    for op in &req.ops {
        if op.local_seq <= applied {
            plan.results.push(result(op.local_seq, OpStatus::Duplicate));
            continue;
        }
        plan.op_ids.push((op.local_seq, op.op_id.clone()));
        plan.applied_through = op.local_seq;
        plan.applied_op_id = Some(op.op_id.clone());
        let cur_held = work.get(&op.id).or_else(|| held.get(&op.id)).cloned();
        let cur = cur_held
            .as_ref()
            .map(|h| h.state.clone())
            .unwrap_or_default();
        let cur_rev = cur_held.as_ref().and_then(|h| h.body_rev);
        let mut incoming = op.state.clone();
        let mut status = OpStatus::Applied;
        let mut conflict: Option<(String, Held)> = None;
        let held_note = op.entity == "activity"
            && cur.fields.get("_type").and_then(Value::as_str) == Some("note");
        let mut new_body = false;
        let body = incoming
            .fields
            .get("note")
            .and_then(Value::as_str)
            .map(str::to_string);
        if held_note && let (Some(base), Some(body)) = (op.base_rev, body.clone()) {
            let h = stamp(&mut plan, &[incoming.max_clock(), cur.max_clock()]);
            if Some(base) != cur_rev {
                let base_text = revisions
                    .get(&(op.id.clone(), base))
                    .cloned()
                    .unwrap_or_default();
                let ours = cur
                    .fields
                    .get("note")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                match merge3(&base_text, &ours, &body) {
                    NoteMerge::Clean(m) => {
                        status = OpStatus::Merged;
                        incoming.fields.insert("note".into(), m.into());
                        incoming.clocks.insert("note".into(), h);
                    }
                    NoteMerge::Conflict => {
                        status = OpStatus::Conflict;
                        incoming.fields.insert("note".into(), ours.into());
                        incoming.clocks.insert("note".into(), h);
                        plan.last_seq += 1;
                        let seq = plan.last_seq;
                        let cid = rapport_core::Id(ulid::Ulid::from_parts(
                            now.max(0) as u64,
                            (seq as u128) << 16 | (op.local_seq as u128 & 0xffff),
                        ))
                        .to_string();
                        let lead = cur.fields.get("lead_id").cloned().unwrap_or(Value::Null);
                        let mut f = Map::new();
                        for (k, v) in [
                            ("id", json!(cid)),
                            ("lead_id", lead.clone()),
                            ("note_id", json!(op.id)),
                            ("base_rev", json!(base)),
                            ("body", json!(body)),
                            ("user_id", json!(user_id)),
                            ("resolved", json!(false)),
                            ("date_created", json!(timestamp(now))),
                            ("date_updated", json!(timestamp(now))),
                        ] {
                            f.insert(k.into(), v);
                        }
                        let mut cl = Clocks::new();
                        cl.insert("*".into(), h);
                        conflict = Some((
                            cid,
                            Held {
                                entity: "note_conflict".into(),
                                lead_id: lead.as_str().map(str::to_string),
                                state: RecordState {
                                    fields: f,
                                    clocks: cl,
                                    deleted: false,
                                },
                                seq,
                                body_rev: None,
                                updated_by: Some(user_id.to_string()),
                            },
                        ));
                    }
                }
            } else {
                // Fast-forward: the body typed over the current revision wins whatever the
                // clocks, under a stamp newer than both.
                incoming.clocks.insert("note".into(), h);
            }
            new_body = true;
        } else if op.entity == "activity"
            && incoming.fields.get("_type").and_then(Value::as_str) == Some("note")
            && body.is_some()
        {
            new_body = true;
        }
        let merged = merge(&cur, &incoming);
        if let Err(e) = validate(op, cur_held.as_ref(), &merged) {
            let mut r = result(op.local_seq, OpStatus::Rejected);
            r.error = Some(e);
            plan.results.push(r);
            continue;
        }
        if merged == cur && conflict.is_none() {
            plan.results.push(result(op.local_seq, OpStatus::Stale));
            continue;
        }
        if status == OpStatus::Applied {
            // Did every key the op set win?
            let lost = incoming
                .clocks
                .iter()
                .any(|(k, c)| merged.clocks.get(k).is_some_and(|m| m > c));
            if lost {
                status = OpStatus::PartiallyApplied;
            }
        }
        let conflict_id = conflict.as_ref().map(|(id, _)| id.clone());
        if let Some((cid, c)) = conflict {
            if !order.contains(&cid) {
                order.push(cid.clone());
            }
            work.insert(cid, c);
        }
        plan.last_seq += 1;
        let seq = plan.last_seq;
        let body_rev = if new_body && merged.fields.get("note") != cur.fields.get("note") {
            plan.revisions.push((
                op.id.clone(),
                seq,
                merged
                    .fields
                    .get("note")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ));
            Some(seq)
        } else {
            cur_rev
        };
        let lead_id = op
            .lead_id
            .clone()
            .or_else(|| cur_held.as_ref().and_then(|h| h.lead_id.clone()));
        if !order.contains(&op.id) {
            order.push(op.id.clone());
        }
        work.insert(
            op.id.clone(),
            Held {
                entity: op.entity.clone(),
                lead_id,
                state: merged,
                seq,
                body_rev,
                updated_by: Some(user_id.to_string()),
            },
        );
        plan.results.push(OpResult {
            local_seq: op.local_seq,
            status,
            seq: Some(seq),
            conflict_id,
            error: None,
        });
    }
    for id in order {
        if let Some(h) = work.remove(&id) {
            plan.writes.push((id, h));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
