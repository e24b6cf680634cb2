//! The definitions a backup carries besides its leads — lead statuses (in order), custom
//! field definitions (types, choices), users and Smart Views — as JSONL definition lines, and
//! merging them into a store: same name = same definition (the store's id stays; references
//! are mapped), a conflicting type is an error. Also the one place where custom values meet
//! their definitions (`find_field`, `value_key`): values are keyed by field name today.

use rapport_core::{
    CustomFieldDef, Error, FieldTarget, Id, LeadBundle, LeadStatus, SmartView, User, ops, validate,
};
use rapport_store::{Store, Writer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One definition line: `{"_record": "status", …}` and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "_record", rename_all = "snake_case")]
pub enum Definition {
    Status(LeadStatus),
    CustomField(CustomFieldDef),
    User(User),
    SmartView(SmartView),
}

/// The store's definitions in export order: statuses by position, custom fields, users,
/// Smart Views.
pub async fn definitions(store: &Store) -> rapport_store::Result<Vec<Definition>> {
    let mut statuses = store.statuses().await?;
    statuses.sort_by_key(|s| s.position);
    let mut out: Vec<Definition> = statuses.into_iter().map(Definition::Status).collect();
    out.extend(
        store
            .fields()
            .await?
            .into_iter()
            .map(Definition::CustomField),
    );
    out.extend(store.users().await?.into_iter().map(Definition::User));
    out.extend(store.views().await?.into_iter().map(Definition::SmartView));
    Ok(out)
}

/// The definition of the custom field `name` (any case) on leads or contacts.
pub fn find_field<'a>(
    fields: &'a [CustomFieldDef],
    target: FieldTarget,
    name: &str,
) -> Option<&'a CustomFieldDef> {
    fields
        .iter()
        .find(|f| f.applies_to == target && f.name.eq_ignore_ascii_case(name))
}

/// The key a field's values are stored under in `Lead.custom` / `Contact.custom`.
pub fn value_key(def: &CustomFieldDef) -> &str {
    &def.name
}

/// Definitions merged so far into one write transaction, and how the file's ids map to the
/// store's.
#[derive(Debug, Default)]
pub struct Merge {
    users: Vec<User>,
    /// File user id → store user id, where they differ (the same email).
    user_ids: HashMap<Id, Id>,
    pub created_statuses: Vec<String>,
    pub created_fields: Vec<String>,
    pub created_users: Vec<String>,
    pub created_views: Vec<String>,
    /// Definitions that matched the store's but differ, and what was kept.
    pub notes: Vec<String>,
}

impl Merge {
    pub fn new(users: Vec<User>) -> Merge {
        Merge {
            users,
            ..Default::default()
        }
    }

    /// Merges one definition inside `w`. The error names the field at fault.
    pub async fn apply(&mut self, w: &mut Writer, d: Definition) -> Result<(), Error> {
        let store = |e: rapport_store::Error| Error::invalid("_record", e.to_string());
        match d {
            Definition::Status(s) => {
                let existing = w.statuses().await.map_err(store)?;
                let key = validate::status_key(&s.label);
                if existing
                    .iter()
                    .any(|x| validate::status_key(&x.label) == key)
                {
                    return Ok(());
                }
                let (s, plan) = ops::import_status(s.id, &s.label, &existing)?;
                w.apply(plan).await.map_err(store)?;
                w.ctx.statuses.push(s.label.clone());
                self.created_statuses.push(s.label);
            }
            Definition::CustomField(f) => {
                match find_field(&w.ctx.fields, f.applies_to, &f.name).cloned() {
                    Some(have) if have.kind != f.kind => {
                        return Err(Error::invalid(
                            "type",
                            format!(
                                "custom field `{}` is a {} field in the file but a {} field in this store",
                                f.name,
                                kind_name(f.kind),
                                kind_name(have.kind)
                            ),
                        ));
                    }
                    Some(have) => {
                        let missing: Vec<String> = f
                            .choices
                            .iter()
                            .filter(|c| !have.choices.iter().any(|x| x.eq_ignore_ascii_case(c)))
                            .cloned()
                            .collect();
                        if !missing.is_empty() {
                            let (def, plan) = ops::add_field_choices(&have, &missing)?;
                            w.apply(plan).await.map_err(store)?;
                            if let Some(x) = w.ctx.fields.iter_mut().find(|x| x.id == def.id) {
                                *x = def;
                            }
                            self.notes.push(format!(
                                "custom field `{}` gained the choices {}",
                                have.name,
                                missing.join(", ")
                            ));
                        }
                    }
                    None => {
                        let (def, plan) = ops::import_field(
                            f.id,
                            &f.name,
                            f.kind,
                            f.applies_to,
                            f.choices,
                            &w.ctx,
                        )?;
                        w.apply(plan).await.map_err(store)?;
                        self.created_fields.push(def.name.clone());
                        w.ctx.fields.push(def);
                    }
                }
            }
            Definition::User(u) => {
                if self.users.iter().any(|x| x.id == u.id) {
                    return Ok(());
                }
                let same_email = u.email.as_deref().and_then(|e| {
                    self.users.iter().find(|x| {
                        x.email
                            .as_deref()
                            .is_some_and(|m| m.eq_ignore_ascii_case(e))
                    })
                });
                if let Some(x) = same_email {
                    self.user_ids.insert(u.id, x.id);
                    return Ok(());
                }
                let (u, plan) = ops::import_user(&u)?;
                w.apply(plan).await.map_err(store)?;
                self.created_users.push(u.name.clone());
                self.users.push(u);
            }
            Definition::SmartView(v) => {
                let existing = w.views().await.map_err(store)?;
                if let Some(x) = existing
                    .iter()
                    .find(|x| x.name.eq_ignore_ascii_case(&v.name))
                {
                    if x.query != v.query.trim() {
                        self.notes.push(format!(
                            "Smart View `{}` kept this store's query `{}` (the file's: `{}`)",
                            x.name, x.query, v.query
                        ));
                    }
                    return Ok(());
                }
                let (v, plan) = ops::import_view(&v, &existing)?;
                w.apply(plan).await.map_err(store)?;
                self.created_views.push(v.name);
            }
        }
        Ok(())
    }

    /// Points a lead's user references at the store's users.
    pub fn remap(&self, b: &mut LeadBundle) {
        if self.user_ids.is_empty() {
            return;
        }
        let map = |id: &mut Option<Id>| {
            if let Some(to) = id.and_then(|i| self.user_ids.get(&i)) {
                *id = Some(*to);
            }
        };
        map(&mut b.lead.owner_id);
        b.activities.iter_mut().for_each(|a| map(&mut a.user_id));
        b.tasks.iter_mut().for_each(|t| map(&mut t.assigned_to));
        b.opportunities.iter_mut().for_each(|o| map(&mut o.user_id));
    }
}

fn kind_name(k: rapport_core::FieldType) -> &'static str {
    match k {
        rapport_core::FieldType::Text => "text",
        rapport_core::FieldType::Number => "number",
        rapport_core::FieldType::Date => "date",
        rapport_core::FieldType::Choice => "choice",
    }
}
