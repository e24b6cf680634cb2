//! Timing helpers and the result table: percentiles over samples, one row per figure with its
//! baseline and the ratio.

use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub baseline_name: String,
    pub baseline: f64,
    /// value / baseline
    pub ratio: f64,
    pub target: String,
}

impl Row {
    pub fn new(
        name: &str,
        value: f64,
        unit: &str,
        baseline_name: &str,
        baseline: f64,
        target: &str,
    ) -> Row {
        Row {
            name: name.into(),
            value,
            unit: unit.into(),
            baseline_name: baseline_name.into(),
            baseline,
            ratio: if baseline > 0.0 {
                value / baseline
            } else {
                0.0
            },
            target: target.into(),
        }
    }
}

/// Percentile (0–100) of samples in microseconds.
pub fn pct(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[i.min(samples.len() - 1)]
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `n` runs of an async closure; returns microseconds per run.
pub async fn sample<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Vec<f64>>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        out.push(us(t.elapsed()));
    }
    Ok(out)
}

pub fn print_table(rows: &[Row]) {
    println!(
        "\n{:<44} {:>12} {:<5} {:<40} {:>12} {:>8}  target",
        "figure", "value", "unit", "baseline (same run)", "baseline", "ratio"
    );
    println!("{}", "-".repeat(140));
    for r in rows {
        println!(
            "{:<44} {:>12.1} {:<5} {:<40} {:>12.1} {:>8.2}  {}",
            r.name, r.value, r.unit, r.baseline_name, r.baseline, r.ratio, r.target
        );
    }
}
