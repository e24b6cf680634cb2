//! Stories of the public API's other resources and request rules, on both backends: contacts
//! and tasks, the OpenAPI document against the router, `Idempotency-Key`, per-key rate limits.

use super::*;

/// The OpenAPI 3.1 document is served without a key and agrees with the router: the API's
/// operations are exactly the documented ones, each routed (401 without a key, where an
/// unknown route is the router's 404), and a body using every documented lead property is
/// accepted.
pub(crate) async fn api_openapi_document_agrees_with_the_routes(t: T) {
    let (s, doc) = t.raw("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200, "{doc}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let mut ops: Vec<(String, String)> = vec![];
    for (p, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                ops.push((m.to_uppercase(), p.clone()));
            }
        }
    }
    ops.sort();
    let mut want: Vec<(String, String)> = [
        ("DELETE", "/api/v1/contacts/{id}"),
        ("DELETE", "/api/v1/leads/{id}"),
        ("GET", "/api/v1/contacts/{id}"),
        ("GET", "/api/v1/tasks/{id}"),
        ("PATCH", "/api/v1/contacts/{id}"),
        ("PATCH", "/api/v1/tasks/{id}"),
        ("POST", "/api/v1/contacts"),
        ("POST", "/api/v1/tasks"),
        ("PUT", "/api/v1/contacts/{id}"),
        ("GET", "/api/v1/leads"),
        ("GET", "/api/v1/leads/{id}"),
        ("PATCH", "/api/v1/leads/{id}"),
        ("POST", "/api/v1/activities/call"),
        ("POST", "/api/v1/activities/note"),
        ("POST", "/api/v1/leads"),
        ("POST", "/api/v1/search"),
        ("PUT", "/api/v1/leads/{id}"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    want.sort();
    assert_eq!(ops, want);
    for (m, p) in &ops {
        let path = p.replace("{id}", &super::id(1));
        let (s, v) = t.raw(m, &path, None, Some("{}")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (401, Some("unauthorized")),
            "{m} {p}: {v}"
        );
    }
    let (s, _) = t.raw("GET", "/api/v1/opportunities", None, None).await;
    assert_eq!(s, 404);
    assert!(
        doc["components"]["securitySchemes"]["basic"].is_object(),
        "{doc}"
    );

    // Every documented property of a lead create and change is accepted.
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let value = |k: &str| match k {
        "name" => json!("Documented"),
        "description" => json!("every field"),
        "url" => json!("https://doc.example"),
        "status_label" => json!("Potential"),
        "owner_id" => Value::Null,
        "addresses" => json!([{"city": "Paris"}]),
        "custom" => json!({}),
        "contacts" => {
            json!([{"name": "Ann", "title": "CTO", "emails": [{"email": "ann@doc.example", "type": "office"}],
                             "phones": [{"phone": "+1 415 555 0101", "type": "office"}], "urls": [], "custom": {}}])
        }
        other => panic!("documented but not known to this test: {other}"),
    };
    let body = |schema: &str| -> Value {
        let props = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"));
        Value::Object(props.keys().map(|k| (k.clone(), value(k))).collect())
    };
    let (s, v) = t
        .api("POST", "/api/v1/leads", &key, Some(body("LeadInput")))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["contacts"][0]["name"], "Ann");
    let path = format!("/api/v1/leads/{}", v["lead"]["id"].as_str().unwrap());
    let mut patch = body("LeadPatchInput");
    patch["name"] = json!("Documented too");
    let (s, v) = t.api("PATCH", &path, &key, Some(patch)).await;
    assert_eq!(
        (s, v["lead"]["name"].as_str()),
        (200, Some("Documented too")),
        "{v}"
    );
}

/// Contacts and tasks by id: created on a lead (`lead_id` in the body), read, changed,
/// deleted (contacts); bad input, a viewer and another org's ids refused; each write in the
/// org's sequence.
pub(crate) async fn api_contacts_and_tasks(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let viewer = t.key(&org, "vera@acme.example", "viewer").await;
    let device = t.device(&org, "sally@acme.example", "member").await;
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({"name": "Bluth"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let lead = v["lead"]["id"].as_str().unwrap().to_string();
    let since = t.last_seq(&org).await;

    let (s, v) = t
        .api(
            "POST",
            "/api/v1/contacts",
            &key,
            Some(json!({"lead_id": lead, "name": "Gob Bluth",
                        "emails": [{"email": "gob@bluth.example"}],
                        "phones": [{"phone": "+1 415 555 0102", "type": "mobile"}]})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["lead_id"].as_str(), Some(lead.as_str()));
    assert!(v["phones"][0]["phone_formatted"].is_string(), "{v}");
    let contact = format!("/api/v1/contacts/{}", v["id"].as_str().unwrap());
    let (s, v) = t.api("GET", &contact, &key, None).await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Gob Bluth")), "{v}");
    let (s, v) = t
        .api("PATCH", &contact, &key, Some(json!({"title": "Magician"})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["title"].as_str(), v["emails"][0]["email"].as_str()),
        (Some("Magician"), Some("gob@bluth.example"))
    );
    let (s, v) = t
        .api(
            "PUT",
            &contact,
            &key,
            Some(json!({"name": "George Oscar Bluth"})),
        )
        .await;
    assert_eq!(
        (s, v["name"].as_str()),
        (200, Some("George Oscar Bluth")),
        "{v}"
    );
    let (s, v) = t
        .api("GET", &format!("/api/v1/leads/{lead}"), &key, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["contacts"][0]["title"], "Magician", "{v}");

    let (s, v) = t
        .api(
            "POST",
            "/api/v1/tasks",
            &key,
            Some(json!({"lead_id": lead, "text": "Call back", "date": "2026-12-24"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let task = format!("/api/v1/tasks/{}", v["id"].as_str().unwrap());
    assert_eq!(
        (v["date"].as_str(), v["is_complete"].as_bool()),
        (Some("2026-12-24"), Some(false))
    );
    let (s, v) = t
        .api("PATCH", &task, &key, Some(json!({"is_complete": true})))
        .await;
    assert_eq!((s, v["is_complete"].as_bool()), (200, Some(true)), "{v}");
    let (s, v) = t.api("GET", &task, &key, None).await;
    assert_eq!((s, v["text"].as_str()), (200, Some("Call back")), "{v}");

    // Bad input, a viewer, another org: refused, nothing written.
    let before = t.last_seq(&org).await;
    for (m, p, b, status, code) in [
        (
            "POST",
            "/api/v1/contacts".to_string(),
            json!({"name": "No lead"}),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/api/v1/contacts".to_string(),
            json!({"lead_id": lead, "name": "X", "colour": 1}),
            400,
            "unknown_field",
        ),
        (
            "POST",
            "/api/v1/contacts".to_string(),
            json!({"lead_id": lead, "name": "X", "emails": [{"email": "nope"}]}),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/api/v1/contacts".to_string(),
            json!({"lead_id": super::id(5), "name": "X"}),
            404,
            "not_found",
        ),
        (
            "PATCH",
            contact.clone(),
            json!({"name": ""}),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/api/v1/tasks".to_string(),
            json!({"lead_id": lead, "text": "T", "date": "tomorrow"}),
            400,
            "bad_input",
        ),
        (
            "PATCH",
            task.clone(),
            json!({"done": true}),
            400,
            "unknown_field",
        ),
        (
            "PATCH",
            "/api/v1/tasks/not-an-id".to_string(),
            json!({"text": "x"}),
            404,
            "not_found",
        ),
    ] {
        let (s, v) = t.api(m, &p, &key, Some(b.clone())).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (status, Some(code)),
            "{m} {p} {b}: {v}"
        );
    }
    let (s, _) = t
        .api("PATCH", &contact, &viewer, Some(json!({"title": "Nope"})))
        .await;
    assert_eq!(s, 403);
    assert_eq!(t.api("DELETE", &contact, &viewer, None).await.0, 403);
    let (s, _) = t
        .api(
            "POST",
            "/api/v1/tasks",
            &viewer,
            Some(json!({"lead_id": lead, "text": "T"})),
        )
        .await;
    assert_eq!(s, 403);
    let other = t.org("Globex").await;
    let okey = t.key(&other, "hank@globex.example", "member").await;
    assert_eq!(t.api("GET", &contact, &okey, None).await.0, 404);
    assert_eq!(t.api("GET", &task, &okey, None).await.0, 404);
    assert_eq!(t.api("DELETE", &contact, &okey, None).await.0, 404);
    let (s, _) = t
        .api(
            "POST",
            "/api/v1/contacts",
            &okey,
            Some(json!({"lead_id": lead, "name": "X"})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        t.last_seq(&org).await,
        before,
        "a refused write changed the org"
    );

    // Each write reached the org's sequence.
    let page = t.pull(&org, &device, since).await;
    let kinds: std::collections::BTreeSet<&str> =
        page.changes.iter().map(|c| c.entity.as_str()).collect();
    assert!(
        kinds.contains("contact") && kinds.contains("task"),
        "{kinds:?}"
    );

    assert_eq!(t.api("DELETE", &contact, &key, None).await.0, 204);
    assert_eq!(t.api("GET", &contact, &key, None).await.0, 404);
}

/// `Idempotency-Key`: a retried create answers the first result and creates nothing twice
/// (also when the retry goes to another server process, or races the first); the same key
/// with another body is refused; keys are per API key; a failed request releases its key.
pub(crate) async fn api_idempotency_key_creates_once(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let other_key = t.key(&org, "ann@acme.example", "member").await;
    let post = |base: String, key: String, idem: &'static str, body: Value| {
        let http = t.http.clone();
        async move {
            let resp = http
                .post(format!("{base}/api/v1/leads"))
                .bearer_auth(&key)
                .header("idempotency-key", idem)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            let v: Value = resp.json().await.unwrap();
            (status, replayed, v)
        }
    };
    let body = json!({"name": "Once Only"});
    let (s, replayed, first) = post(t.url.clone(), key.clone(), "k-1", body.clone()).await;
    assert_eq!((s, replayed), (201, false), "{first}");
    let seq = t.last_seq(&org).await;
    let retry_at = t.second.clone().unwrap_or(t.url.clone());
    let (s, replayed, again) = post(retry_at, key.clone(), "k-1", body.clone()).await;
    assert_eq!((s, replayed), (201, true), "{again}");
    assert_eq!(again["lead"]["id"], first["lead"]["id"]);
    assert_eq!(t.last_seq(&org).await, seq, "the retry wrote");
    // Another body under the same key: refused.
    let (s, _, v) = post(t.url.clone(), key.clone(), "k-1", json!({"name": "Other"})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("idempotency_key_reused")),
        "{v}"
    );
    // Keys are per API key: another key's k-1 is its own.
    let (s, replayed, v) = post(t.url.clone(), other_key.clone(), "k-1", body.clone()).await;
    assert_eq!((s, replayed), (201, false), "{v}");
    assert_ne!(v["lead"]["id"], first["lead"]["id"]);
    // A failed request releases its key: fixed and sent again, it runs.
    let (s, _, v) = post(t.url.clone(), key.clone(), "k-2", json!({"nmae": "typo"})).await;
    assert_eq!(s, 400, "{v}");
    let (s, replayed, v) = post(t.url.clone(), key.clone(), "k-2", json!({"name": "Fixed"})).await;
    assert_eq!((s, replayed), (201, false), "{v}");
    // Racing retries (through both processes on PostgreSQL): one lead.
    let bases: Vec<String> = [Some(t.url.clone()), t.second.clone()]
        .into_iter()
        .flatten()
        .collect();
    let race = (0..6).map(|i| {
        post(
            bases[i % bases.len()].clone(),
            key.clone(),
            "k-race",
            json!({"name": "Raced Rhubarb"}),
        )
    });
    let answers = futures_util::future::join_all(race).await;
    let mut ids = std::collections::BTreeSet::new();
    for (s, _, v) in &answers {
        match s {
            201 => {
                ids.insert(v["lead"]["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(v["code"], "idempotency_in_progress", "{v}"),
            _ => panic!("{s}: {v}"),
        }
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    let (s, v) = t
        .api("GET", "/api/v1/leads?query=rhubarb", &key, None)
        .await;
    assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");
}

/// Per-key rate limits: a server at 2 requests a second per key lets a burst of 4 through,
/// then answers `429 rate_limited` with `Retry-After`; another key has its own bucket, and the
/// key works again after the wait.
pub(crate) async fn api_rate_limit_per_key(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let other = t.key(&org, "ann@acme.example", "member").await;
    let replicas = tempfile::tempdir().unwrap();
    let state = AppState::new(
        t.db.clone(),
        rapport_server::hub_for(&t.db),
        replicas.path().to_path_buf(),
    )
    .with_rate_limit(2);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, rapport_server::router(state)).await });
    let get = |key: String| {
        let http = t.http.clone();
        let url = format!("{base}/api/v1/leads");
        async move { http.get(url).bearer_auth(key).send().await.unwrap() }
    };
    for _ in 0..4 {
        assert_eq!(get(key.clone()).await.status().as_u16(), 200);
    }
    let r = get(key.clone()).await;
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "rate_limited");
    assert_eq!(get(other.clone()).await.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(get(key.clone()).await.status().as_u16(), 200);
}
