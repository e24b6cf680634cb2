//! The power commands end to end through the `rapport` binary: a bulk status change and its
//! undo compared by export, bad bulk input refused with nothing written, a merge of two
//! leads a CSV import created (found as possible duplicates), and a report as JSON.

use rapport_tests::rapport;

fn run(db: &std::path::Path, args: &[&str]) -> String {
    let (code, out, err) = rapport(db, args).unwrap();
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn json(db: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&run(db, &a)).unwrap()
}

#[test]
fn bulk_undo_merge_and_reports_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("p.db");
    run(&db, &["demo", "--leads", "300", "--seed", "2"]);
    let before = run(&db, &["export", "--format", "jsonl"]);
    let n = json(&db, &["search", "not status:cold", "--limit", "0"])["total"].clone();
    let out = run(&db, &["bulk", "not status:cold", "--set", "status=cold"]);
    assert_eq!(
        out.trim(),
        format!("changed {n} leads ({} records)", 2 * n.as_u64().unwrap())
    );
    assert_eq!(
        json(&db, &["search", "status:cold", "--limit", "0"])["total"],
        300
    );
    // Bad input: refused, one line, nothing written.
    let seq = json(&db, &["info"])["stats"]["outbox"].clone();
    for (args, expect) in [
        (
            vec!["bulk", "", "--set", "status=Hot"],
            "unknown status `Hot`",
        ),
        (
            vec!["bulk", "", "--set", "custom.Nope=1"],
            "no custom field `Nope`",
        ),
        (
            vec!["bulk", "", "--set", "stage=1"],
            "cannot bulk-set `stage`",
        ),
        (
            vec!["bulk", "", "--delete", "--add-task", "x"],
            "exactly one of",
        ),
    ] {
        let (code, _, err) = rapport(&db, &args).unwrap();
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains(expect) && err.trim().lines().count() == 1,
            "{err}"
        );
    }
    assert_eq!(json(&db, &["info"])["stats"]["outbox"], seq);
    let undo = run(&db, &["undo"]);
    assert!(undo.starts_with("undid “Change status to Cold"), "{undo}");
    assert_eq!(
        run(&db, &["export", "--format", "jsonl"]),
        before,
        "undo restores the export"
    );

    // Two leads from one CSV import (different domains, so the import keeps both).
    let csv = d.path().join("dupes.csv");
    std::fs::write(
        &csv,
        "company,url,contact,email\nZorblax Inc,zorblax.com,Ann Lee,ann@zorblax.com\nZorblax LLC,zorblax.io,Bob Roe,bob@zorblax.io\n",
    )
    .unwrap();
    run(&db, &["import", csv.to_str().unwrap()]);
    let groups = json(&db, &["lead", "duplicates"]);
    let group = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["leads"][0][1]
                .as_str()
                .unwrap_or("")
                .starts_with("Zorblax")
        })
        .expect("the two imported leads are possible duplicates");
    assert_eq!(group["reason"], "name");
    let (a, b) = (
        group["leads"][0][0].as_str().unwrap(),
        group["leads"][1][0].as_str().unwrap(),
    );
    let (code, _, err) = rapport(&db, &["lead", "merge", a, a]).unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("cannot be merged with itself"), "{err}");
    let merged = json(&db, &["lead", "merge", a, b]);
    assert_eq!(merged["id"], a);
    let page = json(&db, &["lead", "show", b]);
    assert_eq!(
        page["lead"]["id"], a,
        "the merged id resolves to the survivor"
    );
    assert_eq!(page["contacts"].as_array().unwrap().len(), 2);

    let report = json(&db, &["report", "pipeline", "--query", "status:customer"]);
    let all = json(&db, &["report", "pipeline"]);
    assert!(report["value"].as_i64().unwrap() < all["value"].as_i64().unwrap());
    let calls = json(&db, &["report", "calls"]);
    assert!(calls["total"].as_i64().unwrap() > 0);
    let funnel = json(&db, &["report", "funnel"]);
    assert_eq!(funnel["current"][0]["status"], "Potential");
}
