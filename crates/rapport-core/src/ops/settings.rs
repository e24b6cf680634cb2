//! Operations on settings: lead statuses, custom fields, Smart Views, users.

use super::*;
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::validate;

pub fn add_status(
    label: &str,
    existing: &[LeadStatus],
    ctx: &mut Ctx,
) -> Result<(LeadStatus, Plan)> {
    import_status(ctx.id_at(None), label, existing)
}

/// `add_status` with the id a backup gives (appended after the existing statuses).
pub fn import_status(id: Id, label: &str, existing: &[LeadStatus]) -> Result<(LeadStatus, Plan)> {
    let label = validate::required("label", label, 100)?;
    if existing
        .iter()
        .any(|s| validate::status_key(&s.label) == validate::status_key(&label))
    {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("status `{label}` already exists"),
            field: Some("label".into()),
        });
    }
    let status = LeadStatus {
        id,
        label,
        position: existing.iter().map(|s| s.position).max().unwrap_or(-1) + 1,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::LeadStatus(status.clone())));
    Ok((status, plan))
}

pub fn add_field(
    name: &str,
    kind: FieldType,
    applies_to: FieldTarget,
    choices: Vec<String>,
    ctx: &mut Ctx,
) -> Result<(CustomFieldDef, Plan)> {
    let id = ctx.id_at(None);
    import_field(id, name, kind, applies_to, choices, ctx)
}

/// `add_field` with the id a backup gives.
pub fn import_field(
    id: Id,
    name: &str,
    kind: FieldType,
    applies_to: FieldTarget,
    choices: Vec<String>,
    ctx: &Ctx,
) -> Result<(CustomFieldDef, Plan)> {
    let name = validate::required("name", name, 100)?;
    if name.contains(['"', '\n']) {
        return Err(Error::invalid(
            "name",
            "a field name cannot contain quotes or line breaks",
        ));
    }
    if ctx
        .fields
        .iter()
        .any(|f| f.applies_to == applies_to && f.name.eq_ignore_ascii_case(&name))
    {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("custom field `{name}` already exists"),
            field: Some("name".into()),
        });
    }
    if kind == FieldType::Choice && choices.is_empty() {
        return Err(Error::invalid(
            "choices",
            "a choice field needs at least one choice",
        ));
    }
    let def = CustomFieldDef {
        id,
        name,
        kind,
        applies_to,
        choices,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::CustomField(def.clone())));
    Ok((def, plan))
}

pub fn add_view(
    name: &str,
    query: &str,
    shared: bool,
    existing: &[SmartView],
    ctx: &mut Ctx,
) -> Result<(SmartView, Plan)> {
    let name = validate::required("name", name, 200)?;
    if existing.iter().any(|v| v.name.eq_ignore_ascii_case(&name)) {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("a Smart View named `{name}` already exists"),
            field: Some("name".into()),
        });
    }
    let view = SmartView {
        id: ctx.id_at(None),
        name,
        query: query.trim().to_string(),
        shared,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::SmartView(view.clone())));
    Ok((view, plan))
}

/// Adds choices a choice field lacks (an import merging a backup's definition).
pub fn add_field_choices(
    def: &CustomFieldDef,
    choices: &[String],
) -> Result<(CustomFieldDef, Plan)> {
    if def.kind != FieldType::Choice {
        return Err(Error::invalid(
            "choices",
            format!("custom field `{}` is not a choice field", def.name),
        ));
    }
    let mut new = def.clone();
    for c in choices {
        let c = validate::required("choices", c, 200)?;
        if !new.choices.iter().any(|x| x.eq_ignore_ascii_case(&c)) {
            new.choices.push(c);
        }
    }
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::CustomField(def.clone()),
        Record::CustomField(new.clone()),
    ));
    Ok((new, plan))
}

/// A Smart View from a backup (its id, query and dates), checked like `add_view`.
pub fn import_view(view: &SmartView, existing: &[SmartView]) -> Result<(SmartView, Plan)> {
    let name = validate::required("name", &view.name, 200)?;
    if existing.iter().any(|v| v.name.eq_ignore_ascii_case(&name)) {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("a Smart View named `{name}` already exists"),
            field: Some("name".into()),
        });
    }
    let view = SmartView {
        name,
        query: view.query.trim().to_string(),
        ..view.clone()
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::SmartView(view.clone())));
    Ok((view, plan))
}

/// A user from a backup (its id), checked like `create_user`.
pub fn import_user(user: &User) -> Result<(User, Plan)> {
    let user = User {
        id: user.id,
        name: validate::required("name", &user.name, 200)?,
        email: match validate::optional(user.email.as_deref()) {
            Some(e) => Some(validate::email("email", &e)?),
            None => None,
        },
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::User(user.clone())));
    Ok((user, plan))
}

pub fn create_user(name: &str, email: Option<&str>, ctx: &mut Ctx) -> Result<(User, Plan)> {
    let user = User {
        id: ctx.id_at(None),
        name: validate::required("name", name, 200)?,
        email: match validate::optional(email) {
            Some(e) => Some(validate::email("email", &e)?),
            None => None,
        },
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::User(user.clone())));
    Ok((user, plan))
}

pub fn delete_view(current: &SmartView) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::SmartView(current.clone())));
    plan
}
