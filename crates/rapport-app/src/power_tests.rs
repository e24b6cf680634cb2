//! Tests of the power use cases on real stores with the real index: bulk actions and undo
//! against exports, refused bad input, merges with aliases, duplicates, and report totals
//! against independent SQL sums.

use super::*;
use crate::{DemoOptions, SearchOptions};
use rapport_core::ops::*;
use std::sync::Mutex;

async fn app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path().join("a.db")).await.unwrap();
    (dir, app)
}

async fn demo(app: &App, leads: u64) {
    let opts = DemoOptions {
        leads,
        seed: 3,
        now: rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap(),
        chunk: 1000,
    };
    app.load_demo(opts, |_, _| {}, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
}

async fn export(app: &App) -> String {
    let mut out = Vec::new();
    rapport_import::export_jsonl(app.store(), &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn scalar(app: &App, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store().pool())
        .await
        .unwrap()
}

fn no_cancel() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

fn opts() -> SearchOptions {
    SearchOptions::default()
}

fn set_status(s: &str) -> BulkAction {
    BulkAction::SetStatus { status: s.into() }
}

#[tokio::test]
async fn bulk_status_change_writes_every_lead_and_undo_restores_the_export() {
    let (_d, app) = app().await;
    demo(&app, 2_500).await;
    let before = export(&app).await;
    let potential = scalar(
        &app,
        "SELECT count(*) FROM leads WHERE deleted = 0 AND status_label <> 'Cold'",
    )
    .await;
    assert!(
        potential > BULK_CHUNK as i64,
        "more than one chunk: {potential}"
    );
    let cold = scalar(
        &app,
        "SELECT count(*) FROM leads WHERE deleted = 0 AND status_label = 'Cold'",
    )
    .await;
    let seq = app.store().last_seq().await.unwrap();
    let seen = Mutex::new(vec![]);
    let r = app
        .bulk(
            "not status:cold",
            &set_status("cold"),
            &opts(),
            false,
            |d, t| seen.lock().unwrap().push((d, t)),
            no_cancel(),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.matched, r.changed),
        (potential as usize, potential as usize)
    );
    assert_eq!(
        r.records,
        2 * potential as usize,
        "the lead and its StatusChange"
    );
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&(potential as usize, potential as usize))
    );
    let p = potential;
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM leads WHERE status_label <> 'Cold'"
        )
        .await,
        0
    );
    // Clocks and outbox like any edit: one outbox entry per record, the lead's status clocked.
    let outbox = scalar(
        &app,
        &format!("SELECT count(*) FROM outbox WHERE seq > {seq}"),
    )
    .await;
    assert_eq!(outbox, 2 * p);
    let clocked = scalar(
        &app,
        "SELECT count(*) FROM leads WHERE json_extract(clocks, '$.status_label') IS NOT NULL",
    )
    .await;
    assert_eq!(clocked, p);
    let changes = scalar(&app, "SELECT count(*) FROM activities WHERE kind = 'status_change' AND json_extract(data, '$.new_status_label') = 'Cold' AND json_extract(data, '$.date_created') >= '2026'").await;
    assert!(changes >= p);
    let hits = app.search("status:cold", opts()).await.unwrap();
    assert_eq!(hits.total as i64, p + cold);
    let u = app.undo().await.unwrap().unwrap();
    assert_eq!(u.reverted, 2 * p as usize);
    assert_eq!(
        export(&app).await,
        before,
        "undo restores every lead exactly"
    );
    assert_eq!(
        app.search("not status:cold", opts()).await.unwrap().total as i64,
        p
    );
}

#[tokio::test]
async fn bad_bulk_input_is_refused_before_anything_is_written() {
    let (_d, app) = app().await;
    demo(&app, 50).await;
    app.add_field("Seats", FieldType::Number, FieldTarget::Lead, vec![])
        .await
        .unwrap();
    let seq = app.store().last_seq().await.unwrap();
    let bad = [
        (set_status("Nope"), "unknown_status"),
        (
            BulkAction::SetCustom {
                name: "Seats".into(),
                value: "many".into(),
            },
            "invalid_field",
        ),
        (
            BulkAction::SetCustom {
                name: "Nope".into(),
                value: "1".into(),
            },
            "invalid_field",
        ),
        (
            BulkAction::AddTask {
                text: " ".into(),
                date: None,
            },
            "invalid_field",
        ),
    ];
    for (action, code) in bad {
        let e = app
            .bulk("", &action, &opts(), false, |_, _| {}, no_cancel())
            .await
            .unwrap_err();
        assert_eq!(e.code, code, "{action:?}: {e:?}");
    }
    assert_eq!(
        app.store().last_seq().await.unwrap(),
        seq,
        "nothing written"
    );
    assert!(BulkAction::parse_set("stage=x").is_err());
    // A good custom value is typed by its field; a dry run writes nothing.
    let good = BulkAction::parse_set("custom.Seats=12").unwrap();
    let r = app
        .bulk("", &good, &opts(), true, |_, _| {}, no_cancel())
        .await
        .unwrap();
    assert_eq!((r.matched, r.changed), (50, 0));
    assert_eq!(app.store().last_seq().await.unwrap(), seq);
    let r = app
        .bulk("", &good, &opts(), false, |_, _| {}, no_cancel())
        .await
        .unwrap();
    assert_eq!(r.changed, 50);
    let n = scalar(
        &app,
        "SELECT count(*) FROM leads WHERE json_extract(data, '$.custom.Seats') = 12",
    )
    .await;
    assert_eq!(n, 50);
}

#[tokio::test]
async fn undo_reverts_only_what_the_action_wrote_and_walks_back() {
    let (_d, app) = app().await;
    let lead = app
        .create_lead(NewLead {
            name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.bulk(
        "acme",
        &set_status("Qualified"),
        &opts(),
        false,
        |_, _| {},
        no_cancel(),
    )
    .await
    .unwrap();
    // An edit outside the journal (as a pulled change would be): undo keeps it.
    let mut w = app.store().begin_write().await.unwrap();
    let cur = w.lead(lead.id).await.unwrap();
    let patch = LeadPatch {
        name: Some("Acme Renamed".into()),
        ..Default::default()
    };
    let (_, plan) = ops::update_lead(&cur, patch, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let r = app.undo().await.unwrap().unwrap();
    assert!(r.action.label.starts_with("Change status"), "{r:?}");
    let now = app.lead(lead.id).await.unwrap();
    assert_eq!(
        (now.name.as_str(), now.status_label.as_str()),
        ("Acme Renamed", "Potential")
    );
    // The next undo reverts the creation (a tombstone), then nothing is left.
    app.undo().await.unwrap().unwrap();
    assert!(app.lead(lead.id).await.is_err());
    assert!(app.undo().await.unwrap().is_none());
}

async fn lead_with(app: &App, name: &str, url: &str, email: &str) -> Lead {
    let lead = app
        .create_lead(NewLead {
            name: name.into(),
            url: Some(url.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = NewContact {
        name: format!("{name} person"),
        emails: vec![EmailInput {
            email: email.into(),
            kind: None,
        }],
        ..Default::default()
    };
    app.add_contact(lead.id, c).await.unwrap();
    app.create_note(lead.id, None, format!("note on {name}"))
        .await
        .unwrap();
    app.add_task(
        lead.id,
        NewTask {
            text: format!("task on {name}"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let o = NewOpportunity {
        value: 1000,
        ..Default::default()
    };
    app.add_opportunity(lead.id, o).await.unwrap();
    lead
}

#[tokio::test]
async fn merge_moves_every_record_keeps_an_alias_and_undoes() {
    let (_d, app) = app().await;
    let a = lead_with(&app, "Acme", "https://acme.com", "ann@acme.com").await;
    let b = lead_with(
        &app,
        "Acme Inc",
        "https://www.acme.com/about",
        "bob@acme.com",
    )
    .await;
    let before = export(&app).await;
    let e = app.merge_leads(a.id, a.id, &[]).await.unwrap_err();
    assert_eq!(e.code, "bad_input");
    assert!(app.merge_preview(a.id, a.id).await.is_err());
    let p = app.merge_preview(a.id, b.id).await.unwrap();
    assert_eq!(p.moves, [1, 1, 1, 1]);
    let fields: Vec<&str> = p.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["name", "url"]);
    assert!(
        app.merge_leads(a.id, b.id, &["status_label".into()])
            .await
            .is_err(),
        "not a conflict"
    );
    let lead = app.merge_leads(a.id, b.id, &["name".into()]).await.unwrap();
    assert_eq!(
        (lead.name.as_str(), lead.url.as_deref()),
        ("Acme Inc", Some("https://acme.com/"))
    );
    let agg = app.store().aggregates(a.id).await.unwrap();
    assert_eq!(
        (
            agg.n_contacts,
            agg.n_notes,
            agg.n_tasks,
            agg.n_opportunities
        ),
        (2, 2, 2, 2)
    );
    // The merged id is an alias: it opens the survivor's page.
    let page = app.lead_page(b.id).await.unwrap();
    assert_eq!(page.lead["id"], a.id.to_string());
    assert_eq!(app.find_lead(&b.id.to_string()).await.unwrap().id, a.id);
    let ids: Vec<String> = page
        .timeline
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(ids, sorted, "one newest-first timeline");
    assert_eq!(ids.len(), 2);
    assert_eq!(app.search("acme", opts()).await.unwrap().total, 1);
    app.undo().await.unwrap().unwrap();
    assert_eq!(
        export(&app).await,
        before,
        "undoing the merge restores both leads"
    );
    assert_eq!(app.store().aggregates(a.id).await.unwrap().n_contacts, 1);
}

#[tokio::test]
async fn duplicates_are_found_by_domain_email_phone_and_name() {
    let (_d, app) = app().await;
    let a = lead_with(&app, "Acme", "https://acme.com", "ann@acme.com").await;
    let b = lead_with(&app, "Other", "https://www.acme.com", "x@other.org").await;
    let c = lead_with(&app, "Globex, Inc.", "https://globex.com", "g@gmail.com").await;
    let d = lead_with(&app, "GLOBEX", "https://globex.net", "g@gmail.com").await;
    let _e = lead_with(&app, "Initech", "https://initech.com", "i@initech.com").await;
    let groups = app.duplicates(10).await.unwrap();
    let sets: Vec<(&str, Vec<String>)> = groups
        .iter()
        .map(|g| (g.reason, g.leads.iter().map(|l| l.0.clone()).collect()))
        .collect();
    let ids = |x: &[&Lead]| x.iter().map(|l| l.id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        sets,
        vec![("email", ids(&[&c, &d])), ("domain", ids(&[&a, &b]))]
    );
}

#[tokio::test]
async fn report_totals_equal_independent_sql_sums() {
    let (_d, app) = app().await;
    demo(&app, 600).await;
    let all = app.report_pipeline(None, &opts()).await.unwrap();
    let sum = scalar(&app, "SELECT coalesce(sum(json_extract(o.data, '$.value')), 0) FROM opportunities o JOIN leads l ON l.id = o.lead_id WHERE o.deleted = 0 AND l.deleted = 0").await;
    assert!(sum > 0);
    assert_eq!(all.value, sum);
    assert_eq!(all.by_month.iter().map(|r| r.value).sum::<i64>(), sum);
    let q = app
        .report_pipeline(Some("status:customer"), &opts())
        .await
        .unwrap();
    let sum = scalar(&app, "SELECT coalesce(sum(json_extract(o.data, '$.value')), 0) FROM opportunities o JOIN leads l ON l.id = o.lead_id WHERE o.deleted = 0 AND l.deleted = 0 AND l.status_label = 'Customer'").await;
    let weighted = scalar(&app, "SELECT coalesce(sum(json_extract(o.data, '$.value') * coalesce(json_extract(o.data, '$.confidence'), 0)), 0) FROM opportunities o JOIN leads l ON l.id = o.lead_id WHERE o.deleted = 0 AND l.deleted = 0 AND l.status_label = 'Customer' GROUP BY json_extract(o.data, '$.status_label')").await;
    assert_eq!(q.value, sum);
    assert!(q.value < all.value && q.weighted <= q.value && weighted > 0);
    let calls = app.report_calls(None, None, &opts()).await.unwrap();
    assert_eq!(
        calls.total,
        scalar(&app, "SELECT sum(n_calls) FROM leads WHERE deleted = 0").await
    );
    assert_eq!(
        calls.by_user.iter().map(|r| r.total).sum::<i64>(),
        calls.total
    );
    assert!(calls.answered > 0 && calls.answered < calls.total);
    assert!(
        app.report_calls(None, Some("yesterday"), &opts())
            .await
            .is_err()
    );
    let f = app.report_funnel(None, &opts()).await.unwrap();
    assert_eq!(f.current.iter().map(|r| r.leads).sum::<i64>(), 600);
    assert_eq!(f.current[0].status, "Potential");
}
