//! The push planner's rules, table by table: no database, no sockets.

use super::*;
use rapport_core::Hlc;

const NOW: i64 = 1_800_000_000_000;
const LEAD: &str = "01J0000000000000000000000A";
const NOTE: &str = "01J0000000000000000000000B";

fn hlc(ms: i64, node: u64) -> Hlc {
    Hlc {
        ms: ms as u64,
        counter: 0,
        node: NodeId(node),
    }
}

fn lead_create(local_seq: i64, name: &str, at: i64) -> Op {
    let mut state = RecordState::default();
    for (k, v) in [
        ("name", json!(name)),
        (
            "status_id",
            json!(rapport_core::LeadStatus::seed_id("Potential").to_string()),
        ),
        ("status_label", json!("Potential")),
        ("date_created", json!(timestamp(at))),
        ("date_updated", json!(timestamp(at))),
    ] {
        state.fields.insert(k.into(), v);
    }
    state.clocks.insert("*".into(), hlc(at, 7));
    op(local_seq, "lead", LEAD, state)
}

fn op(local_seq: i64, entity: &str, id: &str, state: RecordState) -> Op {
    Op {
        local_seq,
        op_id: rapport_sync::wire::op_id(local_seq, entity, id, &state),
        entity: entity.into(),
        id: id.into(),
        lead_id: None,
        kind: "update".into(),
        state,
        base_rev: None,
    }
}

fn set(local_seq: i64, field: &str, v: Value, at: i64, node: u64) -> Op {
    let mut state = RecordState::default();
    state.fields.insert(field.into(), v);
    state.clocks.insert(field.into(), hlc(at, node));
    op(local_seq, "lead", LEAD, state)
}

struct World {
    held: HashMap<String, Held>,
    revisions: HashMap<(String, i64), String>,
    seen: HashMap<i64, String>,
    applied: i64,
    last_seq: i64,
}

impl World {
    fn new() -> World {
        World {
            held: HashMap::new(),
            revisions: HashMap::new(),
            seen: HashMap::new(),
            applied: 0,
            last_seq: 0,
        }
    }
    fn push(&mut self, ops: Vec<Op>) -> Result<PushPlan, ApiError> {
        let req = PushRequest {
            client_id: "C".into(),
            epoch: "E".into(),
            ops,
        };
        let plan = plan_push(PushInput {
            req: &req,
            applied: self.applied,
            seen_ops: &self.seen,
            held: &self.held,
            revisions: &self.revisions,
            last_seq: self.last_seq,
            hlc: None,
            user_id: "01J0000000000000000000000Z",
            now: NOW,
        })?;
        for (id, h) in &plan.writes {
            self.held.insert(id.clone(), h.clone());
        }
        for (n, r, b) in &plan.revisions {
            self.revisions.insert((n.clone(), *r), b.clone());
        }
        for (s, o) in &plan.op_ids {
            self.seen.insert(*s, o.clone());
        }
        self.applied = plan.applied_through.max(self.applied);
        self.last_seq = plan.last_seq;
        Ok(plan)
    }
    fn field(&self, id: &str, f: &str) -> Value {
        self.held[id].state.fields[f].clone()
    }
}

fn statuses(p: &PushPlan) -> Vec<OpStatus> {
    p.results.iter().map(|r| r.status).collect()
}

#[test]
fn a_retried_push_is_a_duplicate_and_assigns_no_seq() {
    let mut w = World::new();
    let ops = vec![lead_create(1, "Acme", NOW - 10)];
    let p = w.push(ops.clone()).unwrap();
    assert_eq!(statuses(&p), [OpStatus::Applied]);
    assert_eq!(w.last_seq, 1);
    let p = w.push(ops).unwrap();
    assert_eq!(statuses(&p), [OpStatus::Duplicate]);
    assert!(p.writes.is_empty());
    assert_eq!(p.last_seq, 1);
}

#[test]
fn a_different_op_under_an_applied_local_seq_is_a_fork() {
    let mut w = World::new();
    w.push(vec![lead_create(1, "Acme", NOW - 10)]).unwrap();
    let e = w
        .push(vec![set(1, "name", json!("Copy"), NOW - 5, 8)])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ClientForked);
    assert_eq!(w.field(LEAD, "name"), "Acme");
}

#[test]
fn a_push_past_the_next_local_seq_is_a_gap_and_writes_nothing() {
    let mut w = World::new();
    let e = w
        .push(vec![
            lead_create(1, "Acme", NOW),
            set(3, "name", json!("X"), NOW, 7),
        ])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Gap);
    assert_eq!(e.applied_local_seq, Some(1));
    assert!(w.held.is_empty() && w.last_seq == 0);
}

#[test]
fn a_stamp_too_far_ahead_is_refused_with_the_servers_time() {
    let mut w = World::new();
    let e = w
        .push(vec![lead_create(1, "Acme", NOW + MAX_FUTURE_SKEW_MS + 1)])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ClockSkew);
    assert_eq!(e.server_time, Some(NOW));
    // At the limit it is accepted.
    let p = w
        .push(vec![lead_create(1, "Acme", NOW + MAX_FUTURE_SKEW_MS)])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Applied]);
}

#[test]
fn older_field_stamps_lose_and_say_so() {
    let mut w = World::new();
    w.push(vec![
        lead_create(1, "Acme", NOW - 100),
        set(2, "description", json!("new"), NOW - 10, 7),
    ])
    .unwrap();
    let p = w
        .push(vec![set(3, "description", json!("old"), NOW - 50, 9)])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Stale]);
    assert_eq!(w.field(LEAD, "description"), "new");
    // One field wins, one loses.
    let mut s = RecordState::default();
    s.fields.insert("description".into(), json!("older"));
    s.clocks.insert("description".into(), hlc(NOW - 60, 9));
    s.fields.insert("url".into(), json!("https://a.example/"));
    s.clocks.insert("url".into(), hlc(NOW - 5, 9));
    let p = w.push(vec![op(4, "lead", LEAD, s)]).unwrap();
    assert_eq!(statuses(&p), [OpStatus::PartiallyApplied]);
    assert_eq!(w.field(LEAD, "description"), "new");
    assert_eq!(w.field(LEAD, "url"), "https://a.example/");
}

#[test]
fn invalid_records_are_rejected_and_the_client_moves_past_them() {
    let mut w = World::new();
    let mut bad = lead_create(1, "Acme", NOW);
    bad.state.fields.insert("name".into(), json!(12));
    let unknown = op(2, "gizmo", LEAD, RecordState::default());
    let mut not_id = lead_create(3, "X", NOW);
    not_id.id = "not-an-id".into();
    let p = w.push(vec![bad, unknown, not_id]).unwrap();
    assert_eq!(statuses(&p), [OpStatus::Rejected; 3]);
    assert_eq!(
        p.results[1].error.as_ref().map(|e| e.code),
        Some(ErrorCode::UnknownEntity)
    );
    assert!(p.writes.is_empty());
    assert_eq!(p.applied_through, 3);
    assert_eq!(p.last_seq, 0);
}

fn note_op(local_seq: i64, body: &str, base_rev: Option<i64>, at: i64, node: u64) -> Op {
    let mut state = RecordState::default();
    state.fields.insert("note".into(), json!(body));
    state.clocks.insert("note".into(), hlc(at, node));
    let mut o = op(local_seq, "activity", NOTE, state);
    o.base_rev = base_rev;
    o
}

fn note_create(local_seq: i64, body: &str) -> Op {
    let mut state = RecordState::default();
    for (k, v) in [
        ("_type", json!("note")),
        ("lead_id", json!(LEAD)),
        ("note", json!(body)),
        ("pinned", json!(false)),
        ("activity_at", json!(timestamp(NOW - 100))),
        ("date_created", json!(timestamp(NOW - 100))),
        ("date_updated", json!(timestamp(NOW - 100))),
    ] {
        state.fields.insert(k.into(), v);
    }
    state.clocks.insert("*".into(), hlc(NOW - 100, 7));
    let mut o = op(local_seq, "activity", NOTE, state);
    o.lead_id = Some(LEAD.into());
    o
}

#[test]
fn note_bodies_fast_forward_merge_or_conflict_by_revision_not_by_clock() {
    let mut w = World::new();
    w.push(vec![
        lead_create(1, "Acme", NOW - 200),
        note_create(2, "a\nb\nc\nd\ne"),
    ])
    .unwrap();
    let rev0 = w.held[NOTE].body_rev.unwrap();
    // Typed over the current revision: wins even with an older clock.
    let p = w
        .push(vec![note_op(3, "A\nb\nc\nd\ne", Some(rev0), NOW - 500, 9)])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Applied]);
    assert_eq!(w.field(NOTE, "note"), "A\nb\nc\nd\ne");
    let rev1 = w.held[NOTE].body_rev.unwrap();
    assert!(rev1 > rev0);
    // Typed over the older revision, another line: merged.
    let p = w
        .push(vec![note_op(4, "a\nb\nc\nd\nE", Some(rev0), NOW - 50, 8)])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Merged]);
    assert_eq!(w.field(NOTE, "note"), "A\nb\nc\nd\nE");
    let rev2 = w.held[NOTE].body_rev.unwrap();
    // Typed over rev1, the same line as the merge changed: a conflict record keeps it.
    let p = w
        .push(vec![note_op(5, "A\nb\nc\nd\nEEE", Some(rev1), NOW - 40, 8)])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Conflict]);
    assert_eq!(w.field(NOTE, "note"), "A\nb\nc\nd\nE");
    assert_eq!(w.held[NOTE].body_rev, Some(rev2));
    let cid = p.results[0].conflict_id.clone().unwrap();
    let c = &w.held[&cid];
    assert_eq!(c.entity, "note_conflict");
    assert_eq!(c.state.fields["body"], "A\nb\nc\nd\nEEE");
    assert_eq!(c.state.fields["note_id"], NOTE);
    assert_eq!(c.lead_id.as_deref(), Some(LEAD));
    // The conflict is a valid record of its kind.
    let mut v = Value::Object(c.state.fields.clone());
    v["id"] = json!(cid);
    Record::from_json(Entity::NoteConflict, v).unwrap();
}

#[test]
fn a_client_cannot_write_note_conflicts_of_its_own() {
    let mut w = World::new();
    let p = w
        .push(vec![op(1, "note_conflict", NOTE, RecordState::default())])
        .unwrap();
    assert_eq!(statuses(&p), [OpStatus::Rejected]);
}

#[test]
fn seqs_are_assigned_one_per_applied_op_without_gaps() {
    let mut w = World::new();
    let p = w
        .push(vec![
            lead_create(1, "Acme", NOW - 100),
            set(2, "name", json!("Acme 2"), NOW - 90, 7),
            set(3, "name", json!("stale"), NOW - 95, 7),
            set(4, "url", json!("https://u.example/"), NOW - 80, 7),
        ])
        .unwrap();
    let seqs: Vec<Option<i64>> = p.results.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2), None, Some(3)]);
    assert_eq!(p.last_seq, 3);
    // One write per record, at its last seq.
    assert_eq!(p.writes.len(), 1);
    assert_eq!(p.writes[0].1.seq, 3);
}
