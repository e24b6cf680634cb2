//! The CSV import wizard as a user uses it: a path, a preview with mapping drop-downs, a run,
//! the summary — and the imported leads in the list; and a large import's effect on an open
//! search. Screenshots go to the artifacts directory. And `rapport import` killed with
//! SIGKILL at random moments, then `--resume`d: it ends as the uninterrupted import.

use anyhow::Result;
use fantoccini::{Client, Locator};
use rapport_tests::*;
use std::time::{Duration, Instant};

async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

/// Opens the wizard on `csv` and asks for its preview.
async fn open_preview(c: &Client, csv: &std::path::Path) -> Result<()> {
    wait_css(c, "[data-testid=import-open-button]", 10)
        .await?
        .click()
        .await?;
    let input = wait_css(c, "[data-testid=import-path]", 10).await?;
    input.clear().await?;
    input.send_keys(&csv.display().to_string()).await?;
    wait_css(c, "[data-testid=import-preview-button]", 5)
        .await?
        .click()
        .await?;
    Ok(())
}

const CSV: &str = "Company,Contact,Email,Phone,City,Lead Source
Acme Rockets,Ann Lee,ann@acmerockets.com,+1 415 555 0101,San Francisco,web
Globex Corp,Bo Chen,bo@globex.com,+1 212 555 0102,New York,fair
Initech,Cy Diaz,not-an-email,+1 512 555 0103,Austin,web
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_wizard_previews_maps_and_imports_a_csv() -> Result<()> {
    let demo = open_demo(50).await?;
    let c = demo.client.clone();
    let csv = demo.dir.path().join("leads.csv");
    std::fs::write(&csv, CSV)?;

    open_preview(&c, &csv).await?;
    wait_css(&c, "[data-testid=import-preview]", 10).await?;
    eventually(10, "the preview rows", || async {
        let js = "return document.querySelector('[data-testid=import-preview] tbody').textContent";
        let table = c
            .execute(js, vec![])
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(table.contains("Acme Rockets") && table.contains("ann@acmerockets.com"))
    })
    .await?;
    let selects = c.find_all(Locator::Css("[data-testid=import-map]")).await?;
    assert_eq!(selects.len(), 6, "one mapping drop-down per column");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    screenshot(&c, "20-import-preview.png").await?;

    wait_css(&c, "[data-testid=import-run]", 5)
        .await?
        .click()
        .await?;
    let summary = wait_css(&c, "[data-testid=import-summary]", 30)
        .await?
        .text()
        .await?;
    assert!(summary.contains("Import finished"), "{summary}");
    screenshot(&c, "21-import-summary.png").await?;
    eventually(10, "the imported leads in the count", || async {
        Ok(text(&c, "[data-testid=lead-count]")
            .await?
            .trim()
            .parse::<u64>()?
            > 50)
    })
    .await?;
    c.close().await?;
    Ok(())
}

/// A large file (bulk mode) with a search open: while it imports, the list says its results
/// are the leads indexed so far; once it has finished, the note goes and the imported leads
/// are found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_import_marks_open_search_results_as_partial() -> Result<()> {
    let _machine = machine().await;
    let demo = open_demo(50).await?;
    let c = demo.client.clone();
    let csv = demo.dir.path().join("big.csv");
    let info = rapport_import::csv::generate_bench_csv(&csv, 15_000, 7)?;
    assert!(std::fs::metadata(&csv)?.len() > 4 << 20, "{info:?}");

    wait_css(&c, "[data-testid=search-input]", 10).await?;
    paste_query(&c, "has:contacts").await?;
    eventually(10, "the search's count", || async {
        Ok(text(&c, "[data-testid=lead-count]").await?.trim() == "50")
    })
    .await?;

    open_preview(&c, &csv).await?;
    wait_css(&c, "[data-testid=import-run]", 20)
        .await?
        .click()
        .await?;
    eventually(60, "the partial-results note during the import", || async {
        Ok(!c
            .find_all(Locator::Css("[data-testid=search-stale]"))
            .await?
            .is_empty())
    })
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    screenshot(&c, "22-search-during-import.png").await?;
    wait_css(&c, "[data-testid=import-summary]", 300).await?;
    eventually(20, "the note gone and the imported leads found", || async {
        let gone = c
            .find_all(Locator::Css("[data-testid=search-stale]"))
            .await?
            .is_empty();
        let n: u64 = text(&c, "[data-testid=lead-count]").await?.trim().parse()?;
        Ok(gone && n > 50)
    })
    .await?;
    c.close().await?;
    Ok(())
}

/// The file (20,000 companies in Windows-1252, `;`-separated; companies *c* and
/// *c*+10,000 share a phone number): imported whole it is 20,000 leads; killed with SIGKILL
/// at random moments (twice per case: the first run and the first resumed run) and finished
/// with `--resume`, it exports the same leads. Fails on the old code (10,002–17,504 leads).
#[test]
fn a_cli_import_killed_at_random_moments_resumes_to_the_uninterrupted_result() -> Result<()> {
    let _machine = machine_blocking();
    let t0 = chrono::Utc::now();
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("switchboard.csv");
    let info = rapport_import::csv::generate_switchboard_csv(&csv, 20_000)?;
    assert_eq!(info.rows, 39_999);
    let file = csv.to_str().unwrap_or_default();
    let export = |db: &std::path::Path| -> Result<Vec<String>> {
        let (code, out, err) = rapport(db, &["export", "--format", "jsonl"])?;
        anyhow::ensure!(code == 0, "{err}");
        Ok(rapport_import::csv::comparable_export(&out, t0))
    };
    let clean = dir.path().join("clean.db");
    let started = Instant::now();
    let (code, _, err) = rapport(&clean, &["import", file])?;
    assert_eq!(code, 0, "{err}");
    let whole = started.elapsed();
    let want = export(&clean)?;
    assert_eq!(want.len(), 20_000, "one lead per company");
    // Kill points spread over the import's own duration; the seed is printed to replay one.
    let seed = t0.timestamp_micros() as u64;
    eprintln!("kill seed {seed}, uninterrupted import {whole:?}");
    let mut rng = rapport_core::ops::Rng(seed);
    for case in 0..2 {
        let db = dir.path().join(format!("killed{case}.db"));
        for round in 0..2 {
            let at = Duration::from_millis(rng.below(whole.as_millis() as u64 * 9 / 10));
            let mut cmd = std::process::Command::new(bin("rapport")?);
            cmd.arg("--db").arg(&db).args(["import", file]);
            if round > 0 {
                cmd.arg("--resume");
            }
            let mut child = cmd
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            std::thread::sleep(at);
            child.kill()?; // SIGKILL
            child.wait()?;
            eprintln!("case {case}: killed round {round} after {at:?}");
        }
        let (code, out, err) = rapport(&db, &["import", file, "--resume"])?;
        // The killed runs may have finished before the signal.
        assert!(
            code == 0 || err.contains("finished"),
            "case {case}: {out}{err}"
        );
        let got = export(&db)?;
        assert_eq!(got.len(), want.len(), "case {case}: leads");
        for (a, b) in got.iter().zip(&want) {
            assert_eq!(a, b, "case {case}");
        }
    }
    Ok(())
}

/// Fails on the old code (the dry run listed the leads, not the mapping): `--dry-run` shows
/// which column goes to which field, the same mapping `--save-mapping` writes.
#[test]
fn a_dry_run_shows_the_column_mapping() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("s.db");
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "Company,E-mail,Seats\r\nAcme,ann@acme.com,12\r\nGlobex,bo@globex.com,3\r\n",
    )?;
    let map = dir.path().join("map.json");
    let (code, out, err) = rapport(
        &db,
        &[
            "import",
            csv.to_str().unwrap_or_default(),
            "--dry-run",
            "--save-mapping",
            map.to_str().unwrap_or_default(),
        ],
    )?;
    assert_eq!(code, 0, "{err}");
    for line in [
        "mapping (what --save-mapping writes):",
        "  Company → lead.name",
        "  E-mail → contact.email.office",
        "  Seats → lead.custom.Seats (number)",
        "  match on: domain, email, phone, name",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "`{line}` missing in:\n{out}"
        );
    }
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&map)?)?;
    for (col, target) in saved["columns"].as_object().into_iter().flatten() {
        let shown = format!("  {col} → {}", target.as_str().unwrap_or_default());
        assert!(out.lines().any(|l| l.starts_with(&shown)), "{shown}");
    }
    Ok(())
}
