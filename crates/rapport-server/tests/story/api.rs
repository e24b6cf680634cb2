//! Stories of the public API (`/api/v1/`), on both backends: keys as Bearer or Basic, the org
//! from the key's membership, roles; leads created, read with contacts and activities in one
//! call, changed, deleted; bad input refused with nothing written; search with the app's query
//! language. The helpers here serve `api_sync` and `api_records` too.

use super::*;

impl T {
    /// An API key for a new member.
    pub(crate) async fn key(&self, org: &OrgRow, email: &str, role: &str) -> String {
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
    pub(crate) async fn api(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(method, path, Some(key), body).await
    }
    /// A request with a raw body and extra headers.
    pub(crate) async fn raw(
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
    pub(crate) async fn last_seq(&self, org: &OrgRow) -> i64 {
        self.db.org(&org.id).await.unwrap().unwrap().last_seq
    }
}

pub(crate) fn basic(key: &str) -> String {
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
