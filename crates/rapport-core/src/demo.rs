//! The demo data set: realistic companies with contacts, addresses, notes, calls, emails with
//! opens, meetings, tasks and opportunities over two years. Deterministic for a seed and `now`.

use crate::id::Id;
use crate::model::*;
use crate::ops::Rng;
use crate::time::Timestamp;
use chrono::Duration;
use serde_json::json;

const PREFIX: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Black Mesa",
    "Monarch",
    "Pied Piper",
    "Dunder",
    "Sterling",
    "Massive",
    "Nakatomi",
    "Prestige",
    "Blue Sun",
    "Virtucon",
    "Zorg",
    "Kramerica",
    "Bluth",
    "Lacuna",
    "Genco",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Alpine",
    "Coho",
    "Fourth Coffee",
    "Margie",
    "Lucerne",
    "Humongous",
    "Trey",
    "Woodgrove",
    "Blue Yonder",
    "Wide World",
    "Southridge",
    "Datum",
];
const SUFFIX: &[&str] = &[
    "Labs",
    "Systems",
    "Inc",
    "Corp",
    "Holdings",
    "Partners",
    "Logistics",
    "Analytics",
    "Foods",
    "Health",
    "Robotics",
    "Media",
    "Energy",
    "Capital",
    "Software",
    "Industries",
    "Group",
    "Works",
    "Dynamics",
    "Networks",
    "Online",
    "Consulting",
    "Supply",
    "Studios",
    "Bank",
];
const FIRST: &[&str] = &[
    "Ann",
    "Bob",
    "Carla",
    "David",
    "Elena",
    "Frank",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kate",
    "Liam",
    "Maria",
    "Nikhil",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoë",
    "José",
    "Françoise",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Nguyen",
    "García",
    "Müller",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Okafor",
    "Silva",
    "Dubois",
    "Andersson",
    "Cohen",
    "Patel",
    "Kim",
    "O'Brien",
    "Novak",
    "Haddad",
    "Jensen",
    "Moreau",
    "Schmidt",
    "Ivanova",
];
const TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Operations",
    "Procurement Manager",
    "Office Manager",
    "CFO",
    "Founder",
    "Director of Marketing",
    "IT Lead",
    "Account Executive",
    "COO",
];
/// (city, state, zip, area code)
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Menlo Park", "CA", "94025", "650"),
    ("San Francisco", "CA", "94105", "415"),
    ("Palo Alto", "CA", "94301", "650"),
    ("Austin", "TX", "78701", "512"),
    ("Boston", "MA", "02110", "617"),
    ("New York", "NY", "10001", "212"),
    ("Seattle", "WA", "98101", "206"),
    ("Chicago", "IL", "60601", "312"),
    ("Denver", "CO", "80202", "303"),
    ("Miami", "FL", "33101", "305"),
    ("Portland", "OR", "97201", "503"),
    ("Atlanta", "GA", "30303", "404"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Market St",
    "Oak Ave",
    "Sand Hill Rd",
    "Broadway",
    "Park Ave",
    "Elm St",
    "2nd St",
];
const NOTES: &[&str] = &[
    "Spoke with the team about **pricing**. They want a pilot for 10 seats before committing.",
    "Follow-up: send the security questionnaire and the SOC 2 report.\n\n- SSO required\n- Data residency in the EU",
    "Budget approved for Q3. Decision maker is the *VP Sales*; procurement takes ~4 weeks.",
    "Not a fit right now: they just signed a 2-year contract with a competitor. Check back next year.",
    "Demo went well. Questions about the **API** and importing 50k leads from their old CRM.",
    "Left a voicemail. Their office moved; new address on the website.",
    "Champion is leaving the company next month; need a new contact in operations.",
];
const CALL_NOTES: &[&str] = &[
    "Discussed renewal terms",
    "Asked for a callback next week",
    "Gatekeeper, no decision maker available",
    "Walked through onboarding plan",
];
const SUBJECTS: &[&str] = &[
    "Quick question about your sales process",
    "Following up on our call",
    "Proposal and pricing",
    "Re: Pilot timeline",
    "Introduction",
    "Contract for review",
];
const TASKS: &[&str] = &[
    "Send proposal",
    "Call back about pricing",
    "Schedule demo",
    "Email case study",
    "Follow up on contract",
];
pub const SOURCES: &[&str] = &["Web", "Referral", "Conference", "Cold outreach", "Partner"];

/// The custom field definitions the demo data uses (created before the leads).
pub fn field_defs(rng: &mut Rng, now: Timestamp) -> Vec<CustomFieldDef> {
    let mut id = || Id::at(now, rng.next_u128());
    vec![
        CustomFieldDef {
            id: id(),
            name: "Lead Source".into(),
            kind: FieldType::Choice,
            applies_to: FieldTarget::Lead,
            choices: SOURCES.iter().map(|s| s.to_string()).collect(),
        },
        CustomFieldDef {
            id: id(),
            name: "Employees".into(),
            kind: FieldType::Number,
            applies_to: FieldTarget::Lead,
            choices: vec![],
        },
        CustomFieldDef {
            id: id(),
            name: "Renewal Date".into(),
            kind: FieldType::Date,
            applies_to: FieldTarget::Lead,
            choices: vec![],
        },
    ]
}

/// Generates lead `n` of the data set. Each lead draws from its own stream (seed, n), so any
/// slice of the set can be generated independently and in parallel.
pub fn lead(
    seed: u64,
    n: u64,
    now: Timestamp,
    statuses: &[String],
    user: Option<Id>,
) -> LeadBundle {
    let mut r = Rng(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
    r.next_u64();
    let two_years = 730 * 24 * 3600;
    let created = now - Duration::seconds(30 * 24 * 3600 + r.below(two_years) as i64);
    let span = (now - created).num_seconds().max(1) as u64;
    let at = |r: &mut Rng| created + Duration::seconds(r.below(span) as i64);
    let city = *r.pick(CITIES);
    let company = format!("{} {}", r.pick(PREFIX), r.pick(SUFFIX));
    let name = if r.chance(30) {
        format!("{company} {}", n)
    } else {
        company.clone()
    };
    let domain = format!(
        "{}{}.com",
        company.to_lowercase().replace([' ', '\''], ""),
        n
    );
    let lead_id = Id::at(created, r.next_u128());
    let updated = at(&mut r);
    let mut custom = Custom::new();
    custom.insert("Lead Source".into(), json!(r.pick(SOURCES)));
    if r.chance(70) {
        custom.insert("Employees".into(), json!(5 + r.below(5000)));
    }
    if r.chance(40) {
        let d = (now + Duration::days(r.below(365) as i64)).date_naive();
        custom.insert("Renewal Date".into(), json!(d.to_string()));
    }
    let lead = Lead {
        id: lead_id,
        name,
        description: r
            .chance(60)
            .then(|| format!("{} company based in {}.", r.pick(SUFFIX), city.0)),
        url: Some(format!("https://{domain}/")),
        status_label: statuses[r.below(statuses.len() as u64) as usize].clone(),
        owner_id: user,
        addresses: vec![Address {
            label: Some("business".into()),
            address_1: Some(format!("{} {}", 1 + r.below(999), r.pick(STREETS))),
            address_2: None,
            city: Some(city.0.into()),
            state: Some(city.1.into()),
            zipcode: Some(city.2.into()),
            country: Some("US".into()),
        }],
        custom,
        date_created: created,
        date_updated: updated.max(created),
        merged_into: None,
    };
    let n_contacts = 1 + r.below(5) as usize;
    let contacts: Vec<Contact> = (0..n_contacts)
        .map(|_| {
            let (first, last) = (*r.pick(FIRST), *r.pick(LAST));
            let local = format!("{}.{}", first.to_lowercase(), last.to_lowercase())
                .replace(['\'', 'ë', 'é', 'ç', 'í', 'ü'], "");
            Contact {
                id: Id::at(created, r.next_u128()),
                lead_id,
                name: format!("{first} {last}"),
                title: Some(r.pick(TITLES).to_string()),
                emails: vec![ContactEmail {
                    email: format!("{local}@{domain}"),
                    kind: "office".into(),
                }],
                phones: (0..r.below(3))
                    .map(|i| ContactPhone {
                        phone: format!("+1{}555{:04}", city.3, 100 + r.below(100)),
                        kind: if i == 0 {
                            "office".into()
                        } else {
                            "mobile".into()
                        },
                    })
                    .collect(),
                urls: vec![],
                custom: Custom::new(),
                date_created: created,
                date_updated: created,
            }
        })
        .collect();
    let mut activities = Vec::new();
    let mut push = |r: &mut Rng, kind: ActivityKind, when: Timestamp| {
        let contact_id = Some(contacts[r.below(contacts.len() as u64) as usize].id);
        activities.push(Activity {
            id: Id::at(when, r.next_u128()),
            lead_id,
            contact_id,
            user_id: user,
            activity_at: when,
            date_created: when,
            date_updated: when,
            kind,
        });
    };
    for _ in 0..r.below(4) {
        let w = at(&mut r);
        let kind = ActivityKind::Note(NoteFields {
            title: None,
            note: r.pick(NOTES).to_string(),
            pinned: r.chance(5),
        });
        push(&mut r, kind, w);
    }
    for _ in 0..r.below(5) {
        let w = at(&mut r);
        let answered = r.chance(60);
        let phone = contacts
            .iter()
            .flat_map(|c| &c.phones)
            .next()
            .map(|p| p.phone.clone());
        let kind = ActivityKind::Call(CallFields {
            direction: if r.chance(70) {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            status: "completed".into(),
            disposition: if answered {
                "answered"
            } else {
                *r.pick(&["no-answer", "busy", "vm-left"])
            }
            .into(),
            remote_phone: phone,
            local_phone: Some("+14155550100".into()),
            duration: if answered {
                20 + r.below(1800) as u32
            } else {
                0
            },
            note: answered.then(|| r.pick(CALL_NOTES).to_string()),
        });
        push(&mut r, kind, w);
    }
    for _ in 0..r.below(4) {
        let w = at(&mut r);
        let to = contacts[r.below(contacts.len() as u64) as usize].emails[0]
            .email
            .clone();
        let opens = (0..r.below(3))
            .map(|_| w + Duration::minutes(5 + r.below(3000) as i64))
            .filter(|t| *t <= now)
            .collect();
        let kind = ActivityKind::Email(EmailFields {
            direction: if r.chance(65) {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            subject: r.pick(SUBJECTS).to_string(),
            body_text: format!("Hi,\n\n{}\n\nBest,\nRapport demo", r.pick(NOTES)),
            sender: Some("rep@rapport.example".into()),
            to: vec![to],
            opens,
        });
        push(&mut r, kind, w);
    }
    if r.chance(30) {
        let w = at(&mut r);
        let kind = ActivityKind::Meeting(MeetingFields {
            title: "Discovery meeting".into(),
            starts_at: w,
            ends_at: Some(w + Duration::minutes(30)),
            note: Some("Agenda: goals, timeline, budget".into()),
        });
        push(&mut r, kind, w);
    }
    if r.chance(20) {
        let w = at(&mut r);
        let kind = ActivityKind::Link(LinkFields {
            title: Some("Company profile".into()),
            url: format!("https://{domain}/about"),
        });
        push(&mut r, kind, w);
    }
    let tasks = (0..r.below(3))
        .map(|_| Task {
            id: Id::at(created, r.next_u128()),
            lead_id,
            assigned_to: user,
            text: r.pick(TASKS).to_string(),
            date: Some((now + Duration::days(r.below(60) as i64 - 20)).date_naive()),
            is_complete: r.chance(40),
            date_created: created,
            date_updated: created,
        })
        .collect();
    let opportunities = if r.chance(50) {
        let (label, kind) = *r.pick(&crate::ops::OPPORTUNITY_STATUSES);
        vec![Opportunity {
            id: Id::at(created, r.next_u128()),
            lead_id,
            contact_id: Some(contacts[0].id),
            status_label: label.into(),
            status_type: kind,
            value: (1 + r.below(500) as i64) * 10_000,
            value_period: *r.pick(&[
                ValuePeriod::OneTime,
                ValuePeriod::Monthly,
                ValuePeriod::Annual,
            ]),
            confidence: Some(r.below(101) as u8),
            user_id: user,
            date_won: Some((now + Duration::days(r.below(120) as i64)).date_naive()),
            note: None,
            date_created: created,
            date_updated: created,
        }]
    } else {
        vec![]
    };
    activities.sort_by_key(|a| a.id);
    LeadBundle {
        lead,
        contacts,
        activities,
        tasks,
        opportunities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses() -> Vec<String> {
        DEFAULT_STATUSES.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn same_seed_same_data_and_different_seed_different_data() {
        let now = crate::time::parse("2026-01-01T00:00:00Z").unwrap();
        let a = lead(7, 3, now, &statuses(), None);
        let b = lead(7, 3, now, &statuses(), None);
        let c = lead(8, 3, now, &statuses(), None);
        assert_eq!(a, b);
        assert_ne!(a.lead.id, c.lead.id);
    }

    #[test]
    fn demo_records_pass_validation() {
        let now = crate::time::parse("2026-01-01T00:00:00Z").unwrap();
        for n in 0..200 {
            let b = lead(1, n, now, &statuses(), None);
            assert!(!b.contacts.is_empty());
            assert!(b.lead.date_created <= now && b.lead.date_updated <= now);
            for c in &b.contacts {
                for e in &c.emails {
                    assert_eq!(crate::validate::email("e", &e.email).unwrap(), e.email);
                }
                for p in &c.phones {
                    assert_eq!(
                        crate::validate::phone("p", &p.phone, "US").unwrap(),
                        p.phone
                    );
                }
            }
            for a in &b.activities {
                assert!(
                    a.activity_at >= b.lead.date_created && a.activity_at <= now,
                    "{a:?}"
                );
            }
        }
    }
}
