//! Bulk commands: demo data, export and import.

#[path = "transfer_csv.rs"]
mod csv;

use crate::Out;
use crate::cli::*;
use crate::records::parse_time;
use anyhow::{Context, Result, bail};
use rapport_app::{App, DemoOptions};
use rapport_import::{JsonlOptions, export_jsonl, import_jsonl};
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub async fn demo(app: &App, args: DemoArgs, out: Out) -> Result<()> {
    let now = match &args.now {
        Some(n) => parse_time("now", n)?,
        None => chrono::Utc::now(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let tty = std::io::stderr().is_terminal() && !out.json;
    let opts = DemoOptions {
        leads: args.leads,
        seed: args.seed,
        now,
        chunk: 2000,
    };
    let report = app
        .load_demo(
            opts,
            move |done, total| {
                if tty {
                    eprint!("\r{done}/{total} leads");
                }
            },
            cancel,
        )
        .await?;
    if tty {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    out.print(
        &serde_json::json!({ "report": report, "seconds": secs }),
        || {
            format!(
                "{} {} leads ({} records) in {secs:.1}s",
                if report.cancelled {
                    "cancelled after"
                } else {
                    "loaded"
                },
                report.leads,
                report.records
            )
        },
    );
    Ok(())
}

pub async fn export(app: &App, args: ExportArgs, out: Out) -> Result<()> {
    if let Format::Csv = args.format {
        return csv::export(app, args, out).await;
    }
    if args.query.is_some() {
        bail!("--query works with --format csv; JSONL exports every lead");
    }
    let n = match &args.out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            export_jsonl(app.store(), BufWriter::new(f)).await?
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            let n = export_jsonl(app.store(), &mut lock).await?;
            lock.flush()?;
            n
        }
    };
    if args.out.is_some() {
        out.print(&serde_json::json!({ "leads": n }), || {
            format!("exported {n} leads")
        });
    }
    Ok(())
}

pub async fn import(app: &App, args: ImportArgs, out: Out) -> Result<()> {
    let ext = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    if matches!(ext.as_str(), "csv" | "tsv" | "txt") {
        return csv::import(app, args, out).await;
    }
    if ext != "jsonl" && ext != "ndjson" {
        bail!(
            "{}: import reads .jsonl/.ndjson (canonical) or .csv/.tsv/.txt files",
            args.file.display()
        );
    }
    let f = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let opts = JsonlOptions {
        create_missing: args.create_missing,
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
        ..Default::default()
    };
    let report = import_jsonl(app.store(), BufReader::new(f), &opts).await?;
    app.nudge_index();
    out.print(&report, || {
        let verb = if args.dry_run || !report.written {
            "would import"
        } else {
            "imported"
        };
        let mut s = format!(
            "{verb} {} leads, rejected {} lines",
            if report.written {
                report.leads
            } else {
                report.valid_leads
            },
            report.rejected.len()
        );
        if report.written {
            s += &format!(" ({} records)", report.records);
        }
        for r in &report.rejected {
            s += &format!(
                "\n  line {}: {}{}",
                r.line,
                r.message,
                r.field
                    .as_ref()
                    .map(|f| format!(" (field `{f}`)"))
                    .unwrap_or_default()
            );
        }
        for (what, list) in [
            ("created statuses", &report.created_statuses),
            ("created custom fields", &report.created_fields),
            ("created users", &report.created_users),
            ("created Smart Views", &report.created_views),
        ] {
            if !list.is_empty() {
                s += &format!("\n{what}: {}", list.join(", "));
            }
        }
        for n in &report.notes {
            s += &format!("\nnote: {n}");
        }
        s
    });
    if !report.rejected.is_empty() {
        if report.written {
            bail!(
                "{} lines were rejected (the valid ones were imported: --skip-invalid)",
                report.rejected.len()
            );
        }
        bail!(
            "nothing was imported: {} lines were rejected (fix them, or import the valid lines with --skip-invalid)",
            report.rejected.len()
        );
    }
    Ok(())
}
