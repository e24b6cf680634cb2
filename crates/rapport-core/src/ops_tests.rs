//! Tests of the operations: what each plan writes, and what each bad input is told.

use super::*;
use crate::error::ErrorCode;
use crate::plan::Record;
use crate::plan::WriteKind;

fn ctx() -> Ctx {
    Ctx {
        now: crate::time::parse("2025-03-01T12:00:00Z").unwrap(),
        user: None,
        region: "US".into(),
        statuses: DEFAULT_STATUSES.iter().map(|s| s.to_string()).collect(),
        fields: vec![CustomFieldDef {
            id: Id::at(crate::time::parse("2025-01-01").unwrap(), 1),
            name: "Employees".into(),
            kind: FieldType::Number,
            applies_to: FieldTarget::Lead,
            choices: vec![],
        }],
        rng: Rng(42),
    }
}

fn lead(c: &mut Ctx) -> Lead {
    create_lead(
        NewLead {
            name: "Acme".into(),
            ..Default::default()
        },
        c,
    )
    .unwrap()
    .0
}

#[test]
fn create_lead_defaults_to_first_status_and_normalises() {
    let mut c = ctx();
    let input = NewLead {
        name: "  Acme  ".into(),
        url: Some("acme.com".into()),
        custom: [("employees".to_string(), serde_json::json!("250"))].into(),
        ..Default::default()
    };
    let (lead, plan) = create_lead(input, &mut c).unwrap();
    assert_eq!(lead.name, "Acme");
    assert_eq!(lead.status_label, "Potential");
    assert_eq!(lead.url.as_deref(), Some("https://acme.com/"));
    assert_eq!(lead.custom["Employees"], serde_json::json!(250));
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].kind, WriteKind::Create);
}

#[test]
fn bad_lead_input_names_the_field() {
    let mut c = ctx();
    let cases: Vec<(NewLead, &str)> = vec![
        (
            NewLead {
                name: " ".into(),
                ..Default::default()
            },
            "name",
        ),
        (
            NewLead {
                name: "A".into(),
                url: Some("javascript:x".into()),
                ..Default::default()
            },
            "url",
        ),
        (
            NewLead {
                name: "A".into(),
                status_label: Some("Hot".into()),
                ..Default::default()
            },
            "status_label",
        ),
        (
            NewLead {
                name: "A".into(),
                custom: [("Nope".to_string(), serde_json::json!(1))].into(),
                ..Default::default()
            },
            "custom.Nope",
        ),
        (
            NewLead {
                name: "A".into(),
                custom: [("Employees".to_string(), serde_json::json!("many"))].into(),
                ..Default::default()
            },
            "custom.Employees",
        ),
    ];
    for (input, field) in cases {
        let e = create_lead(input, &mut c).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
    }
}

#[test]
fn status_change_writes_a_status_change_activity_and_only_changed_fields() {
    let mut c = ctx();
    let l = lead(&mut c);
    c.now += chrono::Duration::minutes(1);
    let (l2, plan) = update_lead(
        &l,
        LeadPatch {
            status_label: Some("qualified".into()),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap();
    assert_eq!(l2.status_label, "Qualified");
    assert_eq!(plan.writes.len(), 2);
    assert_eq!(
        plan.writes[0].kind,
        WriteKind::Update(vec!["status_label".into()])
    );
    match &plan.writes[1].record {
        Record::Activity(a) => assert_eq!(
            a.kind,
            ActivityKind::StatusChange(StatusChangeFields {
                old_status_label: Some("Potential".into()),
                new_status_label: "Qualified".into()
            })
        ),
        other => panic!("expected an activity, got {other:?}"),
    }
    let (_, noop) = update_lead(
        &l2,
        LeadPatch {
            name: Some("Acme".into()),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap();
    assert!(
        noop.is_empty(),
        "an edit that changes nothing writes nothing"
    );
}

#[test]
fn a_lead_with_its_contact_is_one_plan_or_nothing() {
    let mut c = ctx();
    let new_lead = || NewLead {
        name: "Caller +1 415-555-0123".into(),
        ..Default::default()
    };
    let contact = |phone: &str| NewContact {
        name: "Ann".into(),
        phones: vec![PhoneInput {
            phone: phone.into(),
            kind: None,
        }],
        ..Default::default()
    };
    let (lead, made, plan) =
        create_lead_with_contact(new_lead(), contact("+14155550123"), &mut c).unwrap();
    assert_eq!(made.lead_id, lead.id);
    let kinds: Vec<_> = plan
        .writes
        .iter()
        .map(|w| (w.record.entity(), w.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (crate::plan::Entity::Lead, WriteKind::Create),
            (crate::plan::Entity::Contact, WriteKind::Create)
        ]
    );
    // A bad second half fails the whole operation: no plan, so nothing to write.
    let e = create_lead_with_contact(new_lead(), contact("12ab"), &mut c).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("phones[0].phone"));
}

#[test]
fn contacts_validate_emails_and_phones() {
    let mut c = ctx();
    let l = lead(&mut c);
    let ok = NewContact {
        name: "Ann".into(),
        emails: vec![EmailInput {
            email: "Ann@Acme.com".into(),
            kind: None,
        }],
        phones: vec![PhoneInput {
            phone: "415-555-0123".into(),
            kind: Some("mobile".into()),
        }],
        ..Default::default()
    };
    let (contact, _) = add_contact(&l, ok, &mut c).unwrap();
    assert_eq!(contact.emails[0].email, "ann@acme.com");
    assert_eq!(contact.phones[0].phone, "+14155550123");
    let bad = NewContact {
        name: "Bob".into(),
        phones: vec![PhoneInput {
            phone: "123".into(),
            kind: None,
        }],
        ..Default::default()
    };
    assert_eq!(
        add_contact(&l, bad, &mut c).unwrap_err().field.as_deref(),
        Some("phones[0].phone")
    );
}

#[test]
fn backdated_activity_id_carries_its_time() {
    let mut c = ctx();
    let l = lead(&mut c);
    let at = crate::time::parse("2024-06-01T10:00:00Z").unwrap();
    let input = NewActivity {
        contact_id: None,
        activity_at: Some(at),
        kind: ActivityKind::Note(NoteFields {
            title: None,
            note: "hi".into(),
            pinned: false,
        }),
    };
    let (a, _) = add_activity(&l, &[], input, &mut c).unwrap();
    assert_eq!(a.id.timestamp_ms() as i64, at.timestamp_millis());
    let status = NewActivity {
        contact_id: None,
        activity_at: None,
        kind: ActivityKind::StatusChange(StatusChangeFields {
            old_status_label: None,
            new_status_label: "X".into(),
        }),
    };
    assert!(
        add_activity(&l, &[], status, &mut c).is_err(),
        "status changes are never written by hand"
    );
}

#[test]
fn note_patch_changes_only_the_note() {
    let mut c = ctx();
    let l = lead(&mut c);
    let input = NewActivity {
        contact_id: None,
        activity_at: None,
        kind: ActivityKind::Note(NoteFields {
            title: None,
            note: "draft".into(),
            pinned: false,
        }),
    };
    let (a, _) = add_activity(&l, &[], input, &mut c).unwrap();
    let (_, plan) = update_note(
        &a,
        NotePatch {
            note: Some("draft two".into()),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap();
    assert_eq!(plan.writes[0].kind, WriteKind::Update(vec!["note".into()]));
}

#[test]
fn call_patch_fills_in_the_outcome_and_the_note() {
    let mut c = ctx();
    let l = lead(&mut c);
    let input = NewActivity {
        contact_id: None,
        activity_at: None,
        kind: ActivityKind::Call(CallFields {
            direction: Direction::Outbound,
            status: "in-progress".into(),
            disposition: "in-progress".into(),
            remote_phone: Some("+1 415 555 0123".into()),
            local_phone: None,
            duration: 0,
            note: None,
        }),
    };
    let (a, _) = add_activity(&l, &[], input, &mut c).unwrap();
    let note = |n: &str| CallPatch {
        note: Some(n.into()),
        ..Default::default()
    };
    let (a, plan) = update_call(&a, note("budget ok\n"), &mut c).unwrap();
    assert_eq!(plan.writes[0].kind, WriteKind::Update(vec!["note".into()]));
    let end = CallPatch {
        status: Some("completed".into()),
        disposition: Some("answered".into()),
        duration: Some(42),
        ..Default::default()
    };
    let (a, plan) = update_call(&a, end, &mut c).unwrap();
    let ActivityKind::Call(f) = &a.kind else {
        panic!("not a call")
    };
    assert_eq!(
        (f.status.as_str(), f.disposition.as_str(), f.duration),
        ("completed", "answered", 42)
    );
    assert_eq!(
        f.note.as_deref(),
        Some("budget ok\n"),
        "typed text is kept as typed"
    );
    assert_eq!(plan.writes.len(), 1);
    let (a, _) = update_call(&a, note("  "), &mut c).unwrap();
    assert!(matches!(&a.kind, ActivityKind::Call(f) if f.note.is_none()));
    let e = update_call(
        &a,
        CallPatch {
            status: Some(" ".into()),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("status"));
    let n = NewActivity {
        contact_id: None,
        activity_at: None,
        kind: ActivityKind::Note(NoteFields {
            title: None,
            note: "x".into(),
            pinned: false,
        }),
    };
    let (n, _) = add_activity(&l, &[], n, &mut c).unwrap();
    assert!(
        update_call(&n, note("x"), &mut c).is_err(),
        "a note is not a call"
    );
}

#[test]
fn opportunity_rules() {
    let mut c = ctx();
    let l = lead(&mut c);
    let e = add_opportunity(
        &l,
        &[],
        NewOpportunity {
            confidence: Some(120),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("confidence"));
    let e = add_opportunity(
        &l,
        &[],
        NewOpportunity {
            status_label: Some("maybe".into()),
            ..Default::default()
        },
        &mut c,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownStatus);
    let (o, _) = add_opportunity(
        &l,
        &[],
        NewOpportunity {
            status_label: Some("won".into()),
            value: 5000,
            ..Default::default()
        },
        &mut c,
    )
    .unwrap();
    assert_eq!(
        (o.status_label.as_str(), o.status_type),
        ("Won", OpportunityStatusType::Won)
    );
}
