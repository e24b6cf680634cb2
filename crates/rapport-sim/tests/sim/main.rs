//! The deterministic simulation over many seeds (SYNC.md §2.2 rows 4 and 6): every
//! invariant of §2.1 at quiescence. A failure names its seed; `cargo xtask sim --seeds N
//! --from SEED` replays it.

mod real;

#[tokio::test(flavor = "current_thread")]
async fn many_seeds_converge_with_nothing_lost() {
    let seeds: u64 = std::env::var("RAPPORT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut totals = rapport_sim::Outcome2::default();
    let from: u64 = std::env::var("RAPPORT_SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for seed in from..from + seeds {
        let server = std::sync::Arc::new(real::RealServer::new().await);
        let out = rapport_sim::run(rapport_sim::Config::for_seed(seed, 150), server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        totals.ops += out.ops;
        totals.crashes += out.crashes;
        totals.lines += out.lines;
        totals.conflicts += out.conflicts;
        totals.clones += out.clones;
        totals.net.lost_answers += out.net.lost_answers;
    }
    eprintln!("{totals:?}");
    assert!(totals.ops > seeds as usize * 20 && totals.crashes > 0 && totals.lines > 0);
}
