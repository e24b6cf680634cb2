//! `rapport import FILE.csv` and `rapport export --format csv`: flags → options, a progress
//! bar on a terminal, Ctrl-C as cancel (resumable), and the summary as text or JSON.

use crate::Out;
use crate::cli::{ExportArgs, ImportArgs};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rapport_app::{
    App, CsvImportOptions, CsvPhase, ImportSummary, Mapping, MatchKey, UnknownColumns,
};
use std::io::{BufWriter, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub async fn export(app: &App, args: ExportArgs, out: Out) -> Result<()> {
    let query = args.query.as_deref();
    let report = match &args.out {
        Some(path) => app.export_csv(path, query).await?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            let r = app.export_csv_to(&mut lock, query).await?;
            lock.flush()?;
            r
        }
    };
    if args.out.is_some() {
        out.print(&report, || {
            format!("exported {} leads ({} rows)", report.leads, report.rows)
        });
    }
    Ok(())
}

fn bar(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:18} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

pub async fn import(app: &App, args: ImportArgs, out: Out) -> Result<()> {
    let mapping = match &args.mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Some(Mapping::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let match_on = match &args.match_on {
        Some(m) => Some(MatchKey::parse_list(m).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let unknown_columns = args.unknown_columns.as_deref().map(|u| match u {
        "skip" => UnknownColumns::Skip,
        _ => UnknownColumns::Custom,
    });
    let opts = CsvImportOptions {
        dry_run: args.dry_run,
        resume: args.resume,
        chunk_rows: args.chunk.max(1),
        match_on,
        unknown_columns,
        ..Default::default()
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c.store(true, Ordering::Relaxed);
        }
    });
    let pb = bar(std::io::stderr().is_terminal() && !out.json);
    let p = pb.clone();
    let progress = move |x: &rapport_app::CsvProgress| {
        p.set_length(x.bytes_total);
        p.set_position(x.bytes_done);
        p.set_message(match x.phase {
            CsvPhase::Scanning => "scanning".to_string(),
            CsvPhase::Matching => "matching".to_string(),
            _ => format!("{}/{} rows", x.rows_done, x.rows_total),
        });
    };
    let summary = app
        .import_csv(&args.file, mapping, opts, progress, cancel)
        .await;
    pb.finish_and_clear();
    let summary = summary?;
    if let (Some(path), Some(m)) = (&args.save_mapping, &summary.mapping) {
        std::fs::write(path, m.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out.print(&summary, || text(&summary, &args));
    if summary.rows_imported == 0 && summary.rows_failed > 0 {
        bail!("nothing was imported: every row was rejected");
    }
    Ok(())
}

fn text(s: &ImportSummary, args: &ImportArgs) -> String {
    let c = &s.counts;
    let verb = if s.dry_run { "would create" } else { "created" };
    let mut t = format!(
        "{}{} rows ({} encoding, `{}` delimiter): {verb} {} leads and {} contacts; updated {} leads and {} contacts; skipped {} unchanged leads and {} duplicate contacts; {} rows failed ({:.1}s)",
        if s.cancelled { "cancelled after " } else { "" },
        s.rows_done,
        s.encoding,
        s.delimiter,
        c.leads_created,
        c.contacts_created,
        c.leads_updated,
        c.contacts_updated,
        c.leads_unchanged,
        c.contacts_skipped,
        s.rows_failed,
        s.seconds,
    );
    if s.cancelled {
        t += &format!(
            "\nrun `rapport import {} --resume` to continue",
            args.file.display()
        );
    }
    for (what, list) in [
        ("created custom fields", &s.created_fields),
        ("created statuses", &s.created_statuses),
        ("owners not found (kept you)", &s.unmatched_owners),
    ] {
        if !list.is_empty() {
            t += &format!("\n{what}: {}", list.join(", "));
        }
    }
    if s.dry_run
        && let Some(m) = &s.mapping
    {
        t += "\nmapping (what --save-mapping writes):";
        for (col, target) in &m.columns {
            let kind = match target {
                rapport_app::CsvTarget::LeadCustom(n)
                | rapport_app::CsvTarget::ContactCustom(n) => m
                    .custom_types
                    .get(n)
                    .map(|k| {
                        format!(
                            " ({})",
                            serde_json::to_value(k)
                                .unwrap_or_default()
                                .as_str()
                                .unwrap_or("")
                        )
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            t += &format!("\n  {col} → {}{kind}", target.as_string());
        }
        let keys: Vec<String> = m
            .match_on
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        t += &format!(
            "\n  match on: {}",
            if keys.is_empty() {
                "nothing".to_string()
            } else {
                keys.join(", ")
            }
        );
    }
    if let Some(n) = &s.notice {
        t = format!("{n}\n{t}");
    }
    if s.dry_run {
        for b in &s.preview {
            t += &format!(
                "\n  {} [{}] {}",
                b.lead.name,
                b.lead.status_label,
                b.lead.url.as_deref().unwrap_or("")
            );
            for c in &b.contacts {
                let email = c.emails.first().map(|e| e.email.as_str()).unwrap_or("");
                t += &format!("\n      {} <{email}>", c.name);
            }
        }
    }
    let shown = if s.dry_run {
        s.problems.len()
    } else {
        s.problems.len().min(20)
    };
    for p in s.problems.iter().take(shown) {
        let col = p
            .column
            .as_ref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        t += &format!("\n  line {}{col}: {}", p.line, p.reason);
    }
    if s.rows_failed as usize > shown {
        t += &format!("\n  … {} more", s.rows_failed as usize - shown);
    }
    if let Some(f) = &s.errors_file {
        t += &format!("\nrejected lines: {f}");
    }
    t
}
