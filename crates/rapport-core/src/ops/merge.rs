//! Merging two leads: every record of the merged lead moves to the survivor, conflicting
//! fields are taken from the side the user picked (the survivor's by default, empty fields
//! filled from the merged lead), and the merged lead is tombstoned with `merged_into`
//! naming the survivor, so its id stays an alias that resolves.

use super::*;
use crate::error::{Error, Result};
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use serde::Serialize;
use serde_json::Value;

/// The top-level lead fields a merge compares (custom values are compared one by one).
pub const MERGE_FIELDS: [&str; 5] = ["name", "description", "url", "status_label", "owner_id"];

/// A field both leads have, with different values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeConflict {
    /// `name`, `url`, … or `custom.<Name>`.
    pub field: String,
    pub survivor: Value,
    pub merged: Value,
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null() && v.as_str() != Some(""))
}

/// The fields where the two leads disagree (both set, different values).
pub fn merge_conflicts(survivor: &Lead, merged: &Lead) -> Vec<MergeConflict> {
    let (s, m) = (
        Record::Lead(survivor.clone()).to_json(),
        Record::Lead(merged.clone()).to_json(),
    );
    let mut out = Vec::new();
    for f in MERGE_FIELDS {
        if let (Some(a), Some(b)) = (present(s.get(f)), present(m.get(f)))
            && a != b
        {
            out.push(MergeConflict {
                field: f.into(),
                survivor: a.clone(),
                merged: b.clone(),
            });
        }
    }
    for (k, b) in &merged.custom {
        if let Some(a) = survivor.custom.get(k)
            && a != b
        {
            out.push(MergeConflict {
                field: format!("custom.{k}"),
                survivor: a.clone(),
                merged: b.clone(),
            });
        }
    }
    out
}

/// Merges `merged` (with its live records) into `survivor`. `take` names the conflicting
/// fields whose value comes from the merged lead. Refuses a lead merged with itself and a
/// `take` naming a field that is not a conflict.
pub fn merge_leads(
    survivor: &Lead,
    merged: &Lead,
    children: Vec<Record>,
    take: &[String],
    ctx: &mut Ctx,
) -> Result<(Lead, Plan)> {
    if survivor.id == merged.id {
        return Err(Error::bad_input("a lead cannot be merged with itself"));
    }
    let conflicts = merge_conflicts(survivor, merged);
    for t in take {
        if !conflicts.iter().any(|c| c.field.eq_ignore_ascii_case(t)) {
            return Err(Error::invalid(
                t.clone(),
                format!("`{t}` is not a conflicting field of these leads"),
            ));
        }
    }
    let takes = |f: &str| take.iter().any(|t| t.eq_ignore_ascii_case(f));
    let (s, m) = (
        Record::Lead(survivor.clone()).to_json(),
        Record::Lead(merged.clone()).to_json(),
    );
    let mut out = s.clone();
    for f in MERGE_FIELDS {
        let from_merged = match (present(s.get(f)), present(m.get(f))) {
            (None, Some(_)) => true,
            (Some(_), Some(_)) => takes(f),
            _ => false,
        };
        if from_merged && let (Some(o), Some(v)) = (out.as_object_mut(), m.get(f)) {
            o.insert(f.into(), v.clone());
        }
    }
    let mut lead: Lead =
        serde_json::from_value(out).map_err(|e| Error::bad_input(format!("merged lead: {e}")))?;
    for (k, v) in &merged.custom {
        if !lead.custom.contains_key(k) || takes(&format!("custom.{k}")) {
            lead.custom.insert(k.clone(), v.clone());
        }
    }
    for a in &merged.addresses {
        if !lead.addresses.contains(a) {
            lead.addresses.push(a.clone());
        }
    }
    lead.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Lead(survivor.clone()),
        Record::Lead(lead.clone()),
    ));
    for c in children {
        let mut v = c.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("lead_id".into(), Value::String(survivor.id.to_string()));
            o.insert(
                "date_updated".into(),
                Value::String(crate::time::fmt(&ctx.now)),
            );
        }
        let moved = Record::from_json(c.entity(), v)?;
        plan.push_opt(Write::update(&c, moved));
    }
    let alias = Lead {
        merged_into: Some(survivor.id),
        date_updated: ctx.now,
        ..merged.clone()
    };
    plan.push_opt(Write::update(
        &Record::Lead(merged.clone()),
        Record::Lead(alias.clone()),
    ));
    plan.push(Write::delete(Record::Lead(alias)));
    Ok((lead, plan))
}
