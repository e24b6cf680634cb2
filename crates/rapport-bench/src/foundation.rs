//! Foundation benchmarks: demo generation, the lead page, single operations, JSONL export and
//! import (beside sqlite3 .dump/.read), and the app's cold start to a painted lead list.

use crate::Opts;
use crate::stats::{Row, pct, sample, us};
use anyhow::{Context, Result, bail};
use rapport_app::{App, DemoOptions};
use rapport_core::Id;
use rapport_core::ops::{LeadPatch, NotePatch};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn file_mb(db: &Path) -> f64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = db.with_extension("db-wal");
    (size(db) + size(&wal)) as f64 / 1e6
}

fn sqlite3(args: &[&str], stdin: Option<&Path>, stdout: Option<&Path>) -> Result<Duration> {
    let mut c = Command::new("sqlite3");
    c.args(args);
    if let Some(i) = stdin {
        c.stdin(std::fs::File::open(i)?);
    }
    if let Some(o) = stdout {
        c.stdout(std::fs::File::create(o)?);
    } else {
        c.stdout(Stdio::null());
    }
    let t = Instant::now();
    let s = c
        .status()
        .context("sqlite3 is missing (cargo xtask bench installs it)")?;
    if !s.success() {
        bail!("sqlite3 {args:?} failed");
    }
    Ok(t.elapsed())
}

/// Runs the foundation benchmarks; returns the path of the demo store for the next ones.
pub async fn run(o: &Opts, rows: &mut Vec<Row>) -> Result<std::path::PathBuf> {
    let n = o.leads;
    let db = o.work.join("bench.db");
    let app = App::open(&db).await?;

    // 1. Demo data set.
    eprintln!("bench: generating {n} demo leads…");
    let t = Instant::now();
    let opts = DemoOptions {
        leads: n,
        seed: 1,
        now: chrono::Utc::now(),
        chunk: 2000,
    };
    let report = app
        .load_demo(opts, |_, _| {}, Arc::new(AtomicBool::new(false)))
        .await?;
    let demo_s = t.elapsed().as_secs_f64();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(app.store().pool())
        .await?;
    if !o.wants("foundation") {
        return Ok(db);
    }
    let size = file_mb(&db);

    // Baselines: sqlite3 .dump and .read of the same database.
    let dump = o.work.join("dump.sql");
    let dump_t = sqlite3(
        &[db.to_str().unwrap_or_default(), ".dump"],
        None,
        Some(&dump),
    )?;
    let raw = o.work.join("raw.db");
    let read_t = sqlite3(&[raw.to_str().unwrap_or_default()], Some(&dump), None)?;
    rows.push(Row::new(
        &format!("demo --leads {n} ({} records)", report.records),
        demo_s,
        "s",
        "sqlite3 .read of its dump",
        read_t.as_secs_f64(),
        "well under 60 s",
    ));
    rows.push(Row::new(
        "database size (demo)",
        size,
        "MB",
        "sqlite3 .read copy",
        file_mb(&raw),
        "",
    ));

    // 2. The lead page.
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM leads ORDER BY random() LIMIT 2000")
        .fetch_all(app.store().pool())
        .await?;
    let ids: Vec<Id> = ids.iter().filter_map(|s| s.parse().ok()).collect();
    let store = app.store().clone();
    for id in ids.iter().take(200) {
        store.lead_page(*id).await?; // warm the cache
    }
    let mut page = sample(ids.len(), |i| {
        let s = store.clone();
        let id = ids[i];
        async move {
            s.lead_page(id).await?;
            Ok(())
        }
    })
    .await?;
    let mut single = sample(ids.len(), |i| {
        let pool = store.pool().clone();
        let id = ids[i].to_string();
        async move {
            let _: Option<String> = sqlx::query_scalar("SELECT data FROM leads WHERE id = ?")
                .bind(id)
                .fetch_optional(&pool)
                .await?;
            Ok(())
        }
    })
    .await?;
    let (p50, p99) = (pct(&mut page, 50.0), pct(&mut page, 99.0));
    let (b50, b99) = (pct(&mut single, 50.0), pct(&mut single, 99.0));
    rows.push(Row::new(
        "lead_page p50",
        p50,
        "µs",
        "single-row SELECT p50",
        b50,
        "",
    ));
    rows.push(Row::new(
        "lead_page p99",
        p99,
        "µs",
        "single-row SELECT p99",
        b99,
        "< 5000 µs",
    ));

    // 3. Single operations (each its own transaction with clocks, outbox, aggregates).
    let k = 1000.min(ids.len());
    let mut edit = sample(k, |i| {
        let app = app.clone();
        let id = ids[i];
        async move {
            app.update_lead(
                id,
                LeadPatch {
                    description: Some(format!("edited {i}")),
                    ..Default::default()
                },
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    let mut notes = Vec::with_capacity(k);
    let mut add = sample(k, |i| {
        let app = app.clone();
        let id = ids[i];
        async move {
            app.create_note(id, None, format!("bench note {i}")).await?;
            Ok(())
        }
    })
    .await?;
    for id in ids.iter().take(k) {
        let page = app.store().timeline(*id, None, 1).await?;
        notes.extend(page.items.first().map(|a| a.id));
    }
    let mut autosave = sample(notes.len(), |i| {
        let app = app.clone();
        let id = notes[i];
        async move {
            app.update_note(
                id,
                NotePatch {
                    note: Some(format!("bench note {i}, edited")),
                    ..Default::default()
                },
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    let mut raw_update = sample(k, |i| {
        let pool = store.pool().clone();
        let id = ids[i].to_string();
        async move {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("UPDATE leads SET name = name || '' WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await?;
    let (r50, r99) = (pct(&mut raw_update, 50.0), pct(&mut raw_update, 99.0));
    for (name, s) in [
        ("edit a lead field", &mut edit),
        ("add a note", &mut add),
        ("autosave a note edit", &mut autosave),
    ] {
        rows.push(Row::new(
            &format!("op: {name} p50"),
            pct(s, 50.0),
            "µs",
            "raw UPDATE transaction p50",
            r50,
            "",
        ));
        rows.push(Row::new(
            &format!("op: {name} p99"),
            pct(s, 99.0),
            "µs",
            "raw UPDATE transaction p99",
            r99,
            "< 2000 µs",
        ));
    }

    // 4. JSONL export and import beside sqlite3 .dump / .read.
    let jsonl = o.work.join("export.jsonl");
    let t = Instant::now();
    let exported = rapport_import::export_jsonl(
        app.store(),
        std::io::BufWriter::new(std::fs::File::create(&jsonl)?),
    )
    .await?;
    let export_t = t.elapsed();
    let fresh = App::open(o.work.join("import.db")).await?;
    let t = Instant::now();
    // No flags: the export carries its definitions.
    let opts = rapport_import::JsonlOptions::default();
    let r = rapport_import::import_jsonl(
        fresh.store(),
        std::io::BufReader::new(std::fs::File::open(&jsonl)?),
        &opts,
    )
    .await?;
    let import_t = t.elapsed();
    if r.leads != exported || !r.rejected.is_empty() {
        bail!(
            "import read back {} of {exported} leads ({} rejected)",
            r.leads,
            r.rejected.len()
        );
    }
    rows.push(Row::new(
        &format!("export jsonl ({exported} leads)"),
        export_t.as_secs_f64(),
        "s",
        "sqlite3 .dump",
        dump_t.as_secs_f64(),
        "",
    ));
    rows.push(Row::new(
        &format!("import jsonl ({exported} leads)"),
        import_t.as_secs_f64(),
        "s",
        "sqlite3 .read",
        read_t.as_secs_f64(),
        "",
    ));
    app.store().clone().close().await;
    fresh.store().clone().close().await;

    // 5. Cold start of the real app to a painted lead list.
    match cold_start(o, &db).await {
        Ok((full, empty)) => rows.push(Row::new(
            &format!("app cold start to painted list ({n} leads)"),
            full,
            "ms",
            "same, empty store (first-run panel)",
            empty,
            "< 1500 ms",
        )),
        Err(e) => eprintln!("bench: cold start not measured: {e:#}"),
    }
    let _ = us;
    Ok(db)
}

/// Median of three cold starts: WebDriver session request → first lead row in the DOM.
async fn cold_start(o: &Opts, db: &Path) -> Result<(f64, f64)> {
    use rapport_tests::{Display, Driver, wait_css};
    let app = o.bin_dir.join("rapport-desktop");
    if !app.exists() {
        bail!("{} is not built", app.display());
    }
    let display = Display::start()?;
    let empty_db = o.work.join("empty.db");
    let measure = |db: std::path::PathBuf, css: &'static str| {
        let app = app.clone();
        let display = &display;
        async move {
            let mut times = vec![];
            for _ in 0..3 {
                let driver = Driver::start(display, &db).await?;
                let t = Instant::now();
                let c = driver.session(&app).await?;
                wait_css(&c, css, 60).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
            }
            Ok::<f64, anyhow::Error>(pct(&mut times, 50.0))
        }
    };
    let full = measure(db.to_path_buf(), "[data-testid=lead-row]").await?;
    let empty = measure(empty_db, "[data-testid=demo-offer]").await?;
    Ok((full, empty))
}
