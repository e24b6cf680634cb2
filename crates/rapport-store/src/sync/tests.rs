//! Sync-side store tests on real SQLite files: creations of existing ids merge, custom values
//! are clocked one by one, deletes cascade and undo exactly, pulled records merge per field
//! without touching the outbox, two stores exchanging ops converge, stamps from too far
//! ahead are refused, the outbox numbers and drains per client, skewed clocks re-stamp.

use crate::*;
use rapport_core::ops::*;
use rapport_core::plan::{Entity, Record};
use rapport_core::*;
use rapport_sync::state::RecordState;
use rapport_sync::wire::{Change, OpResult, OpStatus, PushResponse};
use std::collections::BTreeMap;

async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(dir.path().join(name)).await.unwrap()
}

async fn run<T>(s: &Store, op: impl FnOnce(&mut Writer) -> (T, Plan)) -> T {
    let mut w = s.begin_write().await.unwrap();
    let (out, plan) = op(&mut w);
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    out
}

async fn lead(s: &Store, name: &str) -> Lead {
    run(s, |w| {
        create_lead(
            NewLead {
                name: name.into(),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap()
    })
    .await
}

async fn edit(s: &Store, id: Id, patch: LeadPatch) -> Lead {
    let mut w = s.begin_write().await.unwrap();
    let cur = w.lead(id).await.unwrap();
    let (l, plan) = update_lead(&cur, patch, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    l
}

async fn clocks(s: &Store, e: Entity, id: Id) -> BTreeMap<String, String> {
    serde_json::from_str(&s.clocks(e, id).await.unwrap().unwrap()).unwrap()
}

/// Every record of every table: (entity, id) → (data, clocks, deleted).
async fn dump(s: &Store) -> BTreeMap<(String, String), (serde_json::Value, String, bool)> {
    let mut out = BTreeMap::new();
    for e in Entity::ALL {
        let t = crate::rows::table(e);
        let rows: Vec<(String, String, String, bool)> =
            sqlx::query_as(&format!("SELECT id, data, clocks, deleted FROM {}", t.name))
                .fetch_all(s.pool())
                .await
                .unwrap();
        for (id, d, c, del) in rows {
            let c: RecordState = RecordState {
                clocks: serde_json::from_str(&c).unwrap(),
                ..Default::default()
            };
            out.insert(
                (e.as_str().to_string(), id),
                (
                    serde_json::from_str(&d).unwrap(),
                    serde_json::to_string(&c.clocks).unwrap(),
                    del,
                ),
            );
        }
    }
    out
}

fn join_info(name: &str) -> Join {
    Join {
        server_url: "http://127.0.0.1:1".into(),
        org_id: "org".into(),
        org_name: "Org".into(),
        user_id: Id::at(chrono::Utc::now(), 7).to_string(),
        user_name: "Sally".into(),
        user_email: Some("sally@example.com".into()),
        role: "member".into(),
        client_id: format!("client-{name}"),
        device_name: name.into(),
    }
}

/// What the server would hand out for an op: the op's state as a change.
fn as_change(op: &rapport_sync::Op, seq: i64) -> Change {
    Change {
        seq,
        entity: op.entity.clone(),
        id: op.id.clone(),
        lead_id: op.lead_id.clone(),
        state: op.state.clone(),
        body_rev: None,
        updated_by: None,
    }
}

fn acked(ops: &[rapport_sync::Op]) -> PushResponse {
    PushResponse {
        applied_through: ops.last().map(|o| o.local_seq).unwrap_or(0),
        last_seq: 0,
        results: ops
            .iter()
            .map(|o| OpResult {
                local_seq: o.local_seq,
                status: OpStatus::Applied,
                seq: Some(o.local_seq),
                conflict_id: None,
                error: None,
            })
            .collect(),
        server_time: 0,
    }
}

/// Fails on the code before version 3: a creation of an existing id replaced the row's
/// clocks with a new creation stamp and cleared its tombstone.
#[tokio::test]
async fn a_creation_of_an_existing_id_merges_instead_of_resetting_clocks() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a.db").await;
    let l = lead(&s, "Acme").await;
    let created = clocks(&s, Entity::Lead, l.id).await["*"].clone();
    edit(
        &s,
        l.id,
        LeadPatch {
            url: Some("https://acme.example".into()),
            ..Default::default()
        },
    )
    .await;
    let url_clock = clocks(&s, Entity::Lead, l.id).await["url"].clone();
    let current = s.lead(l.id).await.unwrap();
    run(&s, |_| ((), delete_lead(&current, vec![]))).await;
    // A re-import of the same id with another name (the bulk path and a single creation).
    let mut again = l.clone();
    again.name = "Acme Renamed".into();
    again.url = Some("https://acme.example/".into());
    let bundle = LeadBundle {
        lead: again.clone(),
        contacts: vec![],
        activities: vec![],
        tasks: vec![],
        opportunities: vec![],
    };
    s.write_bundles(vec![bundle]).await.unwrap();
    let c = clocks(&s, Entity::Lead, l.id).await;
    assert_eq!(c["*"], created, "the creation stamp stays");
    assert_eq!(c["url"], url_clock, "an unchanged field keeps its clock");
    assert!(c["name"] > url_clock, "the changed field is stamped anew");
    assert!(c.contains_key("_deleted"));
    assert!(s.lead(l.id).await.is_err(), "the tombstone stays");
    let mut plan = Plan::default();
    let mut third = again.clone();
    third.description = Some("third".into());
    plan.push(Write::create(Record::Lead(third)));
    run(&s, |_| ((), plan)).await;
    let c2 = clocks(&s, Entity::Lead, l.id).await;
    assert_eq!(c2["*"], created);
    assert_eq!(c2["name"], c["name"]);
    assert!(c2["description"] > c["name"]);
    assert!(s.lead(l.id).await.is_err());
}

/// Fails before per-key clocks: `custom` was stamped as one unit.
#[tokio::test]
async fn custom_values_get_a_clock_each() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a.db").await;
    run(&s, |w| {
        let (_, mut p) = add_field(
            "Source",
            FieldType::Text,
            FieldTarget::Lead,
            vec![],
            &mut w.ctx,
        )
        .unwrap();
        let (_, p2) = add_field(
            "Size",
            FieldType::Number,
            FieldTarget::Lead,
            vec![],
            &mut w.ctx,
        )
        .unwrap();
        p.writes.extend(p2.writes);
        ((), p)
    })
    .await;
    let l = lead(&s, "Acme").await;
    let mut custom = Custom::new();
    custom.insert("Source".into(), serde_json::json!("web"));
    edit(
        &s,
        l.id,
        LeadPatch {
            custom: Some(custom),
            ..Default::default()
        },
    )
    .await;
    let mut custom = Custom::new();
    custom.insert("Size".into(), serde_json::json!(12));
    edit(
        &s,
        l.id,
        LeadPatch {
            custom: Some(custom),
            ..Default::default()
        },
    )
    .await;
    let c = clocks(&s, Entity::Lead, l.id).await;
    assert!(
        c.contains_key("custom.Source") && c.contains_key("custom.Size"),
        "{c:?}"
    );
    assert!(c["custom.Size"] > c["custom.Source"]);
    assert!(!c.contains_key("custom"));
}

#[tokio::test]
async fn deleting_a_lead_deletes_its_records_and_undelete_brings_back_exactly_those() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a.db").await;
    let l = lead(&s, "Acme").await;
    let mk = |text: &'static str| {
        let l = l.clone();
        move |w: &mut Writer| {
            add_activity(
                &l,
                &[],
                NewActivity {
                    contact_id: None,
                    activity_at: None,
                    kind: ActivityKind::Note(NoteFields {
                        title: None,
                        note: text.into(),
                        pinned: false,
                    }),
                },
                &mut w.ctx,
            )
            .unwrap()
        }
    };
    let kept = run(&s, mk("kept")).await;
    let gone = run(&s, mk("deleted before")).await;
    run(&s, |_| ((), delete_activity(&gone))).await;
    let contact = run(&s, |w| {
        add_contact(
            &l,
            NewContact {
                name: "Ann".into(),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap()
    })
    .await;
    let mut w = s.begin_write().await.unwrap();
    let children = w.children_of(l.id).await.unwrap();
    assert_eq!(children.len(), 2);
    w.apply(delete_lead(&l, children)).await.unwrap();
    w.commit().await.unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM activities WHERE deleted = 0) + (SELECT count(*) FROM contacts WHERE deleted = 0)",
    )
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(live, 0, "the lead's records are deleted with it");
    let mut w = s.begin_write().await.unwrap();
    let (dead, stamp) = w.deleted_lead(l.id).await.unwrap();
    let back = w.children_deleted_with(l.id, &stamp).await.unwrap();
    let ids: Vec<Id> = back.iter().map(|r| r.id()).collect();
    assert!(ids.contains(&kept.id) && ids.contains(&contact.id) && !ids.contains(&gone.id));
    w.apply(undelete_lead(&dead, back)).await.unwrap();
    w.commit().await.unwrap();
    assert!(s.lead(l.id).await.is_ok());
    let page = s.lead_page(l.id).await.unwrap();
    assert_eq!(
        page.timeline.len(),
        1,
        "the note deleted on its own stays deleted"
    );
    assert_eq!(page.contacts.len(), 1);
    assert_eq!(s.aggregates(l.id).await.unwrap().n_notes, 1);
}

#[tokio::test]
async fn default_statuses_are_the_same_records_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db").await, store(&dir, "b.db").await);
    let ids = |v: Vec<LeadStatus>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(a.statuses().await.unwrap()),
        ids(b.statuses().await.unwrap())
    );
    let st = a.statuses().await.unwrap();
    let c = clocks(&a, Entity::LeadStatus, st[0].id).await;
    assert!(
        c["*"].starts_with("0000000000000000"),
        "seeded at the zero clock: {c:?}"
    );
}

#[tokio::test]
async fn pulled_changes_merge_per_field_and_write_no_outbox_row() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db").await, store(&dir, "b.db").await);
    a.join(&join_info("a")).await.unwrap();
    b.join(&join_info("b")).await.unwrap();
    let l = lead(&a, "Acme").await;
    // B receives the lead.
    let ops = a.pending_ops(1000).await.unwrap();
    b.apply_changes(
        &ops.iter().map(|o| as_change(o, 1)).collect::<Vec<_>>(),
        Progress::None,
    )
    .await
    .unwrap();
    assert_eq!(b.lead(l.id).await.unwrap().name, "Acme");
    // A changes the url, then B changes the name (later): each field keeps its newest value
    // on both sides whatever order the changes arrive in.
    let a_ops_before = a.pending_ops(10_000).await.unwrap().len();
    a.acknowledge(
        &a.pending_ops(10_000).await.unwrap(),
        &acked(&a.pending_ops(10_000).await.unwrap()),
    )
    .await
    .unwrap();
    assert!(a_ops_before > 0);
    edit(
        &a,
        l.id,
        LeadPatch {
            url: Some("https://a.example".into()),
            ..Default::default()
        },
    )
    .await;
    edit(
        &b,
        l.id,
        LeadPatch {
            name: Some("Acme B".into()),
            ..Default::default()
        },
    )
    .await;
    let b_outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(b.pool())
        .await
        .unwrap();
    let feed_before = b.last_seq().await.unwrap();
    let from_a: Vec<Change> = a
        .pending_ops(100)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 2))
        .collect();
    let r = b.apply_changes(&from_a, Progress::None).await.unwrap();
    assert_eq!(r.changed, 1);
    let b_outbox_after: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(b.pool())
        .await
        .unwrap();
    assert_eq!(
        b_outbox_after, b_outbox,
        "nothing received is queued to push back"
    );
    assert!(
        b.last_seq().await.unwrap() > feed_before,
        "the change feed saw it (the indexer follows)"
    );
    let from_b: Vec<Change> = b
        .pending_ops(100)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 3))
        .collect();
    a.apply_changes(&from_b, Progress::None).await.unwrap();
    for s in [&a, &b] {
        let got = s.lead(l.id).await.unwrap();
        assert_eq!(
            (got.name.as_str(), got.url.as_deref()),
            ("Acme B", Some("https://a.example/"))
        );
    }
    assert_eq!(
        clocks(&a, Entity::Lead, l.id).await,
        clocks(&b, Entity::Lead, l.id).await
    );
    // A stale value (older clock) changes nothing; a replay changes nothing.
    let r = a.apply_changes(&from_b, Progress::None).await.unwrap();
    assert_eq!((r.changed, r.unchanged), (0, from_b.len()));
    // The next local stamp is after everything received.
    let remote_max = from_b
        .iter()
        .filter_map(|c| c.state.max_clock())
        .max()
        .unwrap();
    let l2 = edit(
        &a,
        l.id,
        LeadPatch {
            description: Some("d".into()),
            ..Default::default()
        },
    )
    .await;
    let c = clocks(&a, Entity::Lead, l2.id).await;
    assert!(c["description"] > remote_max.to_string());
}

#[tokio::test]
async fn a_pulled_stamp_far_ahead_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db").await, store(&dir, "b.db").await);
    a.join(&join_info("a")).await.unwrap();
    let l = lead(&a, "Future").await;
    let mut ops = a.pending_ops(1000).await.unwrap();
    let lop = ops.iter_mut().find(|o| o.id == l.id.to_string()).unwrap();
    for c in lop.state.clocks.values_mut() {
        c.ms += 3_600_000; // an hour ahead
    }
    let changes: Vec<Change> = ops.iter().map(|o| as_change(o, 1)).collect();
    let before = dump(&b).await;
    let err = b.apply_changes(&changes, Progress::None).await.unwrap_err();
    assert_eq!(err.code(), "clock_skew");
    assert_eq!(dump(&b).await, before);
}

/// Two stores edit concurrently (same and different fields, deletes, notes), exchange every
/// op in opposite orders, and end with identical records and clocks.
#[tokio::test]
async fn two_stores_converge_by_exchanging_ops() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db").await, store(&dir, "b.db").await);
    a.join(&join_info("a")).await.unwrap();
    b.join(&join_info("b")).await.unwrap();
    let l = lead(&a, "Shared").await;
    let seed: Vec<Change> = a
        .pending_ops(10_000)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 1))
        .collect();
    b.apply_changes(&seed, Progress::None).await.unwrap();
    let seed_b: Vec<Change> = b
        .pending_ops(10_000)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 1))
        .collect();
    a.apply_changes(&seed_b, Progress::None).await.unwrap();
    for s in [&a, &b] {
        let ops = s.pending_ops(10_000).await.unwrap();
        s.acknowledge(&ops, &acked(&ops)).await.unwrap();
    }
    edit(
        &a,
        l.id,
        LeadPatch {
            name: Some("A name".into()),
            url: Some("https://a.example".into()),
            ..Default::default()
        },
    )
    .await;
    edit(
        &b,
        l.id,
        LeadPatch {
            name: Some("B name".into()),
            description: Some("from b".into()),
            ..Default::default()
        },
    )
    .await;
    let other = lead(&b, "Only B").await;
    run(&b, |_| ((), delete_lead(&other, vec![]))).await;
    edit(
        &a,
        l.id,
        LeadPatch {
            status_label: Some("Qualified".into()),
            ..Default::default()
        },
    )
    .await;
    let oa: Vec<Change> = a
        .pending_ops(10_000)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 2))
        .collect();
    let ob: Vec<Change> = b
        .pending_ops(10_000)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 2))
        .collect();
    let mut rev = ob.clone();
    rev.reverse();
    a.apply_changes(&rev, Progress::None).await.unwrap();
    b.apply_changes(&oa, Progress::None).await.unwrap();
    // Duplicates are harmless.
    b.apply_changes(&oa, Progress::None).await.unwrap();
    let (da, db) = (dump(&a).await, dump(&b).await);
    let strip = |d: BTreeMap<(String, String), (serde_json::Value, String, bool)>| {
        d.into_iter()
            .filter(|((e, _), _)| e != "user")
            .collect::<BTreeMap<_, _>>()
    };
    let (da, db) = (strip(da), strip(db));
    for (k, v) in &da {
        assert_eq!(Some(v), db.get(k), "{k:?}");
    }
    assert_eq!(da.len(), db.len());
    let got = a.lead(l.id).await.unwrap();
    assert_eq!(got.url.as_deref(), Some("https://a.example/"));
    assert_eq!(got.description.as_deref(), Some("from b"));
    assert_eq!(got.status_label, "Qualified");
    assert!(a.lead(other.id).await.is_err(), "B's delete reached A");
    assert_eq!(
        a.aggregates(l.id).await.unwrap().n_activities,
        b.aggregates(l.id).await.unwrap().n_activities,
        "the status change activity travelled too"
    );
}

#[tokio::test]
async fn the_outbox_numbers_from_one_after_joining_and_drains_on_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a.db").await;
    let before = lead(&s, "Before joining").await;
    s.join(&join_info("a")).await.unwrap();
    let ops = s.pending_ops(10_000).await.unwrap();
    assert_eq!(ops[0].local_seq, 1);
    assert!(ops.windows(2).all(|w| w[1].local_seq == w[0].local_seq + 1));
    let lead_op = ops.iter().find(|o| o.id == before.id.to_string()).unwrap();
    assert_eq!(lead_op.kind, "create");
    assert_eq!(lead_op.state.fields["name"], "Before joining");
    // The store's user is now the server's: the lead made before joining is theirs.
    let me = s.local_user().await.unwrap();
    assert_eq!(me.name, "Sally");
    assert_eq!(s.lead(before.id).await.unwrap().owner_id, Some(me.id));
    assert!(ops.iter().all(|o| o.op_id.len() == 32));
    // Half acknowledged: the rest stays, numbered on.
    let half = &ops[..ops.len() / 2];
    s.acknowledge(half, &acked(half)).await.unwrap();
    let rest = s.pending_ops(10_000).await.unwrap();
    assert_eq!(rest.len(), ops.len() - half.len());
    assert_eq!(rest[0].local_seq, half.len() as i64 + 1);
    assert_eq!(
        s.sync_status().await.unwrap().unwrap().pending,
        rest.len() as i64
    );
    // After everything is acknowledged, a later edit is one op carrying only what changed.
    s.acknowledge(&rest, &acked(&rest)).await.unwrap();
    edit(
        &s,
        before.id,
        LeadPatch {
            url: Some("https://x.example".into()),
            ..Default::default()
        },
    )
    .await;
    let more = s.pending_ops(10_000).await.unwrap();
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].local_seq, ops.len() as i64 + 1);
    let last = more.last().unwrap();
    assert_eq!(last.kind, "update");
    assert!(last.state.fields.contains_key("url") && !last.state.fields.contains_key("name"));
}

#[tokio::test]
async fn a_clock_skew_answer_restamps_what_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let ahead = chrono::Utc::now() + chrono::Duration::days(1);
    let s = Store::open(dir.path().join("a.db"))
        .await
        .unwrap()
        .with_clock(move || ahead);
    s.join(&join_info("a")).await.unwrap();
    let l = lead(&s, "Tomorrow").await;
    let before = clocks(&s, Entity::Lead, l.id).await["*"].clone();
    let n = s.restamp_pending(-86_400_000).await.unwrap();
    assert!(n > 0);
    let after = clocks(&s, Entity::Lead, l.id).await["*"].clone();
    assert!(after < before, "{after} < {before}");
    // Stamped from the corrected clock, at most the allowed skew ahead of it (the restamp
    // starts at that bound so it stays above anything this store may have received).
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let skew = rapport_sync::wire::MAX_FUTURE_SKEW_MS as u64;
    let near = |stamp: &str| {
        let ms = u64::from_str_radix(&stamp[..12], 16).unwrap();
        ms + 60_000 > now_ms && ms < now_ms + skew + 60_000
    };
    assert!(near(&after), "stamped by the corrected clock: {after}");
    // Later stamps use the corrected clock too, and come after the re-stamped ones.
    let l2 = lead(&s, "Also today").await;
    let c = clocks(&s, Entity::Lead, l2.id).await["*"].clone();
    assert!(near(&c) && c > after, "{c}");
}

#[tokio::test]
async fn resolving_a_note_conflict_sets_the_body_and_closes_it_in_one_plan() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a.db").await;
    let l = lead(&s, "Conflicted").await;
    let note = run(&s, |w| {
        add_activity(
            &l,
            &[],
            NewActivity {
                contact_id: None,
                activity_at: None,
                kind: ActivityKind::Note(NoteFields {
                    title: None,
                    note: "ours".into(),
                    pinned: false,
                }),
            },
            &mut w.ctx,
        )
        .unwrap()
    })
    .await;
    // The server's conflict record, as a pull delivers it.
    let now = chrono::Utc::now();
    let c = NoteConflict {
        id: Id::at(now, 42),
        lead_id: l.id,
        note_id: note.id,
        base_rev: Some(3),
        body: "theirs".into(),
        user_id: None,
        resolved: false,
        date_created: now,
        date_updated: now,
    };
    let mut clocks = rapport_sync::Clocks::new();
    clocks.insert(
        "*".into(),
        Hlc {
            ms: now.timestamp_millis() as u64,
            counter: 0,
            node: NodeId(9),
        },
    );
    let change = Change {
        seq: 7,
        entity: "note_conflict".into(),
        id: c.id.to_string(),
        lead_id: Some(l.id.to_string()),
        state: RecordState {
            fields: Record::NoteConflict(c.clone())
                .to_json()
                .as_object()
                .cloned()
                .unwrap(),
            clocks,
            deleted: false,
        },
        body_rev: None,
        updated_by: None,
    };
    s.apply_changes(&[change], Progress::None).await.unwrap();
    assert_eq!(s.note_conflicts(Some(note.id)).await.unwrap().len(), 1);
    let mut w = s.begin_write().await.unwrap();
    let cur: NoteConflict = w.record(Entity::NoteConflict, c.id).await.unwrap();
    let n = w.activity(note.id).await.unwrap();
    // A conflict of another note is refused, and nothing is written.
    let mut other = cur.clone();
    other.note_id = l.id;
    assert!(resolve_note_conflict(&n, &other, "x".into(), &mut w.ctx).is_err());
    let (_, plan) = resolve_note_conflict(&n, &cur, "ours and theirs".into(), &mut w.ctx).unwrap();
    assert_eq!(plan.writes.len(), 2);
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    assert!(s.note_conflicts(Some(note.id)).await.unwrap().is_empty());
    let ActivityKind::Note(f) = s.activity(note.id).await.unwrap().kind else {
        panic!()
    };
    assert_eq!(f.note, "ours and theirs");
    // Resolving it again is refused.
    let mut w = s.begin_write().await.unwrap();
    let cur: NoteConflict = w.record(Entity::NoteConflict, c.id).await.unwrap();
    let n = w.activity(note.id).await.unwrap();
    assert!(resolve_note_conflict(&n, &cur, "again".into(), &mut w.ctx).is_err());
}

#[tokio::test]
async fn a_pulled_value_that_replaces_one_this_store_wrote_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db").await, store(&dir, "b.db").await);
    a.join(&join_info("a")).await.unwrap();
    b.join(&join_info("b")).await.unwrap();
    let l = lead(&a, "Contested").await;
    let seed: Vec<Change> = a
        .pending_ops(100)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 1))
        .collect();
    b.apply_changes(&seed, Progress::None).await.unwrap();
    edit(
        &a,
        l.id,
        LeadPatch {
            status_label: Some("Qualified".into()),
            ..Default::default()
        },
    )
    .await;
    // B's edit of the same field is newer.
    edit(
        &b,
        l.id,
        LeadPatch {
            status_label: Some("Customer".into()),
            ..Default::default()
        },
    )
    .await;
    let mut from_b: Vec<Change> = b
        .pending_ops(100)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 2))
        .collect();
    for c in &mut from_b {
        c.updated_by = Some("joe".into());
    }
    a.apply_changes(&from_b, Progress::None).await.unwrap();
    let o = a.overrides(l.id).await.unwrap();
    let status: Vec<_> = o.iter().filter(|o| o.field == "status_label").collect();
    assert_eq!(status.len(), 1, "{o:?}");
    assert_eq!(status[0].mine.as_deref(), Some("\"Qualified\""));
    assert_eq!(status[0].theirs.as_deref(), Some("\"Customer\""));
    assert_eq!(status[0].by_user.as_deref(), Some("joe"));
    // B lost nothing of its own: no override there.
    let from_a: Vec<Change> = a
        .pending_ops(100)
        .await
        .unwrap()
        .iter()
        .map(|o| as_change(o, 3))
        .collect();
    b.apply_changes(&from_a, Progress::None).await.unwrap();
    assert!(
        b.overrides(l.id)
            .await
            .unwrap()
            .iter()
            .all(|o| o.field != "status_label")
    );
}
