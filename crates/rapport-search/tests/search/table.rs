//! One-line table tests: every example of DESIGN §5 on a small hand-built store, plus the
//! indexer following writes (visible within 100 ms) and deletes.

use crate::fixture::*;
use chrono::Duration;
use rapport_core::*;

fn leads() -> Vec<LeadBundle> {
    let mut acme = lead(1, "Acme Online");
    acme.lead.description = Some("Office in Menlo Park".into());
    acme.lead.status_label = "Customer".into();
    acme.lead.addresses = vec![Address {
        city: Some("Menlo Park".into()),
        state: Some("CA".into()),
        country: Some("US".into()),
        ..Default::default()
    }];
    acme.lead.custom.insert("Lead Source".into(), "Web".into());
    acme.lead.custom.insert("Employees".into(), 120.into());
    let mut ann = contact(&acme, 1, "Ann Smith");
    ann.title = Some("CTO".into());
    ann.emails = vec![ContactEmail {
        email: "ann@acme.com".into(),
        kind: "office".into(),
    }];
    ann.phones = vec![ContactPhone {
        phone: "+14155550123".into(),
        kind: "office".into(),
    }];
    acme.contacts.push(ann);
    acme.activities
        .push(activity(&acme, 1, ts("2024-03-15T14:00:00Z"), call(30)));

    let mut cafe = lead(2, "Café Berlin");
    cafe.lead.status_label = "Bad Fit".into();
    cafe.lead.date_created = now() - Duration::days(10);
    cafe.lead.date_updated = cafe.lead.date_created;
    cafe.lead.addresses = vec![Address {
        city: Some("Paris".into()),
        ..Default::default()
    }];
    cafe.lead.custom.insert("Employees".into(), 40.into());

    let mut park = lead(3, "Park Menlo Ventures");
    park.lead.status_label = "Qualified".into();
    park.lead.date_created = ts("2024-01-31T20:00:00Z");
    park.lead.date_updated = ts("2024-02-01T20:00:00Z");
    park.lead.addresses = vec![Address {
        city: Some("London".into()),
        ..Default::default()
    }];
    park.activities
        .push(activity(&park, 2, ts("2024-01-15T18:00:00Z"), call(90)));

    let mut split = lead(4, "Split Calls Inc");
    split
        .activities
        .push(activity(&split, 3, ts("2024-01-10T18:00:00Z"), call(30)));
    split
        .activities
        .push(activity(&split, 4, ts("2024-02-10T18:00:00Z"), call(120)));

    let mut opened = lead(5, "Opened Mail Co");
    let bob = contact(&opened, 2, "Bob Jones");
    let mut mail = activity(
        &opened,
        5,
        ts("2024-03-01T18:00:00Z"),
        email("Pricing", vec![ts("2024-03-02T18:00:00Z")]),
    );
    mail.contact_id = Some(bob.id);
    opened.contacts.push(bob);
    opened.activities.push(mail);

    let mut unopened = lead(6, "Unopened Mail Co");
    let carl = contact(&unopened, 3, "Carl Diaz");
    let mut mail = activity(
        &unopened,
        6,
        ts("2024-03-01T18:00:00Z"),
        email("Hello", vec![]),
    );
    mail.contact_id = Some(carl.id);
    unopened.contacts.push(carl);
    unopened.activities.push(mail);
    unopened.activities.push(activity(
        &unopened,
        7,
        ts("2024-03-03T18:00:00Z"),
        email("Other", vec![ts("2024-03-04T18:00:00Z")]),
    ));
    unopened.activities.push(activity(
        &unopened,
        8,
        ts("2024-03-05T18:00:00Z"),
        note("pricing discussion"),
    ));

    let mut yesterday = lead(7, "Yesterday Caller");
    yesterday.activities.push(activity(
        &yesterday,
        9,
        ts("2024-03-14T19:00:00Z"),
        call(10),
    ));
    vec![acme, cafe, park, split, opened, unopened, yesterday]
}

const FIELDS: &[(&str, FieldType, &[&str])] = &[
    ("Lead Source", FieldType::Choice, &["Web", "Referral"]),
    ("Employees", FieldType::Number, &[]),
];

const VIEWS: &[(&str, &str)] = &[
    ("Hot", "status:customer"),
    ("Loop A", "in:\"Loop B\""),
    ("Loop B", "has:calls in:\"Loop A\""),
];

/// Checks each query finds exactly its leads (in any order), reporting every miss at once.
async fn expect_names(
    index: &rapport_search::SearchIndex,
    store: &rapport_store::Store,
    cases: Vec<(&str, Vec<&str>)>,
) {
    let mut failures = vec![];
    for (query, expected) in cases {
        let got = names(index, store, query).await.map(sorted);
        let want: Vec<String> = sorted(expected.iter().map(|s| s.to_string()).collect());
        if got != Ok(want.clone()) {
            failures.push(format!("{query}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `=` compares whole values: all of one value's words in order, not part of a value and
/// not words from two values; a value without words is still a value; a phone is equal
/// to a whole number, not a prefix of one.
#[tokio::test]
async fn exact_values_are_whole_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut york = lead(1, "New New York");
    york.lead.url = Some(format!("https://{}.example.com", "x".repeat(70)));
    let mut ann = contact(&york, 1, "Ann Lee");
    ann.title = Some("—".into());
    ann.emails = ["ann@york.com", "lee@york.com"]
        .map(|e| ContactEmail {
            email: e.into(),
            kind: "office".into(),
        })
        .to_vec();
    ann.phones = vec![ContactPhone {
        phone: "+14155550123".into(),
        kind: "office".into(),
    }];
    york.contacts.push(ann);
    let mut bob = contact(&york, 2, "Bob");
    bob.title = Some("Head of Sales".into());
    york.contacts.push(bob);
    let mut newer = lead(2, "New York");
    newer.lead.addresses = vec![Address {
        address_1: Some("1 Main St".into()),
        city: Some("York".into()),
        ..Default::default()
    }];
    let store = store(&dir, &[], &[], vec![york, newer]).await;
    let index = index(&store).await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("name = \"New New York\"", vec!["New New York"]),
        ("name = \"new york\"", vec!["New York"]),
        ("name = york", vec![]),
        ("company = \"NEW YORK\"", vec!["New York"]),
        ("name = \"ann lee\"", vec!["New New York"]),
        ("contact = ann", vec![]),
        ("title = \"head of sales\"", vec!["New New York"]),
        ("title = \"head of\"", vec![]),
        ("title = sales", vec![]),
        ("title:*", vec!["New New York"]),
        ("contact(title:* name:ann)", vec!["New New York"]),
        ("email = \"lee@york.com\"", vec!["New New York"]),
        ("email = \"york com\"", vec![]),
        ("email = \"ann york\"", vec![]),
        ("city = york", vec!["New York"]),
        ("location = york", vec!["New York"]),
        ("location = \"1 main st\"", vec!["New York"]),
        ("location = \"st york\"", vec![]),
        ("url = \"https example com\"", vec!["New New York"]),
        ("phone = \"+1 415 555 0123\"", vec!["New New York"]),
        ("phone = 4155550123", vec!["New New York"]),
        ("phone = 415555", vec![]),
        ("phone:415555", vec!["New New York"]),
        ("name in (\"york\", \"new york\")", vec!["New York"]),
    ];
    expect_names(&index, &store, cases).await;
}

#[tokio::test]
async fn design_examples() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, FIELDS, VIEWS, leads()).await;
    let index = index(&store).await;
    let all = [
        "Acme Online",
        "Café Berlin",
        "Opened Mail Co",
        "Park Menlo Ventures",
        "Split Calls Inc",
        "Unopened Mail Co",
        "Yesterday Caller",
    ];
    let except = |skip: &[&str]| -> Vec<&str> {
        all.iter().copied().filter(|n| !skip.contains(n)).collect()
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("onl", vec!["Acme Online"]),
        ("menlo park", vec!["Acme Online", "Park Menlo Ventures"]),
        ("\"menlo park\"", vec!["Acme Online"]),
        ("\"park menlo\"", vec!["Park Menlo Ventures"]),
        ("CAFE", vec!["Café Berlin"]),
        ("café", vec!["Café Berlin"]),
        ("name:acme", vec!["Acme Online"]),
        ("name:ann", vec!["Acme Online"]),
        ("company:ann", vec![]),
        ("description:*", vec!["Acme Online"]),
        ("status:bad_fit", vec!["Café Berlin"]),
        ("status:\"Bad Fit\"", vec!["Café Berlin"]),
        ("phone:415", vec!["Acme Online"]),
        ("phone:1415", vec!["Acme Online"]),
        ("phone:416", vec![]),
        ("email:ann@acme", vec!["Acme Online"]),
        ("title:cto", vec!["Acme Online"]),
        (
            "last_called < \"3 days ago\"",
            vec!["Acme Online", "Yesterday Caller"],
        ),
        (
            "last_called < 3 days ago",
            vec!["Acme Online", "Yesterday Caller"],
        ),
        ("created > 30 days ago", except(&["Café Berlin"])),
        ("created < 30 days ago", vec!["Café Berlin"]),
        // The last date the grammar accepts still compares as a date (before the fix its
        // start fell back to the far past: `>` found every lead, `<` none).
        ("created > 9999-12-31", vec![]),
        ("created >= 9999-12-31T23:59", vec![]),
        ("created < 9999-12-31", except(&[])),
        ("created <= 9999-12-31", except(&[])),
        // Values of closed sets that exist are no errors, matched or not.
        ("opportunity:won", vec![]),
        ("opportunity:\"Lost\"", vec![]),
        ("owner:m", vec![]),
        ("owner:\"me\"", vec![]),
        ("created:2024-01-31", vec!["Park Menlo Ventures"]),
        (
            "created >= 2024-01-31 created < 2024-02-01",
            vec!["Park Menlo Ventures"],
        ),
        ("last_called:today", vec!["Acme Online"]),
        ("last_called:yesterday", vec!["Yesterday Caller"]),
        (
            "last_called:never",
            vec!["Café Berlin", "Opened Mail Co", "Unopened Mail Co"],
        ),
        (
            "called:never",
            vec!["Café Berlin", "Opened Mail Co", "Unopened Mail Co"],
        ),
        ("called:2", vec!["Split Calls Inc"]),
        (
            "calls >= 1 calls < 2",
            vec!["Acme Online", "Park Menlo Ventures", "Yesterday Caller"],
        ),
        (
            "call(date >= 2024-01-01 date < 2024-02-01 duration > 60)",
            vec!["Park Menlo Ventures"],
        ),
        (
            "call(date >= 2024-01-01 date < 2024-02-01) call(duration > 60)",
            vec!["Park Menlo Ventures", "Split Calls Inc"],
        ),
        ("contact(email(opened:yes))", vec!["Opened Mail Co"]),
        (
            "email(opened:yes)",
            vec!["Opened Mail Co", "Unopened Mail Co"],
        ),
        (
            "contact(has:emails)",
            vec!["Opened Mail Co", "Unopened Mail Co"],
        ),
        ("note(pricing)", vec!["Unopened Mail Co"]),
        ("pricing", vec!["Opened Mail Co", "Unopened Mail Co"]),
        (
            "has:calls",
            vec![
                "Acme Online",
                "Park Menlo Ventures",
                "Split Calls Inc",
                "Yesterday Caller",
            ],
        ),
        ("has:phone", vec!["Acme Online"]),
        ("in:\"Hot\"", vec!["Acme Online"]),
        ("in:hot has:calls", vec!["Acme Online"]),
        (
            "city in (\"Paris\", \"London\")",
            vec!["Café Berlin", "Park Menlo Ventures"],
        ),
        (
            "status in (customer, bad_fit)",
            vec!["Acme Online", "Café Berlin"],
        ),
        ("\"custom.Lead Source\":web", vec!["Acme Online"]),
        ("custom.Employees > 100", vec!["Acme Online"]),
        ("custom.employees < 100", vec!["Café Berlin"]),
        ("custom.Employees:*", vec!["Acme Online", "Café Berlin"]),
        (
            "not has:calls or status:customer",
            vec![
                "Acme Online",
                "Café Berlin",
                "Opened Mail Co",
                "Unopened Mail Co",
            ],
        ),
        (
            "not (has:calls or status:customer)",
            vec!["Café Berlin", "Opened Mail Co", "Unopened Mail Co"],
        ),
        ("*", all.to_vec()),
        ("", all.to_vec()),
    ];
    expect_names(&index, &store, cases).await;

    // Planner shortcuts (complemented counts, presence from fast fields, dropped kind
    // terms) answer exactly what the general path answers.
    let same = [
        ("not calls >= 2", "not (calls >= 2 calls >= 2)"),
        ("not calls < 1", "has:calls"),
        ("not (calls:1)", "not (calls >= 1 calls <= 1)"),
        ("call(duration:*)", "has:calls"),
        ("call(duration > 60)", "call(duration > 60 date:*)"),
        ("email(opened:*)", "email(opened:yes)"),
        ("not last_called:*", "last_called:never"),
        ("last_called:*", "called:yes"),
        ("not has:calls", "not (has:calls has:calls)"),
    ];
    for (a, b) in same {
        let (x, y) = (
            names(&index, &store, a).await,
            names(&index, &store, b).await,
        );
        assert_eq!(x.map(sorted), y.map(sorted), "{a} vs {b}");
    }

    // Errors are never zero results.
    let errors = [
        ("in:\"Nope\"", "bad_value: unknown Smart View `Nope` @3..9"),
        (
            "in:\"Loop A\"",
            "bad_value: Smart View `Loop A` includes itself (loop a → loop b → loop a) @3..11",
        ),
        (
            "custom.Employees > abc",
            "bad_number: expected a number, found `abc` @19..22",
        ),
        (
            "custom.Nope:1",
            "unknown_field: unknown custom field `Nope` @0..11",
        ),
        (
            "\"custom.Lead Source\":mail",
            "bad_value: `mail` is not a choice of `custom.Lead Source` @21..25",
        ),
        (
            "last_caled:yesterday",
            "unknown_field: unknown field `last_caled` @0..10",
        ),
        // Closed sets (statuses, opportunity statuses, users) refuse values they don't
        // hold; before the fix each of these was zero leads.
        (
            "status:foo",
            "bad_value: unknown status `foo`; statuses are `Potential`, `Qualified`, `Customer`, `Bad Fit`, `Cold` @7..10",
        ),
        (
            "opportunity:on_hold",
            "bad_value: unknown opportunity status `on hold`; opportunity statuses are `Active`, `Won`, `Lost` @12..19",
        ),
        (
            "opportunity(status:on_hold)",
            "bad_value: unknown opportunity status `on hold`; opportunity statuses are `Active`, `Won`, `Lost` @19..26",
        ),
        (
            "owner:zzz",
            "bad_value: unknown user `zzz`; users are `Me` @6..9",
        ),
        (
            "task(assignee:\"no one\")",
            "bad_value: unknown user `no one`; users are `Me` @14..22",
        ),
    ];
    let mut wrong = vec![];
    for (query, want) in errors {
        let got = names(&index, &store, query).await;
        if got != Err(want.to_string()) {
            wrong.push(format!("{query}\n  want {want}\n  got  {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Sorting: several keys, default orders.
    assert_eq!(
        names(&index, &store, "has:calls sort:calls,name")
            .await
            .unwrap(),
        [
            "Acme Online",
            "Park Menlo Ventures",
            "Yesterday Caller",
            "Split Calls Inc"
        ]
    );
    assert_eq!(
        names(&index, &store, "sort:-created,name").await.unwrap()[0],
        "Café Berlin"
    );
    // Relevance first with free text: the exact word beats the prefix.
    assert_eq!(
        names(&index, &store, "park").await.unwrap()[0],
        "Park Menlo Ventures"
    );

    // slice: a stable partition.
    let mut union = vec![];
    for i in 0..3 {
        let part = names(&index, &store, &format!("slice:{i}/3"))
            .await
            .unwrap();
        union.extend(part);
    }
    assert_eq!(sorted(union), all.map(String::from).to_vec());
}

#[tokio::test]
async fn writes_become_searchable_quickly_and_deletes_disappear() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, &[], &[], leads()).await;
    let index = index(&store).await;
    let mut fresh = lead(50, "Zebra Logistics");
    fresh.lead.date_updated = now();
    let started = std::time::Instant::now();
    store.write_bundles(vec![fresh.clone()]).await.unwrap();
    index.nudge();
    assert!(
        index
            .wait_fresh(std::time::Duration::from_secs(5))
            .await
            .unwrap()
    );
    let elapsed = started.elapsed();
    assert_eq!(
        names(&index, &store, "zebra").await.unwrap(),
        ["Zebra Logistics"]
    );
    assert!(elapsed.as_millis() < 1000, "took {elapsed:?}");

    let mut w = store.begin_write().await.unwrap();
    let plan = rapport_core::ops::delete_lead(&fresh.lead, vec![]);
    w.apply(plan).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(
        names(&index, &store, "zebra").await.unwrap(),
        Vec::<String>::new()
    );

    // Reopening finds the index caught up; a damaged one is rebuilt.
    drop(index);
    std::fs::write(
        rapport_search::index_dir(store.path()).join("meta.json"),
        b"garbage",
    )
    .unwrap();
    let index = crate::fixture::index(&store).await;
    assert_eq!(
        names(&index, &store, "acme").await.unwrap(),
        ["Acme Online"]
    );
}

#[tokio::test]
async fn bulk_mode_commits_once_at_the_end_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let all = leads();
    let acme = all
        .iter()
        .find(|b| b.lead.name == "Acme Online")
        .unwrap()
        .lead
        .clone();
    let store = store(&dir, &[], &[], all).await;
    let index = index(&store).await;
    index.set_bulk(true);
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(400));

    // A new lead, then (in a later batch, before any commit) the same lead renamed with a
    // contact, and a committed lead deleted.
    let mut yak = lead(60, "Yak Farms");
    store.write_bundles(vec![yak.clone()]).await.unwrap();
    index.nudge();
    settle().await;
    let started = std::time::Instant::now();
    let hits = index.search("yak", clock(), 0, 10).await.unwrap();
    assert_eq!(hits.total, 0, "bulk mode commits only at the end");
    assert!(hits.stale, "and says the results are behind");
    assert!(started.elapsed().as_millis() < 1000, "without waiting");
    yak.lead.name = "Yak Ranch".into();
    yak.contacts.push(contact(&yak, 60, "Yolanda Quill"));
    store.write_bundles(vec![yak.clone()]).await.unwrap();
    let mut w = store.begin_write().await.unwrap();
    w.apply(rapport_core::ops::delete_lead(&acme, vec![]))
        .await
        .unwrap();
    w.commit().await.unwrap();
    index.nudge();
    settle().await;
    let hits = index.search("acme", clock(), 0, 10).await.unwrap();
    assert_eq!(hits.rows.len(), 1, "still the last commit: Acme Online");
    assert_eq!(hits.rows[0].id, acme.id);

    index.set_bulk(false);
    assert!(
        index
            .wait_fresh(std::time::Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert_eq!(names(&index, &store, "yak").await.unwrap(), ["Yak Ranch"]);
    assert_eq!(
        names(&index, &store, "yolanda").await.unwrap(),
        ["Yak Ranch"]
    );
    assert_eq!(
        names(&index, &store, "acme").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(index.indexed_seq(), store.last_seq().await.unwrap());

    // Back to per-batch commits: an edit is searchable without any bulk switch.
    yak.lead.name = "Yak Lodge".into();
    store.write_bundles(vec![yak]).await.unwrap();
    index.nudge();
    assert!(
        index
            .wait_fresh(std::time::Duration::from_secs(5))
            .await
            .unwrap()
    );
    assert_eq!(names(&index, &store, "yak").await.unwrap(), ["Yak Lodge"]);
}

#[tokio::test]
async fn bench_runs_and_its_sql_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, FIELDS, &[], leads()).await;
    let index = index(&store).await;
    let report = rapport_search::bench::bench_queries(&index, clock(), 2)
        .await
        .unwrap();
    assert!(report.rows.len() >= 20);
    assert_eq!(report.leads, 7);
    let by_query = |q: &str| report.rows.iter().find(|r| r.query == q).unwrap();
    // The baseline answers the same questions.
    for q in [
        "status:customer",
        "calls > 3",
        "acme",
        "email(opened:yes)",
        "contact(email(opened:yes))",
        "email:a",
        "1",
        "phone:415",
        "*",
    ] {
        assert_eq!(by_query(q).hits, by_query(q).sql_hits, "{q}");
    }
    // Every query: the bench fails on any difference.
    assert_eq!(report.disagreements(), Vec::<String>::new());
    assert!(report.write_visible_max_ms < 1000.0, "{report:?}");
}
