//! Operations on leads: create (alone or with its first contact), update (a status change also
//! writes a StatusChange), delete.

use super::*;
use crate::error::{Error, Result};
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::validate;

pub fn create_lead(input: NewLead, ctx: &mut Ctx) -> Result<(Lead, Plan)> {
    let name = validate::required("name", &input.name, 500)?;
    let status_label = match input.status_label.as_deref() {
        Some(s) => validate::status("status_label", s, &ctx.statuses)?,
        None => ctx
            .statuses
            .first()
            .cloned()
            .ok_or_else(|| Error::bad_input("no lead statuses are configured"))?,
    };
    let url = optional_url("url", input.url.as_deref())?;
    let custom = ctx.custom(FieldTarget::Lead, &input.custom)?;
    let lead = Lead {
        id: ctx.id_at(None),
        name,
        description: validate::optional(input.description.as_deref()),
        url,
        status_label,
        owner_id: input.owner_id.or(ctx.user),
        addresses: clean_addresses(input.addresses),
        custom,
        date_created: ctx.now,
        date_updated: ctx.now,
        merged_into: None,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Lead(lead.clone())));
    Ok((lead, plan))
}

/// A lead and its first contact in one plan, so neither is written without the other (a
/// caller no contact matches gets both at once). Fails, writing nothing, if either is invalid.
pub fn create_lead_with_contact(
    lead: NewLead,
    contact: NewContact,
    ctx: &mut Ctx,
) -> Result<(Lead, Contact, Plan)> {
    let (lead, mut plan) = create_lead(lead, ctx)?;
    let (contact, more) = super::add_contact(&lead, contact, ctx)?;
    plan.writes.extend(more.writes);
    Ok((lead, contact, plan))
}

pub fn update_lead(current: &Lead, patch: LeadPatch, ctx: &mut Ctx) -> Result<(Lead, Plan)> {
    let mut lead = current.clone();
    if let Some(n) = patch.name {
        lead.name = validate::required("name", &n, 500)?;
    }
    if let Some(d) = patch.description {
        lead.description = validate::optional(Some(&d));
    }
    if let Some(u) = patch.url {
        lead.url = optional_url("url", Some(&u))?;
    }
    if let Some(s) = patch.status_label {
        lead.status_label = validate::status("status_label", &s, &ctx.statuses)?;
    }
    if let Some(o) = patch.owner_id {
        lead.owner_id = Some(o);
    }
    if let Some(a) = patch.addresses {
        lead.addresses = clean_addresses(a);
    }
    if let Some(c) = patch.custom {
        let (set, unset): (Custom, Custom) = c.into_iter().partition(|(_, v)| !v.is_null());
        for k in unset.keys() {
            lead.custom.retain(|name, _| !name.eq_ignore_ascii_case(k));
        }
        lead.custom.extend(ctx.custom(FieldTarget::Lead, &set)?);
    }
    lead.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Lead(current.clone()),
        Record::Lead(lead.clone()),
    ));
    if plan.is_empty() {
        return Ok((current.clone(), plan));
    }
    if lead.status_label != current.status_label {
        let change = Activity {
            id: ctx.id_at(None),
            lead_id: lead.id,
            contact_id: None,
            user_id: ctx.user,
            activity_at: ctx.now,
            date_created: ctx.now,
            date_updated: ctx.now,
            kind: ActivityKind::StatusChange(StatusChangeFields {
                old_status_label: Some(current.status_label.clone()),
                new_status_label: lead.status_label.clone(),
            }),
        };
        plan.push(Write::create(Record::Activity(change)));
    }
    Ok((lead, plan))
}

/// Deletes a lead and everything in it (its children share the tombstone's stamp, which is
/// how [`undelete_lead`] knows which of them this delete removed).
pub fn delete_lead(current: &Lead, children: Vec<Record>) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Lead(current.clone())));
    for c in children {
        plan.push(Write::delete(c));
    }
    plan
}

/// Revives a deleted lead and the children its delete removed (`children`: those whose
/// tombstone carries the lead's tombstone stamp), not those deleted one by one before.
pub fn undelete_lead(deleted: &Lead, children: Vec<Record>) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::undelete(Record::Lead(deleted.clone())));
    for c in children {
        plan.push(Write::undelete(c));
    }
    plan
}

fn optional_url(field: &str, v: Option<&str>) -> Result<Option<String>> {
    match validate::optional(v) {
        Some(u) => Ok(Some(validate::url(field, &u)?)),
        None => Ok(None),
    }
}

fn clean_addresses(list: Vec<Address>) -> Vec<Address> {
    let t = |v: Option<String>| validate::optional(v.as_deref());
    list.into_iter()
        .map(|a| Address {
            label: t(a.label),
            address_1: t(a.address_1),
            address_2: t(a.address_2),
            city: t(a.city),
            state: t(a.state),
            zipcode: t(a.zipcode),
            country: t(a.country),
        })
        .filter(|a| a != &Address::default())
        .collect()
}
