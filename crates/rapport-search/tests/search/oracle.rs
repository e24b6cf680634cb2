//! The correctness oracle: random leads and random queries; the index must return exactly
//! the leads a plain in-memory evaluator returns. The evaluator is written from DESIGN §5
//! alone (its own folding, matching and date rules) and never calls the planner.

use crate::fixture::*;
use chrono::{DateTime, Duration, Utc};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use rapport_core::*;
use rapport_query::{CmpOp, Expr, Field, HasTarget, SubObject, Value};

const WORDS: &[&str] = &[
    "acme", "café", "zürich", "online", "menlo", "park", "apex", "north",
];
const STATUSES: &[&str] = &["Potential", "Qualified", "Customer", "Bad Fit", "Cold"];
const TITLES: &[&str] = &["CTO", "Head of Sales", "Founder"];
const CITIES: &[&str] = &["Menlo Park", "Zürich", "Paris"];
const SOURCES: &[&str] = &["Web", "Referral"];

#[derive(Debug, Clone)]
struct Spec {
    name: (usize, usize),
    status: usize,
    city: Option<usize>,
    created_days: i64,
    employees: Option<u32>,
    source: Option<usize>,
    contacts: Vec<(usize, usize, Option<usize>, bool)>,
    calls: Vec<(i64, u32)>,
    emails: Vec<(i64, bool, bool)>,
    notes: Vec<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (0..WORDS.len(), 0..WORDS.len()),
        0..STATUSES.len(),
        proptest::option::of(0..CITIES.len()),
        0i64..400,
        proptest::option::of(0u32..500),
        proptest::option::of(0..SOURCES.len()),
        prop::collection::vec(
            (
                0..WORDS.len(),
                0..TITLES.len(),
                proptest::option::of(0usize..3),
                any::<bool>(),
            ),
            0..3,
        ),
        prop::collection::vec((0i64..2000, 0u32..200), 0..3),
        prop::collection::vec((0i64..2000, any::<bool>(), any::<bool>()), 0..3),
        prop::collection::vec(0..WORDS.len(), 0..2),
    )
        .prop_map(
            |(
                name,
                status,
                city,
                created_days,
                employees,
                source,
                contacts,
                calls,
                emails,
                notes,
            )| Spec {
                name,
                status,
                city,
                created_days,
                employees,
                source,
                contacts,
                calls,
                emails,
                notes,
            },
        )
}

fn build(n: u64, s: &Spec) -> LeadBundle {
    let name = format!("{} {}", cap(WORDS[s.name.0]), cap(WORDS[s.name.1]));
    let mut b = lead(n, &name);
    b.lead.date_created = now() - Duration::hours(s.created_days * 24 + 5);
    b.lead.date_updated = b.lead.date_created;
    b.lead.status_label = STATUSES[s.status].into();
    if let Some(c) = s.city {
        b.lead.addresses.push(Address {
            city: Some(CITIES[c].into()),
            ..Default::default()
        });
    }
    if let Some(e) = s.employees {
        b.lead.custom.insert("Employees".into(), e.into());
    }
    if let Some(src) = s.source {
        b.lead.custom.insert("Source".into(), SOURCES[src].into());
    }
    for (i, (w, t, phone, email)) in s.contacts.iter().enumerate() {
        let mut c = contact(&b, n * 10 + i as u64, &format!("{} Smith", cap(WORDS[*w])));
        c.title = Some(TITLES[*t].into());
        if let Some(p) = phone {
            c.phones.push(ContactPhone {
                phone: format!("+1{}5550{:03}", [415, 212, 650][*p], i),
                kind: "office".into(),
            });
        }
        if *email {
            c.emails.push(ContactEmail {
                email: format!("{}@{}.com", WORDS[*w].replace(['é', 'ü'], ""), n),
                kind: "office".into(),
            });
        }
        b.contacts.push(c);
    }
    let mut k = n * 100;
    for (hours, duration) in &s.calls {
        k += 1;
        b.activities.push(activity(
            &b,
            k,
            now() - Duration::hours(*hours),
            call(*duration),
        ));
    }
    for (hours, opened, linked) in &s.emails {
        k += 1;
        let at = now() - Duration::hours(*hours);
        let opens = if *opened {
            vec![at + Duration::hours(1)]
        } else {
            vec![]
        };
        let mut a = activity(&b, k, at, email("Hello there", opens));
        if *linked {
            a.contact_id = b.contacts.first().map(|c| c.id);
        }
        b.activities.push(a);
    }
    for w in &s.notes {
        k += 1;
        b.activities.push(activity(
            &b,
            k,
            now() - Duration::hours(k as i64 % 500),
            note(&format!("talked about {}", WORDS[*w])),
        ));
    }
    b
}

fn cap(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![":", "<", "<=", ">", ">="])
}

fn atom() -> impl Strategy<Value = String> {
    let word = prop::sample::select(WORDS.to_vec());
    prop_oneof![
        (word.clone(), 1usize..5).prop_map(|(w, n)| w.chars().take(n).collect()),
        (word.clone(), prop::sample::select(WORDS.to_vec()))
            .prop_map(|(a, b)| format!("\"{a} {b}\"")),
        (
            prop::sample::select(vec![
                "name", "company", "city", "title", "contact", "location", "email"
            ]),
            word.clone(),
            1usize..6
        )
            .prop_map(|(f, w, n)| format!("{f}:{}", w.chars().take(n).collect::<String>())),
        prop::sample::select(STATUSES.to_vec())
            .prop_map(|s| format!("status:{}", s.to_lowercase().replace(' ', "_"))),
        (
            prop::sample::select(vec!["calls", "contacts", "notes", "emails"]),
            op(),
            0u32..3
        )
            .prop_map(|(f, o, n)| format!("{f} {o} {n}")),
        (
            prop::sample::select(vec![
                "last_called",
                "created",
                "last_emailed",
                "last_activity"
            ]),
            op(),
            1u32..90
        )
            .prop_map(|(f, o, n)| format!("{f} {o} \"{n} days ago\"")),
        (
            prop::sample::select(vec!["created", "last_called"]),
            op(),
            1u32..28,
            1u32..4
        )
            .prop_map(|(f, o, d, m)| format!("{f} {o} 2024-0{m}-{d:02}")),
        prop::sample::select(vec![
            "last_called:never",
            "called:never",
            "called:yes",
            "emailed:never",
            "last_called:today",
            "last_called:yesterday",
            "email_opened:*"
        ])
        .prop_map(String::from),
        prop::sample::select(vec![
            "has:calls",
            "has:contacts",
            "has:phone",
            "has:email",
            "has:notes",
            "has:emails"
        ])
        .prop_map(String::from),
        (op(), 0u32..200).prop_map(|(o, n)| format!("call(duration {o} {n})")),
        (op(), 1u32..90, 0u32..200)
            .prop_map(|(o, d, n)| format!("call(date {o} \"{d} days ago\" duration > {n})")),
        prop::sample::select(TITLES.to_vec()).prop_map(|t| format!("contact(title:\"{t}\")")),
        // Free text inside `contact(…)`: its name, title, emails and phones.
        (
            prop::sample::select([WORDS, TITLES, &["smith", "of sales", "com"]].concat()),
            1usize..8
        )
            .prop_map(|(w, n)| format!("contact({})", w.chars().take(n).collect::<String>())),
        (
            prop::sample::select(WORDS.to_vec()),
            prop::sample::select(vec!["smith", "cto", "founder"])
        )
            .prop_map(|(a, b)| format!("contact(\"{a} {b}\")")),
        prop::sample::select(TITLES.to_vec()).prop_map(|t| format!("title = \"{t}\"")),
        (
            prop::sample::select(vec!["name", "contact"]),
            prop::sample::select(WORDS.to_vec()),
            prop::sample::select([WORDS, &["smith"]].concat())
        )
            .prop_map(|(f, a, b)| format!("{f} = \"{a} {b}\"")),
        prop::sample::select(vec![
            "contact(email(opened:yes))",
            "email(opened:yes)",
            "contact(has:phone has:email)",
            "contact(has:emails)"
        ])
        .prop_map(String::from),
        (op(), 0u32..500).prop_map(|(o, n)| format!("custom.Employees {o} {n}")),
        prop::sample::select(SOURCES.to_vec())
            .prop_map(|s| format!("custom.Source:{}", s.to_lowercase())),
        prop::sample::select(vec!["status:*", "title:*", "email:*", "city:*", "name:*"])
            .prop_map(String::from),
        prop::sample::select(vec!["phone:415", "phone:1650", "phone:212555", "phone:*"])
            .prop_map(String::from),
        prop::sample::select(vec![
            "city in (\"Paris\", \"Zürich\")",
            "status in (customer, cold)"
        ])
        .prop_map(String::from),
    ]
}

fn query() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 8, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|q| format!("not {q}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} or {b})")),
        ]
    })
}

// --- the evaluator -------------------------------------------------------------------

fn fold(s: &str) -> Vec<String> {
    let lowered: String = s
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'ü' | 'ú' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect();
    lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// Words of `query` in order in one of `values`; the last word a prefix when `prefix`.
fn matches_words(values: &[String], query: &str, prefix: bool) -> bool {
    let q = fold(query);
    if q.is_empty() {
        return true;
    }
    values.iter().any(|v| {
        let t = fold(v);
        t.windows(q.len()).any(|w| {
            w.iter().zip(&q).enumerate().all(|(i, (a, b))| {
                if prefix && i == q.len() - 1 {
                    a.starts_with(b.as_str())
                } else {
                    a == b
                }
            })
        })
    })
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Does an instant satisfy `op value` (DESIGN §5's date rules)?
fn date_ok(at: Option<i64>, op: CmpOp, v: &Value) -> bool {
    let tz = TimeZone::get(TZ).unwrap();
    let now_z = jiff::Timestamp::from_millisecond(ms(now()))
        .unwrap()
        .to_zoned(tz.clone());
    let day = |d: jiff::civil::Date| {
        let s = d.to_zoned(tz.clone()).unwrap().timestamp().as_millisecond();
        let e = d
            .tomorrow()
            .unwrap()
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        (s, e)
    };
    let (s, e) = match v {
        Value::Never => return at.is_none(),
        Value::Yes | Value::Any => return at.is_some(),
        Value::Today => day(now_z.date()),
        Value::Yesterday => day(now_z.date().yesterday().unwrap()),
        Value::Date(d) => day(jiff::civil::date(
            d.year() as i16,
            d.month() as i8,
            d.day() as i8,
        )),
        Value::Relative { amount, .. } => {
            let Some(at) = at else { return false };
            let point = now_z
                .checked_sub(jiff::Span::new().days(i64::from(*amount)))
                .unwrap()
                .timestamp()
                .as_millisecond();
            let age = ms(now()) - at;
            let limit = ms(now()) - point;
            return match op {
                CmpOp::Lt => age < limit,
                CmpOp::Le => age <= limit,
                CmpOp::Gt => age > limit,
                CmpOp::Ge => age >= limit,
                _ => {
                    let d = jiff::Timestamp::from_millisecond(point)
                        .unwrap()
                        .to_zoned(tz.clone())
                        .date();
                    let (s, e) = day(d);
                    s <= at && at < e
                }
            };
        }
        _ => unreachable!("{v:?}"),
    };
    let Some(at) = at else { return false };
    match op {
        CmpOp::Match | CmpOp::Eq => s <= at && at < e,
        CmpOp::Lt => at < s,
        CmpOp::Le => at < e,
        CmpOp::Gt => at >= e,
        CmpOp::Ge => at >= s,
    }
}

fn num_ok(x: f64, op: CmpOp, v: &Value) -> bool {
    let Value::Number(n) = v else {
        unreachable!("{v:?}")
    };
    match op {
        CmpOp::Match | CmpOp::Eq => x == *n,
        CmpOp::Lt => x < *n,
        CmpOp::Le => x <= *n,
        CmpOp::Gt => x > *n,
        CmpOp::Ge => x >= *n,
    }
}

fn text_ok(values: &[String], op: CmpOp, v: &Value) -> bool {
    match (op, v) {
        (_, Value::Any) => values.iter().any(|v| !fold(v).is_empty()),
        (CmpOp::Eq, Value::Word(s) | Value::Phrase(s)) => values.iter().any(|x| fold(x) == fold(s)),
        (_, Value::Word(s)) => matches_words(values, s, true),
        (_, Value::Phrase(s)) => matches_words(values, s, false),
        (_, Value::Label(s)) => values.iter().any(|x| fold(x) == fold(s)),
        _ => unreachable!("{v:?}"),
    }
}

fn kind_of<'a>(b: &'a LeadBundle, kind: &str) -> impl Iterator<Item = &'a Activity> {
    let kind = kind.to_owned();
    b.activities
        .iter()
        .filter(move |a| a.kind.type_name() == kind)
}

fn last(b: &LeadBundle, kind: &str) -> Option<i64> {
    kind_of(b, kind).map(|a| ms(a.activity_at)).max()
}

fn lead_ok(b: &LeadBundle, e: &Expr) -> bool {
    let l = &b.lead;
    match e {
        Expr::And(v) => v.iter().all(|x| lead_ok(b, x)),
        Expr::Or(v) => v.iter().any(|x| lead_ok(b, x)),
        Expr::Not(x) => !lead_ok(b, x),
        Expr::Text(w) | Expr::Phrase(w) => {
            let mut all = vec![l.name.clone()];
            all.extend(l.description.clone());
            all.extend(l.url.clone());
            all.extend(l.addresses.iter().flat_map(address_parts));
            for c in &b.contacts {
                all.extend(contact_text(c));
            }
            for a in &b.activities {
                match &a.kind {
                    ActivityKind::Note(n) => all.push(n.note.clone()),
                    ActivityKind::Email(m) => all.push(m.subject.clone()),
                    _ => {}
                }
            }
            all.extend(
                l.custom
                    .values()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)),
            );
            matches_words(&all, &w.node, matches!(e, Expr::Text(_)))
        }
        Expr::Has(t) => match t.node {
            HasTarget::Calls => kind_of(b, "call").count() > 0,
            HasTarget::Emails => kind_of(b, "email").count() > 0,
            HasTarget::Notes => kind_of(b, "note").count() > 0,
            HasTarget::Contacts => !b.contacts.is_empty(),
            HasTarget::Phone => b.contacts.iter().any(|c| !c.phones.is_empty()),
            HasTarget::Email => b.contacts.iter().any(|c| !c.emails.is_empty()),
            other => unreachable!("{other:?}"),
        },
        Expr::In { field, values } => values.iter().any(|v| {
            lead_ok(
                b,
                &Expr::Cmp {
                    field: field.clone(),
                    op: CmpOp::Eq,
                    value: v.clone(),
                },
            )
        }),
        Expr::Sub { object, expr } => match object {
            SubObject::Contact => b.contacts.iter().any(|c| contact_ok(b, c, expr)),
            SubObject::Call => kind_of(b, "call").any(|a| activity_ok(a, expr)),
            SubObject::Email => kind_of(b, "email").any(|a| activity_ok(a, expr)),
            SubObject::Note => kind_of(b, "note").any(|a| note_ok(a, expr)),
            other => unreachable!("{other:?}"),
        },
        Expr::Cmp { field, op, value } => {
            let v = &value.node;
            let contacts =
                |f: fn(&Contact) -> Vec<String>| b.contacts.iter().flat_map(f).collect::<Vec<_>>();
            let count = |n: usize| num_ok(n as f64, *op, v);
            let part = |f: fn(&Address) -> &Option<String>| {
                l.addresses
                    .iter()
                    .filter_map(|a| f(a).clone())
                    .collect::<Vec<_>>()
            };
            match &field.node {
                Field::Name => text_ok(
                    &[vec![l.name.clone()], contacts(|c| vec![c.name.clone()])].concat(),
                    *op,
                    v,
                ),
                Field::Company => text_ok(std::slice::from_ref(&l.name), *op, v),
                Field::Contact => text_ok(&contacts(|c| vec![c.name.clone()]), *op, v),
                Field::Title => {
                    text_ok(&contacts(|c| c.title.clone().into_iter().collect()), *op, v)
                }
                Field::Email => text_ok(
                    &contacts(|c| c.emails.iter().map(|e| e.email.clone()).collect()),
                    *op,
                    v,
                ),
                Field::Description => text_ok(
                    &l.description.clone().into_iter().collect::<Vec<_>>(),
                    *op,
                    v,
                ),
                Field::Url => text_ok(&l.url.clone().into_iter().collect::<Vec<_>>(), *op, v),
                Field::City => text_ok(&part(|a| &a.city), *op, v),
                Field::State => text_ok(&part(|a| &a.state), *op, v),
                Field::Zip => text_ok(&part(|a| &a.zipcode), *op, v),
                Field::Country => text_ok(&part(|a| &a.country), *op, v),
                Field::Location => text_ok(
                    &l.addresses
                        .iter()
                        .flat_map(address_parts)
                        .collect::<Vec<_>>(),
                    *op,
                    v,
                ),
                Field::Status => text_ok(std::slice::from_ref(&l.status_label), *op, v),
                Field::Phone => {
                    let all: Vec<String> =
                        contacts(|c| c.phones.iter().map(|p| p.phone.clone()).collect());
                    match v {
                        Value::Any => !all.is_empty(),
                        Value::Word(d) => all.iter().any(|p| {
                            let digits = p.trim_start_matches('+');
                            digits.starts_with(d.as_str()) || digits[1..].starts_with(d.as_str())
                        }),
                        _ => unreachable!(),
                    }
                }
                Field::Calls => count(kind_of(b, "call").count()),
                Field::Emails => count(kind_of(b, "email").count()),
                Field::Notes => count(kind_of(b, "note").count()),
                Field::Contacts => count(b.contacts.len()),
                Field::Called | Field::Emailed => {
                    let kind = if field.node == Field::Called {
                        "call"
                    } else {
                        "email"
                    };
                    let n = kind_of(b, kind).count();
                    match v {
                        Value::Never => n == 0,
                        Value::Yes => n > 0,
                        _ => count(n),
                    }
                }
                Field::Created => date_ok(Some(ms(l.date_created)), *op, v),
                Field::LastCalled => date_ok(last(b, "call"), *op, v),
                Field::LastEmailed => date_ok(last(b, "email"), *op, v),
                Field::LastActivity => {
                    date_ok(b.activities.iter().map(|a| ms(a.activity_at)).max(), *op, v)
                }
                Field::EmailOpened => {
                    let opened = kind_of(b, "email").flat_map(|a| match &a.kind {
                        ActivityKind::Email(m) => m.opens.iter().map(|t| ms(*t)).collect(),
                        _ => vec![],
                    });
                    date_ok(opened.max(), *op, v)
                }
                Field::Custom(name) if name.eq_ignore_ascii_case("employees") => {
                    match l.custom.get("Employees") {
                        Some(n) => match v {
                            Value::Word(w) => {
                                num_ok(n.as_f64().unwrap(), *op, &Value::Number(w.parse().unwrap()))
                            }
                            _ => unreachable!(),
                        },
                        None => false,
                    }
                }
                Field::Custom(name) if name.eq_ignore_ascii_case("nickname") => text_ok(
                    &l.custom
                        .get("Nickname")
                        .and_then(|n| n.as_str())
                        .map(String::from)
                        .into_iter()
                        .collect::<Vec<_>>(),
                    *op,
                    v,
                ),
                Field::Custom(_) => match (l.custom.get("Source"), v) {
                    (Some(s), Value::Word(w)) => fold(s.as_str().unwrap()) == fold(w),
                    _ => false,
                },
                other => unreachable!("{other:?}"),
            }
        }
        other => unreachable!("{other:?}"),
    }
}

/// A contact's free text: name, title, emails and phone digits (E.164, and national for
/// the +1 numbers the tests use).
fn contact_text(c: &Contact) -> Vec<String> {
    let mut values = vec![c.name.clone()];
    values.extend(c.title.clone());
    values.extend(c.emails.iter().map(|e| e.email.clone()));
    for p in &c.phones {
        let digits = p.phone.trim_start_matches('+');
        values.push(digits.to_owned());
        if let Some(national) = digits.strip_prefix('1') {
            values.push(national.to_owned());
        }
    }
    values
}

/// Every part of an address (`location:` and free text).
fn address_parts(a: &Address) -> Vec<String> {
    [
        &a.address_1,
        &a.address_2,
        &a.city,
        &a.state,
        &a.zipcode,
        &a.country,
    ]
    .into_iter()
    .filter_map(|p| p.clone())
    .collect()
}

/// A note's free text: its title and body.
fn note_ok(a: &Activity, e: &Expr) -> bool {
    let ActivityKind::Note(n) = &a.kind else {
        return false;
    };
    match e {
        Expr::And(v) => v.iter().all(|x| note_ok(a, x)),
        Expr::Text(w) | Expr::Phrase(w) => {
            let text: Vec<String> = n.title.iter().cloned().chain([n.note.clone()]).collect();
            matches_words(&text, &w.node, matches!(e, Expr::Text(_)))
        }
        other => unreachable!("{other:?}"),
    }
}

fn contact_ok(b: &LeadBundle, c: &Contact, e: &Expr) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| contact_ok(b, c, x)),
        Expr::Text(w) | Expr::Phrase(w) => {
            matches_words(&contact_text(c), &w.node, matches!(e, Expr::Text(_)))
        }
        Expr::Has(t) => match t.node {
            HasTarget::Phone => !c.phones.is_empty(),
            HasTarget::Email => !c.emails.is_empty(),
            HasTarget::Emails => kind_of(b, "email").any(|a| a.contact_id == Some(c.id)),
            other => unreachable!("{other:?}"),
        },
        Expr::Cmp { field, op, value } if field.node == Field::Title => text_ok(
            &c.title.clone().into_iter().collect::<Vec<_>>(),
            *op,
            &value.node,
        ),
        Expr::Sub {
            object: SubObject::Email,
            expr,
        } => kind_of(b, "email").any(|a| a.contact_id == Some(c.id) && activity_ok(a, expr)),
        other => unreachable!("{other:?}"),
    }
}

fn activity_ok(a: &Activity, e: &Expr) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| activity_ok(a, x)),
        Expr::Cmp { field, op, value } => match (&field.node, &a.kind) {
            (Field::Duration, ActivityKind::Call(c)) => {
                num_ok(f64::from(c.duration), *op, &value.node)
            }
            (Field::Date, _) => date_ok(Some(ms(a.activity_at)), *op, &value.node),
            (Field::Opened, ActivityKind::Email(m)) => {
                date_ok(m.opens.iter().map(|t| ms(*t)).max(), *op, &value.node)
            }
            other => unreachable!("{other:?}"),
        },
        other => unreachable!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_the_evaluator(
        specs in prop::collection::vec(spec(), 1..10),
        queries in prop::collection::vec(query(), 12),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let bundles: Vec<LeadBundle> = specs.iter().enumerate().map(|(i, s)| build(i as u64, s)).collect();
            let dir = tempfile::tempdir().unwrap();
            let fields: &[(&str, FieldType, &[&str])] = &[
                ("Employees", FieldType::Number, &[]),
                ("Source", FieldType::Choice, SOURCES),
            ];
            let store = store(&dir, fields, &[], bundles.clone()).await;
            let index = index(&store).await;
            for q in &queries {
                let parsed = rapport_query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
                let mut want: Vec<String> = bundles
                    .iter()
                    .filter(|b| parsed.expr.as_ref().is_none_or(|e| lead_ok(b, e)))
                    .map(|b| b.lead.name.clone())
                    .collect();
                want.sort();
                let mut got = names(&index, &store, q).await.unwrap_or_else(|e| panic!("{q}: {e}"));
                got.sort();
                prop_assert_eq!(got, want, "query: {}", q);
            }
            Ok(())
        })?;
    }
}

// --- short prefixes over a large store --------------------------------------------------
//
// A one-word prefix must find every word it is a prefix of, however many. tantivy's
// one-term `PhrasePrefixQuery` stops after 50 words per segment: on the code before the fix,
// `email:a` over this store found about 50 leads of several hundred (this test failed).

/// Words drawn so that each 1–2 character prefix has hundreds of distinct words: the first
/// letter from 4, the second from 3, then three random letters.
fn big_word(rng: &mut rapport_core::ops::Rng) -> String {
    let mut w = String::new();
    w.push(*rng.pick(&['a', 'b', 'm', 's']));
    w.push(*rng.pick(&['a', 'e', 'o']));
    for _ in 0..3 {
        w.push((b'a' + rng.below(26) as u8) as char);
    }
    w
}

fn digits(rng: &mut rapport_core::ops::Rng, n: usize) -> String {
    (0..n)
        .map(|_| (b'0' + rng.below(10) as u8) as char)
        .collect()
}

/// Lead `n` of the large store: every text field holds random words (or digits).
fn big_lead(n: u64, rng: &mut rapport_core::ops::Rng) -> LeadBundle {
    let name = format!("{} {}", cap(&big_word(rng)), cap(&big_word(rng)));
    let mut b = lead(n, &name);
    let (d1, d2, d3) = (big_word(rng), big_word(rng), big_word(rng));
    b.lead.description = Some(format!("{d1} {d2} {d3}"));
    let (u1, u2) = (big_word(rng), big_word(rng));
    b.lead.url = Some(format!("https://{u1}.{u2}.com/{n}"));
    let (street, city, state, country) =
        (big_word(rng), big_word(rng), big_word(rng), big_word(rng));
    b.lead.addresses.push(Address {
        address_1: Some(format!("{} {} St", digits(rng, 3), cap(&street))),
        city: Some(cap(&city)),
        state: Some(state.to_uppercase()),
        zipcode: Some(digits(rng, 5)),
        country: Some(cap(&country)),
        ..Default::default()
    });
    b.lead
        .custom
        .insert("Nickname".into(), big_word(rng).into());
    for i in 0..=rng.below(2) {
        let name = format!("{} {}", cap(&big_word(rng)), cap(&big_word(rng)));
        let mut c = contact(&b, n * 10 + i, &name);
        c.title = Some(cap(&big_word(rng)));
        c.emails.push(ContactEmail {
            email: format!("{}@{}.com", big_word(rng), big_word(rng)),
            kind: "office".into(),
        });
        let area = *rng.pick(&["415", "650", "212", "303", "917"]);
        c.phones.push(ContactPhone {
            phone: format!("+1{area}{}", digits(rng, 7)),
            kind: "office".into(),
        });
        b.contacts.push(c);
    }
    if rng.chance(60) {
        let text = format!("talked to {} about {}", big_word(rng), big_word(rng));
        let at = now() - Duration::hours(1 + n as i64 % 500);
        b.activities
            .push(activity(&b, n * 100 + 1, at, note(&text)));
    }
    b
}

/// `field:prefix` (or the bare prefix, or `contact(prefix)`/`note(prefix)`) for a 1–2
/// character prefix.
fn short_prefix_query() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "",
        "name",
        "company",
        "description",
        "url",
        "city",
        "state",
        "zip",
        "country",
        "location",
        "contact",
        "title",
        "email",
        "phone",
        "custom.Nickname",
        "contact()",
        "note()",
    ]);
    let first = prop::sample::select(vec!['a', 'b', 'm', 's', 'z', '1', '4', '6', '9', '0']);
    let second = proptest::option::of(prop::sample::select(vec![
        'a', 'e', 'o', 'x', '1', '4', '5', '0',
    ]));
    (field, first, second).prop_map(|(f, a, b)| {
        let mut p: String = std::iter::once(a).chain(b).collect();
        if f == "phone" {
            // A phone prefix is digits (letters are dropped from it).
            p = p.replace(|c: char| !c.is_ascii_digit(), "4");
        }
        match f {
            "" => p,
            "contact()" => format!("contact({p})"),
            "note()" => format!("note({p})"),
            f => format!("{f}:{p}"),
        }
    })
}

#[test]
fn short_prefixes_agree_with_the_evaluator_over_a_large_store() {
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = rapport_core::ops::Rng(12);
    let bundles: Vec<LeadBundle> = (0..1_500).map(|n| big_lead(n, &mut rng)).collect();
    let dir = tempfile::tempdir().unwrap();
    let fields: &[(&str, FieldType, &[&str])] = &[("Nickname", FieldType::Text, &[])];
    let (store, index) = rt.block_on(async {
        let store = store(&dir, fields, &[], bundles.clone()).await;
        let index = index(&store).await;
        (store, index)
    });
    let id_of: std::collections::HashMap<Id, usize> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| (b.lead.id, i))
        .collect();
    // Each prefix of the first two letters is a prefix of hundreds of distinct words.
    let mut runner = TestRunner::new(Config {
        cases: 160,
        ..Config::default()
    });
    runner
        .run(&short_prefix_query(), |q| {
            let parsed = rapport_query::parse(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let mut want: Vec<usize> = bundles
                .iter()
                .enumerate()
                .filter(|(_, b)| parsed.expr.as_ref().is_none_or(|e| lead_ok(b, e)))
                .map(|(i, _)| i)
                .collect();
            want.sort();
            let hits = rt
                .block_on(index.search(&q, clock(), 0, 10_000))
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            let mut got: Vec<usize> = hits.rows.iter().map(|h| id_of[&h.id]).collect();
            got.sort();
            prop_assert_eq!(hits.total as usize, want.len(), "total of {}", q);
            prop_assert_eq!(got, want, "query: {}", q);
            Ok(())
        })
        .unwrap();
    // The store is as large as claimed: `email:a` alone matches hundreds of leads.
    let a = rt.block_on(index.search("email:a", clock(), 0, 1)).unwrap();
    assert!(a.total > 300, "email:a: {}", a.total);
    drop(store);
}

/// Fails on the old code (2,000 of 2,600): the last word of a phrase matches every word it is
/// a prefix of, however many there are in a segment. `description:acme.q` is the phrase
/// `acme q…`, whose last word here starts 5,200 distinct words (two per lead, `qaaa` …
/// `qhur`); a few leads whose `q…` words do not follow `acme` must not match.
#[test]
fn a_phrase_prefix_matches_all_its_words_however_many() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let word = |n: u64| {
        let l = |k: u64| char::from(b'a' + (k % 26) as u8);
        format!("q{}{}{}", l(n / 676), l(n / 26), l(n))
    };
    let mut bundles: Vec<LeadBundle> = (0..2_600)
        .map(|n| {
            let mut b = lead(n, &format!("Lead {n}"));
            b.lead.description = Some(format!("acme.{} acme.{}", word(2 * n), word(2 * n + 1)));
            b
        })
        .collect();
    for n in 2_600..2_650 {
        let mut b = lead(n, &format!("Other {n}"));
        b.lead.description = Some(format!("acme.zz.{}", word(2 * n)));
        bundles.push(b);
    }
    // The independent answer: leads with a description word `acme.` + a word starting with
    // `p`, or (for `zz`) `acme.zz.` + one.
    let want = |after: &str, p: &str| -> u64 {
        bundles
            .iter()
            .filter(|b| {
                let d = b.lead.description.as_deref().unwrap_or_default();
                d.split(' ').any(|w| {
                    w.strip_prefix(after)
                        .is_some_and(|rest| !rest.contains('.') && rest.starts_with(p))
                })
            })
            .count() as u64
    };
    let cases = [
        ("description:acme.q", want("acme.", "q")),
        ("acme.q", want("acme.", "q")),
        ("description:acme.qd", want("acme.", "qd")),
        ("description:acme.zz.q", want("acme.zz.", "q")),
    ];
    assert_eq!(cases[0].1, 2_600);
    assert_eq!(cases[3].1, 50);
    let dir = tempfile::tempdir().unwrap();
    let (store, index) = rt.block_on(async {
        let store = store(&dir, &[], &[], bundles.clone()).await;
        let index = index(&store).await;
        (store, index)
    });
    for (q, want) in cases {
        let hits = rt.block_on(index.search(q, clock(), 0, 10_000)).unwrap();
        assert_eq!(hits.total, want, "{q}");
        assert_eq!(hits.rows.len() as u64, want, "{q}");
    }
    drop(store);
}
