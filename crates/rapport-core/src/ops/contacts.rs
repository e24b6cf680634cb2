//! Operations on contacts: add, update, delete, with typed emails and E.164 phones.

use super::*;
use crate::error::Result;
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::validate;

/// The longest contact name accepted, in characters.
pub const CONTACT_NAME_MAX: usize = 300;

fn emails(list: Vec<EmailInput>) -> Result<Vec<ContactEmail>> {
    list.into_iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(ContactEmail {
                email: validate::email(&format!("emails[{i}].email"), &e.email)?,
                kind: e.kind.unwrap_or_else(|| "office".into()),
            })
        })
        .collect()
}

fn phones(list: Vec<PhoneInput>, region: &str) -> Result<Vec<ContactPhone>> {
    list.into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(ContactPhone {
                phone: validate::phone(&format!("phones[{i}].phone"), &p.phone, region)?,
                kind: p.kind.unwrap_or_else(|| "office".into()),
            })
        })
        .collect()
}

fn urls(list: Vec<ContactUrl>) -> Result<Vec<ContactUrl>> {
    list.into_iter()
        .enumerate()
        .map(|(i, u)| {
            Ok(ContactUrl {
                url: validate::url(&format!("urls[{i}].url"), &u.url)?,
                kind: u.kind,
            })
        })
        .collect()
}

pub fn add_contact(lead: &Lead, input: NewContact, ctx: &mut Ctx) -> Result<(Contact, Plan)> {
    let contact = Contact {
        id: ctx.id_at(None),
        lead_id: lead.id,
        name: validate::required("name", &input.name, CONTACT_NAME_MAX)?,
        title: validate::optional(input.title.as_deref()),
        emails: emails(input.emails)?,
        phones: phones(input.phones, &ctx.region)?,
        urls: urls(input.urls)?,
        custom: ctx.custom(FieldTarget::Contact, &input.custom)?,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Contact(contact.clone())));
    Ok((contact, plan))
}

pub fn update_contact(
    current: &Contact,
    patch: ContactPatch,
    ctx: &mut Ctx,
) -> Result<(Contact, Plan)> {
    let mut c = current.clone();
    if let Some(n) = patch.name {
        c.name = validate::required("name", &n, CONTACT_NAME_MAX)?;
    }
    if let Some(t) = patch.title {
        c.title = validate::optional(Some(&t));
    }
    if let Some(e) = patch.emails {
        c.emails = emails(e)?;
    }
    if let Some(p) = patch.phones {
        c.phones = phones(p, &ctx.region)?;
    }
    if let Some(u) = patch.urls {
        c.urls = urls(u)?;
    }
    if let Some(cu) = patch.custom {
        let (set, unset): (Custom, Custom) = cu.into_iter().partition(|(_, v)| !v.is_null());
        for k in unset.keys() {
            c.custom.retain(|name, _| !name.eq_ignore_ascii_case(k));
        }
        c.custom.extend(ctx.custom(FieldTarget::Contact, &set)?);
    }
    c.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Contact(current.clone()),
        Record::Contact(c.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { c }, plan))
}

pub fn delete_contact(current: &Contact) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Contact(current.clone())));
    plan
}
