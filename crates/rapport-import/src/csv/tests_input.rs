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

/// Imports `content` as `in.csv` (CRLF or not); the problems' (line, column, reason) and the
/// error file's `_line` column.
async fn problems(
    content: &[u8],
) -> (
    ImportSummary,
    Vec<String>,
    rapport_store::Store,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let path = file(&dir, "in.csv", content);
    let r = import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap();
    let errors = std::fs::read(dir.path().join("in.errors.csv")).unwrap_or_default();
    let mut rdr = ::csv::Reader::from_reader(&errors[..]);
    let lines = rdr
        .records()
        .map(|r| r.unwrap().iter().rev().nth(1).unwrap().to_string())
        .collect();
    (r, lines, s, dir)
}

/// Fails on the old code: one 2 MiB field stopped the whole import (`csv_too_long`).
#[tokio::test]
async fn a_record_over_the_cap_is_rejected_and_the_rest_imports() {
    let mut big = b"Company,Notes\nAcme,ok\nGlobex,\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    big.extend(b"\"\nInitech,late\nHooli,\"two\nlines\"\n");
    let (r, lines, s, _dir) = problems(&big).await;
    assert_eq!(r.rows_failed, 1);
    assert_eq!(r.problems[0].line, 3);
    assert!(
        r.problems[0].reason.contains("longer than 1024 KiB"),
        "{}",
        r.problems[0].reason
    );
    assert_eq!(lines, ["3"]);
    assert_eq!(r.counts.leads_created, 3, "Acme, Initech, Hooli");
    assert_eq!(s.leads_named("Initech").await.unwrap().len(), 1);
}

/// Fails on the old code: reported as a column-count error (or a record over the cap).
#[tokio::test]
async fn an_unterminated_quote_names_the_line_it_opened_on() {
    for n in [3, 40_000] {
        let mut open = b"Company,Notes\r\nAcme,fine\r\nGlobex,\"never closed\r\n".to_vec();
        for _ in 0..n {
            open.extend(b"Initech,some text on many lines\r\n");
        }
        let (r, lines, _, _) = problems(&open).await;
        assert_eq!(r.rows_failed, 1, "{n}");
        assert_eq!(r.problems[0].line, 3);
        assert!(
            r.problems[0]
                .reason
                .starts_with("unterminated quote opened on line 3"),
            "{}",
            r.problems[0].reason
        );
        assert_eq!(lines, ["3"]);
        assert_eq!(r.counts.leads_created, 1, "Acme");
    }
    // A quote that another quote closes many lines later: the column-count error says where.
    let (r, _, _, _) = problems(b"Company,Notes,City\nAcme,\"open\nGlobex,x,y\nInitech,\"\n").await;
    assert!(
        r.problems[0]
            .reason
            .contains("a quoted value runs from line 2 to line 4"),
        "{:?}",
        r.problems
    );
}

/// Fails on the old code: with CRLF line ends every line was reported one too low, in the
/// summary and in `FILE.errors.csv`.
#[tokio::test]
async fn crlf_files_report_the_same_lines_as_lf_files() {
    let lf = "Company,Email\nAcme,a@acme.com\nGlobex,not-an-email\n\"Multi\nLine\",b@x.com\nHooli,bad@\n";
    for text in [
        lf.to_string(),
        lf.replace('\n', "\r\n"),
        lf.replace('\n', "\r"),
    ] {
        let (r, lines, _, _) = problems(text.as_bytes()).await;
        let got: Vec<u64> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(got, [3, 6], "{text:?}");
        assert_eq!(lines, ["3", "6"], "{text:?}");
    }
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
