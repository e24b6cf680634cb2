//! CSV import benchmark: a generated file of demo leads with realistic mess (mixed case, stray
//! spaces, repeated rows, bad emails) imported by the release `rapport` binary, search index
//! included (the import indexes as it goes and returns once the index has caught up; the
//! first search after it is timed too), beside `sqlite3 .import --csv` of the same file into
//! one plain table.

use crate::Opts;
use crate::stats::Row;
use anyhow::{Context, Result, bail};
use std::process::Command;
use std::time::Instant;

/// Runs a command under `/usr/bin/time`; returns (wall seconds, peak RSS in MB).
pub(crate) fn timed(program: &std::path::Path, args: &[&str]) -> Result<(f64, f64)> {
    let mut c = Command::new("/usr/bin/time");
    // Sync runs read their device token from the harness's Secret Service.
    if let Some(bus) = rapport_tests::keychain::bus() {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let out = c
        .args(["-f", "%e %M"])
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .context("/usr/bin/time is missing (cargo xtask bench installs it)")?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} {args:?} failed: {err}", program.display());
    }
    let last = err.lines().last().unwrap_or_default();
    let mut it = last.split_whitespace();
    let wall: f64 = it
        .next()
        .and_then(|s| s.parse().ok())
        .context("no wall time")?;
    let kb: f64 = it.next().and_then(|s| s.parse().ok()).context("no RSS")?;
    Ok((wall, kb / 1024.0))
}

pub fn run(o: &Opts, rows: &mut Vec<Row>) -> Result<()> {
    let file = o.work.join("leads.csv");
    let file_info = rapport_import::csv::generate_bench_csv(&file, o.leads, 1)?;
    let rapport = o.bin_dir.join("rapport");
    let db = o.work.join("csv.db");
    let db_s = db.to_str().unwrap_or_default();
    let (import_s, rss) = timed(
        &rapport,
        &["--db", db_s, "import", file.to_str().unwrap_or_default()],
    )?;
    let (index_s, _) = timed(&rapport, &["--db", db_s, "search", "*", "--limit", "1"])?;
    let base = o.work.join("csv-baseline.db");
    let t = Instant::now();
    let s = Command::new("sqlite3")
        .arg(&base)
        .arg(format!(".import --csv {} t", file.display()))
        .status()
        .context("sqlite3 is missing")?;
    if !s.success() {
        bail!("sqlite3 .import failed");
    }
    let baseline = t.elapsed().as_secs_f64();
    rows.push(Row::new(
        &format!(
            "CSV import {} leads / {} rows, search index incl.",
            file_info.leads, file_info.rows
        ),
        import_s + index_s,
        "s",
        "sqlite3 .import --csv (one plain table)",
        baseline,
        "< 10 s at 100k",
    ));
    rows.push(Row::new(
        "CSV import (indexing concurrently)",
        import_s,
        "s",
        "sqlite3 .import --csv",
        baseline,
        "",
    ));
    rows.push(Row::new(
        "first search after the import",
        index_s,
        "s",
        "",
        0.0,
        "index caught up",
    ));
    rows.push(Row::new(
        "CSV import peak RSS",
        rss,
        "MB",
        "",
        0.0,
        "< 1024 MB at 1M",
    ));
    Ok(())
}
