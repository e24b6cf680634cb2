//! JSONL stories: the export is a complete backup (definitions included) that an empty store
//! takes back with no flags; a bad line rolls the whole file back; each kind of invalid record
//! is refused with its line and field; definitions merge into a store that has some.

use super::*;
use crate::defs::Definition;
use rapport_core::{FieldTarget, FieldType, LeadBundle, ops};
use rapport_store::Store;

async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(dir.path().join(name)).await.unwrap()
}

fn now() -> rapport_core::time::Timestamp {
    rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap()
}

fn demo(n: u64, user: Option<rapport_core::Id>) -> LeadBundle {
    let statuses: Vec<String> = rapport_core::DEFAULT_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    rapport_core::demo::lead(5, n, now(), &statuses, user)
}

async fn export(s: &Store) -> String {
    let mut out = Vec::new();
    export_jsonl(s, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

fn split(jsonl: &str) -> (Vec<Definition>, Vec<String>) {
    let (defs, leads): (Vec<&str>, Vec<&str>) =
        jsonl.lines().partition(|l| l.contains("\"_record\""));
    (
        defs.iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        leads.iter().map(|l| l.to_string()).collect(),
    )
}

/// The custom fields demo leads use.
async fn add_demo_fields(s: &Store) {
    let mut w = s.begin_write().await.unwrap();
    for f in rapport_core::demo::field_defs(&mut ops::Rng(1), now()) {
        let (_, plan) =
            ops::add_field(&f.name, f.kind, f.applies_to, f.choices, &mut w.ctx).unwrap();
        w.apply(plan).await.unwrap();
    }
    w.commit().await.unwrap();
}

/// A store with everything a backup must carry: typed custom fields with choices, an extra
/// status, a second user, a Smart View, and leads using them.
async fn full_store(dir: &tempfile::TempDir) -> Store {
    let a = store(dir, "a.db").await;
    add_demo_fields(&a).await;
    let mut w = a.begin_write().await.unwrap();
    let existing = w.statuses().await.unwrap();
    let (_, plan) = ops::add_status("Nurture", &existing, &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = ops::create_user("Bo Chen", Some("bo@example.com"), &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = ops::add_view("Hot", "status:qualified", true, &[], &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let user = a.local_user().await.unwrap().id;
    let mut bundles: Vec<LeadBundle> = (0..40).map(|n| demo(n, Some(user))).collect();
    bundles[3].lead.status_label = "Nurture".into();
    a.write_bundles(bundles).await.unwrap();
    a
}

/// Fails on the old code: every line using a custom field was refused without
/// `--create-missing`, and with it the types and choices came back by sniffing.
#[tokio::test]
async fn the_export_is_a_complete_backup() {
    let dir = tempfile::tempdir().unwrap();
    let a = full_store(&dir).await;
    let first = export(&a).await;
    let b = store(&dir, "b.db").await;
    let opts = JsonlOptions {
        chunk: 7,
        ..Default::default()
    };
    let r = import_jsonl(&b, first.as_bytes(), &opts).await.unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert!(r.written);
    assert_eq!(r.leads, 40);
    assert_eq!(r.created_statuses, ["Nurture"]);
    assert_eq!(r.created_fields.len(), 3, "{:?}", r.created_fields);
    let second = export(&b).await;
    let (defs_a, leads_a) = split(&first);
    let (defs_b, leads_b) = split(&second);
    assert_eq!(leads_a, leads_b, "lead lines are identical");
    let pick = |d: &[Definition], f: &dyn Fn(&Definition) -> Option<String>| {
        d.iter().filter_map(f).collect::<Vec<_>>()
    };
    // Statuses: the same labels in the same order (matching labels keep the store's ids).
    let labels = |d: &Definition| match d {
        Definition::Status(s) => Some(s.label.clone()),
        _ => None,
    };
    assert_eq!(pick(&defs_a, &labels), pick(&defs_b, &labels));
    // Custom fields and Smart Views: identical, ids included.
    let exact = |d: &Definition| match d {
        Definition::CustomField(_) | Definition::SmartView(_) => {
            Some(serde_json::to_string(d).unwrap())
        }
        _ => None,
    };
    assert_eq!(pick(&defs_a, &exact), pick(&defs_b, &exact));
    assert!(defs_a.iter().any(|d| matches!(d, Definition::CustomField(f) if f.kind == FieldType::Choice && !f.choices.is_empty())));
    // Users: all of the file's, plus the new store's own.
    let users = |d: &Definition| match d {
        Definition::User(u) => Some(serde_json::to_string(u).unwrap()),
        _ => None,
    };
    let ub = pick(&defs_b, &users);
    for u in pick(&defs_a, &users) {
        assert!(ub.contains(&u), "{u} missing");
    }
    assert_eq!(ub.len(), pick(&defs_a, &users).len() + 1);
    // And a second round trip changes nothing more.
    let c = store(&dir, "c.db").await;
    import_jsonl(&c, second.as_bytes(), &opts).await.unwrap();
    assert_eq!(split(&export(&c).await).1, leads_a);
}

const GOOD: &str = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y7","name":"Acme","status_label":"potential","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}"#;

/// Fails on the old code: the good lines were written and the import succeeded.
#[tokio::test]
async fn a_bad_line_rolls_the_whole_file_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let bad_email = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y8","name":"Beta","status_label":"Potential","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z","contacts":[{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y9","lead_id":"01HZX5T3C8B6M4Q2W1E0R9T8Y8","name":"Ann","emails":[{"email":"not-an-email","type":"office"}],"date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}]}"#;
    let bad_status = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8YA","name":"Gamma","status_label":"Hot","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}"#;
    let input = format!("{GOOD}\n{{not json\n\n{bad_email}\n{bad_status}\n");
    let before = s.stats().await.unwrap();
    let opts = JsonlOptions {
        chunk: 1,
        ..Default::default()
    };
    let r = import_jsonl(&s, input.as_bytes(), &opts).await.unwrap();
    let lines: Vec<(u64, Option<&str>)> = r
        .rejected
        .iter()
        .map(|x| (x.line, x.field.as_deref()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, None),
            (4, Some("contacts[0].emails[0].email")),
            (5, Some("status_label"))
        ]
    );
    assert!(r.rejected[0].message.starts_with("malformed JSON"));
    assert!(!r.written);
    assert_eq!((r.leads, r.valid_leads), (0, 1));
    let after = s.stats().await.unwrap();
    assert_eq!(
        (before.leads, before.outbox),
        (after.leads, after.outbox),
        "nothing written"
    );
    // With `skip_invalid` the valid line is written (and the report still lists the others).
    let opts = JsonlOptions {
        skip_invalid: true,
        ..opts
    };
    let r = import_jsonl(&s, input.as_bytes(), &opts).await.unwrap();
    assert!(r.written);
    assert_eq!((r.leads, r.rejected.len()), (1, 3));
    let lead = s.leads_named("Acme").await.unwrap().remove(0);
    assert_eq!(
        lead.status_label, "Potential",
        "status spelling is normalised"
    );
    assert_eq!(s.stats().await.unwrap().contacts, 0);
}

fn line(b: &LeadBundle) -> String {
    serde_json::to_string(b).unwrap()
}

/// Each fails on the old code (accepted; the contact one moved a contact away from its lead,
/// the lead one kept the last line silently). Every case: refused with its line and field,
/// and the store unchanged.
#[tokio::test]
async fn invalid_records_are_refused_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    add_demo_fields(&s).await;
    let mut x = demo(1, None);
    x.contacts.truncate(1);
    assert!(!x.contacts.is_empty() && !x.activities.is_empty());
    s.write_bundles(vec![x.clone()]).await.unwrap();
    let fresh = |n: u64| {
        let mut b = demo(100 + n, None);
        b.opportunities.clear();
        b.tasks.clear();
        b
    };
    let with_opportunity = {
        let mut b = demo(7, None);
        let mut o = (0..50)
            .map(|n| demo(n, None))
            .find_map(|d| d.opportunities.into_iter().next())
            .unwrap();
        o.lead_id = b.lead.id;
        o.value = -100;
        b.opportunities = vec![o];
        b
    };
    let with_task = {
        let mut b = fresh(2);
        let mut t = (0..50)
            .map(|n| demo(n, None))
            .find_map(|d| d.tasks.into_iter().next())
            .unwrap();
        t.lead_id = b.lead.id;
        t.text = "  ".into();
        b.tasks = vec![t];
        b
    };
    let date_only = line(&fresh(3)).replacen(
        &format!(
            "\"date_created\":\"{}\"",
            rapport_core::time::fmt(&fresh(3).lead.date_created)
        ),
        "\"date_created\":\"2024-01-31\"",
        1,
    );
    let twin_contacts = {
        let mut b = fresh(4);
        let mut c = b.contacts[0].clone();
        c.name = "Twin".into();
        b.contacts.push(c);
        b
    };
    let stolen_contact = {
        let mut b = fresh(5);
        let mut c = x.contacts[0].clone();
        c.lead_id = b.lead.id;
        b.contacts = vec![c];
        b
    };
    let stolen_activity = {
        let mut b = fresh(6);
        let mut a = x.activities[0].clone();
        a.lead_id = b.lead.id;
        b.activities = vec![a];
        b
    };
    let cases: Vec<(String, u64, &str, &str)> = vec![
        (
            line(&with_opportunity),
            1,
            "opportunities[0].value",
            "cannot be negative",
        ),
        (line(&with_task), 1, "tasks[0].text", "must not be empty"),
        (
            date_only,
            1,
            "",
            "`2024-01-31` is not an RFC 3339 timestamp",
        ),
        (line(&twin_contacts), 1, "contacts[", "cannot share an id"),
        (
            line(&stolen_contact),
            1,
            "contacts[0].id",
            "belongs to lead",
        ),
        (
            line(&stolen_activity),
            1,
            "activities[0].id",
            "belongs to lead",
        ),
        (
            format!("{}\n{}", line(&fresh(7)), line(&fresh(7))),
            2,
            "id",
            "is also on line 1",
        ),
        (
            {
                let (a, mut b) = (fresh(8), fresh(9));
                let mut c = a.contacts[0].clone();
                c.lead_id = b.lead.id;
                b.contacts.push(c);
                format!("{}\n{}", line(&a), line(&b))
            },
            2,
            "contacts[",
            "on line 1; a record belongs to one lead",
        ),
    ];
    let before = export(&s).await;
    for (text, at, field, needle) in cases {
        let r = import_jsonl(&s, text.as_bytes(), &JsonlOptions::default())
            .await
            .unwrap();
        assert_eq!(r.rejected.len(), 1, "{needle}: {:?}", r.rejected);
        let bad = &r.rejected[0];
        assert_eq!(bad.line, at, "{needle}");
        assert!(
            bad.field.as_deref().unwrap_or("").starts_with(field),
            "{needle}: field {:?}",
            bad.field
        );
        assert!(bad.message.contains(needle), "{needle}: {}", bad.message);
        assert_eq!(export(&s).await, before, "{needle}: nothing changed");
    }
    assert_eq!(s.lead_page(x.lead.id).await.unwrap().contacts.len(), 1);
}

/// Same name = same definition; a conflicting type is an error naming the line and field;
/// a choice field gains the file's choices; a Smart View keeps this store's query.
#[tokio::test]
async fn definitions_merge_into_a_store_that_has_some() {
    let dir = tempfile::tempdir().unwrap();
    let a = full_store(&dir).await;
    let file = export(&a).await;
    let (defs, _) = split(&file);
    let choice = defs
        .iter()
        .find_map(|d| match d {
            Definition::CustomField(f) if f.kind == FieldType::Choice => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    let other = defs
        .iter()
        .find_map(|d| match d {
            Definition::CustomField(f) if f.kind != FieldType::Choice => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    let b = store(&dir, "b.db").await;
    let mut w = b.begin_write().await.unwrap();
    let (_, plan) = ops::add_field(
        &choice.name.to_uppercase(),
        FieldType::Choice,
        choice.applies_to,
        vec![choice.choices[0].clone(), "Extra".into()],
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = ops::add_view("hot", "status:customer", false, &[], &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    let (_, plan) = ops::add_status("NURTURE", &w.statuses().await.unwrap(), &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let r = import_jsonl(&b, file.as_bytes(), &JsonlOptions::default())
        .await
        .unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert!(r.created_statuses.is_empty(), "NURTURE is Nurture");
    assert!(r.created_views.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("kept this store's query")),
        "{:?}",
        r.notes
    );
    let f = b
        .fields()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name.eq_ignore_ascii_case(&choice.name))
        .unwrap();
    assert_eq!(f.choices.len(), choice.choices.len() + 1, "{:?}", f.choices);
    assert_eq!(b.lead_count().await.unwrap(), 40);
    // A field the store has with another type: the line and field are named, nothing written.
    let c = store(&dir, "c.db").await;
    let mut w = c.begin_write().await.unwrap();
    let kind = if other.kind == FieldType::Text {
        FieldType::Number
    } else {
        FieldType::Text
    };
    let (_, plan) =
        ops::add_field(&other.name, kind, other.applies_to, vec![], &mut w.ctx).unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let before = c.stats().await.unwrap();
    let r = import_jsonl(&c, file.as_bytes(), &JsonlOptions::default())
        .await
        .unwrap();
    let at = file
        .lines()
        .position(|l| {
            l.contains("custom_field") && l.contains(&format!("\"name\":\"{}\"", other.name))
        })
        .unwrap() as u64
        + 1;
    assert_eq!(r.rejected[0].line, at);
    assert_eq!(r.rejected[0].field.as_deref(), Some("type"));
    assert!(
        r.rejected[0].message.contains("in the file but a"),
        "{}",
        r.rejected[0].message
    );
    assert!(!r.written);
    assert_eq!(c.stats().await.unwrap().outbox, before.outbox);
    assert_eq!(FieldTarget::Lead, other.applies_to);
}

/// `schema/lead.schema.json` is a valid JSON Schema (draft 2020-12), every line of a full
/// export satisfies it, and lines the import refuses (a bare date, a negative value) do not.
/// Checked with Python's `jsonschema` (installed by `cargo xtask test`).
#[tokio::test]
async fn the_schema_is_valid_and_describes_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let a = full_store(&dir).await;
    let mut text = export(&a).await;
    let mut bad = demo(3, None);
    bad.lead.custom.clear();
    bad.contacts.clear();
    let mut o = (0..50)
        .map(|n| demo(n, None))
        .find_map(|d| d.opportunities.into_iter().next())
        .unwrap();
    o.lead_id = bad.lead.id;
    o.value = -1;
    bad.opportunities = vec![o];
    let date = rapport_core::time::fmt(&bad.lead.date_created);
    let bare = line(&bad).replacen(&date, "2024-01-31", 1);
    let bad_lines = [line(&bad), bare];
    for l in &bad_lines {
        text += l;
        text += "\n";
    }
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &text).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/lead.schema.json");
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
for i, line in enumerate(open(sys.argv[2]), 1):
    print(i, "ok" if v.is_valid(json.loads(line)) else "invalid")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, schema, file.to_str().unwrap()])
        .output()
        .expect("python3 runs (cargo xtask test installs python3-jsonschema)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    let n = verdicts.len();
    assert_eq!(n, text.lines().count());
    assert!(verdicts[..n - 2].iter().all(|v| *v == "ok"), "{stdout}");
    assert_eq!(verdicts[n - 2..], ["invalid", "invalid"], "{stdout}");
    assert!(
        text.contains("\"_record\":\"custom_field\"")
            && text.contains("\"_record\":\"smart_view\"")
    );
}
