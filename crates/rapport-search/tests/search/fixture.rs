//! Test data: leads built by hand (or generated), written through the store's bulk path,
//! and a search index over them evaluated at a fixed "now" in a fixed time zone.

use chrono::{DateTime, Duration, Utc};
use rapport_core::ops::{self, Rng};
use rapport_core::*;
use rapport_search::jiff::tz::TimeZone;
use rapport_search::{Clock, SearchIndex};
use rapport_store::Store;

pub const NOW: &str = "2024-03-15T15:00:00Z";
pub const TZ: &str = "America/Los_Angeles";

pub fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

pub fn clock() -> Clock {
    Clock::new(NOW.parse().unwrap(), TimeZone::get(TZ).unwrap())
}

pub fn ts(s: &str) -> DateTime<Utc> {
    rapport_core::time::parse(s).unwrap()
}

/// Deterministic ids: a counter in the random part, the time in the prefix.
pub fn id(n: u64, at: DateTime<Utc>) -> Id {
    Id::at(at, u128::from(n) + 1)
}

pub fn lead(n: u64, name: &str) -> LeadBundle {
    let created = now() - Duration::days(60);
    LeadBundle {
        lead: Lead {
            id: id(n, created),
            name: name.into(),
            description: None,
            url: None,
            status_label: "Potential".into(),
            owner_id: None,
            addresses: vec![],
            custom: Custom::new(),
            date_created: created,
            date_updated: created,
            merged_into: None,
        },
        contacts: vec![],
        activities: vec![],
        tasks: vec![],
        opportunities: vec![],
    }
}

pub fn contact(b: &LeadBundle, n: u64, name: &str) -> Contact {
    Contact {
        id: id(1000 + n, b.lead.date_created),
        lead_id: b.lead.id,
        name: name.into(),
        title: None,
        emails: vec![],
        phones: vec![],
        urls: vec![],
        custom: Custom::new(),
        date_created: b.lead.date_created,
        date_updated: b.lead.date_created,
    }
}

pub fn activity(b: &LeadBundle, n: u64, at: DateTime<Utc>, kind: ActivityKind) -> Activity {
    Activity {
        id: id(2000 + n, at),
        lead_id: b.lead.id,
        contact_id: None,
        user_id: None,
        activity_at: at,
        date_created: at,
        date_updated: at,
        kind,
    }
}

pub fn call(duration: u32) -> ActivityKind {
    ActivityKind::Call(CallFields {
        direction: Direction::Outbound,
        status: "completed".into(),
        disposition: "answered".into(),
        remote_phone: None,
        local_phone: None,
        duration,
        note: None,
    })
}

pub fn email(subject: &str, opens: Vec<DateTime<Utc>>) -> ActivityKind {
    ActivityKind::Email(EmailFields {
        direction: Direction::Outbound,
        subject: subject.into(),
        body_text: String::new(),
        sender: None,
        to: vec![],
        opens,
    })
}

pub fn note(text: &str) -> ActivityKind {
    ActivityKind::Note(NoteFields {
        title: None,
        note: text.into(),
        pinned: false,
    })
}

/// A store in `dir` holding `leads`, the given custom fields and Smart Views.
pub async fn store(
    dir: &tempfile::TempDir,
    fields: &[(&str, FieldType, &[&str])],
    views: &[(&str, &str)],
    leads: Vec<LeadBundle>,
) -> Store {
    let store = Store::open(dir.path().join("t.db"))
        .await
        .unwrap()
        .with_clock(now);
    let mut w = store.begin_write().await.unwrap();
    for (name, kind, choices) in fields {
        let choices = choices.iter().map(|c| c.to_string()).collect();
        let (def, plan) =
            ops::add_field(name, *kind, FieldTarget::Lead, choices, &mut w.ctx).unwrap();
        w.apply(plan).await.unwrap();
        w.ctx.fields.push(def);
    }
    let mut existing = vec![];
    for (name, query) in views {
        let (view, plan) = ops::add_view(name, query, false, &existing, &mut w.ctx).unwrap();
        w.apply(plan).await.unwrap();
        existing.push(view);
    }
    w.commit().await.unwrap();
    let _ = Rng(1);
    if !leads.is_empty() {
        store.write_bundles(leads).await.unwrap();
    }
    store
}

/// The index of `store`, caught up.
pub async fn index(store: &Store) -> SearchIndex {
    let index = SearchIndex::open(store.clone()).await.unwrap();
    assert!(
        index
            .wait_fresh(std::time::Duration::from_secs(30))
            .await
            .unwrap()
    );
    index
}

/// Lead names matching `query`, in result order; or the error as `code: message @start..end`.
pub async fn names(index: &SearchIndex, store: &Store, query: &str) -> Result<Vec<String>, String> {
    match index.search(query, clock(), 0, 10_000).await {
        Ok(hits) => {
            let mut out = vec![];
            for h in hits.rows {
                out.push(store.lead(h.id).await.unwrap().name);
            }
            Ok(out)
        }
        Err(rapport_search::Error::Query(d)) => Err(format!(
            "{}: {} @{}..{}",
            d.code, d.message, d.span.start, d.span.end
        )),
        Err(e) => panic!("{query}: {e}"),
    }
}
