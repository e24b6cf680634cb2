//! Canonical JSONL: export streams leads in id order; import validates every line with the
//! core's rules, writes valid leads through the bulk path in chunks (all-or-nothing per lead)
//! and reports every rejected line with its number, field and reason.

use rapport_core::bundle::{self, Known};
use rapport_core::{FieldTarget, LeadBundle, ops};
use rapport_store::{Error, Result, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// Writes every lead as one JSON line. Returns the number of leads written.
pub async fn export_jsonl(store: &Store, mut out: impl Write) -> Result<u64> {
    let mut after = None;
    let mut n = 0;
    loop {
        let page = store.bundles(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.lead.id);
        for b in &page {
            serde_json::to_writer(&mut out, b)
                .map_err(|e| Error::Io(format!("cannot write: {e}")))?;
            out.write_all(b"\n")
                .map_err(|e| Error::Io(format!("cannot write: {e}")))?;
            n += 1;
        }
    }
    out.flush()
        .map_err(|e| Error::Io(format!("cannot write: {e}")))?;
    Ok(n)
}

#[derive(Debug, Clone)]
pub struct JsonlOptions {
    /// Create statuses and custom fields that the file uses but the store lacks.
    pub create_missing: bool,
    /// Leads per transaction.
    pub chunk: usize,
    /// Validate and report only; write nothing.
    pub dry_run: bool,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            create_missing: false,
            chunk: 500,
            dry_run: false,
        }
    }
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JsonlReport {
    pub leads: u64,
    pub records: u64,
    pub rejected: Vec<Rejected>,
    pub created_statuses: Vec<String>,
    pub created_fields: Vec<String>,
}

/// Imports a JSONL stream. Malformed or invalid lines are skipped and reported; the rest
/// is written in chunks, each chunk one transaction.
pub async fn import_jsonl(
    store: &Store,
    input: impl BufRead,
    opts: &JsonlOptions,
) -> Result<JsonlReport> {
    let mut report = JsonlReport::default();
    let mut pending: Vec<(u64, LeadBundle)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| Error::Io(format!("line {n}: cannot read: {e}")))?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<LeadBundle>(text) {
            Ok(b) => pending.push((n, b)),
            Err(e) => report.rejected.push(Rejected {
                line: n,
                field: None,
                message: format!("malformed JSON: {e}"),
            }),
        }
        if pending.len() >= opts.chunk.max(1) {
            flush(store, std::mem::take(&mut pending), opts, &mut report).await?;
        }
    }
    flush(store, pending, opts, &mut report).await?;
    Ok(report)
}

async fn flush(
    store: &Store,
    pending: Vec<(u64, LeadBundle)>,
    opts: &JsonlOptions,
    report: &mut JsonlReport,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    if opts.create_missing && !opts.dry_run {
        create_missing(store, &pending, report).await?;
    }
    let statuses: Vec<String> = store
        .statuses()
        .await?
        .into_iter()
        .map(|s| s.label)
        .collect();
    let fields = store.fields().await?;
    let region = store.meta("region").await?.unwrap_or_else(|| "US".into());
    let known = Known {
        statuses: &statuses,
        fields: &fields,
        region: &region,
    };
    let mut good = Vec::with_capacity(pending.len());
    for (line, b) in pending {
        match bundle::check(b, &known) {
            Ok(b) => good.push(b),
            Err(e) => report.rejected.push(Rejected {
                line,
                field: e.field.clone(),
                message: e.message,
            }),
        }
    }
    if opts.dry_run {
        report.leads += good.len() as u64;
        return Ok(());
    }
    let r = store.write_bundles(good).await?;
    report.leads += r.leads as u64;
    report.records += r.records as u64;
    Ok(())
}

async fn create_missing(
    store: &Store,
    pending: &[(u64, LeadBundle)],
    report: &mut JsonlReport,
) -> Result<()> {
    let statuses = store.statuses().await?;
    let fields = store.fields().await?;
    let mut new_statuses: Vec<String> = Vec::new();
    let mut new_fields: BTreeMap<(String, bool), Vec<&serde_json::Value>> = BTreeMap::new();
    for (_, b) in pending {
        let key = rapport_core::validate::status_key(&b.lead.status_label);
        if !b.lead.status_label.trim().is_empty()
            && !statuses
                .iter()
                .any(|s| rapport_core::validate::status_key(&s.label) == key)
            && !new_statuses
                .iter()
                .any(|s| rapport_core::validate::status_key(s) == key)
        {
            new_statuses.push(b.lead.status_label.trim().to_string());
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
                if !fields
                    .iter()
                    .any(|f| f.applies_to == target && f.name.eq_ignore_ascii_case(name))
                {
                    new_fields
                        .entry((name.clone(), is_lead))
                        .or_default()
                        .push(v);
                }
            }
        }
    }
    if new_statuses.is_empty() && new_fields.is_empty() {
        return Ok(());
    }
    let mut w = store.begin_write().await?;
    for label in new_statuses {
        let existing = w.statuses().await?;
        let (s, plan) = ops::add_status(&label, &existing, &mut w.ctx)?;
        w.apply(plan).await?;
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
        w.ctx.fields.push(def.clone());
        w.apply(plan).await?;
        report.created_fields.push(def.name);
    }
    w.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
        Store::open(dir.path().join(name)).await.unwrap()
    }

    #[tokio::test]
    async fn export_import_export_is_lossless() {
        let dir = tempfile::tempdir().unwrap();
        let a = store(&dir, "a.db").await;
        let now = rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap();
        let statuses: Vec<String> = rapport_core::DEFAULT_STATUSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let bundles = (0..40)
            .map(|n| rapport_core::demo::lead(5, n, now, &statuses, None))
            .collect();
        a.write_bundles(bundles).await.unwrap();
        let mut first = Vec::new();
        assert_eq!(export_jsonl(&a, &mut first).await.unwrap(), 40);

        let b = store(&dir, "b.db").await;
        let opts = JsonlOptions {
            create_missing: true,
            chunk: 7,
            dry_run: false,
        };
        let r = import_jsonl(&b, &first[..], &opts).await.unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(r.leads, 40);
        assert_eq!(r.created_fields.len(), 3, "{:?}", r.created_fields);
        let mut second = Vec::new();
        export_jsonl(&b, &mut second).await.unwrap();
        assert_eq!(
            String::from_utf8(first).unwrap(),
            String::from_utf8(second).unwrap()
        );
    }

    #[tokio::test]
    async fn bad_lines_are_reported_and_the_rest_imports() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir, "s.db").await;
        let good = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y7","name":"Acme","status_label":"potential","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}"#;
        let bad_email = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y8","name":"Beta","status_label":"Potential","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z","contacts":[{"id":"01HZX5T3C8B6M4Q2W1E0R9T8Y9","lead_id":"01HZX5T3C8B6M4Q2W1E0R9T8Y8","name":"Ann","emails":[{"email":"not-an-email","type":"office"}],"date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}]}"#;
        let bad_status = r#"{"id":"01HZX5T3C8B6M4Q2W1E0R9T8YA","name":"Gamma","status_label":"Hot","date_created":"2024-01-01T00:00:00Z","date_updated":"2024-01-01T00:00:00Z"}"#;
        let input = format!("{good}\n{{not json\n\n{bad_email}\n{bad_status}\n");
        let r = import_jsonl(&s, input.as_bytes(), &JsonlOptions::default())
            .await
            .unwrap();
        assert_eq!(r.leads, 1);
        let lines: Vec<(u64, Option<&str>)> = r
            .rejected
            .iter()
            .map(|x| (x.line, x.field.as_deref()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (2, None),
                (4, Some("contacts[0].emails[0].email")),
                (5, Some("status_label"))
            ]
        );
        assert!(r.rejected[0].message.starts_with("malformed JSON"));
        assert_eq!(
            s.lead_count().await.unwrap(),
            1,
            "the rejected leads left nothing behind"
        );
        let st = s.stats().await.unwrap();
        assert_eq!(st.contacts, 0);
        let lead = s.leads_named("Acme").await.unwrap().remove(0);
        assert_eq!(
            lead.status_label, "Potential",
            "status spelling is normalised"
        );
    }
}
