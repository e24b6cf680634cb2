//! A quick measuring loop for development: opens an existing store's index (building it if
//! needed), optionally rebuilds it, and times the bench queries without the SQL baseline.
//! `cargo run --release -p rapport-search --example searchperf -- DB [--rebuild] [--runs N]`;
//! `--docs-only` times just turning the store's leads into documents (thread CPU time);
//! `--query Q` times just `Q`; `--write N` measures write → searchable over N writes.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rapport_search::{Clock, SearchIndex, jiff};
use rapport_store::Store;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let db = args
        .first()
        .ok_or("usage: searchperf DB [--rebuild] [--runs N]")?;
    let rebuild = args.iter().any(|a| a == "--rebuild");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(30);
    let store = Store::open(db).await?;
    if args.iter().any(|a| a == "--docs-only") {
        return docs_only(&store).await;
    }
    let t = Instant::now();
    let index = SearchIndex::open(store).await?;
    index.wait_fresh(Duration::from_secs(3600)).await?;
    eprintln!("open + catch up: {:.2} s", t.elapsed().as_secs_f64());
    if rebuild {
        let report = index
            .reindex(None, Arc::new(AtomicBool::new(false)))
            .await?;
        eprintln!(
            "rebuild: {} leads, {} documents in {:.2} s; {:.1} MB",
            report.leads,
            report.documents,
            report.millis as f64 / 1000.0,
            index.size_bytes() as f64 / 1e6
        );
    }
    if let Some(n) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        let (p50, max) = rapport_search::bench::write_latency(&index, n).await?;
        println!("write → searchable over {n} writes: p50 {p50:.1} ms, max {max:.1} ms");
        return Ok(());
    }
    let clock = Clock {
        now: jiff::Timestamp::now(),
        tz: jiff::tz::TimeZone::UTC,
    };
    let ctx = index.context(clock).await?;
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--query")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let queries: Vec<&str> = match &only {
        Some(q) => vec![q.as_str()],
        None => rapport_search::bench::queries().collect(),
    };
    for query in queries {
        let plan = rapport_search::plan_text(query, &ctx).map_err(|d| d.message)?;
        let mut times = Vec::new();
        let mut hits = index.run_now(&plan, 0, 50)?.total; // warm-up, untimed
        for _ in 0..runs {
            let t = Instant::now();
            hits = index.run_now(&plan, 0, 50)?.total;
            times.push(t.elapsed());
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_micros();
        println!(
            "{:>8} µs p50 {:>8} µs p99 {:>8} hits  {query}",
            at(0.5),
            at(0.99),
            hits
        );
    }
    Ok(())
}

/// CPU time of the calling thread (the first field of its schedstat, in ns).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Reads every lead, then times building their documents three times on this thread.
async fn docs_only(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let users: rapport_search::document::Users = store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut pages = Vec::new();
    let mut after = None;
    let t = Instant::now();
    loop {
        let rows = store.index_page(after, 2000).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.bundle.lead.id);
        pages.push(rows);
    }
    eprintln!(
        "read {} pages in {:.2} s",
        pages.len(),
        t.elapsed().as_secs_f64()
    );
    let fields = rapport_search::schema::Fields::new();
    if std::env::var_os("COUNT_TOKENS").is_some() {
        use tantivy::schema::document::{Document, Value};
        let mut per: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for page in &pages {
            for row in page {
                for doc in rapport_search::document::lead_docs(&fields, row, &users) {
                    let kind = doc
                        .get_first(fields.kind)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_owned();
                    for (field, value) in doc.iter_fields_and_values() {
                        let mut name = format!("{}/{kind}", fields.schema.get_field_name(field));
                        if field == fields.exact || field == fields.present {
                            let key = value
                                .as_str()
                                .unwrap_or("")
                                .split('\u{1}')
                                .next()
                                .unwrap_or("");
                            name = format!("{name}/{key}");
                        }
                        let e = per.entry(name).or_default();
                        e.0 += 1;
                        if let Some(t) = value.as_str() {
                            e.1 += rapport_search::schema::tokens(t).len() as u64;
                        }
                    }
                }
            }
        }
        for (k, (v, t)) in per {
            println!("{k:>16} values {v:>9} tokens {t:>10}");
        }
        return Ok(());
    }
    for _ in 0..3 {
        let cpu = thread_cpu();
        let mut n = 0usize;
        for page in &pages {
            for row in page {
                n += rapport_search::document::lead_docs(&fields, row, &users).len();
            }
        }
        let spent = thread_cpu() - cpu;
        println!(
            "{n} documents: {:.2} CPU-s ({:.2} µs/doc)",
            spent.as_secs_f64(),
            spent.as_secs_f64() * 1e6 / n as f64
        );
    }
    Ok(())
}
