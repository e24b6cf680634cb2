//! Checking and normalising a whole lead from outside (a JSONL line): the same rules as the
//! operations, applied to every nested record, with the path of the offending field.

use crate::error::{Error, Result};
use crate::model::*;
use crate::validate;

/// What an imported lead may refer to.
pub struct Known<'a> {
    pub statuses: &'a [String],
    pub fields: &'a [CustomFieldDef],
    pub region: &'a str,
}

/// Validates `b` and returns it normalised (canonical status spelling, lower-case emails,
/// E.164 phones). The error's `field` is a path such as `contacts[1].emails[0].email`.
pub fn check(mut b: LeadBundle, known: &Known) -> Result<LeadBundle> {
    let lead_id = b.lead.id;
    b.lead.name = validate::required("name", &b.lead.name, 500)?;
    b.lead.status_label = validate::status("status_label", &b.lead.status_label, known.statuses)?;
    if let Some(u) = &b.lead.url {
        b.lead.url = Some(validate::url("url", u)?);
    }
    b.lead.custom = custom(&b.lead.custom, FieldTarget::Lead, known, "custom")?;
    for (i, c) in b.contacts.iter_mut().enumerate() {
        let at = |e: Error| e.within(&format!("contacts[{i}]"));
        if c.lead_id != lead_id {
            return Err(at(Error::invalid(
                "lead_id",
                format!("contact belongs to lead {}, not {lead_id}", c.lead_id),
            )));
        }
        c.name = validate::required("name", &c.name, 300).map_err(at)?;
        for (j, e) in c.emails.iter_mut().enumerate() {
            e.email = validate::email(&format!("emails[{j}].email"), &e.email).map_err(at)?;
        }
        for (j, p) in c.phones.iter_mut().enumerate() {
            p.phone = validate::phone(&format!("phones[{j}].phone"), &p.phone, known.region)
                .map_err(at)?;
        }
        c.custom = custom(&c.custom, FieldTarget::Contact, known, "custom").map_err(at)?;
    }
    for (i, a) in b.activities.iter_mut().enumerate() {
        let at = |e: Error| e.within(&format!("activities[{i}]"));
        if a.lead_id != lead_id {
            return Err(at(Error::invalid(
                "lead_id",
                format!("activity belongs to lead {}, not {lead_id}", a.lead_id),
            )));
        }
        if let ActivityKind::Link(l) = &mut a.kind {
            l.url = validate::url("url", &l.url).map_err(at)?;
        }
        if let ActivityKind::Email(e) = &mut a.kind {
            for (j, t) in e.to.iter_mut().enumerate() {
                *t = validate::email(&format!("to[{j}]"), t).map_err(at)?;
            }
        }
    }
    for (i, t) in b.tasks.iter_mut().enumerate() {
        let at = |e: Error| e.within(&format!("tasks[{i}]"));
        if t.lead_id != lead_id {
            return Err(at(Error::invalid(
                "lead_id",
                "task belongs to another lead",
            )));
        }
        t.text = validate::required("text", &t.text, 2000).map_err(at)?;
    }
    for (i, o) in b.opportunities.iter().enumerate() {
        if o.lead_id != lead_id {
            return Err(
                Error::invalid("lead_id", "opportunity belongs to another lead")
                    .within(&format!("opportunities[{i}]")),
            );
        }
        if o.value < 0 {
            return Err(
                Error::invalid("value", "an opportunity's value cannot be negative")
                    .within(&format!("opportunities[{i}]")),
            );
        }
        if o.confidence.is_some_and(|c| c > 100) {
            return Err(
                Error::invalid("confidence", "confidence is a percentage (0–100)")
                    .within(&format!("opportunities[{i}]")),
            );
        }
    }
    duplicate_ids(&b)?;
    Ok(b)
}

/// Two records of one lead with one id would be written as one (the second silently
/// replacing the first): refused, naming the second.
fn duplicate_ids(b: &LeadBundle) -> Result<()> {
    let ids = b
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, format!("contacts[{i}]")))
        .chain(
            b.activities
                .iter()
                .enumerate()
                .map(|(i, a)| (a.id, format!("activities[{i}]"))),
        )
        .chain(
            b.tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id, format!("tasks[{i}]"))),
        )
        .chain(
            b.opportunities
                .iter()
                .enumerate()
                .map(|(i, o)| (o.id, format!("opportunities[{i}]"))),
        );
    let mut seen: std::collections::HashMap<crate::Id, String> = Default::default();
    for (id, path) in ids {
        if let Some(first) = seen.insert(id, path.clone()) {
            return Err(Error::invalid(
                format!("{path}.id"),
                format!(
                    "{path} has the id {id} of {first}: two records of one lead cannot share an id"
                ),
            ));
        }
    }
    Ok(())
}

fn custom(values: &Custom, target: FieldTarget, known: &Known, path: &str) -> Result<Custom> {
    let mut out = Custom::new();
    for (name, v) in values {
        let def = known
            .fields
            .iter()
            .find(|d| d.applies_to == target && d.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::invalid(
                    format!("{path}.{name}"),
                    format!("no custom field `{name}` is defined"),
                )
            })?;
        let v = validate::custom_value(def, v)?;
        if !v.is_null() {
            out.insert(def.name.clone(), v);
        }
    }
    Ok(out)
}

/// Guesses a field type from sample values (for `--create-missing`).
pub fn sniff_type(values: &[&serde_json::Value]) -> FieldType {
    let is_date = |v: &&serde_json::Value| {
        v.as_str()
            .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
    };
    if !values.is_empty() && values.iter().all(|v| v.is_number()) {
        FieldType::Number
    } else if !values.is_empty() && values.iter().all(is_date) {
        FieldType::Date
    } else {
        FieldType::Text
    }
}
