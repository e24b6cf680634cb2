//! `rapport-bench`: runs the benchmarks on generated data and prints one table plus
//! `bench.json`. Each figure is paired with a baseline measured in the same run, because
//! absolute times on shared machines are noise; ratios and medians are what to quote.

/// mimalloc, as in the CLI and the app: the in-process index builds allocate documents on
/// one thread and free them on tantivy's; glibc's allocator made that a fifth of the work.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod csv;
mod foundation;
mod phone;
mod search;
mod stats;
mod sync;

use anyhow::{Context, Result};
use stats::Row;
use std::path::PathBuf;

pub struct Opts {
    pub out: PathBuf,
    pub leads: u64,
    pub work: PathBuf,
    pub bin_dir: PathBuf,
    /// Sections to measure (`--only a,b`); empty means all.
    pub only: Vec<String>,
}

impl Opts {
    /// Whether the section `name` (foundation, search, csv, phone) is to be measured.
    pub fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == name)
    }
}

fn opts() -> Result<Opts> {
    let mut out = PathBuf::from("target/bench");
    let mut leads = 100_000;
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = PathBuf::from(args.next().context("--out needs a directory")?),
            "--leads" => leads = args.next().context("--leads needs a number")?.parse()?,
            "--quick" => leads = 10_000,
            "--only" => {
                let list = args.next().context("--only needs a list")?;
                for s in list.split(',') {
                    anyhow::ensure!(
                        ["foundation", "search", "csv", "phone", "sync"].contains(&s),
                        "unknown section `{s}` (foundation, search, csv, phone, sync)"
                    );
                    only.push(s.to_string());
                }
            }
            other => {
                anyhow::bail!(
                    "unknown argument `{other}` (use --out DIR, --leads N, --quick, --only LIST)"
                )
            }
        }
    }
    let bin_dir = std::env::var_os("RAPPORT_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(PathBuf::from))
        })
        .unwrap_or_default();
    let work = out.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    Ok(Opts {
        out,
        leads,
        work,
        bin_dir,
        only,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = opts()?;
    let mut rows: Vec<Row> = Vec::new();
    // Wrong answers found while measuring: the bench fails after printing its table.
    let mut wrong: Vec<String> = Vec::new();
    if o.wants("foundation") || o.wants("search") || o.wants("sync") {
        let db = match search::existing_store(&o) {
            Some(db) => db,
            None => foundation::run(&o, &mut rows).await?,
        };
        if o.wants("search") {
            match search::run(&db, &mut rows).await {
                Ok(differ) => wrong.extend(differ),
                Err(e) => eprintln!("bench: search not measured: {e:#}"),
            }
        }
        if o.wants("sync")
            && let Err(e) = sync::run(&o, &db, &mut rows).await
        {
            eprintln!("bench: sync not measured: {e:#}");
        }
    }
    if o.wants("csv")
        && let Err(e) = csv::run(&o, &mut rows)
    {
        eprintln!("bench: CSV import not measured: {e:#}");
    }
    if o.wants("phone")
        && let Err(e) = phone::run(&mut rows).await
    {
        eprintln!("bench: phone not measured: {e:#}");
    }
    stats::print_table(&rows);
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "leads": o.leads,
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "rows": rows,
    }))?;
    let path = o.out.join("bench.json");
    std::fs::write(&path, json)?;
    println!("\nwrote {}", path.display());
    // RAPPORT_BENCH_KEEP=1 keeps the generated files (the CSV, the stores) for profiling.
    if std::env::var_os("RAPPORT_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&o.work);
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "search hit counts differ from the SQL baseline:\n  {}",
            wrong.join("\n  ")
        );
    }
    Ok(())
}
