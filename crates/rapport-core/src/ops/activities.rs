//! Operations on timeline activities: add (validated per type, optionally backdated), edit a note or a call, delete.

use super::*;
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::validate;

pub fn add_activity(
    lead: &Lead,
    contacts: &[Contact],
    input: NewActivity,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    if let Some(cid) = input.contact_id
        && !contacts.iter().any(|c| c.id == cid)
    {
        return Err(Error::invalid(
            "contact_id",
            format!("contact {cid} does not belong to lead {}", lead.id),
        ));
    }
    let kind = match input.kind {
        ActivityKind::Note(n) => ActivityKind::Note(NoteFields {
            title: validate::optional(n.title.as_deref()),
            ..n
        }),
        ActivityKind::Call(c) => ActivityKind::Call(CallFields {
            remote_phone: optional_phone("remote_phone", c.remote_phone, &ctx.region)?,
            local_phone: optional_phone("local_phone", c.local_phone, &ctx.region)?,
            note: validate::optional(c.note.as_deref()),
            ..c
        }),
        ActivityKind::Email(e) => {
            if let Some(s) = &e.sender {
                validate::email("sender", s)?;
            }
            let to =
                e.to.iter()
                    .enumerate()
                    .map(|(i, t)| validate::email(&format!("to[{i}]"), t))
                    .collect::<Result<Vec<_>>>()?;
            let mut opens = e.opens;
            opens.sort();
            ActivityKind::Email(EmailFields { to, opens, ..e })
        }
        ActivityKind::Meeting(m) => {
            validate::required("title", &m.title, 500)?;
            if m.ends_at.is_some_and(|end| end < m.starts_at) {
                return Err(Error::invalid(
                    "ends_at",
                    "a meeting cannot end before it starts",
                ));
            }
            ActivityKind::Meeting(m)
        }
        ActivityKind::Link(l) => ActivityKind::Link(LinkFields {
            title: validate::optional(l.title.as_deref()),
            url: validate::url("url", &l.url)?,
        }),
        ActivityKind::StatusChange(_) => {
            return Err(Error {
                code: ErrorCode::BadInput,
                message: "status changes are written automatically when a lead's status changes"
                    .into(),
                field: Some("_type".into()),
            });
        }
    };
    let at = input.activity_at.unwrap_or(match &kind {
        ActivityKind::Meeting(m) => m.starts_at,
        _ => ctx.now,
    });
    let activity = Activity {
        id: ctx.id_at(Some(at)),
        lead_id: lead.id,
        contact_id: input.contact_id,
        user_id: ctx.user,
        activity_at: at,
        date_created: ctx.now,
        date_updated: ctx.now,
        kind,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Activity(activity.clone())));
    Ok((activity, plan))
}

fn optional_phone(field: &str, v: Option<String>, region: &str) -> Result<Option<String>> {
    match validate::optional(v.as_deref()) {
        Some(p) => Ok(Some(validate::phone(field, &p, region)?)),
        None => Ok(None),
    }
}

pub fn update_note(
    current: &Activity,
    patch: NotePatch,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    let ActivityKind::Note(fields) = &current.kind else {
        return Err(wrong_kind(current, "note"));
    };
    let mut f = fields.clone();
    if let Some(t) = patch.title {
        f.title = validate::optional(Some(&t));
    }
    if let Some(n) = patch.note {
        f.note = n;
    }
    if let Some(p) = patch.pinned {
        f.pinned = p;
    }
    let mut a = current.clone();
    a.kind = ActivityKind::Note(f);
    a.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Activity(current.clone()),
        Record::Activity(a.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { a }, plan))
}

pub fn update_call(
    current: &Activity,
    patch: CallPatch,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    let ActivityKind::Call(fields) = &current.kind else {
        return Err(wrong_kind(current, "call"));
    };
    let mut f = fields.clone();
    if let Some(s) = patch.status {
        f.status = validate::required("status", &s, 50)?;
    }
    if let Some(d) = patch.disposition {
        f.disposition = validate::required("disposition", &d, 50)?;
    }
    if let Some(d) = patch.duration {
        f.duration = d;
    }
    if let Some(n) = patch.note {
        f.note = validate::optional(Some(&n)).map(|_| n);
    }
    let mut a = current.clone();
    a.kind = ActivityKind::Call(f);
    a.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Activity(current.clone()),
        Record::Activity(a.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { a }, plan))
}

pub fn delete_activity(current: &Activity) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Activity(current.clone())));
    plan
}

/// The error for an edit aimed at an activity of another type.
fn wrong_kind(current: &Activity, wanted: &str) -> Error {
    let msg = format!(
        "activity {} is a {}, not a {wanted}",
        current.id,
        current.kind.type_name()
    );
    Error::invalid("id", msg)
}

/// Resolves a note conflict (a body that lost a concurrent edit, kept by the server): the note
/// takes `body` — the kept text, the conflict's text or an edited merge of both — and the
/// conflict is marked resolved, in one plan (both sync like any edit).
pub fn resolve_note_conflict(
    note: &Activity,
    conflict: &NoteConflict,
    body: String,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    if conflict.note_id != note.id {
        return Err(Error::invalid(
            "note_id",
            format!(
                "conflict {} belongs to note {}, not {}",
                conflict.id, conflict.note_id, note.id
            ),
        ));
    }
    if conflict.resolved {
        return Err(Error::invalid(
            "resolved",
            format!("conflict {} is already resolved", conflict.id),
        ));
    }
    let (updated, mut plan) = update_note(
        note,
        NotePatch {
            note: Some(body),
            ..Default::default()
        },
        ctx,
    )?;
    let mut c = conflict.clone();
    c.resolved = true;
    c.date_updated = ctx.now;
    plan.push_opt(Write::update(
        &Record::NoteConflict(conflict.clone()),
        Record::NoteConflict(c),
    ));
    Ok((updated, plan))
}
