//! CSV export: one row per contact with its lead's columns (a lead without contacts gets one
//! row), headers the import's suggestions map back to the same fields, so export → import →
//! export reproduces the file. Cells that could run as spreadsheet formulas are neutralised
//! (`neutralise`). Lossy by nature (CSV is flat): activities, tasks, opportunities
//! and addresses after the first are left to JSONL.

use super::CsvError;
use crate::defs::value_key;
use rapport_core::{Contact, CustomFieldDef, FieldTarget, Lead, time};
use rapport_store::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CsvExportReport {
    pub leads: u64,
    pub rows: u64,
}

const LEAD_COLS: [&str; 12] = [
    "Company",
    "Status",
    "URL",
    "Description",
    "Owner",
    "Created",
    "Street",
    "Street 2",
    "City",
    "State",
    "Zip",
    "Country",
];
const CONTACT_COLS: [&str; 6] = [
    "Contact Name",
    "Title",
    "Email",
    "Phone",
    "Mobile Phone",
    "Other Phone",
];

/// A cell a spreadsheet could run as a formula (`=`, `+`, `-`, `@`, tab or carriage return
/// first) gets a leading `'`, as OWASP recommends for CSV injection; the import drops that
/// `'` again (`values::unneutralise`). A plain number (`-12.5`, an E.164 `+14155550123`) is
/// left as it is: a spreadsheet reads it as a number, never as a formula, and negative
/// values stay numbers.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && !super::values::is_plain_number(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn custom_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn lead_cells(
    l: &Lead,
    owners: &HashMap<String, String>,
    custom: &[CustomFieldDef],
) -> Vec<String> {
    let a = l.addresses.first().cloned().unwrap_or_default();
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut row = vec![
        l.name.clone(),
        l.status_label.clone(),
        o(&l.url),
        o(&l.description),
        l.owner_id
            .and_then(|id| owners.get(&id.to_string()).cloned())
            .unwrap_or_default(),
        time::fmt(&l.date_created),
        o(&a.address_1),
        o(&a.address_2),
        o(&a.city),
        o(&a.state),
        o(&a.zipcode),
        o(&a.country),
    ];
    row.extend(
        custom
            .iter()
            .map(|f| custom_text(l.custom.get(value_key(f)))),
    );
    row
}

fn contact_cells(c: Option<&Contact>, custom: &[CustomFieldDef]) -> Vec<String> {
    let Some(c) = c else {
        return vec![String::new(); CONTACT_COLS.len() + custom.len()];
    };
    let phones = |pred: &dyn Fn(&str) -> bool| {
        c.phones
            .iter()
            .filter(|p| pred(&p.kind))
            .map(|p| p.phone.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut row = vec![
        c.name.clone(),
        c.title.clone().unwrap_or_default(),
        c.emails
            .iter()
            .map(|e| e.email.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        phones(&|k| k == "office"),
        phones(&|k| k == "mobile"),
        phones(&|k| k != "office" && k != "mobile"),
    ];
    row.extend(
        custom
            .iter()
            .map(|f| custom_text(c.custom.get(value_key(f)))),
    );
    row
}

/// Writes leads as CSV rows, one lead at a time (the caller picks which: all, or a query's).
pub struct CsvExporter<W: Write> {
    w: ::csv::Writer<W>,
    lead_custom: Vec<CustomFieldDef>,
    contact_custom: Vec<CustomFieldDef>,
    owners: HashMap<String, String>,
    pub report: CsvExportReport,
}

fn io(e: &dyn std::fmt::Display) -> CsvError {
    CsvError::io("cannot write the CSV export", e)
}

impl<W: Write> CsvExporter<W> {
    /// Writes the header (UTF-8, comma): lead columns, `custom.NAME`, contact columns,
    /// `contact.custom.NAME`.
    pub async fn start(store: &Store, out: W) -> Result<CsvExporter<W>, CsvError> {
        let fields = store.fields().await?;
        let names = |t: FieldTarget| {
            fields
                .iter()
                .filter(|f| f.applies_to == t)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (lead_custom, contact_custom) = (names(FieldTarget::Lead), names(FieldTarget::Contact));
        let owners = store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id.to_string(), u.name))
            .collect();
        let mut w = ::csv::Writer::from_writer(out);
        let mut header: Vec<String> = LEAD_COLS.iter().map(|s| s.to_string()).collect();
        header.extend(lead_custom.iter().map(|f| format!("custom.{}", f.name)));
        header.extend(CONTACT_COLS.iter().map(|s| s.to_string()));
        header.extend(
            contact_custom
                .iter()
                .map(|f| format!("contact.custom.{}", f.name)),
        );
        w.write_record(&header).map_err(|e| io(&e))?;
        Ok(CsvExporter {
            w,
            lead_custom,
            contact_custom,
            owners,
            report: CsvExportReport::default(),
        })
    }

    /// One row per contact (one row for a lead without contacts).
    pub fn lead(&mut self, lead: &Lead, contacts: &[Contact]) -> Result<(), CsvError> {
        let cells = lead_cells(lead, &self.owners, &self.lead_custom);
        let list: Vec<Option<&Contact>> = if contacts.is_empty() {
            vec![None]
        } else {
            contacts.iter().map(Some).collect()
        };
        for c in list {
            let mut row = cells.clone();
            row.extend(contact_cells(c, &self.contact_custom));
            let row = row.iter().map(|c| neutralise(c));
            self.w
                .write_record(row.map(|c| c.into_owned()))
                .map_err(|e| io(&e))?;
            self.report.rows += 1;
        }
        self.report.leads += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<CsvExportReport, CsvError> {
        self.w.flush().map_err(|e| io(&e))?;
        Ok(self.report)
    }
}

/// Writes every lead, in id order.
pub async fn export_csv(store: &Store, out: impl Write) -> Result<CsvExportReport, CsvError> {
    let mut x = CsvExporter::start(store, out).await?;
    let mut after = None;
    loop {
        let page = store.bundles(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.lead.id);
        for b in &page {
            x.lead(&b.lead, &b.contacts)?;
        }
    }
    x.finish()
}
