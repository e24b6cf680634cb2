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

#[tokio::test]
async fn settings_written_by_another_connection_are_seen_by_the_next_write() {
    // Two stores on one file stand for two processes (the app and the CLI): each has its own
    // write connection and pool, so nothing in memory is shared.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let app = Store::open(&path).await.unwrap();
    let cli = Store::open(&path).await.unwrap();
    let w = app.begin_write().await.unwrap();
    assert_eq!(w.ctx.statuses, DEFAULT_STATUSES);
    assert!(w.ctx.fields.is_empty());
    assert_eq!(w.ctx.region, "US");
    w.commit().await.unwrap();

    let mut w = cli.begin_write().await.unwrap();
    let existing = w.statuses().await.unwrap();
    let (_, plan) = add_status("Churned", &existing, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = add_field(
        "Tier",
        FieldType::Text,
        FieldTarget::Lead,
        vec![],
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    cli.set_region("gb").await.unwrap();

    let mut w = app.begin_write().await.unwrap();
    assert_eq!(w.ctx.statuses.last().map(String::as_str), Some("Churned"));
    assert_eq!(
        w.ctx
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["Tier"]
    );
    assert_eq!(w.ctx.region, "GB");
    // And an operation validates against them: the new status and field are accepted.
    let (lead, plan) = create_lead(
        NewLead {
            name: "Acme".into(),
            status_label: Some("churned".into()),
            custom: [("tier".to_string(), serde_json::json!("gold"))].into(),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let stored = cli.lead(lead.id).await.unwrap();
    assert_eq!(stored.status_label, "Churned");
    assert_eq!(stored.custom["Tier"], "gold");
}

#[tokio::test]
async fn stamps_stay_monotonic_across_stores_sharing_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let a = Store::open(&path).await.unwrap();
    // The second store's clock is an hour behind: its stamps must still follow a's.
    let b = Store::open(&path)
        .await
        .unwrap()
        .with_clock(|| chrono::Utc::now() - chrono::Duration::hours(1));
    let mut last = String::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { &a } else { &b };
        let lead = new_lead(s, &format!("L{i}")).await;
        let hlc = s.clocks(Entity::Lead, lead.id).await.unwrap().unwrap();
        let stamp = serde_json::from_str::<serde_json::Value>(&hlc).unwrap()["*"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(stamp > last, "{stamp} after {last}");
        assert_eq!(s.meta("hlc").await.unwrap().as_deref(), Some(&stamp[..16]));
        last = stamp;
    }
}

#[tokio::test]
async fn a_dropped_writer_releases_the_write_lock_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let s = Store::open(&path).await.unwrap();
    let other = Store::open(&path).await.unwrap();
    let lead = new_lead(&s, "Acme").await;
    {
        let mut w = s.begin_write().await.unwrap();
        let (_, plan) = update_lead(
            &lead,
            LeadPatch {
                name: Some("Ghost".into()),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap();
        w.apply(plan).await.unwrap();
        // dropped without commit (an error in the caller)
    }
    // Another process can take the write lock well before the 10 s busy timeout …
    let t = std::time::Instant::now();
    let w = tokio::time::timeout(std::time::Duration::from_secs(5), other.begin_write())
        .await
        .expect("the lock was released")
        .unwrap();
    w.commit().await.unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    // … nothing of the dropped write is there, and this store writes on.
    assert_eq!(other.lead(lead.id).await.unwrap().name, "Acme");
    let renamed = {
        let mut w = s.begin_write().await.unwrap();
        let (l, plan) = update_lead(
            &lead,
            LeadPatch {
                name: Some("Acme Inc".into()),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap();
        w.apply(plan).await.unwrap();
        w.commit().await.unwrap();
        l
    };
    assert_eq!(other.lead(lead.id).await.unwrap().name, renamed.name);
}

#[tokio::test]
async fn a_status_change_writes_both_records_with_one_stamp() {
    let (_d, s) = store().await;
    let lead = new_lead(&s, "Acme").await;
    let seq = s.last_seq().await.unwrap();
    let mut w = s.begin_write().await.unwrap();
    let (_, plan) = update_lead(
        &lead,
        LeadPatch {
            status_label: Some("Customer".into()),
            ..Default::default()
        },
        &mut w.ctx,
    )
    .unwrap();
    assert_eq!(plan.writes.len(), 2);
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let entries = s.outbox_since(seq, 10).await.unwrap();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.entity.as_str(), e.op.as_str()))
        .collect();
    assert_eq!(kinds, [("lead", "update"), ("activity", "create")]);
    assert_eq!(entries[0].hlc, entries[1].hlc);
    // meta keeps the clock's time part; the node is meta.node_id (stored once).
    assert_eq!(
        s.meta("hlc").await.unwrap().as_deref(),
        Some(&entries[0].hlc[..16])
    );
    let a = s.aggregates(lead.id).await.unwrap();
    assert_eq!(a.n_activities, 1);
    assert!(a.last_activity.is_some());
}

#[tokio::test]
async fn checkpoints_keep_the_wal_bounded_under_a_steady_stream_of_writes() {
    let (dir, s) = store().await;
    let lead = new_lead(&s, "Acme").await;
    let body = "x".repeat(3000);
    // 4000 notes (row with overflow pages, indexes, outbox, the lead's aggregates) append
    // well over 100 MB to the WAL, with no pause in which a background checkpoint could
    // catch up: the WAL starts over only because the second pass makes writers wait.
    for i in 0..4000 {
        note(&s, &lead, &format!("note {i} {body}"), None).await;
    }
    let wal = std::fs::metadata(dir.path().join("t.db-wal"))
        .unwrap()
        .len();
    let db = std::fs::metadata(dir.path().join("t.db")).unwrap().len();
    assert!(db > 12_000_000, "checkpoints copied the notes: {db} bytes");
    assert!(wal < 28_000_000, "the WAL started over: {wal} bytes");
    assert_eq!(s.aggregates(lead.id).await.unwrap().n_notes, 4000);
}

/// Applies one operation's plan in its own transaction.
async fn run<T>(s: &Store, op: impl FnOnce(&mut ops::Ctx) -> (T, plan::Plan)) -> T {
    let mut w = s.begin_write().await.unwrap();
    let (out, plan) = op(&mut w.ctx);
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    out
}

#[tokio::test]
async fn updates_refresh_the_aggregates_they_can_change_and_only_those() {
    let (_d, s) = store().await;
    let lead = new_lead(&s, "Acme").await;
    let ann = run(&s, |c| {
        add_contact(
            &lead,
            NewContact {
                name: "Ann".into(),
                ..Default::default()
            },
            c,
        )
        .unwrap()
    })
    .await;
    let task = run(&s, |c| {
        add_task(
            &lead,
            NewTask {
                text: "Call back".into(),
                ..Default::default()
            },
            c,
        )
        .unwrap()
    })
    .await;
    let n = note(&s, &lead, "first", Some("2024-05-01T10:00:00Z")).await;
    let summary = |s: &Store| {
        let s = s.clone();
        async move { s.list_leads(0, 1).await.unwrap().remove(0) }
    };
    assert_eq!(summary(&s).await.primary_contact.as_deref(), Some("Ann"));
    let before = s.aggregates(lead.id).await.unwrap();
    assert_eq!((before.n_tasks, before.n_notes), (1, 1));

    // A note body edit (autosave) changes no aggregate.
    run(&s, |c| {
        update_note(
            &n,
            NotePatch {
                note: Some("first, edited".into()),
                ..Default::default()
            },
            c,
        )
        .unwrap()
    })
    .await;
    assert_eq!(s.aggregates(lead.id).await.unwrap(), before);
    // Completing the task and renaming the primary contact do.
    run(&s, |c| {
        update_task(
            &task,
            TaskPatch {
                is_complete: Some(true),
                ..Default::default()
            },
            c,
        )
        .unwrap()
    })
    .await;
    assert_eq!(s.aggregates(lead.id).await.unwrap().n_tasks, 0);
    run(&s, |c| {
        update_contact(
            &ann,
            ContactPatch {
                name: Some("Anne".into()),
                ..Default::default()
            },
            c,
        )
        .unwrap()
    })
    .await;
    assert_eq!(summary(&s).await.primary_contact.as_deref(), Some("Anne"));
}

/// SQLite's plan for `sql` with `binds`, its steps joined by ` | `.
async fn query_plan(s: &Store, sql: &str, binds: &[&str]) -> String {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut q = sqlx::query(&explain);
    for b in binds {
        q = q.bind(*b);
    }
    let steps: Vec<String> = q
        .fetch_all(s.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| sqlx::Row::get::<String, _>(r, 3))
        .collect();
    steps.join(" | ")
}

#[tokio::test]
async fn lead_reads_by_id_use_the_primary_key() {
    let (_dir, s) = store().await;
    new_lead(&s, "Acme").await;
    let by_list = ["[\"x\"]"];
    let after = ["", "10"];
    let cases: Vec<(String, &[&str])> = vec![
        (feed::leads_by_ids_sql(), &by_list),
        (feed::leads_page_sql(), &after),
        (feed::SUMMARIES_SQL.into(), &by_list),
        (lookup::LEAD_KEYS_SQL.into(), &after),
        (lookup::MERGE_LEADS_SQL.into(), &by_list),
        (read::BUNDLES_SQL.into(), &after),
    ];
    for (sql, binds) in cases {
        let plan = query_plan(&s, &sql, binds).await;
        assert!(
            plan.contains("SEARCH leads USING INDEX sqlite_autoindex_leads_1"),
            "{sql}\n{plan}"
        );
        assert!(!plan.contains("leads_by_updated"), "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn child_ranges_are_read_from_the_lead_index_without_sorting() {
    let (_dir, s) = store().await;
    for table in feed::CHILD_TABLES {
        let plan = query_plan(&s, &feed::child_range_sql(table), &["a", "b"]).await;
        assert!(plan.contains(&format!("{table}_by_lead")), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

/// Every read the indexer makes of a lead gives the same records in id order, whatever
/// order SQLite hands them over in.
#[tokio::test]
async fn the_index_feed_reads_whole_leads_in_id_order() {
    let (_dir, s) = store().await;
    let leads = [
        new_lead(&s, "A").await,
        new_lead(&s, "B").await,
        new_lead(&s, "C").await,
    ];
    // Interleaved: each lead's notes are not contiguous in id (insertion) order.
    for i in 0..4 {
        for lead in &leads {
            note(&s, lead, &format!("{} {i}", lead.name), None).await;
        }
    }
    let notes = |rows: &[IndexRow]| -> Vec<(String, Vec<Id>)> {
        rows.iter()
            .map(|r| {
                let ids: Vec<Id> = r.bundle.activities.iter().map(|a| a.id).collect();
                (r.bundle.lead.name.clone(), ids)
            })
            .collect()
    };
    let ids: Vec<Id> = leads.iter().map(|l| l.id).collect();
    let expected = notes(&s.index_rows(&ids).await.unwrap());
    assert_eq!(expected.len(), 3);
    for (name, ids) in &expected {
        assert_eq!(ids.len(), 4, "{name}");
        assert!(ids.is_sorted(), "{name}: {ids:?}");
    }
    assert_eq!(notes(&s.index_page(None, 10).await.unwrap()), expected);

    // Pages of two: the reader goes on after the last lead of each page.
    let mut reader = s.page_reader().await.unwrap();
    let mut paged = Vec::new();
    loop {
        let page = reader.next_page(2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        paged.extend(page.decode().unwrap());
    }
    assert_eq!(notes(&paged), expected);

    // Records in reverse id order (leads out of order too) attach the same way.
    let reversed: Vec<String> = sqlx::query_scalar("SELECT data FROM activities ORDER BY id DESC")
        .fetch_all(s.pool())
        .await
        .unwrap();
    let mut rows = s.index_rows(&ids).await.unwrap();
    for r in &mut rows {
        r.bundle.activities.clear();
    }
    feed::attach(&mut rows, "activities", Some(&reversed.join("\u{1e}"))).unwrap();
    assert_eq!(notes(&rows), expected);
}
