//! How each kind of record maps to its table: the indexed column copies, and the one upsert
//! statement (single or multi-row) that writes a record with its clocks and tombstone flag.

use crate::error::{Error, Result};
use rapport_core::ActivityKind;
use rapport_core::plan::{Entity, Record};
use rapport_core::time;
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

/// One bindable value.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

pub struct Table {
    pub name: &'static str,
    /// Columns, `id` first; `data`, `clocks`, `deleted` are appended by the upsert.
    pub cols: &'static [&'static str],
}

pub fn table(e: Entity) -> Table {
    let (name, cols): (&'static str, &'static [&'static str]) = match e {
        Entity::Lead => (
            "leads",
            &["id", "name", "status_label", "date_updated", "city"],
        ),
        Entity::Contact => ("contacts", &["id", "lead_id"]),
        Entity::Activity => ("activities", &["id", "lead_id", "kind", "at", "extra_at"]),
        Entity::Task => ("tasks", &["id", "lead_id", "done"]),
        Entity::Opportunity => ("opportunities", &["id", "lead_id"]),
        Entity::LeadStatus => ("lead_statuses", &["id", "label", "position"]),
        Entity::CustomField => ("custom_fields", &["id", "name"]),
        Entity::SmartView => ("smart_views", &["id", "name"]),
        Entity::User => ("users", &["id"]),
        Entity::NoteConflict => ("note_conflicts", &["id", "lead_id", "note_id"]),
    };
    Table { name, cols }
}

/// The indexed column values of a record, in `table(e).cols` order.
pub fn columns(r: &Record) -> Vec<Val> {
    use Val::*;
    match r {
        Record::Lead(l) => vec![
            Text(l.id.to_string()),
            Text(l.name.clone()),
            Text(l.status_label.clone()),
            Text(time::fmt(&l.date_updated)),
            OptText(l.addresses.iter().find_map(|a| a.city.clone())),
        ],
        Record::Contact(c) => vec![Text(c.id.to_string()), Text(c.lead_id.to_string())],
        Record::Activity(a) => {
            let extra = match &a.kind {
                ActivityKind::Email(e) => e.opens.iter().max().map(time::fmt),
                _ => None,
            };
            vec![
                Text(a.id.to_string()),
                Text(a.lead_id.to_string()),
                Text(a.kind.type_name().into()),
                Text(time::fmt(&a.activity_at)),
                OptText(extra),
            ]
        }
        Record::Task(t) => vec![
            Text(t.id.to_string()),
            Text(t.lead_id.to_string()),
            Int(t.is_complete as i64),
        ],
        Record::Opportunity(o) => vec![Text(o.id.to_string()), Text(o.lead_id.to_string())],
        Record::LeadStatus(s) => vec![
            Text(s.id.to_string()),
            Text(s.label.clone()),
            Int(s.position),
        ],
        Record::CustomField(f) => vec![Text(f.id.to_string()), Text(f.name.clone())],
        Record::SmartView(v) => vec![Text(v.id.to_string()), Text(v.name.clone())],
        Record::User(u) => vec![Text(u.id.to_string())],
        Record::NoteConflict(c) => vec![
            Text(c.id.to_string()),
            Text(c.lead_id.to_string()),
            Text(c.note_id.to_string()),
        ],
    }
}

fn values_sql(t: &Table, rows: usize) -> String {
    let group = format!("({})", vec!["?"; t.cols.len() + 3].join(","));
    vec![group; rows].join(",")
}

/// `INSERT … VALUES (…)×rows`: creations (fails on an id that exists).
pub fn insert_sql(t: &Table, rows: usize) -> String {
    format!(
        "INSERT INTO {name} ({cols}, data, clocks, deleted) VALUES {values}",
        name = t.name,
        cols = t.cols.join(", "),
        values = values_sql(t, rows),
    )
}

/// The `SET` list of an upsert: the columns, data and flag from the new row.
fn sets(t: &Table) -> String {
    t.cols[1..]
        .iter()
        .chain(["data", "deleted"].iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT … ON CONFLICT(id) DO UPDATE …` for local writes: the row's clocks are patched
/// with the new stamps (`json_patch`: each key the write stamped is replaced).
pub fn upsert_sql(t: &Table, rows: usize) -> String {
    format!(
        "INSERT INTO {name} ({cols}, data, clocks, deleted) VALUES {values} \
         ON CONFLICT(id) DO UPDATE SET {sets}, clocks = json_patch({name}.clocks, excluded.clocks)",
        name = t.name,
        cols = t.cols.join(", "),
        values = values_sql(t, rows),
        sets = sets(t),
    )
}

/// `INSERT … ON CONFLICT(id) DO UPDATE …` for merged states (pulled changes): the clocks
/// are the merge's, whole.
pub fn put_sql(t: &Table, rows: usize) -> String {
    format!(
        "INSERT INTO {name} ({cols}, data, clocks, deleted) VALUES {values} \
         ON CONFLICT(id) DO UPDATE SET {sets}, clocks = excluded.clocks",
        name = t.name,
        cols = t.cols.join(", "),
        values = values_sql(t, rows),
        sets = sets(t),
    )
}

pub fn bind<'q>(
    mut q: Query<'q, Sqlite, SqliteArguments<'q>>,
    vals: Vec<Val>,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    for v in vals {
        q = match v {
            Val::Text(s) => q.bind(s),
            Val::OptText(s) => q.bind(s),
            Val::Int(i) => q.bind(i),
        };
    }
    q
}

/// All the values of one upsert row: columns, then data, clocks patch, deleted.
pub fn row_values(r: &Record, clocks: String, deleted: bool) -> Result<Vec<Val>> {
    let mut vals = columns(r);
    let data = serde_json::to_string(r)
        .map_err(|e| Error::Corrupt(format!("cannot encode record: {e}")))?;
    vals.push(Val::Text(data));
    vals.push(Val::Text(clocks));
    vals.push(Val::Int(deleted as i64));
    Ok(vals)
}

/// Decodes a record's JSON `data` column.
pub fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| Error::Corrupt(format!("undecodable record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_has_one_group_per_row() {
        let sql = upsert_sql(&table(Entity::Task), 2);
        assert!(sql.starts_with("INSERT INTO tasks (id, lead_id, done, data, clocks, deleted) VALUES (?,?,?,?,?,?),(?,?,?,?,?,?)"));
        assert!(
            sql.contains("lead_id = excluded.lead_id, done = excluded.done, data = excluded.data")
        );
        assert!(
            sql.ends_with("clocks = json_patch(tasks.clocks, excluded.clocks)"),
            "{sql}"
        );
    }
}
