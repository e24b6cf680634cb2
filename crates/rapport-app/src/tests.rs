//! Facade tests: use cases end to end on a real store, the views, the watcher.

use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

async fn app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path().join("a.db")).await.unwrap();
    (dir, app)
}

#[tokio::test]
async fn lead_page_view_sanitises_notes_and_formats_phones() {
    let (_d, app) = app().await;
    let lead = app
        .create_lead(NewLead {
            name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let input = NewContact {
        name: "Ann".into(),
        phones: vec![PhoneInput {
            phone: "4155550123".into(),
            kind: None,
        }],
        ..Default::default()
    };
    app.add_contact(lead.id, input).await.unwrap();
    let note = app
        .create_note(lead.id, None, "**hi** <script>alert(1)</script>".into())
        .await
        .unwrap();
    assert_eq!(note["note_html"], "<p><strong>hi</strong> </p>\n");
    let page = app.lead_page(lead.id).await.unwrap();
    assert_eq!(
        page.contacts[0]["phones"][0]["phone_formatted"],
        "(415) 555-0123"
    );
    assert_eq!(page.timeline[0]["_type"], "note");
    assert!(page.lead["owner_name"].is_string());
}

#[tokio::test]
async fn errors_carry_code_and_field() {
    let (_d, app) = app().await;
    let lead = app
        .create_lead(NewLead {
            name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = app
        .add_contact(
            lead.id,
            NewContact {
                name: "Ann".into(),
                emails: vec![EmailInput {
                    email: "nope".into(),
                    kind: None,
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("invalid_field", Some("emails[0].email"))
    );
    let e = app
        .update_lead(
            lead.id,
            LeadPatch {
                status_label: Some("Hot".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "unknown_status");
    let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
    assert_eq!(
        app.add_task(
            missing,
            NewTask {
                text: "x".into(),
                ..Default::default()
            }
        )
        .await
        .unwrap_err()
        .code,
        "not_found"
    );
    assert_eq!(
        app.store().lead_page(lead.id).await.unwrap().contacts.len(),
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn demo_loads_in_chunks_and_can_be_cancelled() {
    let (_d, app) = app().await;
    let now = rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap();
    let seen = Arc::new(Mutex::new(vec![]));
    let s = seen.clone();
    let opts = DemoOptions {
        leads: 250,
        seed: 9,
        now,
        chunk: 100,
    };
    let r = app
        .load_demo(
            opts,
            move |d, t| s.lock().unwrap().push((d, t)),
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .unwrap();
    assert_eq!((r.leads, r.cancelled), (250, false));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(100, 250), (200, 250), (250, 250)]
    );
    assert_eq!(app.list_leads(0, 10).await.unwrap().total, 250);
    let cancel = Arc::new(AtomicBool::new(true));
    let (_d2, other) = self::app().await;
    let r = other
        .load_demo(
            DemoOptions {
                leads: 1000,
                seed: 9,
                now,
                chunk: 100,
            },
            |_, _| {},
            cancel,
        )
        .await
        .unwrap();
    assert!(r.cancelled && r.leads <= 100, "{r:?}");
    assert_eq!(
        other.list_leads(0, 1).await.unwrap().total,
        r.leads as i64,
        "only whole chunks"
    );
}

#[tokio::test]
async fn another_process_write_is_reported_by_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let app = App::open(&path).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _w = app
        .watch(move |seq| {
            let _ = tx.send(seq);
        })
        .await
        .unwrap();
    // A second, independent connection pool stands in for the CLI process.
    let other = App::open(&path).await.unwrap();
    other
        .create_lead(NewLead {
            name: "From elsewhere".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let seq = tokio::time::timeout(std::time::Duration::from_secs(3), rx.recv())
        .await
        .expect("no change event")
        .unwrap();
    assert_eq!(seq, other.store().last_seq().await.unwrap());
}

/// A write that fails in its second half leaves nothing of its first: a lead with its contact
/// and its first call, and a set of field definitions, are one transaction each. The failure
/// is a real one inside SQLite (a trigger aborting the insert), after the first rows went in.
/// The unknown-caller path used to write the lead, then the contact, in two transactions.
#[tokio::test]
async fn a_failure_in_the_second_half_of_a_use_case_leaves_nothing() {
    let (_d, app) = app().await;
    let abort = |table: &str| {
        format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    };
    let call = NewActivity {
        contact_id: None,
        activity_at: None,
        kind: ActivityKind::Call(CallFields {
            direction: Direction::Inbound,
            status: "in-progress".into(),
            disposition: "in-progress".into(),
            remote_phone: Some("+14155550123".into()),
            local_phone: None,
            duration: 0,
            note: None,
        }),
    };
    let new = || {
        (
            NewLead {
                name: "Caller (415) 555-0123".into(),
                ..Default::default()
            },
            NewContact {
                name: "Ann".into(),
                phones: vec![PhoneInput {
                    phone: "+14155550123".into(),
                    kind: None,
                }],
                ..Default::default()
            },
        )
    };
    for table in ["contacts", "activities"] {
        sqlx::query(&abort(table))
            .execute(app.store().pool())
            .await
            .unwrap();
        let (lead, contact) = new();
        let e = app
            .create_lead_with_contact(lead, contact, Some(call.clone()))
            .await
            .unwrap_err();
        assert!(e.message.contains("injected failure"), "{e:?}");
        assert_eq!(app.info().await.unwrap().lead_count, 0, "{table}");
        sqlx::query(&format!("DROP TRIGGER fail_{table}"))
            .execute(app.store().pool())
            .await
            .unwrap();
    }
    // Validation in the second half fails it as early: nothing written either.
    let (lead, mut contact) = new();
    contact.emails = vec![EmailInput {
        email: "not an email".into(),
        kind: None,
    }];
    assert!(
        app.create_lead_with_contact(lead, contact, None)
            .await
            .is_err()
    );
    assert_eq!(app.info().await.unwrap().lead_count, 0);
    // And when nothing fails, all three are there, linked.
    let (lead, contact) = new();
    let (lead, contact, activity) = app
        .create_lead_with_contact(lead, contact, Some(call))
        .await
        .unwrap();
    let page = app.store().lead_page(lead.id).await.unwrap();
    let ids = |v: &[Contact]| v.iter().map(|c| (c.id, c.lead_id)).collect::<Vec<_>>();
    assert_eq!(ids(&page.contacts), [(contact.id, lead.id)]);
    let activity = activity.unwrap();
    assert_eq!(activity.contact_id, Some(contact.id));
    assert_eq!(
        page.timeline.iter().map(|a| a.id).collect::<Vec<_>>(),
        [activity.id]
    );

    // Field definitions: the second of two fails, so neither is defined.
    sqlx::query(
        "CREATE TRIGGER second_field BEFORE INSERT ON custom_fields \
         WHEN NEW.name = 'Second' \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .execute(app.store().pool())
    .await
    .unwrap();
    let before = app.fields().await.unwrap().len();
    let def = |name: &str| CustomFieldDef {
        id: Id::at(chrono::Utc::now(), 1),
        name: name.into(),
        kind: FieldType::Text,
        applies_to: FieldTarget::Lead,
        choices: Vec::new(),
    };
    assert!(
        app.add_fields(vec![def("First"), def("Second")])
            .await
            .is_err()
    );
    assert_eq!(app.fields().await.unwrap().len(), before);
}
