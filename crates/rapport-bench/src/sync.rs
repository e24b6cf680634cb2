//! Sync benchmarks against a real `rapport-server` (release build, SQLite backend, loopback):
//! pushing a demo store into a new org, bootstrapping a fresh client from it (time, peak RSS),
//! a write on one client visible in another's store (poke + pull + apply) over 200 writes, a
//! write pushed and acknowledged, and single-operation latency with sync idle and while a
//! bootstrap runs — each beside PouchDB → pouchdb-server replication of the same number of
//! documents measured in the same run (`peers/pouchdb/peer.js`).

use crate::Opts;
use crate::csv::timed;
use crate::stats::{Row, pct, us};
use anyhow::{Context, Result, bail};
use rapport_app::App;
use rapport_core::ops::LeadPatch;
use rapport_tests::team::TeamServer;
use rapport_tests::{Guard, bin, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ORG: &str = "Bench";
const WRITES: usize = 200;

/// The PouchDB peer's phases.
#[derive(Default, Debug)]
struct Pouch {
    pull_docs_s: f64,
    seed_docs_s: f64,
    live_ms: Vec<f64>,
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/pouchdb")
}

/// Runs pouchdb-server on a free port and the peer script over `n` documents.
fn pouch(work: &Path, n: usize) -> Result<Pouch> {
    let dir = peer_dir();
    if !dir.join("node_modules").exists() {
        let s = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()?;
        if !s.success() {
            bail!("npm ci in {} failed", dir.display());
        }
    }
    let port = free_port()?;
    let data = work.join("pouch");
    std::fs::create_dir_all(&data)?;
    let _server = Guard::spawn(
        "pouchdb-server",
        Command::new(dir.join("node_modules/.bin/pouchdb-server"))
            .args(["-o", "127.0.0.1", "-p", &port.to_string(), "-d"])
            .arg(&data)
            .arg("-n")
            .current_dir(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("pouchdb-server did not start");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new("node")
        .arg(dir.join("peer.js"))
        .env("N", n.to_string())
        .env("W", WRITES.to_string())
        .env("REMOTE", &url)
        .current_dir(&data)
        .output()
        .context("node is missing")?;
    if !out.status.success() {
        bail!("peer.js: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut p = Pouch::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let rate = |v: &serde_json::Value| {
            v["docs"].as_f64().unwrap_or(0.0) / (v["ms"].as_f64().unwrap_or(1.0) / 1000.0)
        };
        match v["phase"].as_str() {
            Some("seed") => p.seed_docs_s = rate(&v),
            Some("pull") => p.pull_docs_s = rate(&v),
            Some("live") => {
                p.live_ms = v["latencies_ms"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                    .unwrap_or_default()
            }
            _ => {}
        }
    }
    Ok(p)
}

fn rapport(db: &Path, args: &[&str]) -> Result<String> {
    let mut c = Command::new(bin("rapport")?);
    if let Some(bus) = rapport_tests::keychain::bus() {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let out = c.arg("--db").arg(db).args(args).output()?;
    if !out.status.success() {
        bail!("rapport {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Joins `db` to the org as `email` with a fresh device token; returns the token.
fn join(server: &TeamServer, db: &Path, email: &str) -> Result<String> {
    let token = server.token(ORG, email, &db.display().to_string())?;
    rapport(
        db,
        &[
            "sync",
            "login",
            &server.url,
            "--org",
            ORG,
            "--token",
            &token,
        ],
    )?;
    Ok(token)
}

fn records(db: &Path) -> Result<usize> {
    let v: serde_json::Value = serde_json::from_str(&rapport(db, &["--json", "info"])?)?;
    let s = |k: &str| v["stats"][k].as_u64().unwrap_or(0) as usize;
    Ok(s("leads") + s("contacts") + s("activities") + s("tasks") + s("opportunities"))
}

pub async fn run(o: &Opts, demo: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let work = o.work.join("sync");
    std::fs::create_dir_all(&work)?;
    let server = TeamServer::start(&work.join("server"))?;
    server.org(
        ORG,
        &[
            ("a@bench.example", "member", "bench-a-password"),
            ("b@bench.example", "member", "bench-b-password"),
        ],
    )?;
    // A: a copy of the demo store, joined and pushed.
    let a = work.join("a.db");
    {
        let app = App::open(demo).await?;
        sqlx::query("VACUUM INTO ?")
            .bind(a.display().to_string())
            .execute(app.store().pool())
            .await?;
    }
    let token_a = join(&server, &a, "a@bench.example")?;
    let n = records(&a)?;
    eprintln!("bench: pushing {n} records…");
    let (push_s, _) = timed(
        &bin("rapport")?,
        &["--db", a.to_str().unwrap_or(""), "sync"],
    )?;
    eprintln!("bench: PouchDB replication of {n} documents…");
    let p = pouch(&work, n)?;
    rows.push(Row::new(
        &format!("sync push, {n} records into a new org"),
        n as f64 / push_s,
        "rec/s",
        "PouchDB bulkDocs → pouchdb-server",
        p.seed_docs_s,
        "",
    ));
    // B: a fresh store bootstraps the org, timed with its peak RSS, while A's single edits
    // are timed (op latency while a sync runs).
    let b = work.join("b.db");
    let token_b = join(&server, &b, "b@bench.example")?;
    let app_a = App::open(&a).await?;
    let lead: rapport_core::Id = app_a.list_leads(0, 1).await?.rows[0].id.parse()?;
    let mut busy = Vec::new();
    let boot = {
        let b = b.clone();
        std::thread::spawn(move || {
            timed(
                &bin("rapport")?,
                &["--db", b.to_str().unwrap_or(""), "sync"],
            )
        })
    };
    let mut i = 0;
    while !boot.is_finished() {
        let t = Instant::now();
        app_a
            .update_lead(
                lead,
                LeadPatch {
                    description: Some(format!("busy {i}")),
                    ..Default::default()
                },
            )
            .await?;
        busy.push(us(t.elapsed()));
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (boot_s, boot_rss) = boot
        .join()
        .map_err(|_| anyhow::anyhow!("bootstrap thread"))??;
    let got = records(&b)?;
    if got != n {
        bail!("the bootstrapped store holds {got} records, the pushed one {n}");
    }
    rows.push(Row::new(
        &format!("sync bootstrap, {n} records, end to end"),
        n as f64 / boot_s,
        "rec/s",
        "PouchDB pull replication, same count",
        p.pull_docs_s,
        "≥ 10× PouchDB",
    ));
    rows.push(Row::new(
        "sync bootstrap, peak client RSS",
        boot_rss,
        "MB",
        "target",
        500.0,
        "< 500 MB",
    ));
    // Live: both stores stay connected in this process; a write on A timed until B's store
    // has applied it (B's driver reports every applied pull).
    let app_b = App::open(&b).await?;
    let (tx_b, mut applied) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut drv_b = app_b.sync_driver_with_token(&token_b).await?;
    drv_b.hooks.changed = Some(std::sync::Arc::new(move |()| {
        let _ = tx_b.send(Instant::now());
    }));
    let drv_a = app_a.sync_driver_with_token(&token_a).await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_pa, pres_a) = tokio::sync::mpsc::unbounded_channel();
    let (_pb, pres_b) = tokio::sync::mpsc::unbounded_channel();
    let (_nb_tx, nb) = tokio::sync::mpsc::unbounded_channel();
    let task_a = tokio::spawn(drv_a.run(app_a.sync_nudges(), stop.clone(), pres_a));
    let task_b = tokio::spawn(drv_b.run(nb, stop.clone(), pres_b));
    tokio::time::sleep(Duration::from_secs(2)).await;
    while applied.try_recv().is_ok() {}
    let mut idle = Vec::new();
    let mut live = Vec::new();
    let mut acked = Vec::new();
    for i in 0..WRITES {
        let name = format!("live {i}");
        let t = Instant::now();
        app_a
            .update_lead(
                lead,
                LeadPatch {
                    name: Some(name.clone()),
                    ..Default::default()
                },
            )
            .await?;
        idle.push(us(t.elapsed()));
        let mut acked_at = None;
        let deadline = t + Duration::from_secs(5);
        loop {
            if acked_at.is_none() && app_a.sync_status().await?.map(|s| s.pending).unwrap_or(1) == 0
            {
                acked_at = Some(t.elapsed());
            }
            match tokio::time::timeout(Duration::from_millis(2), applied.recv()).await {
                Ok(Some(at)) => {
                    if app_b.lead(lead).await?.name == name {
                        live.push(us(at - t) / 1000.0);
                        break;
                    }
                }
                Ok(None) => bail!("B's driver stopped"),
                Err(_) => {}
            }
            if Instant::now() > deadline {
                bail!("write {i} never reached B");
            }
        }
        if let Some(a) = acked_at {
            acked.push(us(a) / 1000.0);
        }
    }
    let _ = stop_tx.send(true);
    let _ = task_a.await;
    let _ = task_b.await;
    let mut pl = p.live_ms.clone();
    rows.push(Row::new(
        "sync live: write on A → in B's store, p50",
        pct(&mut live, 50.0),
        "ms",
        "PouchDB live replication p50",
        pct(&mut pl, 50.0),
        "< 10 ms",
    ));
    rows.push(Row::new(
        "sync live: write on A → in B's store, p99",
        pct(&mut live, 99.0),
        "ms",
        "PouchDB live replication p99",
        pct(&mut pl, 99.0),
        "< 50 ms",
    ));
    rows.push(Row::new(
        "sync: write → pushed → acknowledged, p50",
        pct(&mut acked, 50.0),
        "ms",
        "write → in B's store p50",
        pct(&mut live, 50.0),
        "",
    ));
    rows.push(Row::new(
        "op p99, signed in, sync idle",
        pct(&mut idle, 99.0) / 1000.0,
        "ms",
        "op p99 while a bootstrap runs",
        pct(&mut busy, 99.0) / 1000.0,
        "< 2 ms both",
    ));
    Ok(())
}
