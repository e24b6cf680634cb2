//! The server's story suite, run against both backends (SQLite in a temp directory, a
//! throwaway PostgreSQL cluster): real HTTP over loopback to the real router and storage.
//! Sign-in and a round trip, retries/forks/gaps/skew, roles and isolation, bad input, a
//! gap-free sequence under concurrent pushes, and pokes across server processes.

mod api;
mod api_records;
mod api_sync;
mod pg;

use api::*;
use api_records::*;
use api_sync::*;

use futures_util::{SinkExt, StreamExt};
use rapport_core::{Hlc, NodeId};
use rapport_server::{AppState, Db, OrgRow};
use rapport_sync::state::RecordState;
use rapport_sync::wire::*;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

struct T {
    db: Db,
    url: String,
    http: reqwest::Client,
    /// A second server process's view of the same database (PostgreSQL only).
    second: Option<String>,
    _dir: Option<tempfile::TempDir>,
    /// Each server process's replica directory.
    _replicas: Vec<tempfile::TempDir>,
}

async fn serve(db: Db) -> (String, tempfile::TempDir) {
    let hub = rapport_server::hub_for(&db);
    let replicas = tempfile::tempdir().unwrap();
    let app = rapport_server::router(AppState::new(db, hub, replicas.path().to_path_buf()));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, replicas)
}

impl T {
    async fn sqlite() -> T {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_dir(dir.path()).await.unwrap();
        T::with(db, None, Some(dir)).await
    }
    async fn postgres() -> T {
        let url = pg::fresh_database().await;
        let db = Db::open(&url).await.unwrap();
        // Another process on the same database: its own pool, its own LISTEN.
        let other = Db::open(&url).await.unwrap();
        let second = serve(other).await;
        T::with(db, Some(second), None).await
    }
    async fn with(
        db: Db,
        second: Option<(String, tempfile::TempDir)>,
        dir: Option<tempfile::TempDir>,
    ) -> T {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (url, replicas) = serve(db.clone()).await;
        let (second, other) = second.unzip();
        T {
            db,
            url,
            // Bodies as sent (the bootstrap test checks the compression itself).
            http: reqwest::Client::builder().no_zstd().build().unwrap(),
            second,
            _dir: dir,
            _replicas: [Some(replicas), other].into_iter().flatten().collect(),
        }
    }
    async fn org(&self, name: &str) -> OrgRow {
        self.db.create_org(name, now()).await.unwrap()
    }
    async fn member(&self, org: &OrgRow, email: &str, role: &str) -> String {
        self.db
            .add_member(org, email, None, role, Some(PASSWORD), now())
            .await
            .unwrap();
        let (s, v) = self
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD, "device_name": "t"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
    /// A member with a device token issued directly (no password to hash: fast).
    async fn device(&self, org: &OrgRow, email: &str, role: &str) -> String {
        let u = self
            .db
            .add_member(org, email, None, role, None, now())
            .await
            .unwrap();
        self.db
            .issue_token(&u.id, "device", "t", now())
            .await
            .unwrap()
            .1
    }
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_at(&self.url, method, path, token, body).await
    }
    async fn call_at(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn register(&self, org: &OrgRow, token: &str, client: &str) -> RegisterResponse {
        let (s, v) = self
            .call(
                "POST",
                &format!("/v1/orgs/{}/clients", org.id),
                Some(token),
                Some(json!({"client_id": client, "device_name": client})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        serde_json::from_value(v).unwrap()
    }
    async fn push(
        &self,
        org: &OrgRow,
        token: &str,
        client: &str,
        epoch: &str,
        ops: Vec<Op>,
    ) -> (u16, Value) {
        let req = PushRequest {
            client_id: client.into(),
            epoch: epoch.into(),
            ops,
        };
        self.call(
            "POST",
            &format!("/v1/orgs/{}/push", org.id),
            Some(token),
            Some(serde_json::to_value(req).unwrap()),
        )
        .await
    }
    async fn pull(&self, org: &OrgRow, token: &str, since: i64) -> ChangesPage {
        let (s, v) = self
            .call(
                "GET",
                &format!("/v1/orgs/{}/changes?since={since}&limit=5000", org.id),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        serde_json::from_value(v).unwrap()
    }
}

fn now() -> i64 {
    rapport_server::now_ms()
}

fn id(n: u128) -> String {
    rapport_core::Id(ulid::Ulid::from_parts(1_700_000_000_000, n)).to_string()
}

fn lead(local_seq: i64, lead_id: &str, name: &str, node: u64) -> Op {
    let at = now() - 1000;
    let ts = chrono::DateTime::from_timestamp_millis(at)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut state = RecordState::default();
    for (k, v) in [
        ("name", json!(name)),
        (
            "status_id",
            json!(rapport_core::LeadStatus::seed_id("Potential").to_string()),
        ),
        ("status_label", json!("Potential")),
        ("date_created", json!(ts)),
        ("date_updated", json!(ts)),
    ] {
        state.fields.insert(k.into(), v);
    }
    state.clocks.insert(
        "*".into(),
        Hlc {
            ms: at as u64,
            counter: local_seq as u16,
            node: NodeId(node),
        },
    );
    Op {
        local_seq,
        op_id: op_id(local_seq, "lead", lead_id, &state),
        entity: "lead".into(),
        id: lead_id.into(),
        lead_id: None,
        kind: "create".into(),
        state,
        base_rev: None,
    }
}

fn rename(local_seq: i64, lead_id: &str, name: &str, at: i64, node: u64) -> Op {
    let mut state = RecordState::default();
    state.fields.insert("name".into(), json!(name));
    state.clocks.insert(
        "name".into(),
        Hlc {
            ms: at as u64,
            counter: 0,
            node: NodeId(node),
        },
    );
    Op {
        local_seq,
        op_id: op_id(local_seq, "lead", lead_id, &state),
        entity: "lead".into(),
        id: lead_id.into(),
        lead_id: None,
        kind: "update".into(),
        state,
        base_rev: None,
    }
}

macro_rules! stories {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::T::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::T::postgres().await).await
                }
            )*
        }
    };
}

stories!(
    sign_in_push_pull_and_bootstrap_round_trip,
    retries_forks_gaps_and_skew,
    roles_isolation_and_revocation,
    bad_input_is_refused_and_nothing_is_written,
    concurrent_pushes_get_one_gap_free_sequence,
    pokes_reach_sockets_of_every_server_process,
    api_keys_authenticate_with_the_role_and_are_revocable,
    api_auth_roles_and_org_selection,
    api_leads_create_read_update_delete,
    api_bad_input_is_refused_and_nothing_is_written,
    api_search_with_the_query_language,
    api_writes_are_changes_of_the_org_sequence,
    api_writes_reach_a_syncing_client_store,
    api_openapi_document_agrees_with_the_routes,
    api_concurrent_writes_all_land_once,
    api_contacts_and_tasks,
    api_idempotency_key_creates_once,
    api_rate_limit_per_key,
);

/// An API key (`rpk_`, issued for a member) authenticates like a device token, with the
/// member's role; a revoked or unknown key is 401.
async fn api_keys_authenticate_with_the_role_and_are_revocable(t: T) {
    let org = t.org("Acme").await;
    let u =
        t.db.add_member(&org, "viewer@acme.example", None, "viewer", None, now())
            .await
            .unwrap();
    let (kid, key) =
        t.db.issue_token(&u.id, "api", "script", now())
            .await
            .unwrap();
    assert!(key.starts_with("rpk_"), "{key}");
    let (s, me) = t.call("GET", "/v1/me", Some(&key), None).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["orgs"][0]["role"], "viewer");
    let toks = t.db.tokens_of(&u.id).await.unwrap();
    assert_eq!((toks.len(), toks[0].kind.as_str()), (1, "api"));
    assert!(t.db.revoke_token(&kid, now()).await.unwrap());
    let (s, _) = t.call("GET", "/v1/me", Some(&key), None).await;
    assert_eq!(s, 401);
    let (s, _) = t.call("GET", "/v1/me", Some("rpk_not-a-key"), None).await;
    assert_eq!(s, 401);
}

/// `admin create-api-key` prints an `rpk_` key once for a member, and refuses a non-member.
#[test]
fn admin_create_api_key_prints_a_key_for_members_only() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rapport-server"))
            .arg("--data")
            .arg(dir.path())
            .arg("admin")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["create-org", "Acme"]).status.success());
    let o = run(&["add-user", "--org", "Acme", "--email", "joe@acme.example"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "create-api-key",
        "--org",
        "Acme",
        "--email",
        "joe@acme.example",
        "--name",
        "zapier",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let key = String::from_utf8(o.stdout).unwrap();
    assert!(
        key.trim().starts_with("rpk_") && key.trim().len() > 40,
        "{key}"
    );
    let o = run(&["list-tokens", "--email", "joe@acme.example"]);
    let listed = String::from_utf8(o.stdout).unwrap();
    assert!(
        listed.contains("zapier") && !listed.contains(key.trim()),
        "{listed}"
    );
    let scoped = |scope: &str| {
        run(&[
            "create-api-key",
            "--org",
            "Acme",
            "--email",
            "joe@acme.example",
            "--scope",
            scope,
        ])
    };
    let o = scoped("read");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .starts_with("rpk_")
    );
    let o = scoped("everything");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("scope"));
    run(&["create-org", "Other"]);
    let o = run(&[
        "create-api-key",
        "--org",
        "Other",
        "--email",
        "joe@acme.example",
    ]);
    assert!(!o.status.success());
}

async fn sign_in_push_pull_and_bootstrap_round_trip(t: T) {
    let org = t.org("Acme").await;
    let sally = t.member(&org, "sally@acme.example", "member").await;
    let joe = t.member(&org, "joe@acme.example", "member").await;
    let (s, me) = t.call("GET", "/v1/me", Some(&sally), None).await;
    assert_eq!(s, 200);
    assert_eq!(me["orgs"][0]["name"], "Acme");
    assert_eq!(me["orgs"][0]["role"], "member");
    let reg = t.register(&org, &sally, "A").await;
    assert_eq!(reg.applied_local_seq, 0);
    // Registering again is idempotent.
    assert_eq!(t.register(&org, &sally, "A").await.epoch, reg.epoch);
    let l = id(1);
    let (s, v) = t
        .push(
            &org,
            &sally,
            "A",
            &reg.epoch,
            vec![
                lead(1, &l, "Acme Corp", 7),
                rename(2, &l, "Acme Corporation", now(), 7),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let resp: PushResponse = serde_json::from_value(v).unwrap();
    assert_eq!(resp.applied_through, 2);
    assert!(resp.results.iter().all(|r| r.status == OpStatus::Applied));
    // Joe's device: the two members' user records and the lead, in seq order.
    let page = t.pull(&org, &joe, 0).await;
    let kinds: Vec<&str> = page.changes.iter().map(|c| c.entity.as_str()).collect();
    assert_eq!(kinds, ["user", "user", "lead"]);
    let c = &page.changes[2];
    assert_eq!(c.state.fields["name"], "Acme Corporation");
    assert_eq!(c.updated_by.as_deref(), Some(reg.user_id.as_str()));
    assert_eq!(page.last_seq, 4);
    assert_eq!(page.next_since, 4);
    assert!(t.pull(&org, &joe, page.next_since).await.changes.is_empty());
    // Bootstrap: header, every live record in id order, end with the count.
    let text = t
        .http
        .get(format!("{}/v1/orgs/{}/bootstrap", t.url, org.id))
        .bearer_auth(&joe)
        .header("accept-encoding", "zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(
        text.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("zstd")
    );
    let body = text.bytes().await.unwrap();
    let body = zstd::decode_all(&body[..]).unwrap();
    let lines: Vec<BootstrapLine> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(matches!(
        lines[0],
        BootstrapLine::Header {
            snapshot_seq: 4,
            estimated: 3,
            ..
        }
    ));
    assert!(matches!(
        lines[4],
        BootstrapLine::End {
            count: 3,
            snapshot_seq: 4
        }
    ));
    let ids: Vec<String> = lines[1..4]
        .iter()
        .map(|l| match l {
            BootstrapLine::Record { id, .. } => id.clone(),
            _ => panic!("{l:?}"),
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    // Resumed after the first id: the rest.
    let (s, v) = t
        .call(
            "GET",
            &format!("/v1/orgs/{}/bootstrap?after_id={}", org.id, ids[0]),
            Some(&joe),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_str().unwrap().lines().count(), 4);
}

async fn retries_forks_gaps_and_skew(t: T) {
    let org = t.org("Acme").await;
    let sally = t.member(&org, "sally@acme.example", "member").await;
    let reg = t.register(&org, &sally, "A").await;
    let l = id(2);
    let ops = vec![lead(1, &l, "Acme", 7)];
    assert_eq!(
        t.push(&org, &sally, "A", &reg.epoch, ops.clone()).await.0,
        200
    );
    let (s, v) = t.push(&org, &sally, "A", &reg.epoch, ops).await;
    assert_eq!(s, 200);
    assert_eq!(v["results"][0]["status"], "duplicate");
    assert_eq!(v["last_seq"], 2);
    // A copy of the store wrote something else at local_seq 1.
    let (s, v) = t
        .push(
            &org,
            &sally,
            "A",
            &reg.epoch,
            vec![rename(1, &l, "Fork", now(), 9)],
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("client_forked")), "{v}");
    // A gap.
    let (s, v) = t
        .push(
            &org,
            &sally,
            "A",
            &reg.epoch,
            vec![rename(3, &l, "Gap", now(), 7)],
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("gap")));
    assert_eq!(v["applied_local_seq"], 1);
    // A clock ten minutes ahead.
    let (s, v) = t
        .push(
            &org,
            &sally,
            "A",
            &reg.epoch,
            vec![rename(2, &l, "Future", now() + 600_000, 7)],
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("clock_skew")));
    assert!((v["server_time"].as_i64().unwrap() - now()).abs() < 60_000);
    // A stale epoch.
    let (s, v) = t
        .push(&org, &sally, "A", "OLD", vec![rename(2, &l, "X", now(), 7)])
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("epoch_changed")));
    // None of the refused pushes changed anything.
    let page = t.pull(&org, &sally, 0).await;
    assert_eq!(page.last_seq, 2);
    assert_eq!(page.changes[1].state.fields["name"], "Acme");
}

async fn roles_isolation_and_revocation(t: T) {
    let acme = t.org("Acme").await;
    let other = t.org("Other").await;
    let sally = t.member(&acme, "sally@acme.example", "member").await;
    let vera = t.member(&acme, "vera@acme.example", "viewer").await;
    let olga = t.member(&other, "olga@other.example", "owner").await;
    let reg = t.register(&acme, &vera, "V").await;
    let (s, v) = t
        .push(
            &acme,
            &vera,
            "V",
            &reg.epoch,
            vec![lead(1, &id(3), "No", 5)],
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
    // A viewer reads.
    assert_eq!(t.pull(&acme, &vera, 0).await.last_seq, 2);
    // Another org's member sees no such org, on every route.
    for (m, p) in [
        ("GET", format!("/v1/orgs/{}/changes", acme.id)),
        ("GET", format!("/v1/orgs/{}/bootstrap", acme.id)),
        ("POST", format!("/v1/orgs/{}/clients", acme.id)),
        ("POST", format!("/v1/orgs/{}/push", acme.id)),
    ] {
        let body = (m == "POST")
            .then(|| json!({"client_id": "O", "device_name": "o", "epoch": "", "ops": []}));
        let (s, v) = t.call(m, &p, Some(&olga), body).await;
        assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{p}");
    }
    // A client id belongs to the user who registered it.
    let (s, v) = t
        .call(
            "POST",
            &format!("/v1/orgs/{}/clients", acme.id),
            Some(&sally),
            Some(json!({"client_id": "V", "device_name": "x"})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
    // No token, a made-up token, a revoked token: 401.
    assert_eq!(t.call("GET", "/v1/me", None, None).await.0, 401);
    assert_eq!(t.call("GET", "/v1/me", Some("rpd_nope"), None).await.0, 401);
    let (s, tokens) = t.call("GET", "/v1/tokens", Some(&sally), None).await;
    assert_eq!(s, 200);
    let tid = tokens[0]["id"].as_str().unwrap().to_string();
    let (s, _) = t
        .call("DELETE", &format!("/v1/tokens/{tid}"), Some(&sally), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(t.call("GET", "/v1/me", Some(&sally), None).await.0, 401);
    // Someone else's token id is not found.
    let (_, tokens) = t.call("GET", "/v1/tokens", Some(&olga), None).await;
    let oid = tokens[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        t.call("DELETE", &format!("/v1/tokens/{oid}"), Some(&vera), None)
            .await
            .0,
        404
    );
    // Wrong password and unknown email read the same.
    let bad =
        |email: &str| json!({"email": email, "password": "wrong-password", "device_name": "t"});
    let a = t
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(bad("sally@acme.example")),
        )
        .await;
    let b = t
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(bad("nobody@acme.example")),
        )
        .await;
    assert_eq!(a, b);
    assert_eq!(a.0, 401);
}

async fn bad_input_is_refused_and_nothing_is_written(t: T) {
    let org = t.org("Acme").await;
    let sally = t.member(&org, "sally@acme.example", "member").await;
    let reg = t.register(&org, &sally, "A").await;
    let push = format!("/v1/orgs/{}/push", org.id);
    // Not JSON, wrong shapes.
    let r = t
        .http
        .post(format!("{}{push}", t.url))
        .bearer_auth(&sally)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "bad_request");
    let (s, _) = t
        .call(
            "POST",
            &push,
            Some(&sally),
            Some(json!({"client_id": 5, "ops": "x"})),
        )
        .await;
    assert_eq!(s, 400);
    // Too big.
    let r = t
        .http
        .post(format!("{}{push}", t.url))
        .bearer_auth(&sally)
        .header("content-type", "application/json")
        .body(vec![b' '; MAX_BODY + 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // An invalid record and an unknown kind: rejected, the client moves past them.
    let mut bad = lead(1, &id(4), "Bad", 7);
    bad.state
        .fields
        .insert("date_created".into(), json!("yesterday"));
    let mut unknown = lead(2, &id(5), "X", 7);
    unknown.entity = "gizmo".into();
    let (s, v) = t
        .push(&org, &sally, "A", &reg.epoch, vec![bad, unknown])
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["status"], "rejected");
    assert_eq!(v["results"][1]["error"]["code"], "unknown_entity");
    assert_eq!(v["applied_through"], 2);
    let page = t.pull(&org, &sally, 0).await;
    assert_eq!(page.changes.len(), 1, "only the user record");
    assert_eq!(page.last_seq, 1);
    // Bad cursors and routes.
    let (s, _) = t
        .call(
            "GET",
            &format!("/v1/orgs/{}/changes?since=-1", org.id),
            Some(&sally),
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = t.call("GET", "/v1/nowhere", Some(&sally), None).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, _) = t.call("GET", "/v1/me", Some(&sally), None).await;
    assert_eq!(s, 200);
    // An admin command's bad input: a clear error, nothing created.
    assert!(
        t.db.add_member(&org, "not-an-email", None, "member", None, now())
            .await
            .is_err()
    );
    assert!(
        t.db.add_member(&org, "a@b.example", None, "boss", None, now())
            .await
            .is_err()
    );
    assert!(
        t.db.add_member(&org, "a@b.example", None, "member", Some("short"), now())
            .await
            .is_err()
    );
    assert!(t.db.user_by_email("a@b.example").await.unwrap().is_none());
    assert!(
        t.db.create_org("acme", now()).await.is_err(),
        "names are unique, any case"
    );
}

async fn concurrent_pushes_get_one_gap_free_sequence(t: T) {
    let org = t.org("Acme").await;
    let mut tokens = vec![];
    for i in 0..6 {
        let tok = t
            .member(&org, &format!("u{i}@acme.example"), "member")
            .await;
        let reg = t.register(&org, &tok, &format!("C{i}")).await;
        tokens.push((tok, reg.epoch));
    }
    let base = t.pull(&org, &tokens[0].0, 0).await.last_seq;
    let t = std::sync::Arc::new(t);
    let mut tasks = vec![];
    for (i, (tok, epoch)) in tokens.into_iter().enumerate() {
        let t = t.clone();
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            let base_url = if i % 2 == 1 {
                t.second.clone().unwrap_or(t.url.clone())
            } else {
                t.url.clone()
            };
            for b in 0..5 {
                let ops: Vec<Op> = (0..4)
                    .map(|k| {
                        let n = (i * 100 + b * 4 + k) as u128;
                        lead(
                            (b * 4 + k + 1) as i64,
                            &id(1000 + n),
                            &format!("L{n}"),
                            i as u64 + 1,
                        )
                    })
                    .collect();
                let req = PushRequest {
                    client_id: format!("C{i}"),
                    epoch: epoch.clone(),
                    ops,
                };
                let (s, v) = t
                    .call_at(
                        &base_url,
                        "POST",
                        &format!("/v1/orgs/{}/push", org.id),
                        Some(&tok),
                        Some(serde_json::to_value(req).unwrap()),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = t
        .pull(
            &org,
            &t.db
                .issue_token(
                    &t.db
                        .user_by_email("u0@acme.example")
                        .await
                        .unwrap()
                        .unwrap()
                        .0
                        .id,
                    "device",
                    "x",
                    now(),
                )
                .await
                .unwrap()
                .1,
            base,
        )
        .await;
    let mut seqs: Vec<i64> = page.changes.iter().map(|c| c.seq).collect();
    seqs.sort();
    let want: Vec<i64> = (base + 1..=base + 120).collect();
    assert_eq!(seqs, want, "every op its own seq, none skipped, none twice");
    assert_eq!(page.last_seq, base + 120);
}

async fn pokes_reach_sockets_of_every_server_process(t: T) {
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let org = t.org("Acme").await;
    let sally = t.member(&org, "sally@acme.example", "member").await;
    let joe = t.member(&org, "joe@acme.example", "member").await;
    let reg = t.register(&org, &sally, "A").await;
    t.register(&org, &joe, "B").await;
    // Joe's socket is on the other process when there is one.
    let on = t.second.clone().unwrap_or(t.url.clone());
    let mut req = format!("{}/v1/orgs/{}/events", on.replacen("http", "ws", 1), org.id)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {joe}").parse().unwrap());
    req.headers_mut()
        .insert(CLIENT_HEADER, "B".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hello = serde_json::to_string(&ClientMessage::Hello { cursor: 2 }).unwrap();
    ws.send(Message::text(hello)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, v) = t
        .push(
            &org,
            &sally,
            "A",
            &reg.epoch,
            vec![lead(1, &id(9), "Poke Co", 7)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let got = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && let Ok(ServerMessage::Poke { seq }) = serde_json::from_str(&t)
            {
                return seq;
            }
        }
        0
    })
    .await
    .expect("no poke within 2 s");
    assert_eq!(got, 3);
    // A revoked token's socket is closed with `revoked`.
    let tid = t.db.authenticate(&joe).await.unwrap().unwrap().token_id;
    t.db.revoke_token(&tid, now()).await.unwrap();
    let revoked = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && serde_json::from_str::<ServerMessage>(&t).ok() == Some(ServerMessage::Revoked)
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("socket not closed within 5 s");
    assert!(revoked);
}

/// PostgreSQL under load: 50 pushers through two server processes while readers pull in tight
/// loops for 15 s. Every page a reader sees continues its cursor with no seq skipped or
/// repeated (creates only, so no record's seq is superseded), and at the end the org holds
/// exactly one seq per applied op.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_fifty_pushers_and_tight_readers_never_skip_or_repeat_a_seq() {
    let t = std::sync::Arc::new(T::postgres().await);
    let org = t.org("Load").await;
    let reader = t.member(&org, "reader@load.example", "viewer").await;
    let mut pushers = vec![];
    for i in 0..50 {
        let tok = t
            .device(&org, &format!("p{i}@load.example"), "member")
            .await;
        let reg = t.register(&org, &tok, &format!("P{i}")).await;
        pushers.push((tok, reg.epoch));
    }
    let base = t.pull(&org, &reader, 0).await.last_seq;
    let stop = std::time::Instant::now() + Duration::from_secs(15);
    let pushed = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut tasks = vec![];
    for (i, (tok, epoch)) in pushers.into_iter().enumerate() {
        let (t, org, pushed) = (t.clone(), org.clone(), pushed.clone());
        tasks.push(tokio::spawn(async move {
            let url = if i % 2 == 0 {
                t.url.clone()
            } else {
                t.second.clone().unwrap()
            };
            let mut ls = 0i64;
            while std::time::Instant::now() < stop {
                let ops: Vec<Op> = (0..5)
                    .map(|_| {
                        ls += 1;
                        lead(ls, &id((i as u128) << 32 | ls as u128), "L", i as u64 + 1)
                    })
                    .collect();
                let req = PushRequest {
                    client_id: format!("P{i}"),
                    epoch: epoch.clone(),
                    ops,
                };
                let (s, v) = t
                    .call_at(
                        &url,
                        "POST",
                        &format!("/v1/orgs/{}/push", org.id),
                        Some(&tok),
                        Some(serde_json::to_value(req).unwrap()),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
                pushed.fetch_add(5, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    let mut readers = vec![];
    for r in 0..4 {
        let (t, org, reader) = (t.clone(), org.clone(), reader.clone());
        readers.push(tokio::spawn(async move {
            let url = if r % 2 == 0 {
                t.url.clone()
            } else {
                t.second.clone().unwrap()
            };
            let mut cursor = base;
            let mut pages = 0;
            while std::time::Instant::now() < stop + Duration::from_secs(2) {
                let (s, v) = t
                    .call_at(
                        &url,
                        "GET",
                        &format!("/v1/orgs/{}/changes?since={cursor}&limit=500", org.id),
                        Some(&reader),
                        None,
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
                let page: ChangesPage = serde_json::from_value(v).unwrap();
                for c in &page.changes {
                    assert_eq!(
                        c.seq,
                        cursor + 1,
                        "reader {r} saw seq {} after {cursor}",
                        c.seq
                    );
                    cursor = c.seq;
                }
                pages += 1;
            }
            (cursor, pages)
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = pushed.load(std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        let (cursor, pages) = r.await.unwrap();
        assert_eq!(cursor, base + total, "a reader ends at the last seq");
        assert!(pages > 10);
    }
    let last = t.pull(&org, &reader, 0).await.last_seq;
    assert_eq!(last, base + total);
    eprintln!("50 pushers: {total} ops in 15 s through two processes");
}
