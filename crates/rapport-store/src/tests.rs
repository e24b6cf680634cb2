//! Store tests on a real SQLite file: atomic writes with clocks and outbox, the lead page,
//! aggregates, tombstones and the bulk path.

use super::*;
use rapport_core::ops::*;
use rapport_core::plan::Entity;
use rapport_core::*;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("t.db")).await.unwrap();
    (dir, s)
}

async fn new_lead(s: &Store, name: &str) -> Lead {
    let mut w = s.begin_write().await.unwrap();
    let (lead, plan) = create_lead(
        NewLead {
            name: name.into(),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    lead
}

async fn note(s: &Store, lead: &Lead, text: &str, at: Option<&str>) -> Activity {
    let mut w = s.begin_write().await.unwrap();
    let input = NewActivity {
        contact_id: None,
        activity_at: at.map(|t| time::parse(t).unwrap()),
        kind: ActivityKind::Note(NoteFields {
            title: None,
            note: text.into(),
            pinned: false,
        }),
    };
    let (a, plan) = add_activity(lead, &[], input, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    a
}

#[tokio::test]
async fn a_new_store_has_statuses_a_user_and_keeps_its_node_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/t.db");
    let s = Store::open(&path).await.unwrap();
    let labels: Vec<String> = s
        .statuses()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.label)
        .collect();
    assert_eq!(labels, DEFAULT_STATUSES);
    let node = s.node();
    let user = s.local_user().await.unwrap();
    s.close().await;
    let s = Store::open(&path).await.unwrap();
    assert_eq!(s.node(), node);
    assert_eq!(s.local_user().await.unwrap(), user);
    assert_eq!(s.statuses().await.unwrap().len(), 5, "seeding happens once");
}

#[tokio::test]
async fn a_write_updates_row_clocks_and_outbox_together() {
    let (_d, s) = store().await;
    let before = s.last_seq().await.unwrap();
    let lead = new_lead(&s, "Acme").await;
    let entries = s.outbox_since(before, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].entity.as_str(), entries[0].op.as_str()),
        ("lead", "create")
    );
    assert_eq!(entries[0].record_id, lead.id.to_string());
    let created: serde_json::Value =
        serde_json::from_str(&s.clocks(Entity::Lead, lead.id).await.unwrap().unwrap()).unwrap();
    let star = created["*"].as_str().unwrap().to_string();

    let mut w = s.begin_write().await.unwrap();
    let (_, plan) = update_lead(
        &lead,
        LeadPatch {
            url: Some("acme.com".into()),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let clocks: serde_json::Value =
        serde_json::from_str(&s.clocks(Entity::Lead, lead.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        clocks["*"].as_str().unwrap(),
        star,
        "untouched fields keep their clock"
    );
    assert!(
        clocks["url"].as_str().unwrap() > star.as_str(),
        "the changed field's clock advanced"
    );
    assert!(clocks.get("name").is_none());
    let last = s.outbox_since(before, 10).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.op.as_str(), last.fields.as_str()),
        ("update", r#"["url"]"#)
    );
    assert_eq!(last.hlc, clocks["url"].as_str().unwrap());
}

#[tokio::test]
async fn an_uncommitted_write_leaves_nothing() {
    let (_d, s) = store().await;
    let seq = s.last_seq().await.unwrap();
    {
        let mut w = s.begin_write().await.unwrap();
        let (_, plan) = create_lead(
            NewLead {
                name: "Ghost".into(),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap();
        w.apply(plan).await.unwrap();
        // dropped without commit: rolled back
    }
    assert_eq!(s.lead_count().await.unwrap(), 0);
    assert_eq!(s.last_seq().await.unwrap(), seq);
}

#[tokio::test]
async fn lead_page_is_newest_first_with_a_cursor() {
    let (_d, s) = store().await;
    let lead = new_lead(&s, "Acme").await;
    let other = new_lead(&s, "Other").await;
    note(&s, &other, "not mine", None).await;
    for i in 0..120 {
        note(
            &s,
            &lead,
            &format!("n{i}"),
            Some(&format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60)),
        )
        .await;
    }
    // A backdated note sorts by when it happened, not when it was typed.
    note(&s, &lead, "oldest", Some("2020-01-01T00:00:00Z")).await;
    let page = s.lead_page(lead.id).await.unwrap();
    assert_eq!(page.timeline.len(), 50);
    let text = |a: &Activity| match &a.kind {
        ActivityKind::Note(n) => n.note.clone(),
        _ => String::new(),
    };
    assert_eq!(text(&page.timeline[0]), "n119");
    assert!(page.timeline.windows(2).all(|w| w[0].id > w[1].id));
    let mut all = page.timeline.clone();
    let mut cursor = page.next_cursor;
    while let Some(c) = cursor {
        let p = s.timeline(lead.id, Some(c), 50).await.unwrap();
        all.extend(p.items);
        cursor = p.next_cursor;
    }
    assert_eq!(all.len(), 121);
    assert_eq!(text(all.last().unwrap()), "oldest");
    let missing = s
        .lead_page(Id::at(time::parse("2024-01-01").unwrap(), 5))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found");
}

#[tokio::test]
async fn aggregates_follow_every_write() {
    let (_d, s) = store().await;
    let lead = new_lead(&s, "Acme").await;
    let mut w = s.begin_write().await.unwrap();
    let call = NewActivity {
        contact_id: None,
        activity_at: Some(time::parse("2024-05-01T10:00:00Z").unwrap()),
        kind: ActivityKind::Call(CallFields {
            direction: Direction::Outbound,
            status: "completed".into(),
            disposition: "answered".into(),
            remote_phone: Some("+14155550123".into()),
            local_phone: None,
            duration: 61,
            note: None,
        }),
    };
    let (call, plan) = add_activity(&lead, &[], call, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let email = NewActivity {
        contact_id: None,
        activity_at: Some(time::parse("2024-04-01T10:00:00Z").unwrap()),
        kind: ActivityKind::Email(EmailFields {
            direction: Direction::Outbound,
            subject: "Hi".into(),
            body_text: String::new(),
            sender: None,
            to: vec![],
            opens: vec![
                time::parse("2024-04-02T08:00:00Z").unwrap(),
                time::parse("2024-04-03T08:00:00Z").unwrap(),
            ],
        }),
    };
    let (_, plan) = add_activity(&lead, &[], email, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = add_task(
        &lead,
        NewTask {
            text: "Call back".into(),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = add_contact(
        &lead,
        NewContact {
            name: "Ann".into(),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();

    let a = s.aggregates(lead.id).await.unwrap();
    assert_eq!(
        (
            a.n_calls,
            a.n_emails,
            a.n_tasks,
            a.n_contacts,
            a.n_activities
        ),
        (1, 1, 1, 1, 2)
    );
    assert_eq!(a.last_called.as_deref(), Some("2024-05-01T10:00:00.000Z"));
    assert_eq!(a.last_emailed.as_deref(), Some("2024-04-01T10:00:00.000Z"));
    assert_eq!(a.email_opened.as_deref(), Some("2024-04-03T08:00:00.000Z"));
    assert_eq!(a.last_activity.as_deref(), Some("2024-05-01T10:00:00.000Z"));

    let mut w = s.begin_write().await.unwrap();
    w.apply(delete_activity(&call)).await.unwrap();
    w.commit().await.unwrap();
    let a = s.aggregates(lead.id).await.unwrap();
    assert_eq!(
        (a.n_calls, a.last_called.as_deref()),
        (0, None),
        "a tombstone leaves the aggregates"
    );
    assert_eq!(s.lead_page(lead.id).await.unwrap().timeline.len(), 1);
    let clocks = s.clocks(Entity::Activity, call.id).await.unwrap().unwrap();
    assert!(
        clocks.contains("_deleted"),
        "the tombstone has its own clock: {clocks}"
    );
}

#[tokio::test]
async fn bulk_path_matches_single_operations() {
    let (_d, s) = store().await;
    let now = time::parse("2026-01-01T00:00:00Z").unwrap();
    let statuses: Vec<String> = DEFAULT_STATUSES.iter().map(|s| s.to_string()).collect();
    let bundles: Vec<LeadBundle> = (0..50)
        .map(|n| rapport_core::demo::lead(3, n, now, &statuses, None))
        .collect();
    let expect_records: usize = bundles
        .iter()
        .map(|b| 1 + b.contacts.len() + b.activities.len() + b.tasks.len() + b.opportunities.len())
        .sum();
    let seq = s.last_seq().await.unwrap();
    let report = s.write_bundles(bundles.clone()).await.unwrap();
    assert_eq!(
        report,
        BulkReport {
            leads: 50,
            records: expect_records
        }
    );
    assert_eq!(
        s.outbox_since(seq, 100_000).await.unwrap().len(),
        expect_records,
        "one outbox entry per record"
    );
    for b in &bundles {
        let a = s.aggregates(b.lead.id).await.unwrap();
        let calls = b
            .activities
            .iter()
            .filter(|a| a.kind.type_name() == "call")
            .count() as i64;
        assert_eq!((a.n_contacts, a.n_calls), (b.contacts.len() as i64, calls));
        assert_eq!(
            a.n_tasks,
            b.tasks.iter().filter(|t| !t.is_complete).count() as i64
        );
    }
    let back = s.bundles(None, 1000).await.unwrap();
    let mut sorted = bundles.clone();
    sorted.sort_by_key(|b| b.lead.id);
    for b in sorted.iter_mut() {
        b.contacts.sort_by_key(|c| c.id);
        b.tasks.sort_by_key(|t| t.id);
    }
    assert_eq!(
        back, sorted,
        "what the bulk path wrote reads back identically"
    );
}

#[tokio::test]
async fn list_is_newest_update_first() {
    let (_d, s) = store().await;
    let a = new_lead(&s, "A").await;
    let _b = new_lead(&s, "B").await;
    let mut w = s.begin_write().await.unwrap();
    w.ctx.now += chrono::Duration::seconds(5);
    let (_, plan) = update_lead(
        &a,
        LeadPatch {
            description: Some("touched".into()),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let rows = s.list_leads(0, 10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert_eq!(s.list_leads(1, 10).await.unwrap().len(), 1);
}
