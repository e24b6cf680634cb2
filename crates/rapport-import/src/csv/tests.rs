//! CSV import/export stories on small generated files: grouping, custom fields, the error CSV,
//! upsert on re-import, dry run, encodings, cancel + resume, a dropped import, the round trip.

use super::*;
use rapport_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(dir.path().join(name)).await.unwrap()
}

pub(super) fn file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

pub(super) async fn import(
    s: &Store,
    path: &Path,
    opts: CsvImportOptions,
) -> Result<ImportSummary, CsvError> {
    import_csv(
        s,
        path,
        None,
        &opts,
        &|_| {},
        Arc::new(AtomicBool::new(false)),
    )
    .await
}

const SAMPLE: &str = "Company,Contact Name,Email,Phone,Website,Employees,Notes,Created Date
Acme Inc,Ann Smith,ann@acme.com,(415) 555-0123,acme.com,120,\"first line
second line\",2024-01-31
acme inc ,Bob Jones,BOB@acme.com,,www.acme.com,,,
,Carla Diaz,carla@gmail.com,,,,,
Globex,Dan Brown,not-an-email,,globex.com,5,,
Globex,Eve Moss,eve@globex.com,+44 20 7946 0958,globex.com,\"1,200\",,01/15/2023
";

#[tokio::test]
async fn rows_group_into_leads_and_bad_lines_go_to_the_error_csv() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let path = file(&dir, "leads.csv", SAMPLE.as_bytes());
    let r = import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap();
    assert_eq!((r.rows_total, r.rows_imported, r.rows_failed), (5, 4, 1));
    assert_eq!(
        (
            r.counts.leads_created,
            r.counts.contacts_created,
            r.counts.notes_created
        ),
        (3, 4, 1)
    );
    assert_eq!(r.created_fields, ["Employees"]);
    assert_eq!(r.problems[0].line, 6, "the line where the record starts");
    assert_eq!(r.problems[0].column.as_deref(), Some("Email"));
    let acme = s.leads_named("Acme Inc").await.unwrap().remove(0);
    assert_eq!(acme.url.as_deref(), Some("https://acme.com/"));
    assert_eq!(acme.custom["Employees"], serde_json::json!(120));
    assert_eq!(
        rapport_core::time::fmt(&acme.date_created),
        "2024-01-31T00:00:00.000Z"
    );
    let page = s.lead_page(acme.id).await.unwrap();
    let emails: Vec<&str> = page
        .contacts
        .iter()
        .map(|c| c.emails[0].email.as_str())
        .collect();
    assert_eq!(emails, ["ann@acme.com", "bob@acme.com"]);
    assert_eq!(page.contacts[0].phones[0].phone, "+14155550123");
    assert!(page.timeline.iter().any(|a| matches!(&a.kind, rapport_core::ActivityKind::Note(n) if n.note == "first line\nsecond line")));
    assert_eq!(
        s.leads_named("Carla Diaz").await.unwrap().len(),
        1,
        "a row without a company is a lead named after its contact"
    );
    let globex = s.leads_named("Globex").await.unwrap().remove(0);
    assert_eq!(globex.custom["Employees"], serde_json::json!(1200));
    let errors = std::fs::read_to_string(dir.path().join("leads.errors.csv")).unwrap();
    assert_eq!(
        r.errors_file.as_deref(),
        Some(dir.path().join("leads.errors.csv").to_str().unwrap())
    );
    let mut lines = errors.lines();
    assert_eq!(
        lines.next(),
        Some("Company,Contact Name,Email,Phone,Website,Employees,Notes,Created Date,_line,_error")
    );
    assert_eq!(
        lines.next(),
        Some(
            "Globex,Dan Brown,not-an-email,,globex.com,5,,,6,`not-an-email` is not a valid email address (column `Email`)"
        )
    );
    // Imported rows reach the outbox (sync, search index).
    // A new store has 6 (its user, 5 statuses); then 3 leads, 4 contacts, 1 note, 1 field.
    assert_eq!(s.stats().await.unwrap().outbox, 6 + 3 + 4 + 1 + 1);
}

#[tokio::test]
async fn reimport_updates_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let path = file(&dir, "leads.csv", SAMPLE.as_bytes());
    import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap();
    let again = import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap();
    assert_eq!(again.counts.leads_created, 0);
    assert_eq!(again.counts.contacts_created, 0);
    assert_eq!(again.counts.leads_unchanged, 3);
    assert_eq!(again.counts.contacts_skipped, 4);
    let more = "Company,Website,Status,Contact Name,Email,Title\n\
        ACME INC,https://acme.com,Qualified,Ann Smith,ann@acme.com,CEO\n\
        Acme Inc,acme.com,,Finn Ray,finn@acme.com,\n\
        Initech,,Hot,Peter Gibbons,carla@gmail.com,\n";
    let path2 = file(&dir, "more.csv", more.as_bytes());
    let r = import(&s, &path2, CsvImportOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (r.counts.leads_created, r.counts.leads_updated),
        (0, 2),
        "{r:?}"
    );
    assert_eq!(
        (r.counts.contacts_created, r.counts.contacts_updated),
        (1, 1)
    );
    assert_eq!(r.created_statuses, ["Hot"]);
    assert_eq!(s.lead_count().await.unwrap(), 3);
    let acme = s.leads_named("Acme Inc").await.unwrap().remove(0);
    assert_eq!(acme.status_label, "Qualified");
    let page = s.lead_page(acme.id).await.unwrap();
    assert_eq!(page.contacts.len(), 3);
    assert_eq!(page.contacts[0].title.as_deref(), Some("CEO"));
    // Matching by email only: the Initech row joined Carla's lead; by name only it would not.
    let only_name = CsvImportOptions {
        match_on: Some(vec![MatchKey::Name]),
        ..Default::default()
    };
    let path3 = file(
        &dir,
        "third.csv",
        b"Company,Email\nUmbrella,carla@gmail.com\n",
    );
    let r = import(&s, &path3, only_name).await.unwrap();
    assert_eq!(r.counts.leads_created, 1);
}

#[tokio::test]
async fn dry_run_previews_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let path = file(&dir, "leads.csv", SAMPLE.as_bytes());
    let before = s.stats().await.unwrap();
    let opts = CsvImportOptions {
        dry_run: true,
        ..Default::default()
    };
    let r = import(&s, &path, opts).await.unwrap();
    assert_eq!(r.counts.leads_created, 3);
    assert_eq!(r.preview.len(), 3);
    assert_eq!(r.preview[0].lead.name, "Acme Inc");
    assert_eq!(r.preview[0].contacts.len(), 2);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.created_fields, ["Employees"]);
    let after = s.stats().await.unwrap();
    assert_eq!((before.leads, before.outbox), (after.leads, after.outbox));
    assert!(s.fields().await.unwrap().is_empty());
    assert!(!dir.path().join("leads.errors.csv").exists());
    assert!(r.import_id.is_none());
}

#[tokio::test]
async fn encodings_and_delimiters_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let text = "Company;Contact Name;Email\nZoë Café;José Núñez;jose@zoe-j.fr\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let mut utf16be = vec![0xFE, 0xFF];
    utf16be.extend(
        text.replace("Zoë", "Zoé")
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes()),
    );
    let latin = text.replace(';', "\t").replace("Zoë", "Zoè");
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&latin);
    let bom = format!("\u{feff}{}", text.replace(';', "|").replace("Zoë", "Zoâ"));
    for (name, bytes, enc, delim, company) in [
        ("a.csv", utf16, "UTF-16LE", ";", "Zoë Café"),
        ("b.csv", utf16be, "UTF-16BE", ";", "Zoé Café"),
        (
            "c.csv",
            cp1252.into_owned(),
            "windows-1252",
            "tab",
            "Zoè Café",
        ),
        ("d.csv", bom.into_bytes(), "UTF-8", "|", "Zoâ Café"),
    ] {
        // One email (and email domain) per file, or the rows would merge into the first lead.
        let bytes: Vec<u8> = bytes
            .iter()
            .map(|b| if *b == b'j' { name.as_bytes()[0] } else { *b })
            .collect();
        let path = file(&dir, name, &bytes);
        let p = preview_csv(&path, 5).unwrap();
        assert_eq!(
            (p.encoding.as_str(), p.delimiter.as_str()),
            (enc, delim),
            "{name}"
        );
        assert_eq!(p.headers, ["Company", "Contact Name", "Email"], "{name}");
        let r = import(&s, &path, CsvImportOptions::default())
            .await
            .unwrap();
        assert_eq!(r.counts.leads_created, 1, "{name}");
        let lead = s.leads_named(company).await.unwrap().remove(0);
        let contact = &s.lead_page(lead.id).await.unwrap().contacts[0];
        assert!(contact.name.ends_with("osé Núñez"), "{}", contact.name);
    }
}

async fn counts(s: &Store) -> (i64, i64) {
    let st = s.stats().await.unwrap();
    (st.leads, st.contacts)
}

#[tokio::test]
async fn cancelled_import_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.csv");
    let gen_ = generate_bench_csv(&path, 300, 3).unwrap();
    assert!(gen_.rows > 600);
    let clean = store(&dir, "clean.db").await;
    let opts = CsvImportOptions {
        chunk_rows: 60,
        ..Default::default()
    };
    let full = import(&clean, &path, opts.clone()).await.unwrap();
    assert!(
        full.counts.leads_created > 290,
        "{:?}",
        full.problems.first()
    );
    let s = store(&dir, "s.db").await;
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    let stop_early = move |p: &Progress| {
        if p.phase == Phase::Importing && p.rows_done > 200 {
            c.store(true, Ordering::Relaxed);
        }
    };
    let first = import_csv(&s, &path, None, &opts, &stop_early, cancel)
        .await
        .unwrap();
    assert!(
        first.cancelled && first.counts.leads_created < full.counts.leads_created,
        "{first:?}"
    );
    let (leads, _) = counts(&s).await;
    assert_eq!(
        leads as u64, first.counts.leads_created,
        "every committed chunk is whole"
    );
    let resumed = import(
        &s,
        &path,
        CsvImportOptions {
            resume: true,
            ..opts.clone()
        },
    )
    .await
    .unwrap();
    assert!(resumed.resumed && !resumed.cancelled);
    assert_eq!(
        resumed.counts.leads_updated, 0,
        "its own leads are not counted as updated"
    );
    assert_eq!(
        resumed.counts, full.counts,
        "the summary covers the whole file"
    );
    assert_eq!(counts(&s).await, counts(&clean).await);
    assert_eq!(resumed.rows_failed, full.rows_failed);
    let errors = std::fs::read(dir.path().join("bench.errors.csv")).unwrap();
    assert_eq!(
        records(&errors).len() as u64,
        full.rows_failed,
        "no error line twice"
    );
    let again = import(
        &s,
        &path,
        CsvImportOptions {
            resume: true,
            ..opts.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), "csv_resume");
    // Importing the same messy file again changes nothing: every row finds its lead.
    let same = import(&s, &path, opts).await.unwrap();
    let c = same.counts;
    assert_eq!(
        (
            c.leads_created,
            c.leads_updated,
            c.contacts_created,
            c.contacts_updated
        ),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.leads_unchanged, full.counts.leads_created);
    assert_eq!(counts(&s).await, counts(&clean).await);
}

#[tokio::test]
async fn a_dropped_import_leaves_whole_chunks_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.csv");
    generate_bench_csv(&path, 200, 9).unwrap();
    let opts = CsvImportOptions {
        chunk_rows: 40,
        ..Default::default()
    };
    let clean = store(&dir, "clean.db").await;
    import(&clean, &path, opts.clone()).await.unwrap();
    let s = store(&dir, "s.db").await;
    let notify = Arc::new(tokio::sync::Notify::new());
    let n2 = notify.clone();
    let on_progress = move |p: &Progress| {
        if p.phase == Phase::Importing && p.rows_done > 150 {
            n2.notify_one();
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    tokio::select! {
        _ = import_csv(&s, &path, None, &opts, &on_progress, cancel) => panic!("should have been dropped"),
        _ = notify.notified() => {}
    }
    // As after a kill: the open transaction is gone, the process starts again.
    s.close().await;
    let s = store(&dir, "s.db").await;
    let (leads, contacts) = counts(&s).await;
    assert!(leads > 0 && leads < 200);
    let page = s.list_leads(0, 10_000).await.unwrap();
    assert_eq!(
        page.iter().map(|l| l.contacts).sum::<i64>(),
        contacts,
        "aggregates match rows"
    );
    import(
        &s,
        &path,
        CsvImportOptions {
            resume: true,
            ..opts
        },
    )
    .await
    .unwrap();
    assert_eq!(counts(&s).await, counts(&clean).await);
}

#[tokio::test]
async fn export_then_import_reproduces_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a.db").await;
    let now = rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap();
    let statuses: Vec<String> = rapport_core::DEFAULT_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let user = a.local_user().await.unwrap().id;
    let app_fields = rapport_core::demo::field_defs(&mut rapport_core::ops::Rng(1), now);
    let mut w = a.begin_write().await.unwrap();
    for f in app_fields {
        let (_, plan) =
            rapport_core::ops::add_field(&f.name, f.kind, f.applies_to, f.choices, &mut w.ctx)
                .unwrap();
        w.apply(plan).await.unwrap();
    }
    w.commit().await.unwrap();
    let bundles: Vec<_> = (0..60)
        .map(|n| {
            let mut b = rapport_core::demo::lead(4, n, now, &statuses, Some(user));
            let mut seen = std::collections::HashSet::new();
            b.contacts
                .retain(|c| seen.insert(c.emails[0].email.clone()));
            for c in &mut b.contacts {
                let mut phones = std::collections::HashSet::new();
                c.phones.retain(|p| phones.insert(p.phone.clone()));
            }
            if n % 10 == 0 {
                b.contacts.clear();
            }
            b
        })
        .collect();
    a.write_bundles(bundles).await.unwrap();
    let mut first = Vec::new();
    let rep = export_csv(&a, &mut first).await.unwrap();
    assert_eq!(rep.leads, 60);
    let path = file(&dir, "export.csv", &first);
    let b = store(&dir, "b.db").await;
    let r = import(&b, &path, CsvImportOptions::default())
        .await
        .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.counts.leads_created, 60);
    let mut second = Vec::new();
    export_csv(&b, &mut second).await.unwrap();
    for (x, y) in records(&first).iter().zip(records(&second).iter()) {
        if x != y {
            let d: Vec<_> = x
                .iter()
                .filter(|(k, v)| y.get(*k) != Some(v))
                .map(|(k, v)| (k, v, y.get(k)))
                .collect();
            panic!("{} vs {}: {d:?}", x["Company"], y["Company"]);
        }
    }
    assert_eq!(records(&first), records(&second));
}

/// Fails on the old code (cells were written as they are). Formula-like cells get a leading
/// `'`; plain numbers (negative values, E.164 phones) are left alone; importing the export
/// gives the values back.
#[tokio::test]
async fn csv_export_neutralises_formulas_and_the_import_reverses_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a.db").await;
    let mut w = a.begin_write().await.unwrap();
    let (_, plan) = rapport_core::ops::add_field(
        "Balance",
        rapport_core::FieldType::Number,
        rapport_core::FieldTarget::Lead,
        vec![],
        &mut w.ctx,
    )
    .unwrap();
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    let path = file(
        &dir,
        "in.csv",
        "Company,Description,City,Balance,Contact Name,Title,Phone\n\
         \"=cmd|' /C calc'!A0\",+1+2,-2+3,-5,Ann,@SUM(A1),+14155550123\n"
            .as_bytes(),
    );
    import(&a, &path, CsvImportOptions::default())
        .await
        .unwrap();
    let mut out = Vec::new();
    export_csv(&a, &mut out).await.unwrap();
    let rows = records(&out);
    let row = &rows[0];
    assert_eq!(row["Company"], "'=cmd|' /C calc'!A0");
    assert_eq!(row["Description"], "'+1+2");
    assert_eq!(row["City"], "'-2+3");
    assert_eq!(
        row["custom.Balance"], "-5",
        "a negative number stays a number"
    );
    assert_eq!(row["Title"], "'@SUM(A1)");
    assert_eq!(row["Phone"], "+14155550123", "an E.164 number is a number");
    for (cell, want) in [
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-", "'-"),
        ("+", "'+"),
        ("1-2", "1-2"),
        ("-0.5", "-0.5"),
        ("-.5", "'-.5"),
    ] {
        assert_eq!(export::neutralise(cell), want, "{cell:?}");
    }
    let path = file(&dir, "export.csv", &out);
    let b = store(&dir, "b.db").await;
    import(&b, &path, CsvImportOptions::default())
        .await
        .unwrap();
    let lead = b.leads_named("=cmd|' /C calc'!A0").await.unwrap().remove(0);
    assert_eq!(lead.description.as_deref(), Some("+1+2"));
    assert_eq!(lead.addresses[0].city.as_deref(), Some("-2+3"));
    assert_eq!(lead.custom["Balance"], serde_json::json!(-5));
    let contact = &b.lead_page(lead.id).await.unwrap().contacts[0];
    assert_eq!(contact.title.as_deref(), Some("@SUM(A1)"));
}

fn records(bytes: &[u8]) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = ::csv::Reader::from_reader(bytes);
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|x| {
            h.iter()
                .zip(x.unwrap().iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn mappings_round_trip_as_json() {
    let headers: Vec<String> = ["Company", "E-mail", "Employees", "Lead ID"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sample = vec![vec![
        "Acme".into(),
        "a@acme.com".into(),
        "12".into(),
        "x".into(),
    ]];
    let m = mapping::suggest(&headers, &sample, UnknownColumns::Custom);
    let json = m.to_json();
    assert!(json.contains("\"Company\": \"lead.name\""), "{json}");
    assert!(
        json.contains("\"E-mail\": \"contact.email.office\""),
        "{json}"
    );
    assert!(
        json.contains("\"Employees\": \"lead.custom.Employees\""),
        "{json}"
    );
    assert!(json.contains("\"Employees\": \"number\""), "{json}");
    assert!(json.contains("\"Lead ID\": \"skip\""), "{json}");
    assert_eq!(Mapping::from_json(&json).unwrap(), m);
    let mut skipping = m.clone();
    skipping.skip_unknown();
    assert_eq!(skipping.columns["Employees"], Target::Skip);
    assert_eq!(skipping.columns["Company"], Target::LeadName);
    let e = Mapping::from_json(r#"{"columns": {"A": "lead.nmae"}}"#).unwrap_err();
    assert_eq!(e.code(), "csv_mapping");
    assert!(e.to_string().contains("unknown target `lead.nmae`"));
}
