//! Reading a JSONL file into the store in one write transaction: definition lines merged
//! first (`defs::Merge`), then lead lines checked in batches — the core's `bundle::check`,
//! one lead id and one record id per file, no record that belongs to another lead in the
//! store — and written through the bulk path; committed only when every line was good (or
//! `skip_invalid`), never for a dry run.

use super::{JsonlOptions, JsonlReport, Rejected};
use crate::defs::{self, Definition, Merge};
use rapport_core::bundle::{self, Known};
use rapport_core::{FieldTarget, Id, LeadBundle, ops};
use rapport_store::{Error, Result, Store, Writer};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

struct Run<'a> {
    opts: &'a JsonlOptions,
    merge: Merge,
    report: JsonlReport,
    /// Lead id → the line it is on.
    leads: HashMap<Id, u64>,
    /// Record id → (line, lead).
    records: HashMap<Id, (u64, Id)>,
    leads_started: bool,
}

impl Run<'_> {
    fn reject(&mut self, line: u64, field: Option<String>, message: String) {
        self.report.rejected.push(Rejected {
            line,
            field,
            message,
        });
    }
}

/// Imports a JSONL stream (see the module docs). Malformed and invalid lines are reported,
/// each with its line number and the field at fault.
pub async fn import_jsonl(
    store: &Store,
    input: impl BufRead,
    opts: &JsonlOptions,
) -> Result<JsonlReport> {
    let users = store.users().await?;
    let mut w = store.begin_write().await?;
    let mut run = Run {
        opts,
        merge: Merge::new(users),
        report: JsonlReport::default(),
        leads: HashMap::new(),
        records: HashMap::new(),
        leads_started: false,
    };
    let mut pending: Vec<(u64, LeadBundle)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| Error::Io(format!("line {n}: cannot read: {e}")))?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(d) = definition(text) {
            match d {
                Ok(_) if run.leads_started => run.reject(
                    n,
                    Some("_record".into()),
                    "definition lines (`_record`) must come before the first lead".into(),
                ),
                Ok(d) => {
                    if let Err(e) = run.merge.apply(&mut w, d).await {
                        run.reject(n, e.field.clone(), e.message);
                    }
                }
                Err(e) => run.reject(n, None, format!("malformed definition: {e}")),
            }
            continue;
        }
        run.leads_started = true;
        match serde_json::from_str::<LeadBundle>(text) {
            Ok(b) => pending.push((n, b)),
            Err(e) => run.reject(n, None, format!("malformed JSON: {e}")),
        }
        if pending.len() >= opts.chunk.max(1) {
            run.flush(&mut w, std::mem::take(&mut pending)).await?;
        }
    }
    run.flush(&mut w, pending).await?;
    let mut report = run.report;
    let m = run.merge;
    report.created_statuses.extend(m.created_statuses);
    report.created_fields.extend(m.created_fields);
    report.created_users = m.created_users;
    report.created_views = m.created_views;
    report.notes = m.notes;
    let write = !opts.dry_run && (report.rejected.is_empty() || opts.skip_invalid);
    if write {
        w.commit().await?;
        report.written = true;
    } else {
        drop(w); // rolls back
        report.leads = 0;
        report.records = 0;
    }
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

/// A definition line (its top-level object has `_record`), parsed; `None` for a lead line.
fn definition(text: &str) -> Option<std::result::Result<Definition, serde_json::Error>> {
    if !text.contains("\"_record\"") {
        return None;
    }
    match serde_json::from_str::<Definition>(text) {
        Ok(d) => Some(Ok(d)),
        // `"_record"` inside a lead's values (a custom field of that name): a lead line.
        Err(e) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.get("_record").is_none() => None,
            _ => Some(Err(e)),
        },
    }
}

/// A lead's records with their paths: `contacts[0]`, `activities[2]`…
fn record_ids(b: &LeadBundle) -> Vec<(Id, String)> {
    let kinds = [
        (
            "contacts",
            b.contacts.iter().map(|c| c.id).collect::<Vec<_>>(),
        ),
        ("activities", b.activities.iter().map(|a| a.id).collect()),
        ("tasks", b.tasks.iter().map(|t| t.id).collect()),
        (
            "opportunities",
            b.opportunities.iter().map(|o| o.id).collect(),
        ),
    ];
    kinds
        .into_iter()
        .flat_map(|(k, ids)| {
            ids.into_iter()
                .enumerate()
                .map(move |(i, id)| (id, format!("{k}[{i}]")))
        })
        .collect()
}

impl Run<'_> {
    /// Checks a batch of lead lines and writes the good ones (unless the file already has a
    /// bad line and is all-or-nothing: then it only checks).
    async fn flush(&mut self, w: &mut Writer, pending: Vec<(u64, LeadBundle)>) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        if self.opts.create_missing {
            create_missing(w, &pending, &mut self.report).await?;
        }
        let mut checked = Vec::with_capacity(pending.len());
        for (line, mut b) in pending {
            self.merge.remap(&mut b);
            let known = Known {
                statuses: &w.ctx.statuses,
                fields: &w.ctx.fields,
                region: &w.ctx.region,
            };
            match bundle::check(b, &known) {
                Ok(b) => checked.push((line, b)),
                Err(e) => self.reject(line, e.field.clone(), e.message),
            }
        }
        // One lead and one record per id across the file.
        let mut unique = Vec::with_capacity(checked.len());
        'lines: for (line, b) in checked {
            if let Some(first) = self.leads.get(&b.lead.id) {
                let msg = format!("lead {} is also on line {first}", b.lead.id);
                self.reject(line, Some("id".into()), msg);
                continue;
            }
            for (id, path) in record_ids(&b) {
                if let Some((l, lead)) = self.records.get(&id) {
                    let msg = format!(
                        "{path} has id {id}, which is a record of lead {lead} on line {l}; a record belongs to one lead"
                    );
                    self.reject(line, Some(format!("{path}.id")), msg);
                    continue 'lines;
                }
            }
            self.leads.insert(b.lead.id, line);
            for (id, _) in record_ids(&b) {
                self.records.insert(id, (line, b.lead.id));
            }
            unique.push((line, b));
        }
        // No record taken from another lead of the store (the upsert would move it).
        let ids: Vec<Id> = unique
            .iter()
            .flat_map(|(_, b)| record_ids(b).into_iter().map(|(id, _)| id))
            .collect();
        let owners = w.leads_of_records(&ids).await?;
        let mut good = Vec::with_capacity(unique.len());
        'good: for (line, b) in unique {
            for (id, path) in record_ids(&b) {
                if let Some(owner) = owners.get(&id).filter(|o| **o != b.lead.id) {
                    let msg = format!(
                        "{path} has id {id}, which belongs to lead {owner} in this store; an import never moves a record to another lead"
                    );
                    self.reject(line, Some(format!("{path}.id")), msg);
                    continue 'good;
                }
            }
            good.push(b);
        }
        self.report.valid_leads += good.len() as u64;
        let writing =
            !self.opts.dry_run && (self.report.rejected.is_empty() || self.opts.skip_invalid);
        if writing && !good.is_empty() {
            let r = w.write_bundles(good).await?;
            self.report.leads += r.leads as u64;
            self.report.records += r.records as u64;
        }
        Ok(())
    }
}

/// `--create-missing`: statuses and custom fields lead lines use that nothing defines.
async fn create_missing(
    w: &mut Writer,
    pending: &[(u64, LeadBundle)],
    report: &mut JsonlReport,
) -> Result<()> {
    let key = rapport_core::validate::status_key;
    let mut new_statuses: Vec<String> = Vec::new();
    let mut new_fields: BTreeMap<(String, bool), Vec<&serde_json::Value>> = BTreeMap::new();
    for (_, b) in pending {
        let label = b.lead.status_label.trim();
        if !label.is_empty()
            && !w.ctx.statuses.iter().any(|s| key(s) == key(label))
            && !new_statuses.iter().any(|s| key(s) == key(label))
        {
            new_statuses.push(label.to_string());
        }
        let customs = std::iter::once((true, &b.lead.custom))
            .chain(b.contacts.iter().map(|c| (false, &c.custom)));
        for (is_lead, custom) in customs {
            let target = if is_lead {
                FieldTarget::Lead
            } else {
                FieldTarget::Contact
            };
            for (name, v) in custom {
                if defs::find_field(&w.ctx.fields, target, name).is_none() {
                    new_fields
                        .entry((name.clone(), is_lead))
                        .or_default()
                        .push(v);
                }
            }
        }
    }
    for label in new_statuses {
        let existing = w.statuses().await?;
        let (s, plan) = ops::add_status(&label, &existing, &mut w.ctx)?;
        w.apply(plan).await?;
        w.ctx.statuses.push(s.label.clone());
        report.created_statuses.push(s.label);
    }
    for ((name, is_lead), values) in new_fields {
        let target = if is_lead {
            FieldTarget::Lead
        } else {
            FieldTarget::Contact
        };
        let kind = bundle::sniff_type(&values);
        let (def, plan) = ops::add_field(&name, kind, target, vec![], &mut w.ctx)?;
        w.apply(plan).await?;
        report.created_fields.push(def.name.clone());
        w.ctx.fields.push(def);
    }
    Ok(())
}
