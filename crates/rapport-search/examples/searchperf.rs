//! A quick measuring loop for development: opens an existing store's index (building it if
//! needed), optionally rebuilds it, and times the bench queries without the SQL baseline.
//! `cargo run --release -p rapport-search --example searchperf -- DB [--rebuild] [--runs N]`

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rapport_search::{Clock, SearchIndex, jiff};
use rapport_store::Store;

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
    let clock = Clock {
        now: jiff::Timestamp::now(),
        tz: jiff::tz::TimeZone::UTC,
    };
    let ctx = index.context(clock).await?;
    for query in rapport_search::bench::queries() {
        let plan = rapport_search::plan_text(query, &ctx).map_err(|d| d.message)?;
        let mut times = Vec::new();
        let mut hits = 0;
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
