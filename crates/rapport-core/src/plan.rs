//! A plan is what an operation decided to write: whole records with the fields that changed.
//! The store executes a plan in one transaction (row + field clocks + outbox).

use crate::id::Id;
use crate::model::*;
use serde::Serialize;

/// Top-level fields that are maps whose keys are clocked (and merged) one by one, as
/// `custom.<key>`: two people setting two custom fields offline both keep theirs.
pub const MAP_FIELDS: [&str; 1] = ["custom"];

/// The kinds of record the store keeps, one table each. [`Entity::ALL`] is the one list of
/// them: the store's tables, the sync protocol's entity names and the server's validation all
/// read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Lead,
    Contact,
    Activity,
    Task,
    Opportunity,
    LeadStatus,
    CustomField,
    SmartView,
    User,
    NoteConflict,
}

impl Entity {
    /// Every entity, parents before children (the order a bootstrap applies them in).
    pub const ALL: [Entity; 10] = [
        Entity::User,
        Entity::LeadStatus,
        Entity::CustomField,
        Entity::SmartView,
        Entity::Lead,
        Entity::Contact,
        Entity::Activity,
        Entity::Task,
        Entity::Opportunity,
        Entity::NoteConflict,
    ];

    /// The records that nest under a lead in a [`LeadBundle`] (its partition).
    pub const LEAD_CHILDREN: [Entity; 4] = [
        Entity::Contact,
        Entity::Activity,
        Entity::Task,
        Entity::Opportunity,
    ];

    /// The entity's name in the outbox, on the wire and in the server's `records.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Lead => "lead",
            Entity::Contact => "contact",
            Entity::Activity => "activity",
            Entity::Task => "task",
            Entity::Opportunity => "opportunity",
            Entity::LeadStatus => "lead_status",
            Entity::CustomField => "custom_field",
            Entity::SmartView => "smart_view",
            Entity::User => "user",
            Entity::NoteConflict => "note_conflict",
        }
    }

    /// The entity named `s` (as [`Entity::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether records of this kind belong to a lead (carry `lead_id`; a lead is its own).
    pub fn lead_scoped(self) -> bool {
        matches!(
            self,
            Entity::Lead
                | Entity::Contact
                | Entity::Activity
                | Entity::Task
                | Entity::Opportunity
                | Entity::NoteConflict
        )
    }
}

/// One record of any kind, owned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record {
    Lead(Lead),
    Contact(Contact),
    Activity(Activity),
    Task(Task),
    Opportunity(Opportunity),
    LeadStatus(LeadStatus),
    CustomField(CustomFieldDef),
    SmartView(SmartView),
    User(User),
    NoteConflict(NoteConflict),
}

impl Record {
    pub fn entity(&self) -> Entity {
        match self {
            Record::Lead(_) => Entity::Lead,
            Record::Contact(_) => Entity::Contact,
            Record::Activity(_) => Entity::Activity,
            Record::Task(_) => Entity::Task,
            Record::Opportunity(_) => Entity::Opportunity,
            Record::LeadStatus(_) => Entity::LeadStatus,
            Record::CustomField(_) => Entity::CustomField,
            Record::SmartView(_) => Entity::SmartView,
            Record::User(_) => Entity::User,
            Record::NoteConflict(_) => Entity::NoteConflict,
        }
    }

    pub fn id(&self) -> Id {
        match self {
            Record::Lead(r) => r.id,
            Record::Contact(r) => r.id,
            Record::Activity(r) => r.id,
            Record::Task(r) => r.id,
            Record::Opportunity(r) => r.id,
            Record::LeadStatus(r) => r.id,
            Record::CustomField(r) => r.id,
            Record::SmartView(r) => r.id,
            Record::User(r) => r.id,
            Record::NoteConflict(r) => r.id,
        }
    }

    /// The lead (partition) this record belongs to; a lead belongs to itself.
    pub fn lead_id(&self) -> Option<Id> {
        match self {
            Record::Lead(r) => Some(r.id),
            Record::Contact(r) => Some(r.lead_id),
            Record::Activity(r) => Some(r.lead_id),
            Record::Task(r) => Some(r.lead_id),
            Record::Opportunity(r) => Some(r.lead_id),
            Record::NoteConflict(r) => Some(r.lead_id),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a record of `entity` from its canonical JSON: the one typed check of a record's
    /// shape (wrong types, missing required fields) for the store's remote apply and the
    /// server's push validation.
    pub fn from_json(entity: Entity, v: serde_json::Value) -> crate::Result<Record> {
        fn de<T: serde::de::DeserializeOwned>(
            entity: Entity,
            v: serde_json::Value,
        ) -> crate::Result<T> {
            serde_json::from_value(v).map_err(|e| {
                crate::Error::bad_input(format!("not a valid {}: {e}", entity.as_str()))
            })
        }
        Ok(match entity {
            Entity::Lead => Record::Lead(de(entity, v)?),
            Entity::Contact => Record::Contact(de(entity, v)?),
            Entity::Activity => Record::Activity(de(entity, v)?),
            Entity::Task => Record::Task(de(entity, v)?),
            Entity::Opportunity => Record::Opportunity(de(entity, v)?),
            Entity::LeadStatus => Record::LeadStatus(de(entity, v)?),
            Entity::CustomField => Record::CustomField(de(entity, v)?),
            Entity::SmartView => Record::SmartView(de(entity, v)?),
            Entity::User => Record::User(de(entity, v)?),
            Entity::NoteConflict => Record::NoteConflict(de(entity, v)?),
        })
    }
}

/// What a write does to its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    /// The top-level fields whose value changed (their clocks advance).
    Update(Vec<String>),
    /// Tombstone: the row stays, flagged deleted, with its own clock.
    Delete,
    /// Revives a tombstone (a newer `_deleted` stamp saying alive).
    Undelete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub record: Record,
    pub kind: WriteKind,
}

impl Write {
    pub fn create(record: Record) -> Write {
        Write {
            record,
            kind: WriteKind::Create,
        }
    }
    pub fn delete(record: Record) -> Write {
        Write {
            record,
            kind: WriteKind::Delete,
        }
    }
    pub fn undelete(record: Record) -> Write {
        Write {
            record,
            kind: WriteKind::Undelete,
        }
    }
    /// An update whose changed fields are found by comparing the two versions.
    /// Returns `None` when nothing changed (so no clock advances and nothing is sent).
    pub fn update(old: &Record, new: Record) -> Option<Write> {
        let fields = changed_fields(&old.to_json(), &new.to_json());
        let meaningful: Vec<String> = fields.into_iter().filter(|f| f != "date_updated").collect();
        if meaningful.is_empty() {
            return None;
        }
        Some(Write {
            record: new,
            kind: WriteKind::Update(meaningful),
        })
    }
}

/// The clock keys whose values differ between two JSON objects: top-level keys, except that
/// a [`MAP_FIELDS`] map names each of its keys that differ (`custom.<key>`), so each custom
/// value has a clock of its own.
pub fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return vec!["*".into()];
    };
    let empty = serde_json::Map::new();
    let mut out: Vec<String> = Vec::new();
    for k in n.keys().chain(o.keys()) {
        if o.get(k) == n.get(k) {
            continue;
        }
        if MAP_FIELDS.contains(&k.as_str()) {
            let om = o.get(k).and_then(|v| v.as_object()).unwrap_or(&empty);
            let nm = n.get(k).and_then(|v| v.as_object()).unwrap_or(&empty);
            for sub in nm.keys().chain(om.keys()) {
                if om.get(sub) != nm.get(sub) {
                    out.push(format!("{k}.{sub}"));
                }
            }
        } else {
            out.push(k.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The writes of one operation, executed atomically, plus the record the caller asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub writes: Vec<Write>,
}

impl Plan {
    pub fn push(&mut self, w: Write) {
        self.writes.push(w);
    }
    pub fn push_opt(&mut self, w: Option<Write>) {
        if let Some(w) = w {
            self.writes.push(w);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_finds_changed_added_and_removed_keys() {
        let a = json!({"name": "Acme", "url": "x", "old": 1});
        let b = json!({"name": "Acme Inc", "url": "x", "new": 2});
        assert_eq!(changed_fields(&a, &b), vec!["name", "new", "old"]);
        assert!(changed_fields(&a, &a).is_empty());
    }

    #[test]
    fn custom_values_are_clocked_one_by_one() {
        let a = json!({"name": "A", "custom": {"x": 1, "y": 2, "z": 3}});
        let b = json!({"name": "A", "custom": {"x": 1, "y": 5, "w": 0}});
        assert_eq!(
            changed_fields(&a, &b),
            vec!["custom.w", "custom.y", "custom.z"]
        );
    }
}
