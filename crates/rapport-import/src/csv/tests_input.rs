//! Bad input is refused with a clear error before anything is written: empty, header-only,
//! binary, a record over the length cap (tested with 2 MiB, not 2 GB), duplicate headers, a
//! mapping naming a missing column; and bad lines are reported with their line number.

use super::tests::{file, import, store};
use super::*;

async fn refused(content: &[u8], code: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let before = s.stats().await.unwrap();
    let path = file(&dir, "in.csv", content);
    let e = import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(needle), "`{e}` lacks `{needle}`");
    let after = s.stats().await.unwrap();
    assert_eq!(
        (before.leads, before.outbox),
        (after.leads, after.outbox),
        "nothing written"
    );
    assert!(s.fields().await.unwrap().is_empty());
    assert!(!dir.path().join("in.errors.csv").exists());
}

#[tokio::test]
async fn empty_header_only_and_binary_files() {
    refused(b"", "csv_empty", "is empty").await;
    refused(b" \n\n \r\n", "csv_empty", "is empty").await;
    refused(b"Company,Email\n", "csv_no_rows", "header but no rows").await;
    refused(
        b"PK\x03\x04\x14\x00\x06\x00",
        "csv_binary",
        "save it as CSV",
    )
    .await;
    let mut junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    junk[10] = 0;
    refused(&junk, "csv_binary", "binary").await;
}

#[tokio::test]
async fn a_record_over_the_cap_fails_before_anything_is_written() {
    let mut big = b"Company,Notes\nAcme,ok\nGlobex,fine\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    big.extend(b"\nInitech,late\n");
    refused(&big, "csv_too_long", "line 4").await;
    // An unclosed quote swallows the rest of the file: the cap catches it too.
    let mut open = b"Company,Notes\nAcme,\"never closed\n".to_vec();
    for _ in 0..40_000 {
        open.extend(b"Globex,some text on many lines\n");
    }
    refused(&open, "csv_too_long", "quote left open").await;
}

#[tokio::test]
async fn header_and_mapping_problems() {
    refused(
        b"Company,Email,email\nAcme,a@acme.com,b@acme.com\n",
        "csv_header",
        "`email` twice",
    )
    .await;
    refused(
        b"ann@acme.com,Acme\nbob@x.com,Globex\n",
        "csv_header",
        "looks like data",
    )
    .await;
    refused(
        b"Employees,Revenue\n12,100\n",
        "csv_mapping",
        "no column is mapped",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let path = file(&dir, "in.csv", b"Company,Email\nAcme,a@acme.com\n");
    let m = Mapping::from_json(r#"{"columns": {"Company": "lead.name", "Mail": "contact.email"}}"#)
        .unwrap();
    let e = import_csv(
        &s,
        &path,
        Some(m),
        &CsvImportOptions::default(),
        &|_| {},
        Default::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "csv_mapping");
    assert!(
        e.to_string().contains("`Mail`") && e.to_string().contains("Company, Email"),
        "{e}"
    );
    assert_eq!(s.lead_count().await.unwrap(), 0);
    // `--resume` with nothing to resume says so and imports from the start (it failed before).
    let r = import(
        &s,
        &path,
        CsvImportOptions {
            resume: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!r.resumed);
    assert!(
        r.notice
            .as_deref()
            .is_some_and(|n| n.contains("importing it from the start")),
        "{:?}",
        r.notice
    );
    assert_eq!(s.lead_count().await.unwrap(), 1);
}

#[tokio::test]
async fn bad_lines_are_reported_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let text = "Company,Email,Created,Phone,Status\n\
        Acme,a@acme.com,2024-01-01,,\n\
        Globex,b@globex.com\n\
        Initech,c@initech.com,someday,,\n\
        \"Multi\nLine Inc\",d@multi.com,,call me,\n\
        Hooli,e@hooli.com,,,Potential,extra\n\
        Umbrella,f@umbrella.com,,,,\n";
    let path = file(&dir, "in.csv", text.as_bytes());
    let r = import(
        &s,
        &path,
        CsvImportOptions {
            chunk_rows: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let got: Vec<(u64, Option<&str>)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.column.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (3, None),
            (4, Some("Created")),
            (5, Some("Phone")),
            (7, None)
        ]
    );
    assert!(
        r.problems[0]
            .reason
            .contains("has 2 columns, the header has 5")
    );
    assert!(r.problems[1].reason.contains("`someday` is not a date"));
    assert_eq!(r.counts.leads_created, 2);
}
