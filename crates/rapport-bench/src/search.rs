//! Search benchmarks: the fixed query set of `rapport_search::bench` on the demo store, each
//! beside hand-written SQL (FTS5 for text) on a copy of the same store, plus index build time,
//! size and write-to-visible latency. With `--only search`, `RAPPORT_BENCH_DB=PATH` measures
//! an existing store (e.g. a 1M-lead one generated once) instead of generating one.

use crate::stats::Row;
use anyhow::Result;
use rapport_app::App;
use rapport_search::jiff;
use std::path::Path;

/// The store named by `RAPPORT_BENCH_DB`, when only the search section is measured.
pub fn existing_store(o: &crate::Opts) -> Option<std::path::PathBuf> {
    let db = std::env::var_os("RAPPORT_BENCH_DB")?;
    (o.only == ["search"]).then(|| std::path::PathBuf::from(db))
}

/// Measures search; returns the queries whose hit count differs from the SQL baseline's
/// (the bench then fails, after printing the table).
pub async fn run(db: &Path, rows: &mut Vec<Row>) -> Result<Vec<String>> {
    let app = App::open(db).await?;
    eprintln!("bench: building the search index…");
    let index = app.search_index().await?;
    let clock = rapport_search::Clock {
        now: jiff::Timestamp::now(),
        tz: jiff::tz::TimeZone::UTC,
    };
    let report = rapport_search::bench::bench_queries(index, clock, 50).await?;
    for q in &report.rows {
        let differs = if q.agrees() { "" } else { " ≠ SQL" };
        rows.push(Row::new(
            &format!("search p50 `{}` ({} hits{differs})", q.query, q.hits),
            q.p50_us as f64,
            "µs",
            &format!("SQL p50 ({} hits)", q.sql_hits),
            q.sql_p50_us as f64,
            "",
        ));
        rows.push(Row::new(
            &format!("search p99 `{}`", q.query),
            q.p99_us as f64,
            "µs",
            "SQL p99",
            q.sql_p99_us as f64,
            "< 5000 µs at 100k",
        ));
    }
    rows.push(Row::new(
        &format!("index build ({} leads)", report.leads),
        report.build_ms as f64 / 1000.0,
        "s",
        "",
        0.0,
        "1M in < 60 s",
    ));
    let size = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    rows.push(Row::new(
        "index size",
        report.index_bytes as f64 / 1e6,
        "MB",
        "store size",
        size,
        "",
    ));
    rows.push(Row::new(
        "write → searchable p50",
        report.write_visible_p50_ms,
        "ms",
        "write → searchable max",
        report.write_visible_max_ms,
        "< 100 ms",
    ));
    Ok(report.disagreements())
}
