//! Team sync end to end with real processes: the `rapport-server` binary on a temp directory
//! and free port, `rapport` CLI clients on their own stores. Two stores converge through it;
//! a watching client gets a coworker's change within a second; note bodies edited offline
//! merge or become a conflict kept for review; the server killed mid-push and mid-bootstrap,
//! and answers lost after the server committed, lose and double nothing; bad sign-ins are a
//! clear message with the store untouched.

use rapport_tests::team::{Proxy, TeamServer, lead_export, login, sync_until_done};
use rapport_tests::{machine_blocking, rapport};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ORG: &str = "Acme Sales";

struct Team {
    dir: tempfile::TempDir,
    server: TeamServer,
}

fn team() -> Team {
    let dir = tempfile::tempdir().unwrap();
    let server = TeamServer::start(&dir.path().join("server")).unwrap();
    server
        .org(
            ORG,
            &[
                ("sally@acme.example", "member", "sally-secret-1"),
                ("joe@acme.example", "member", "joe-secret-1"),
                ("vera@acme.example", "viewer", "vera-secret-1"),
            ],
        )
        .unwrap();
    Team { dir, server }
}

impl Team {
    fn store(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.db"))
    }
    /// A store signed in as sally with her password, or as joe with a device token.
    fn join(&self, name: &str, as_joe: bool) -> PathBuf {
        let db = self.store(name);
        if as_joe {
            let token = self.server.token(ORG, "joe@acme.example", name).unwrap();
            let (code, _, err) = rapport(
                &db,
                &[
                    "sync",
                    "login",
                    &self.server.url,
                    "--org",
                    ORG,
                    "--token",
                    &token,
                ],
            )
            .unwrap();
            assert_eq!(code, 0, "{err}");
        } else {
            let (code, _, err) = login(
                &db,
                &self.server.url,
                ORG,
                "sally@acme.example",
                "sally-secret-1",
            )
            .unwrap();
            assert_eq!(code, 0, "{err}");
        }
        db
    }
}

fn json(db: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out, err) = rapport(db, &a).unwrap();
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

fn ok(db: &Path, args: &[&str]) -> String {
    let (code, out, err) = rapport(db, args).unwrap();
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

#[test]
fn two_stores_converge_through_the_server_field_by_field() {
    let t = team();
    // Sally worked offline before joining: nothing of it may be lost.
    let a = t.store("sally");
    ok(&a, &["lead", "add", "Acme Corp", "--city", "Menlo Park"]);
    ok(
        &a,
        &[
            "call",
            "log",
            "Acme Corp",
            "--duration",
            "95",
            "--phone",
            "4155550123",
        ],
    );
    ok(&a, &["note", "add", "Acme Corp", "budget approved"]);
    let before = lead_export(&a).unwrap();
    let a = t.join("sally", false);
    assert_eq!(lead_export(&a).unwrap(), {
        // The local user is now sally's org identity (the lead's owner, the call's and the
        // note's author); nothing else changed.
        let old = before[0]["owner_id"].as_str().unwrap().to_string();
        let me = json(&a, &["info"])["info"]["user"]["id"].clone();
        assert_ne!(me.as_str(), Some(old.as_str()));
        let text = serde_json::to_string(&before).unwrap();
        let text = text.replace(&old, me.as_str().unwrap());
        serde_json::from_str::<Vec<Value>>(&text).unwrap()
    });
    let st = json(&a, &["sync", "status"]);
    assert!(st["pending"].as_i64().unwrap() > 0, "{st}");
    ok(&a, &["sync"]);
    assert_eq!(json(&a, &["sync", "status"])["pending"], 0);
    let b = t.join("joe", true);
    let report = ok(&b, &["sync"]);
    assert!(report.contains("bootstrapped"), "{report}");
    assert_eq!(lead_export(&b).unwrap(), lead_export(&a).unwrap());
    // Concurrent offline edits of different fields of one lead both survive on both sides.
    ok(
        &a,
        &["lead", "edit", "Acme Corp", "--url", "https://acme.example"],
    );
    ok(
        &b,
        &["lead", "edit", "Acme Corp", "--description", "from joe"],
    );
    ok(&b, &["sync"]);
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    let (ea, eb) = (lead_export(&a).unwrap(), lead_export(&b).unwrap());
    assert_eq!(ea, eb);
    assert_eq!(ea[0]["url"], "https://acme.example/");
    assert_eq!(ea[0]["description"], "from joe");
    // A viewer's store can pull but its pushes are refused.
    let v = t.store("vera");
    let (code, _, err) =
        login(&v, &t.server.url, ORG, "vera@acme.example", "vera-secret-1").unwrap();
    assert_eq!(code, 0, "{err}");
    ok(&v, &["sync"]);
    assert_eq!(lead_export(&v).unwrap(), ea);
}

#[test]
fn a_watching_client_gets_a_coworkers_change_within_a_second() {
    let _machine = machine_blocking();
    let t = team();
    let a = t.join("sally", false);
    let b = t.join("joe", true);
    ok(&a, &["lead", "add", "Live Co"]);
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    let mut watch = rapport_tests::Guard::spawn(
        "rapport sync --watch",
        rapport_tests::rapport_command(&b)
            .unwrap()
            .args(["sync", "--watch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .unwrap();
    let _ = watch.child_mut();
    // Give the socket a moment to connect (polling covers a missed poke, but slowly).
    std::thread::sleep(Duration::from_millis(1500));
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let name = format!("Call note {i}");
        ok(
            &a,
            &[
                "call",
                "log",
                "Live Co",
                "--duration",
                "30",
                "--note",
                &name,
            ],
        );
        ok(&a, &["sync"]);
        let start = Instant::now();
        loop {
            let page = json(&b, &["lead", "show", "Live Co"]);
            if page.to_string().contains(&name) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "never arrived: {name}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        worst = worst.max(start.elapsed());
    }
    assert!(
        worst < Duration::from_secs(1),
        "slowest change took {worst:?}"
    );
}

fn note_id(db: &Path, lead: &str) -> String {
    let page = json(db, &["lead", "show", lead]);
    page["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["_type"] == "note" || a["type"] == "note")
        .map(|a| a["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no note in {page}"))
}

fn note_body(db: &Path, id: &str, lead: &str) -> String {
    let page = json(db, &["lead", "show", lead]);
    page["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .and_then(|a| {
            a["note"]
                .as_str()
                .or(a["body"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[test]
fn notes_edited_offline_merge_cleanly_or_keep_both_texts() {
    let t = team();
    let a = t.join("sally", false);
    let b = t.join("joe", true);
    ok(&a, &["lead", "add", "Notes Inc"]);
    ok(
        &a,
        &["note", "add", "Notes Inc", "one\ntwo\nthree\nfour\nfive"],
    );
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    let id = note_id(&a, "Notes Inc");
    // Different lines: both edits kept, on both stores.
    ok(&a, &["note", "edit", &id, "ONE\ntwo\nthree\nfour\nfive"]);
    ok(&b, &["note", "edit", &id, "one\ntwo\nthree\nfour\nFIVE"]);
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    ok(&a, &["sync"]);
    let merged = "ONE\ntwo\nthree\nfour\nFIVE";
    assert_eq!(note_body(&a, &id, "Notes Inc"), merged);
    assert_eq!(note_body(&b, &id, "Notes Inc"), merged);
    // The same line: one text stays the body, the other is a conflict kept for review.
    ok(
        &a,
        &["note", "edit", &id, "ONE\ntwo\nthree by sally\nfour\nFIVE"],
    );
    ok(
        &b,
        &["note", "edit", &id, "ONE\ntwo\nthree by joe\nfour\nFIVE"],
    );
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    ok(&a, &["sync"]);
    let (ba, bb) = (
        note_body(&a, &id, "Notes Inc"),
        note_body(&b, &id, "Notes Inc"),
    );
    assert_eq!(ba, bb);
    assert!(ba.contains("three by sally"), "{ba}");
    for db in [&a, &b] {
        let st = json(db, &["sync", "status"]);
        assert_eq!(st["conflicts"], 1, "{st}");
    }
}

#[test]
fn the_server_killed_mid_push_and_mid_bootstrap_loses_and_doubles_nothing() {
    let _machine = machine_blocking();
    let mut t = team();
    let a = t.join("sally", false);
    // About 110k records.
    ok(&a, &["demo", "--leads", "10000", "--seed", "3"]);
    let mut sync = rapport_tests::rapport_command(&a)
        .unwrap()
        .arg("sync")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill the server while the push runs (some batches in, most not).
    let start = Instant::now();
    loop {
        let pending = json(&a, &["sync", "status"])["pending"]
            .as_i64()
            .unwrap_or(0);
        if pending < 100_000 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    t.server.kill9();
    let _ = sync.wait();
    let left = json(&a, &["sync", "status"])["pending"].as_i64().unwrap();
    assert!(
        left > 0,
        "the push finished before the kill; nothing was tested"
    );
    t.server = TeamServer::start_on(&t.server.data, t.server.port).unwrap();
    sync_until_done(&a, 5).unwrap();
    assert_eq!(json(&a, &["sync", "status"])["pending"], 0);
    // A fresh store bootstraps; the server is killed part way and the bootstrap resumes.
    let c = t.join("joe", true);
    let mut boot = rapport_tests::rapport_command(&c)
        .unwrap()
        .arg("sync")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let st = json(&c, &["sync", "status"]);
        if st["bootstrap"] == "in_progress" || start.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    t.server.kill9();
    let _ = boot.wait();
    t.server = TeamServer::start_on(&t.server.data, t.server.port).unwrap();
    sync_until_done(&c, 5).unwrap();
    let (ea, ec) = (lead_export(&a).unwrap(), lead_export(&c).unwrap());
    assert_eq!(ea.len(), 10_000);
    assert!(
        ea == ec,
        "the bootstrapped store differs from the pushing one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_after_the_server_committed_are_retried_without_doubling() {
    let t = team();
    let proxy = Proxy::start(t.server.port).await.unwrap();
    let a = t.store("sally");
    ok(&a, &["demo", "--leads", "300", "--seed", "5"]);
    let (code, _, err) =
        login(&a, &proxy.url, ORG, "sally@acme.example", "sally-secret-1").unwrap();
    assert_eq!(code, 0, "{err}");
    // Every answer of the next ten requests is lost after the server did the work.
    proxy.cut.store(10, std::sync::atomic::Ordering::SeqCst);
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || sync_until_done(&a2, 40))
        .await
        .unwrap()
        .unwrap();
    assert!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 5);
    let c = t.join("joe", true);
    sync_until_done(&c, 5).unwrap();
    let (ea, ec) = (lead_export(&a).unwrap(), lead_export(&c).unwrap());
    assert_eq!(ea.len(), 300);
    assert!(ea == ec, "retried pushes doubled or lost something");
}

#[test]
fn bad_sign_ins_are_a_clear_message_and_touch_nothing() {
    let t = team();
    let db = t.store("sally");
    ok(&db, &["lead", "add", "Untouched"]);
    let before = lead_export(&db).unwrap();
    let (code, _, err) = login(&db, &t.server.url, ORG, "sally@acme.example", "wrong").unwrap();
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("password"), "{err}");
    let (code, _, err) = login(&db, "http://127.0.0.1:9", ORG, "sally@acme.example", "x").unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("cannot be reached"), "{err}");
    let (code, _, err) = login(
        &db,
        &t.server.url,
        "No Such Org",
        "sally@acme.example",
        "sally-secret-1",
    )
    .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("No Such Org"), "{err}");
    assert_eq!(json(&db, &["sync", "status"])["joined"], false);
    assert_eq!(lead_export(&db).unwrap(), before);
    // A revoked device token: the next sync says so, the data stays.
    let token = t.server.token(ORG, "joe@acme.example", "laptop").unwrap();
    let j = t.store("joe");
    ok(&j, &["lead", "add", "Joe's lead"]);
    ok(
        &j,
        &[
            "sync",
            "login",
            &t.server.url,
            "--org",
            ORG,
            "--token",
            &token,
        ],
    );
    let list = t
        .server
        .admin(&["list-tokens", "--email", "joe@acme.example"], None)
        .unwrap();
    let id = list
        .lines()
        .find(|l| l.contains("laptop"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    t.server.admin(&["revoke-token", &id], None).unwrap();
    let (code, _, err) = rapport(&j, &["sync"]).unwrap();
    assert_ne!(code, 0);
    assert!(
        err.contains("revoked") || err.contains("unauthorized") || err.contains("sign"),
        "{err}"
    );
    assert_eq!(lead_export(&j).unwrap().len(), 1);
}

/// A server restored from an older backup rotates its epoch: clients re-push everything they
/// hold, so what the backup lacked comes back and every store converges again.
#[test]
fn a_restored_server_gets_back_what_its_backup_lacked() {
    let mut t = team();
    let a = t.join("sally", false);
    ok(&a, &["lead", "add", "Before Backup"]);
    ok(&a, &["sync"]);
    let backup = t.dir.path().join("backup.db");
    t.server
        .admin(&["backup", "--to", backup.to_str().unwrap()], None)
        .unwrap();
    ok(&a, &["lead", "add", "After Backup"]);
    ok(
        &a,
        &["note", "add", "Before Backup", "written after the backup"],
    );
    ok(&a, &["sync"]);
    t.server.kill9();
    let out = t
        .server
        .admin(&["restore", "--from", backup.to_str().unwrap()], None)
        .unwrap();
    assert!(out.contains("new epoch"), "{out}");
    // A backup that is not ours is refused and nothing is replaced.
    let junk = t.dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    assert!(
        t.server
            .admin(&["restore", "--from", junk.to_str().unwrap()], None)
            .is_err()
    );
    t.server = TeamServer::start_on(&t.server.data, t.server.port).unwrap();
    // The server only has the backup's lead until sally's store re-pushes.
    let b = t.join("joe", true);
    ok(&b, &["sync"]);
    let names = |db: &Path| -> Vec<String> {
        let mut v: Vec<String> = lead_export(db)
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&b), ["Before Backup"]);
    sync_until_done(&a, 5).unwrap();
    ok(&b, &["sync"]);
    assert_eq!(names(&b), ["After Backup", "Before Backup"]);
    assert_eq!(lead_export(&a).unwrap(), lead_export(&b).unwrap());
}

/// Tombstones collected on the server: a client whose cursor is behind the horizon is told to
/// bootstrap again (410) and does, without resurrecting the deleted lead.
#[test]
fn a_client_behind_the_tombstone_horizon_bootstraps_again() {
    let t = team();
    let a = t.join("sally", false);
    let b = t.join("joe", true);
    ok(&a, &["lead", "add", "Doomed"]);
    ok(&a, &["lead", "add", "Kept"]);
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    ok(&a, &["lead", "delete", "Doomed"]);
    ok(&a, &["sync"]);
    let last = json(&a, &["sync", "status"])["state"]["server_seq"]
        .as_i64()
        .unwrap();
    let out = t
        .server
        .admin(&["gc", "--org", ORG, "--horizon", &last.to_string()], None)
        .unwrap();
    assert!(
        out.contains("dropped") && !out.contains("dropped 0 "),
        "{out}"
    );
    let report = ok(&b, &["sync"]);
    assert!(report.contains("bootstrapped"), "{report}");
    let names: Vec<String> = lead_export(&b)
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Kept"]);
    assert_eq!(lead_export(&a).unwrap(), lead_export(&b).unwrap());
}
