//! Stories of the public API and sync together, on both backends: API writes are changes of
//! the org's sequence (pulled by clients, reaching a connected desktop store), client pushes are
//! read by the API, concurrent writes land once — also through a second server process on
//! PostgreSQL.

use super::*;

/// An API write is a change of the org's sequence (a syncing client pulls it, with the
/// caller as its author); a client's push is read and found by the API right after; on
/// PostgreSQL a second server process's API sees the first one's writes.
pub(crate) async fn api_writes_are_changes_of_the_org_sequence(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let device = t.device(&org, "sally@acme.example", "member").await;
    let reg = t.register(&org, &device, "laptop").await;
    let since = t.last_seq(&org).await;

    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({"name": "From the API"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["lead"]["id"].as_str().unwrap().to_string();
    let page = t.pull(&org, &device, since).await;
    let lead = page
        .changes
        .iter()
        .find(|c| c.id == id)
        .expect("the API's lead is in the org's sequence");
    assert_eq!(lead.entity, "lead");
    assert_eq!(lead.state.fields["name"], "From the API");
    assert!(!lead.state.deleted);
    // The change is the calling member's, in the record and in the server's `updated_by`.
    let joe =
        t.db.user_by_email("joe@acme.example")
            .await
            .unwrap()
            .unwrap()
            .0;
    assert_eq!(lead.updated_by.as_deref(), Some(joe.id.as_str()));
    assert_eq!(lead.state.fields["owner_id"], json!(joe.id));

    // A client's push is visible to the API's next read and search.
    let pushed = super::id(77);
    let (s, v) = t
        .push(
            &org,
            &device,
            "laptop",
            &reg.epoch,
            vec![lead_op(1, &pushed, "Pushed Pomegranate", 9)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = t
        .api("GET", &format!("/api/v1/leads/{pushed}"), &key, None)
        .await;
    assert_eq!(
        (s, v["lead"]["name"].as_str()),
        (200, Some("Pushed Pomegranate")),
        "{v}"
    );
    let (s, v) = t
        .api("GET", "/api/v1/leads?query=pomegranate", &key, None)
        .await;
    assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");

    // An API update and delete reach the client as changes too.
    let since = t.last_seq(&org).await;
    let (s, _) = t
        .api(
            "PATCH",
            &format!("/api/v1/leads/{id}"),
            &key,
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        t.api("DELETE", &format!("/api/v1/leads/{pushed}"), &key, None)
            .await
            .0,
        204
    );
    let page = t.pull(&org, &device, since).await;
    let renamed = page
        .changes
        .iter()
        .find(|c| c.id == id)
        .expect("the rename");
    assert_eq!(renamed.state.fields["name"], "Renamed");
    let gone = page
        .changes
        .iter()
        .find(|c| c.id == pushed)
        .expect("the delete");
    assert!(gone.state.deleted);

    // Another server process on the same PostgreSQL: its own replica, the same org.
    if let Some(second) = &t.second {
        let (s, v) = t
            .call_at(
                second,
                "GET",
                &format!("/api/v1/leads/{id}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(
            (s, v["lead"]["name"].as_str()),
            (200, Some("Renamed")),
            "{v}"
        );
        let (s, v) = t
            .call_at(
                second,
                "POST",
                "/api/v1/leads",
                Some(&key),
                Some(json!({"name": "From the second process"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = t.api("GET", "/api/v1/leads?query=second", &key, None).await;
        assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");
        assert_eq!(
            t.api("GET", &format!("/api/v1/leads/{pushed}"), &key, None)
                .await
                .0,
            404
        );
    }
}

/// A lead create as a desktop pushes it (its record carries its id).
pub(crate) fn lead_op(local_seq: i64, id: &str, name: &str, node: u64) -> Op {
    let mut op = super::lead(local_seq, id, name, node);
    op.state.fields.insert("id".into(), json!(id));
    op.op_id = op_id(local_seq, "lead", id, &op.state);
    op
}

/// A desktop store (the app's own sync driver over HTTP) joined to the org.
async fn client_store(
    t: &T,
    org: &OrgRow,
    email: &str,
) -> (rapport_app::App, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = rapport_app::App::open(dir.path().join("desk.db"))
        .await
        .unwrap();
    let token = t.device(org, email, "member").await;
    let user = t.db.user_by_email(email).await.unwrap().unwrap().0;
    app.store()
        .join(&rapport_store::Join {
            server_url: t.url.clone(),
            org_id: org.id.clone(),
            org_name: org.name.clone(),
            user_id: user.id,
            user_name: user.display_name,
            user_email: Some(user.email),
            role: "member".into(),
            client_id: format!("desk-{}", ulid::Ulid::new()),
            device_name: "desk".into(),
        })
        .await
        .unwrap();
    (app, token, dir)
}

/// An API write reaches a signed-in desktop store that stays connected (pulled on the poke,
/// well within a second); an offline edit of another field of the same lead merges with an
/// API edit made meanwhile, on the desktop and through the API.
pub(crate) async fn api_writes_reach_a_syncing_client_store(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let (desk, token, _dir) = client_store(&t, &org, "sally@acme.example").await;
    desk.sync_driver_with_token(&token)
        .await
        .unwrap()
        .sync_once()
        .await
        .unwrap();

    // Live: the driver holds the event socket; the API's write is poked and pulled.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_presence_tx, presence) = tokio::sync::mpsc::unbounded_channel();
    let (_local_tx, local) = tokio::sync::mpsc::unbounded_channel();
    let driver = desk.sync_driver_with_token(&token).await.unwrap();
    let live = tokio::spawn(driver.run(local, stop, presence));
    tokio::time::sleep(Duration::from_millis(300)).await; // the socket is up
    let started = std::time::Instant::now();
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({"name": "Live Lead"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id: rapport_core::Id = v["lead"]["id"].as_str().unwrap().parse().unwrap();
    let seen = loop {
        if let Ok(l) = desk.lead(id).await {
            break l;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the API's lead did not reach the desktop within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(seen.name, "Live Lead");
    stop_tx.send(true).unwrap();
    live.await.unwrap().unwrap();

    // Offline: the desktop changes the description while the API renames; both survive.
    desk.update_lead(
        id,
        rapport_core::ops::LeadPatch {
            description: Some("From the desk".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (s, v) = t
        .api(
            "PATCH",
            &format!("/api/v1/leads/{id}"),
            &key,
            Some(json!({"name": "Renamed by API"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    desk.sync_driver_with_token(&token)
        .await
        .unwrap()
        .sync_once()
        .await
        .unwrap();
    let l = desk.lead(id).await.unwrap();
    assert_eq!(
        (l.name.as_str(), l.description.as_deref()),
        ("Renamed by API", Some("From the desk"))
    );
    let (s, v) = t
        .api("GET", &format!("/api/v1/leads/{id}"), &key, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["lead"]["name"].as_str(),
            v["lead"]["description"].as_str()
        ),
        (Some("Renamed by API"), Some("From the desk"))
    );
}

/// Concurrent API writes into one org (through both processes on PostgreSQL) all land, each
/// once, in the org's sequence, and every process's search finds all of them.
pub(crate) async fn api_concurrent_writes_all_land_once(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let device = t.device(&org, "sally@acme.example", "member").await;
    let bases: Vec<String> = [Some(t.url.clone()), t.second.clone()]
        .into_iter()
        .flatten()
        .collect();
    let n = 16;
    let calls = (0..n).map(|i| {
        let base = bases[i % bases.len()].clone();
        let key = key.clone();
        let t = &t;
        async move {
            t.call_at(
                &base,
                "POST",
                "/api/v1/leads",
                Some(&key),
                Some(json!({"name": format!("Concurrent {i} Quince")})),
            )
            .await
        }
    });
    for (s, v) in futures_util::future::join_all(calls).await {
        assert_eq!(s, 201, "{v}");
    }
    let page = t.pull(&org, &device, 0).await;
    let seqs: Vec<i64> = page.changes.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let leads = page
        .changes
        .iter()
        .filter(|c| c.entity == "lead" && !c.state.deleted)
        .count();
    assert_eq!(leads, n);
    for base in &bases {
        let (s, v) = t
            .call_at(
                base,
                "GET",
                "/api/v1/leads?query=quince&limit=100",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(
            (s, v["total"].as_u64()),
            (200, Some(n as u64)),
            "{base}: {v}"
        );
    }
}
