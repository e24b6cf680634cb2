//! The `rapport` binary end to end: every bad input gets a one-line error and a non-zero exit
//! with nothing written; export/import round-trips; demo data is deterministic.

use rapport_tests::rapport;

fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cli.db");
    (d, p)
}

#[test]
fn bad_input_is_a_one_line_error_and_writes_nothing() {
    let (_d, db) = store();
    let (code, out, _) = rapport(&db, &["--json", "lead", "add", "Acme"]).unwrap();
    assert_eq!(code, 0);
    let lead: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = lead["id"].as_str().unwrap().to_string();
    let (_, before, _) = rapport(&db, &["--json", "info"]).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["contact", "add", "Acme", "Ann", "--email", "ann@"],
            "field `emails[0].email`",
        ),
        (
            &["contact", "add", "Acme", "Ann", "--phone", "12"],
            "field `phones[0].phone`",
        ),
        (
            &["lead", "edit", "Acme", "--url", "javascript:alert(1)"],
            "field `url`",
        ),
        (
            &["lead", "edit", "Acme", "--status", "Hot"],
            "unknown status `Hot`",
        ),
        (&["note", "add", "No Such Lead", "hello"], "no lead"),
        (
            &["task", "add", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x"],
            "no lead",
        ),
        (&["task", "done", "not-an-id"], "not a task id"),
        (
            &["call", "log", "Acme", "--at", "last tuesday"],
            "is not a time",
        ),
        (
            &["opportunity", "add", "Acme", "--confidence", "150"],
            "confidence",
        ),
        (&["lead", "add", "   "], "must not be empty"),
    ];
    for (args, expect) in cases {
        let (code, _, err) = rapport(&db, args).unwrap();
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{args:?}: {err:?}"
        );
        assert!(
            err.contains(expect),
            "{args:?}: expected `{expect}` in {err:?}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (_, after, _) = rapport(&db, &["--json", "info"]).unwrap();
    let outbox =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["stats"]["outbox"].clone();
    assert_eq!(
        outbox(&before),
        outbox(&after),
        "no failed command wrote anything"
    );
    let (code, out, _) = rapport(&db, &["--json", "lead", "show", &id]).unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["contacts"],
        serde_json::json!([])
    );
}

#[test]
fn demo_is_deterministic_and_export_import_round_trips() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        d.path().join("a.db"),
        d.path().join("b.db"),
        d.path().join("c.db"),
    );
    for db in [&a, &b] {
        let (code, _, err) = rapport(
            db,
            &[
                "demo",
                "--leads",
                "120",
                "--seed",
                "7",
                "--now",
                "2026-01-01T00:00:00Z",
            ],
        )
        .unwrap();
        assert_eq!(code, 0, "{err}");
    }
    let export = |db: &std::path::Path| rapport(db, &["export", "--format", "jsonl"]).unwrap().1;
    let (ea, eb) = (export(&a), export(&b));
    // Lead lines: the same for the same seed, and again after export → import; definition
    // lines carry each store's own ids and are compared in
    // rapport-import's `the_export_is_a_complete_backup` (a new store keeps its own user
    // and its default statuses' ids).
    let leads = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("\"_record\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    assert_eq!(
        ea.lines().filter(|l| !l.contains("\"_record\"")).count(),
        120
    );
    // Everything but the store's own user id is a function of the seed and `now`.
    let user = |db: &std::path::Path| {
        let info: serde_json::Value =
            serde_json::from_str(&rapport(db, &["--json", "info"]).unwrap().1).unwrap();
        info["info"]["user"]["id"].as_str().unwrap().to_string()
    };
    assert!(
        leads(&ea) == leads(&eb.replace(&user(&b), &user(&a))),
        "same seed and now, same data"
    );
    let file = d.path().join("a.jsonl");
    std::fs::write(&file, &ea).unwrap();
    let (code, _, err) = rapport(&c, &["import", file.to_str().unwrap()]).unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        leads(&export(&c)) == leads(&ea),
        "export → import → export is lossless"
    );

    let bad = d.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"nope\": 1}\nnot json\n").unwrap();
    let (code, out, err) = rapport(&c, &["import", bad.to_str().unwrap()]).unwrap();
    assert_eq!(code, 1);
    assert!(
        out.contains("line 1:") && out.contains("line 2: malformed JSON"),
        "{out}"
    );
    assert!(
        err.contains("nothing was imported: 2 lines were rejected"),
        "{err}"
    );
}

#[test]
fn note_body_comes_from_argument_file_or_stdin() {
    let (d, db) = store();
    rapport(&db, &["lead", "add", "Acme"]).unwrap();
    let file = d.path().join("n.md");
    std::fs::write(&file, "from a *file*").unwrap();
    assert_eq!(
        rapport(&db, &["note", "add", "Acme", "from an argument"])
            .unwrap()
            .0,
        0
    );
    assert_eq!(
        rapport(
            &db,
            &["note", "add", "Acme", "--file", file.to_str().unwrap()]
        )
        .unwrap()
        .0,
        0
    );
    let mut child = std::process::Command::new(rapport_tests::bin("rapport").unwrap())
        .args([
            "--db",
            db.to_str().unwrap(),
            "note",
            "add",
            "Acme",
            "--at",
            "2024-02-01",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let page: serde_json::Value =
        serde_json::from_str(&rapport(&db, &["--json", "lead", "show", "Acme"]).unwrap().1)
            .unwrap();
    let notes: Vec<&str> = page["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["from a *file*", "from an argument", "from stdin"]);
    assert_eq!(
        page["timeline"][2]["activity_at"], "2024-02-01T00:00:00.000Z",
        "--at backdates"
    );
}
