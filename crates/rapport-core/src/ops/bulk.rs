//! Bulk actions over a set of leads (a search's results): one checked action becomes one
//! plan per lead through the single-lead operations, so a bulk edit writes exactly what the
//! same edit made lead by lead would. `BulkAction::check` refuses bad input (an unknown
//! status, a wrong-typed custom value) before any lead is read or written.

use super::*;
use crate::error::{Error, Result};
use crate::model::*;
use crate::plan::{Plan, Record};
use crate::validate;
use serde::{Deserialize, Serialize};

/// What to do to every lead of the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BulkAction {
    SetStatus {
        status: String,
    },
    SetOwner {
        owner: Id,
    },
    /// `value` null removes the field's value.
    SetCustom {
        name: String,
        value: serde_json::Value,
    },
    AddTask {
        text: String,
        date: Option<chrono::NaiveDate>,
    },
    Delete,
}

impl BulkAction {
    /// Parses a CLI `--set KEY=VALUE`: `status=…`, `owner=USER_ID`, `custom.NAME=…`.
    pub fn parse_set(spec: &str) -> Result<BulkAction> {
        let (k, v) = spec.split_once('=').ok_or_else(|| {
            Error::bad_input(format!(
                "`--set {spec}`: expected KEY=VALUE (status=Cold, owner=ID, custom.NAME=VALUE)"
            ))
        })?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "status" | "status_label" => Ok(BulkAction::SetStatus { status: v.into() }),
            "owner" | "owner_id" => Ok(BulkAction::SetOwner {
                owner: v
                    .parse()
                    .map_err(|_| Error::invalid("owner", format!("`{v}` is not a user id")))?,
            }),
            _ => match k.strip_prefix("custom.") {
                Some(name) if !name.is_empty() => Ok(BulkAction::SetCustom {
                    name: name.into(),
                    value: if v.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::Value::String(v.into())
                    },
                }),
                _ => Err(Error::invalid(
                    k,
                    format!("cannot bulk-set `{k}`; use status, owner or custom.NAME"),
                )),
            },
        }
    }

    /// Validates the action once against the store's settings and returns it normalised
    /// (the configured status label, the custom value in its field's type). Nothing is
    /// written when this fails.
    pub fn check(&self, ctx: &Ctx, users: &[User]) -> Result<BulkAction> {
        Ok(match self {
            BulkAction::SetStatus { status } => BulkAction::SetStatus {
                status: validate::status("status_label", status, &ctx.statuses)?,
            },
            BulkAction::SetOwner { owner } => {
                if !users.iter().any(|u| u.id == *owner) {
                    return Err(Error::not_found("user", owner));
                }
                BulkAction::SetOwner { owner: *owner }
            }
            BulkAction::SetCustom { name, value } => {
                let def = ctx
                    .fields
                    .iter()
                    .find(|d| {
                        d.applies_to == FieldTarget::Lead && d.name.eq_ignore_ascii_case(name)
                    })
                    .ok_or_else(|| {
                        Error::invalid(
                            format!("custom.{name}"),
                            format!("no custom field `{name}` is defined for leads"),
                        )
                    })?;
                BulkAction::SetCustom {
                    name: def.name.clone(),
                    value: validate::custom_value(def, value)?,
                }
            }
            BulkAction::AddTask { text, date } => BulkAction::AddTask {
                text: validate::required("text", text, 2000)?,
                date: *date,
            },
            BulkAction::Delete => BulkAction::Delete,
        })
    }

    /// Whether the plan needs the lead's children (a delete tombstones them).
    pub fn needs_children(&self) -> bool {
        matches!(self, BulkAction::Delete)
    }

    /// A short label for the undo journal and the UI ("Change status to Cold").
    pub fn label(&self) -> String {
        match self {
            BulkAction::SetStatus { status } => format!("Change status to {status}"),
            BulkAction::SetOwner { .. } => "Change owner".into(),
            BulkAction::SetCustom { name, .. } => format!("Set {name}"),
            BulkAction::AddTask { .. } => "Add task".into(),
            BulkAction::Delete => "Delete".into(),
        }
    }
}

/// The plan of a checked action for one lead (empty when the lead already is that way).
pub fn bulk_plan(
    lead: &Lead,
    children: Vec<Record>,
    action: &BulkAction,
    ctx: &mut Ctx,
) -> Result<Plan> {
    Ok(match action {
        BulkAction::SetStatus { status } => {
            let p = LeadPatch {
                status_label: Some(status.clone()),
                ..Default::default()
            };
            update_lead(lead, p, ctx)?.1
        }
        BulkAction::SetOwner { owner } => {
            let p = LeadPatch {
                owner_id: Some(*owner),
                ..Default::default()
            };
            update_lead(lead, p, ctx)?.1
        }
        BulkAction::SetCustom { name, value } => {
            let p = LeadPatch {
                custom: Some([(name.clone(), value.clone())].into_iter().collect()),
                ..Default::default()
            };
            update_lead(lead, p, ctx)?.1
        }
        BulkAction::AddTask { text, date } => {
            let t = NewTask {
                text: text.clone(),
                date: *date,
                assigned_to: None,
            };
            add_task(lead, t, ctx)?.1
        }
        BulkAction::Delete => delete_lead(lead, children),
    })
}
