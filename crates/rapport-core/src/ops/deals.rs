//! Operations on tasks and opportunities.

use super::*;
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::validate;

pub fn add_task(lead: &Lead, input: NewTask, ctx: &mut Ctx) -> Result<(Task, Plan)> {
    let task = Task {
        id: ctx.id_at(None),
        lead_id: lead.id,
        assigned_to: input.assigned_to.or(ctx.user),
        text: validate::required("text", &input.text, 2000)?,
        date: input.date,
        is_complete: false,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Task(task.clone())));
    Ok((task, plan))
}

pub fn update_task(current: &Task, patch: TaskPatch, ctx: &mut Ctx) -> Result<(Task, Plan)> {
    let mut t = current.clone();
    if let Some(text) = patch.text {
        t.text = validate::required("text", &text, 2000)?;
    }
    if patch.date.is_some() {
        t.date = patch.date;
    }
    if let Some(done) = patch.is_complete {
        t.is_complete = done;
    }
    t.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Task(current.clone()),
        Record::Task(t.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { t }, plan))
}

fn opportunity_status(label: Option<&str>) -> Result<(String, OpportunityStatusType)> {
    let Some(label) = label else {
        return Ok(("Active".into(), OpportunityStatusType::Active));
    };
    let key = validate::status_key(label);
    OPPORTUNITY_STATUSES
        .iter()
        .find(|(l, _)| validate::status_key(l) == key)
        .map(|(l, t)| (l.to_string(), *t))
        .ok_or_else(|| Error {
            code: ErrorCode::UnknownStatus,
            message: format!("unknown opportunity status `{label}`; use Active, Won or Lost"),
            field: Some("status_label".into()),
        })
}

fn confidence(c: Option<u8>) -> Result<Option<u8>> {
    match c {
        Some(c) if c > 100 => Err(Error::invalid(
            "confidence",
            format!("confidence is a percentage (0–100), got {c}"),
        )),
        c => Ok(c),
    }
}

pub fn add_opportunity(
    lead: &Lead,
    contacts: &[Contact],
    input: NewOpportunity,
    ctx: &mut Ctx,
) -> Result<(Opportunity, Plan)> {
    if let Some(cid) = input.contact_id
        && !contacts.iter().any(|c| c.id == cid)
    {
        return Err(Error::invalid(
            "contact_id",
            format!("contact {cid} does not belong to lead {}", lead.id),
        ));
    }
    if input.value < 0 {
        return Err(Error::invalid(
            "value",
            "an opportunity's value cannot be negative",
        ));
    }
    let (status_label, status_type) = opportunity_status(input.status_label.as_deref())?;
    let opp = Opportunity {
        id: ctx.id_at(None),
        lead_id: lead.id,
        contact_id: input.contact_id,
        status_label,
        status_type,
        value: input.value,
        value_period: input.value_period.unwrap_or(ValuePeriod::OneTime),
        confidence: confidence(input.confidence)?,
        user_id: input.user_id.or(ctx.user),
        date_won: input.date_won,
        note: validate::optional(input.note.as_deref()),
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Opportunity(opp.clone())));
    Ok((opp, plan))
}

pub fn update_opportunity(
    current: &Opportunity,
    patch: OpportunityPatch,
    ctx: &mut Ctx,
) -> Result<(Opportunity, Plan)> {
    let mut o = current.clone();
    if let Some(s) = patch.status_label {
        (o.status_label, o.status_type) = opportunity_status(Some(&s))?;
    }
    if let Some(v) = patch.value {
        if v < 0 {
            return Err(Error::invalid(
                "value",
                "an opportunity's value cannot be negative",
            ));
        }
        o.value = v;
    }
    if let Some(p) = patch.value_period {
        o.value_period = p;
    }
    if patch.confidence.is_some() {
        o.confidence = confidence(patch.confidence)?;
    }
    if patch.date_won.is_some() {
        o.date_won = patch.date_won;
    }
    if let Some(n) = patch.note {
        o.note = validate::optional(Some(&n));
    }
    o.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Opportunity(current.clone()),
        Record::Opportunity(o.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { o }, plan))
}
