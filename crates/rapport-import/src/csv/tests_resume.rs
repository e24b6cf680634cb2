//! A resumed import is the import it interrupted: the switchboard file (companies sharing a
//! phone number) imported whole, and interrupted at random points — at a chunk boundary
//! (cancel) and anywhere inside a chunk (the task aborted mid-transaction, as a kill leaves
//! it) — then resumed, must export the same leads; the match table an import ends with is
//! the one a resumed import loads from the store. (The CLI killed with SIGKILL is in
//! `tests/it/import.rs`.)

use super::index::MatchIndex;
use super::tests::{import, store};
use super::*;
use rapport_core::ops::Rng;
use rapport_store::Store;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

async fn export(s: &Store) -> String {
    let mut out = Vec::new();
    crate::export_jsonl(s, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// Each lead holds exactly its own company's contacts (`Jérôme Dupont 17`, `Amélie Martin 17`
/// in `Café Müller Nº17`).
fn check_companies(jsonl: &str, companies: u64) {
    let leads: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("_record").is_none())
        .collect();
    assert_eq!(leads.len() as u64, companies, "one lead per company");
    for l in &leads {
        let name = l["name"].as_str().unwrap();
        let n = name.rsplit(['º', ' ']).next().unwrap();
        let contacts = l["contacts"].as_array().unwrap();
        let want = if n == (companies - 1).to_string() {
            1
        } else {
            2
        };
        assert_eq!(contacts.len(), want, "{name}: {contacts:?}");
        for c in contacts {
            let cn = c["name"].as_str().unwrap();
            assert!(cn.ends_with(&format!(" {n}")), "{cn} merged into {name}");
        }
    }
}

/// Fails on the old code: a row without an email found the company that shared its phone
/// number, and a resumed import lost the work-email domains of the leads it had made.
#[tokio::test]
async fn a_shared_phone_never_merges_two_companies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.csv");
    let info = generate_switchboard_csv(&path, 400).unwrap();
    assert_eq!(info.rows, 799);
    let s = store(&dir, "s.db").await;
    let r = import(&s, &path, CsvImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.encoding, "windows-1252");
    assert_eq!(r.delimiter, ";");
    assert_eq!(
        (r.rows_imported, r.rows_failed),
        (799, 0),
        "{:?}",
        r.problems
    );
    assert_eq!(r.counts.leads_created, 400);
    check_companies(&export(&s).await, 400);
    let lead = s.leads_named("Café Müller Nº7").await.unwrap().remove(0);
    assert_eq!(lead.addresses[0].city.as_deref(), Some("Besançon"));
}

/// How an interrupted run stops.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Cancelled right after chunk `k` committed.
    Boundary(u64),
    /// Aborted `yields` scheduler turns after chunk `k` committed (after the start for 0):
    /// somewhere in the next chunk (reading, matching, inside its transaction) or later.
    Inside(u64, u32),
}

/// Runs an import of `path` into the store at `db` that stops as `stop` says (or finishes
/// first), then closes the store as a killed process leaves it.
async fn interrupted(db: &Path, path: &Path, opts: &CsvImportOptions, stop: Stop) {
    let s = Store::open(db).await.unwrap();
    let chunks = Arc::new(AtomicU64::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (c2, cancel2) = (chunks.clone(), cancel.clone());
    let progress = move |p: &Progress| {
        if matches!(p.phase, Phase::Importing | Phase::Done) {
            let k = c2.fetch_add(1, Ordering::SeqCst) + 1;
            if let Stop::Boundary(at) = stop
                && k == at
            {
                cancel2.store(true, Ordering::SeqCst);
            }
            let _ = tx.send(k);
        }
    };
    let (s2, path2, opts2) = (s.clone(), path.to_path_buf(), opts.clone());
    let task =
        tokio::spawn(async move { import_csv(&s2, &path2, None, &opts2, &progress, cancel).await });
    if let Stop::Inside(at, yields) = stop {
        while at > 0
            && let Some(k) = rx.recv().await
        {
            if k >= at {
                break;
            }
        }
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        task.abort();
    }
    let _ = task.await;
    s.close().await;
}

/// The property: for random interruption points (one or two per case, the second one
/// interrupting the resumed run), finishing with `--resume` exports what the uninterrupted
/// import exports. Fails on the old code (resumed imports merged companies by phone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_import_equals_the_uninterrupted_one_at_random_stops() {
    let t0 = chrono::Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.csv");
    generate_switchboard_csv(&path, 300).unwrap();
    let opts = CsvImportOptions {
        chunk_rows: 40,
        ..Default::default()
    };
    let clean = store(&dir, "clean.db").await;
    let full = import(&clean, &path, opts.clone()).await.unwrap();
    let want = export(&clean).await;
    check_companies(&want, 300);
    let want = comparable_export(&want, t0);
    let chunks = full.rows_done.div_ceil(40);
    let mut rng = Rng(0x5eed_0012);
    for case in 0..8 {
        let db = dir.path().join(format!("case{case}.db"));
        let mut stops = vec![];
        for _ in 0..1 + rng.below(2) {
            let k = rng.below(chunks);
            stops.push(if rng.below(2) == 0 {
                Stop::Boundary(k.max(1))
            } else {
                Stop::Inside(k, rng.below(200) as u32)
            });
        }
        for (i, stop) in stops.iter().enumerate() {
            let o = CsvImportOptions {
                resume: i > 0,
                ..opts.clone()
            };
            interrupted(&db, &path, &o, *stop).await;
        }
        let s = Store::open(&db).await.unwrap();
        let r = import(
            &s,
            &path,
            CsvImportOptions {
                resume: true,
                ..Default::default()
            },
        )
        .await;
        let got = export(&s).await;
        match r {
            Ok(r) => assert_eq!(r.rows_failed, 0, "case {case} {stops:?}"),
            // The interrupted runs happened to finish.
            Err(e) => assert_eq!(e.code(), "csv_resume", "case {case} {stops:?}: {e}"),
        }
        let got = comparable_export(&got, t0);
        assert_eq!(got.len(), want.len(), "case {case} {stops:?}");
        for (a, b) in got.iter().zip(&want) {
            assert_eq!(a, b, "case {case} {stops:?}");
        }
        s.close().await;
    }
}

/// The match table an import ends with is the one loaded from the store afterwards (what a
/// resumed import starts from), on the messy bench file imported over existing leads.
#[tokio::test]
async fn the_match_table_is_a_function_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s.db").await;
    let bench = dir.path().join("bench.csv");
    generate_bench_csv(&bench, 150, 4).unwrap();
    let first = dir.path().join("first.csv");
    generate_bench_csv(&first, 60, 4).unwrap();
    import(&s, &first, CsvImportOptions::default())
        .await
        .unwrap();
    let switchboard = dir.path().join("switchboard.csv");
    generate_switchboard_csv(&switchboard, 120).unwrap();
    for (path, chunk) in [(&bench, 37), (&switchboard, 25), (&bench, 500)] {
        let start = s.now().timestamp_millis() as u64;
        let opts = CsvImportOptions {
            chunk_rows: chunk,
            ..Default::default()
        };
        let (_, ended) = import::import_with_index(
            &s,
            path,
            None,
            &opts,
            &|_| {},
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .unwrap();
        let mut loaded = MatchIndex::new(&MatchKey::ALL);
        loaded.load(&s, Some(start)).await.unwrap();
        assert!(ended.snapshot() == loaded.snapshot(), "{}", path.display());
    }
}

/// Fails on the old code ("row 0 is no longer at byte 0"): a run stopped after it saved its
/// checkpoint but before its first chunk committed (as a kill in the first second leaves it)
/// resumes from the start instead of calling the unchanged file changed.
#[tokio::test]
async fn an_import_stopped_before_its_first_chunk_resumes_from_the_start() {
    let t0 = chrono::Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.csv");
    generate_switchboard_csv(&path, 50).unwrap();
    let clean = store(&dir, "clean.db").await;
    import(&clean, &path, CsvImportOptions::default())
        .await
        .unwrap();
    let want = comparable_export(&export(&clean).await, t0);
    let s = store(&dir, "s.db").await;
    let stopped = import_csv(
        &s,
        &path,
        None,
        &CsvImportOptions::default(),
        &|_| {},
        Arc::new(AtomicBool::new(true)),
    )
    .await
    .unwrap();
    assert!(stopped.cancelled);
    assert_eq!(stopped.rows_done, 0, "nothing committed");
    let resumed = import(
        &s,
        &path,
        CsvImportOptions {
            resume: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        resumed
            .notice
            .as_deref()
            .unwrap_or_default()
            .contains("committed nothing"),
        "{:?}",
        resumed.notice
    );
    assert_eq!(comparable_export(&export(&s).await, t0), want);
}
