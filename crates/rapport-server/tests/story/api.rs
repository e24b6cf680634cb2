//! Stories of the public API (`/api/v1/`), on both backends: keys as Bearer or Basic, the org
//! from the key's membership, roles; leads created, read with contacts and activities in one
//! call, changed, deleted; bad input refused with nothing written; search with the app's query
//! language; API writes are changes of the org's sequence (pulled by clients), and client
//! pushes are read by the API — also through a second server process on PostgreSQL.

use super::*;

impl T {
    /// An API key for a new member.
    async fn key(&self, org: &OrgRow, email: &str, role: &str) -> String {
        let u = self
            .db
            .add_member(org, email, None, role, None, now())
            .await
            .unwrap();
        self.db
            .issue_token(&u.id, "api", "test", now())
            .await
            .unwrap()
            .1
    }
    async fn api(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(key), body).await
    }
    /// A request with a raw body and extra headers.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some((k, v)) = auth {
            r = r.header(k, v);
        }
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn last_seq(&self, org: &OrgRow) -> i64 {
        self.db.org(&org.id).await.unwrap().unwrap().last_seq
    }
}

fn basic(key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// Keys as Bearer or Basic username; 401 without, unknown or revoked; the org from the
/// membership (`?org=` / `X-Rapport-Org` when there are several); a viewer reads but cannot
/// write (403, nothing written).
pub(crate) async fn api_auth_roles_and_org_selection(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({"name": "Bluth Company"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["lead"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/leads/{id}");
    // Basic with the key as the username (Close's convention).
    let (s, v) = t
        .raw("GET", &path, Some(("authorization", &basic(&key))), None)
        .await;
    assert_eq!(
        (s, v["lead"]["name"].as_str()),
        (200, Some("Bluth Company")),
        "{v}"
    );
    // No key, an unknown key, a revoked key.
    let (s, v) = t.raw("GET", &path, None, None).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    let (s, _) = t.api("GET", &path, "rpk_not-a-key", None).await;
    assert_eq!(s, 401);
    let (s, _) = t
        .raw(
            "GET",
            &path,
            Some(("authorization", &basic("rpk_nope"))),
            None,
        )
        .await;
    assert_eq!(s, 401);
    let u =
        t.db.user_by_email("joe@acme.example")
            .await
            .unwrap()
            .unwrap()
            .0;
    let (kid, key2) = t.db.issue_token(&u.id, "api", "old", now()).await.unwrap();
    assert_eq!(t.api("GET", &path, &key2, None).await.0, 200);
    t.db.revoke_token(&kid, now()).await.unwrap();
    assert_eq!(t.api("GET", &path, &key2, None).await.0, 401);

    // A viewer reads, and every write is 403 with nothing written.
    let viewer = t.key(&org, "vera@acme.example", "viewer").await;
    assert_eq!(t.api("GET", &path, &viewer, None).await.0, 200);
    let before = t.last_seq(&org).await;
    for (m, p, b) in [
        ("POST", "/api/v1/leads".to_string(), json!({"name": "Nope"})),
        ("PATCH", path.clone(), json!({"name": "Nope"})),
        ("PUT", path.clone(), json!({"name": "Nope"})),
        (
            "POST",
            "/api/v1/activities/note".to_string(),
            json!({"lead_id": id, "note": "x"}),
        ),
    ] {
        let (s, v) = t.api(m, &p, &viewer, Some(b)).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("forbidden")),
            "{m} {p}: {v}"
        );
    }
    assert_eq!(t.api("DELETE", &path, &viewer, None).await.0, 403);
    assert_eq!(
        t.last_seq(&org).await,
        before,
        "a viewer's write changed the org"
    );

    // A key of scope `read` reads, and cannot write here or push.
    let (_, reader) =
        t.db.issue_api_key(&u.id, "reader", "read", now())
            .await
            .unwrap();
    assert_eq!(t.api("GET", &path, &reader, None).await.0, 200);
    let (s, v) = t
        .api("PATCH", &path, &reader, Some(json!({"name": "Nope"})))
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("scope"), "{v}");
    let reg = t.register(&org, &reader, "script").await;
    let (s, v) = t
        .push(
            &org,
            &reader,
            "script",
            &reg.epoch,
            vec![lead_op(1, &super::id(9), "Nope", 3)],
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        t.db.issue_api_key(&u.id, "x", "admin", now())
            .await
            .is_err()
    );
    assert_eq!(
        t.last_seq(&org).await,
        before,
        "a read key's write changed the org"
    );

    // A member of two orgs names one; the other org's lead is not found from here.
    let other = t.org("Globex").await;
    t.db.add_member(&other, "joe@acme.example", None, "member", None, now())
        .await
        .unwrap();
    let (s, v) = t.api("GET", &path, &key, None).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("org_required")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("Globex"), "{v}");
    let (s, _) = t.api("GET", &format!("{path}?org=Acme"), &key, None).await;
    assert_eq!(s, 200);
    let (s, v) = t
        .api("GET", &format!("{path}?org={}", other.id), &key, None)
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{v}");
    // The header names the org too (any case); the Globex replica has no such lead.
    let with_org = |org: &str| {
        t.http
            .get(format!("{}{path}", t.url))
            .bearer_auth(&key)
            .header("x-rapport-org", org)
            .send()
    };
    assert_eq!(with_org("acme").await.unwrap().status().as_u16(), 200);
    assert_eq!(with_org("GLOBEX").await.unwrap().status().as_u16(), 404);
    // An org the user is not in.
    let (s, _) = t
        .api("GET", &format!("{path}?org=Initech"), &key, None)
        .await;
    assert_eq!(s, 404);
}

/// Create with contacts, one read with contacts and newest-first activities, partial
/// updates (PATCH and PUT), delete; an id of another org is 404.
pub(crate) async fn api_leads_create_read_update_delete(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({
                "name": "Bluth Company",
                "url": "https://bluth.example",
                "status_label": "Qualified",
                "contacts": [
                    {"name": "George Bluth", "title": "CEO",
                     "emails": [{"email": "george@bluth.example", "type": "office"}]},
                    {"name": "Lucille Bluth", "phones": [{"phone": "+1 415 555 0100"}]}
                ]
            })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["lead"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["lead"]["status_label"], "Qualified");
    assert_eq!(v["contacts"].as_array().unwrap().len(), 2, "{v}");
    let path = format!("/api/v1/leads/{id}");

    for (i, note) in ["first", "second", "third"].iter().enumerate() {
        let (s, v) = t
            .api(
                "POST",
                "/api/v1/activities/note",
                &key,
                Some(json!({"lead_id": id, "note": note,
                            "activity_at": format!("2026-01-0{}T10:00:00Z", i + 1)})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["_type"], "note");
        assert_eq!(v["user_name"], "joe", "the API caller is the author: {v}");
    }
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/activities/call",
            &key,
            Some(
                json!({"lead_id": id, "direction": "outbound", "duration": 95,
                        "note": "left a message", "activity_at": "2026-01-04T09:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["_type"].as_str(), v["duration"].as_i64()),
        (Some("call"), Some(95))
    );

    // One call: the lead, its contacts and its newest-first history.
    let (s, v) = t.api("GET", &path, &key, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["lead"]["name"], "Bluth Company");
    let names: Vec<&str> = v["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"George Bluth") && names.contains(&"Lucille Bluth"),
        "{names:?}"
    );
    let kinds: Vec<&str> = v["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["_type"] != "status_change")
        .map(|a| a["note"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["left a message", "third", "second", "first"], "{v}");
    // ?activities=N and the cursor for more.
    let (s, v) = t
        .api("GET", &format!("{path}?activities=2"), &key, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["activities"].as_array().unwrap().len(), 2);
    let cursor = v["next_cursor"]
        .as_str()
        .expect("more activities")
        .to_string();
    let (s, more) = t
        .api(
            "GET",
            &format!("{path}?activities=2&activities_before={cursor}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{more}");
    assert_eq!(more["activities"][0]["note"], "second", "{more}");

    // PATCH and PUT change only the fields given.
    let (s, v) = t
        .api(
            "PATCH",
            &path,
            &key,
            Some(json!({"description": "Banana stand"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["lead"]["description"].as_str(), v["lead"]["url"].as_str()),
        (Some("Banana stand"), Some("https://bluth.example/"))
    );
    let (s, v) = t
        .api("PUT", &path, &key, Some(json!({"name": "Bluth Co."})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["lead"]["name"].as_str(),
            v["lead"]["description"].as_str()
        ),
        (Some("Bluth Co."), Some("Banana stand"))
    );

    // Another org's lead is 404 from here (and its own key reads it).
    let other = t.org("Globex").await;
    let okey = t.key(&other, "hank@globex.example", "member").await;
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &okey,
            Some(json!({"name": "Globex"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let gpath = format!("/api/v1/leads/{}", v["lead"]["id"].as_str().unwrap());
    assert_eq!(t.api("GET", &gpath, &okey, None).await.0, 200);
    for m in ["GET", "DELETE"] {
        let (s, v) = t.api(m, &gpath, &key, None).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("not_found")),
            "{m}: {v}"
        );
    }
    let (s, _) = t
        .api("PATCH", &gpath, &key, Some(json!({"name": "Mine"})))
        .await;
    assert_eq!(s, 404);
    let (s, _) = t
        .api(
            "POST",
            "/api/v1/activities/note",
            &key,
            Some(json!({"lead_id": gpath.rsplit('/').next().unwrap(), "note": "x"})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        t.api("GET", "/api/v1/leads/not-an-id", &key, None).await.0,
        404
    );

    // Delete: 204, then 404.
    assert_eq!(t.api("DELETE", &path, &key, None).await.0, 204);
    assert_eq!(t.api("GET", &path, &key, None).await.0, 404);
    assert_eq!(t.api("DELETE", &path, &key, None).await.0, 404);
}

/// Malformed JSON, unknown fields, wrong types, invalid values: a 400 with a code (and the
/// field), and nothing in the org's sequence.
pub(crate) async fn api_bad_input_is_refused_and_nothing_is_written(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    let (s, v) = t
        .api("POST", "/api/v1/leads", &key, Some(json!({"name": "Real"})))
        .await;
    assert_eq!(s, 201, "{v}");
    let path = format!("/api/v1/leads/{}", v["lead"]["id"].as_str().unwrap());
    let auth = format!("Bearer {key}");
    let before = t.last_seq(&org).await;
    for (method, p, body, code, field) in [
        (
            "POST",
            "/api/v1/leads",
            "{\"name\": ",
            "malformed_json",
            None,
        ),
        ("POST", "/api/v1/leads", "[1, 2]", "malformed_json", None),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": "X", "colour": "red"}"#,
            "unknown_field",
            Some("colour"),
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": 42}"#,
            "bad_input",
            None,
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"url": "https://x.example"}"#,
            "invalid_field",
            Some("name"),
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": "X", "status_label": "Nope"}"#,
            "unknown_status",
            None,
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": "X", "contacts": [{"name": "A"}, {"name": "B", "emails": [{"email": "not an email"}]}]}"#,
            "invalid_field",
            None,
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": "X", "contacts": [{"name": "A", "age": 3}]}"#,
            "unknown_field",
            Some("contacts[0].age"),
        ),
        (
            "POST",
            "/api/v1/leads",
            r#"{"name": "X", "contacts": {"name": "A"}}"#,
            "bad_input",
            Some("contacts"),
        ),
        (
            "PATCH",
            path.as_str(),
            r#"{"name": ""}"#,
            "invalid_field",
            Some("name"),
        ),
        (
            "PATCH",
            path.as_str(),
            r#"{"nmae": "Y"}"#,
            "unknown_field",
            Some("nmae"),
        ),
        ("PUT", path.as_str(), "not json", "malformed_json", None),
        (
            "POST",
            "/api/v1/activities/note",
            r#"{"note": "no lead"}"#,
            "invalid_field",
            Some("lead_id"),
        ),
        (
            "POST",
            "/api/v1/activities/call",
            r#"{"lead_id": "01J0000000000000000000000Z", "direction": "sideways"}"#,
            "bad_input",
            None,
        ),
        (
            "POST",
            "/api/v1/search",
            r#"{"query": "x", "page": 2}"#,
            "unknown_field",
            Some("page"),
        ),
    ] {
        let (s, v) = t
            .raw(method, p, Some(("authorization", &auth)), Some(body))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some(code)),
            "{method} {p} {body}: {v}"
        );
        if let Some(f) = field {
            assert_eq!(v["field"].as_str(), Some(f), "{body}: {v}");
        }
    }
    // Over the body limit: 413.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_BODY + 10));
    let (s, v) = t
        .raw(
            "POST",
            "/api/v1/leads",
            Some(("authorization", &auth)),
            Some(&big),
        )
        .await;
    assert_eq!(s, 413, "{v}");
    // An unknown activity type is not a route here.
    let (s, _) = t
        .api(
            "POST",
            "/api/v1/activities/telegram",
            &key,
            Some(json!({"lead_id": "x"})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        t.last_seq(&org).await,
        before,
        "refused input changed the org"
    );
    let (s, v) = t.api("GET", "/api/v1/leads", &key, None).await;
    assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");
}

/// `GET /leads?query=` and `POST /search` take the app's query language, page by cursor, and
/// answer a malformed query with the parser's span and hint.
pub(crate) async fn api_search_with_the_query_language(t: T) {
    let org = t.org("Acme").await;
    let key = t.key(&org, "joe@acme.example", "member").await;
    for i in 0..7 {
        let status = if i % 2 == 0 { "Qualified" } else { "Potential" };
        let (s, v) = t
            .api(
                "POST",
                "/api/v1/leads",
                &key,
                Some(json!({"name": format!("Lead {i} Banana"), "status_label": status})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/leads",
            &key,
            Some(json!({"name": "Apple Farm"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    let (s, v) = t
        .api("GET", "/api/v1/leads?query=status:qualified", &key, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 4, "{v}");
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/search",
            &key,
            Some(json!({"query": "banana sort:name", "limit": 3})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 7);
    let mut names: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let mut cursor = v["next_cursor"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let (s, v) = t
            .api(
                "POST",
                "/api/v1/search",
                &key,
                Some(json!({"query": "banana sort:name", "limit": 3, "cursor": c})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        names.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string()),
        );
        cursor = v["next_cursor"].as_str().map(str::to_string);
    }
    let want: Vec<String> = (0..7).map(|i| format!("Lead {i} Banana")).collect();
    assert_eq!(names, want);
    let (s, v) = t
        .api("GET", "/api/v1/leads?query=apple&limit=1", &key, None)
        .await;
    assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(v["data"][0]["name"], "Apple Farm");
    assert!(v["next_cursor"].is_null());

    // A malformed query: 400 with the byte span and a hint.
    let (s, v) = t
        .api(
            "POST",
            "/api/v1/search",
            &key,
            Some(json!({"query": "status:qualified AND ("})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_query")), "{v}");
    assert_eq!(v["field"], "query");
    let span = v["span"].as_array().expect("a span");
    assert_eq!(span.len(), 2, "{v}");
    assert!(span[0].as_u64().unwrap() <= span[1].as_u64().unwrap());
    let (s, v) = t
        .api("GET", "/api/v1/leads?query=created%20%3E", &key, None)
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_query")), "{v}");
    let (s, v) = t.api("GET", "/api/v1/leads?limit=0", &key, None).await;
    assert_eq!((s, v["field"].as_str()), (400, Some("limit")), "{v}");
}

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
fn lead_op(local_seq: i64, id: &str, name: &str, node: u64) -> Op {
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
