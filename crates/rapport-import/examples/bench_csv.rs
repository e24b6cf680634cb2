//! Writes the CSV import benchmark's input: `cargo run --release -p rapport-import --example
//! bench_csv -- OUT.csv LEADS [SEED]`, then time `rapport --db X import OUT.csv`.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(String::as_str).unwrap_or("bench.csv");
    let leads = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let seed = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
    let t = std::time::Instant::now();
    let r = rapport_import::csv::generate_bench_csv(std::path::Path::new(path), leads, seed)?;
    println!(
        "{} ({:.1}s)",
        serde_json::to_string(&r).unwrap_or_default(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
