//! The search indexer's feed: whole leads with their aggregates (by id, or a page in id
//! order for a rebuild), the leads the change feed says were touched, and lead-list rows for a set
//! of ids. Read-only; ids are bound as a JSON array, never spliced into SQL. Nested records
//! are read in lead order and attached by walking the (id-ordered) leads alongside.

use crate::Store;
use crate::error::Result;
use crate::read::{Aggregates, LeadSummary};
use crate::rows::decode;
use rapport_core::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row};
use std::collections::HashMap;

/// How much of the file a rebuild's reader maps: all of it (SQLite caps this at its
/// compile-time maximum, which `.cargo/config.toml` raises from 2 GiB).
const READER_MMAP: &str = "1099511627776";

/// One lead as the search index needs it: everything nested plus the maintained aggregates.
#[derive(Debug, Clone)]
pub struct IndexRow {
    pub bundle: LeadBundle,
    pub aggregates: Aggregates,
}

/// What the change feed says changed after a sequence number.
#[derive(Debug, Clone, Default)]
pub struct Touched {
    /// Leads whose documents must be replaced (or removed).
    pub leads: Vec<Id>,
    /// Whether users changed (their names appear in lead documents).
    pub users: bool,
    /// The last sequence number read (the argument when nothing was read).
    pub last_seq: i64,
    /// Entries read.
    pub entries: usize,
}

const LEAD_COLUMNS: &str = "id, data, n_contacts, n_calls, n_emails, n_notes, n_meetings, n_activities, n_tasks, \
     n_opportunities, last_called, last_emailed, email_opened, last_activity";

/// The tables whose records nest under a lead in an [`IndexRow`].
pub(crate) const CHILD_TABLES: [&str; 4] = ["contacts", "activities", "tasks", "opportunities"];

/// Separates records in [`CONCAT`]'s text: a control character, which JSON text never holds
/// unescaped.
const RS: char = '\u{1e}';

/// A table's records for a read as one text (record JSON joined by [`RS`]): one value
/// crosses from SQLite's thread instead of a row per record, which at a million records
/// was most of a rebuild's read time. No `ORDER BY`: it made SQLite copy every record into
/// a sorter (a third of the read). The records come in the order of the `…_by_lead` index
/// the range is read from — lead by lead, which [`attach`] relies on for speed only — and
/// [`attach`] puts each lead's records in id order.
const CONCAT: &str = "group_concat(data, char(30))";

// Reads of leads by id say `+deleted`: otherwise SQLite answers them by walking the
// `(deleted, date_updated, id)` index over every live lead (and sorting), which made each
// call cost the whole table — quadratic in imports and rebuilds. `tests::lead_reads_by_id_
// use_the_primary_key` checks the plans of every such query.

/// Leads of an id list (JSON array), in id order, with their aggregates.
pub(crate) fn leads_by_ids_sql() -> String {
    format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE +deleted = 0 AND id IN (SELECT value FROM json_each(?)) ORDER BY id"
    )
}

/// A page of leads after an id, in id order, with their aggregates.
pub(crate) fn leads_page_sql() -> String {
    format!("SELECT {LEAD_COLUMNS} FROM leads WHERE +deleted = 0 AND id > ? ORDER BY id LIMIT ?")
}

/// The records of `table` of the leads in an id range (inclusive), see [`CONCAT`].
pub(crate) fn child_range_sql(table: &str) -> String {
    format!("SELECT {CONCAT} FROM {table} WHERE deleted = 0 AND lead_id >= ? AND lead_id <= ?")
}

/// Lead-list rows of an id list (JSON array).
pub(crate) const SUMMARIES_SQL: &str = "SELECT id, name, status_label, primary_contact, city, n_contacts AS contacts, last_activity, date_updated
     FROM leads WHERE +deleted = 0 AND id IN (SELECT value FROM json_each(?))";

impl Store {
    /// Leads touched by change-feed entries after `seq` (at most `limit` entries), oldest first.
    pub async fn touched_since(&self, seq: i64, limit: i64) -> Result<Touched> {
        let rows = sqlx::query(
            "SELECT seq, entity, record_id, lead_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Touched {
            last_seq: seq,
            entries: rows.len(),
            ..Touched::default()
        };
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            out.last_seq = row.get(0);
            let entity: String = row.get(1);
            let lead: Option<String> = match entity.as_str() {
                "lead" => Some(row.get(2)),
                "user" => {
                    out.users = true;
                    None
                }
                _ => row.get(3),
            };
            if let Some(id) = lead.and_then(|l| l.parse::<Id>().ok())
                && seen.insert(id)
            {
                out.leads.push(id);
            }
        }
        Ok(out)
    }

    /// The given leads (those not deleted) with everything nested and their aggregates.
    pub async fn index_rows(&self, ids: &[Id]) -> Result<Vec<IndexRow>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = ids.iter().map(Id::to_string).collect();
        let keys = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
        let mut tx = self.pool.begin().await?;
        let leads = sqlx::query(&leads_by_ids_sql())
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = lead_rows(leads)?;
        for table in CHILD_TABLES {
            let sql = format!(
                "SELECT {CONCAT} FROM {table} WHERE deleted = 0 AND lead_id IN (SELECT value FROM json_each(?))"
            );
            let text: Option<String> = sqlx::query_scalar(&sql)
                .bind(&keys)
                .fetch_one(&mut *tx)
                .await?;
            attach(&mut out, table, text.as_deref())?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Up to `limit` leads in id order after `after`, with everything nested and aggregates
    /// (what a rebuild reads, decoded at once; a rebuild itself reads with a
    /// [`PageReader`]).
    pub async fn index_page(&self, after: Option<Id>, limit: i64) -> Result<Vec<IndexRow>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let mut conn = self.pool.acquire().await?;
        read_page(&mut conn, &after, limit).await?.decode()
    }

    /// A reader of every lead in id order for a rebuild, on a read-only connection of its
    /// own (closed when the reader is dropped), which leaves the pool to everything else.
    /// It reads through a map of the whole file: a rebuild reads each lead's records where
    /// they lie, all over the file, and copying each page through a `read` call was a
    /// tenth of a rebuild's CPU time. The map shows in the process's RSS (6–12 GB at a
    /// million leads, pages of the file the kernel can take back at any time), and must not
    /// reach the pool's connections: the first queries on such a connection took 30–40 ms.
    pub async fn page_reader(&self) -> Result<PageReader> {
        let opts = SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            .pragma("mmap_size", READER_MMAP);
        let conn = opts.connect().await?;
        Ok(PageReader {
            conn,
            after: String::new(),
        })
    }

    /// Lead-list rows for the given ids, in the order given (missing or deleted ids skipped).
    pub async fn lead_summaries(&self, ids: &[Id]) -> Result<Vec<LeadSummary>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = ids.iter().map(Id::to_string).collect();
        let json = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
        let rows = sqlx::query_as::<_, LeadSummary>(SUMMARIES_SQL)
            .bind(json)
            .fetch_all(&self.pool)
            .await?;
        let mut by_id: HashMap<String, LeadSummary> =
            rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        Ok(keys.iter().filter_map(|k| by_id.remove(k)).collect())
    }
}

fn lead_rows(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Vec<IndexRow>> {
    rows.into_iter()
        .map(|row| raw_lead(&row).decode())
        .collect()
}

fn raw_lead(row: &sqlx::sqlite::SqliteRow) -> RawLead {
    RawLead {
        id: row.get(0),
        data: row.get(1),
        aggregates: Aggregates {
            n_contacts: row.get(2),
            n_calls: row.get(3),
            n_emails: row.get(4),
            n_notes: row.get(5),
            n_meetings: row.get(6),
            n_activities: row.get(7),
            n_tasks: row.get(8),
            n_opportunities: row.get(9),
            last_called: row.get(10),
            last_emailed: row.get(11),
            email_opened: row.get(12),
            last_activity: row.get(13),
        },
    }
}

/// A page of leads as SQLite returned them (see [`RawPage`]).
async fn read_page(conn: &mut SqliteConnection, after: &str, limit: i64) -> Result<RawPage> {
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    let leads: Vec<RawLead> = sqlx::query(&leads_page_sql())
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(raw_lead)
        .collect();
    let mut children = Vec::new();
    if let (Some(first), Some(last)) = (leads.first(), leads.last()) {
        for table in CHILD_TABLES {
            // The row, not a `String` of it: the text is read in place when decoding.
            let row = sqlx::query(&child_range_sql(table))
                .bind(&first.id)
                .bind(&last.id)
                .fetch_one(&mut *tx)
                .await?;
            children.push((table, row));
        }
    }
    tx.commit().await?;
    Ok(RawPage { leads, children })
}

/// What a rebuild reads: pages of leads in id order, each read in one transaction.
pub struct PageReader {
    conn: SqliteConnection,
    after: String,
}

impl PageReader {
    /// The next `limit` leads (an empty page at the end).
    pub async fn next_page(&mut self, limit: i64) -> Result<RawPage> {
        let page = read_page(&mut self.conn, &self.after, limit).await?;
        if let Some(last) = page.leads.last() {
            self.after.clone_from(&last.id);
        }
        Ok(page)
    }
}

/// A page of leads before decoding: each lead's row and each child table's records as one
/// text. Decoding takes about as long as reading, so a rebuild decodes a page on another
/// thread while it reads the next.
pub struct RawPage {
    leads: Vec<RawLead>,
    /// Per child table, a row of one text: its records (see [`CONCAT`]), or NULL.
    children: Vec<(&'static str, sqlx::sqlite::SqliteRow)>,
}

struct RawLead {
    id: String,
    data: String,
    aggregates: Aggregates,
}

impl RawLead {
    fn decode(self) -> Result<IndexRow> {
        let lead: Lead = decode(&self.data)?;
        Ok(IndexRow {
            bundle: LeadBundle {
                lead,
                contacts: vec![],
                activities: vec![],
                tasks: vec![],
                opportunities: vec![],
            },
            aggregates: self.aggregates,
        })
    }
}

impl RawPage {
    /// Leads in the page.
    pub fn len(&self) -> usize {
        self.leads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
    }

    /// The leads with everything nested, in id order.
    pub fn decode(self) -> Result<Vec<IndexRow>> {
        let mut out = self
            .leads
            .into_iter()
            .map(RawLead::decode)
            .collect::<Result<Vec<_>>>()?;
        for (table, row) in &self.children {
            let text: Option<&str> = row.try_get(0)?;
            attach(&mut out, table, text)?;
        }
        Ok(out)
    }
}

/// Attaches the records in `text` (JSON texts joined by `RS`, in any order; lead by lead is
/// fastest) to the leads of `out` (ordered by id), each lead's records in id order; records
/// of leads not in `out` are skipped.
pub(crate) fn attach(out: &mut [IndexRow], table: &str, text: Option<&str>) -> Result<()> {
    let Some(text) = text else { return Ok(()) };
    let mut i = 0;
    for data in text.split(RS) {
        match table {
            "contacts" => {
                let r: Contact = decode(data)?;
                if let Some(b) = slot(out, &mut i, r.lead_id) {
                    b.contacts.push(r);
                }
            }
            "activities" => {
                let r: Activity = decode(data)?;
                if let Some(b) = slot(out, &mut i, r.lead_id) {
                    b.activities.push(r);
                }
            }
            "tasks" => {
                let r: Task = decode(data)?;
                if let Some(b) = slot(out, &mut i, r.lead_id) {
                    b.tasks.push(r);
                }
            }
            _ => {
                let r: Opportunity = decode(data)?;
                if let Some(b) = slot(out, &mut i, r.lead_id) {
                    b.opportunities.push(r);
                }
            }
        }
    }
    for row in out.iter_mut() {
        let b = &mut row.bundle;
        match table {
            "contacts" => in_id_order(&mut b.contacts, |r| r.id),
            "activities" => in_id_order(&mut b.activities, |r| r.id),
            "tasks" => in_id_order(&mut b.tasks, |r| r.id),
            _ => in_id_order(&mut b.opportunities, |r| r.id),
        }
    }
    Ok(())
}

fn in_id_order<T>(records: &mut [T], id: impl Fn(&T) -> Id) {
    if !records.is_sorted_by_key(&id) {
        records.sort_by_key(id);
    }
}

/// The bundle of `lead` in `out`: the one at `i` or after it (records usually come lead by
/// lead), else found by binary search.
fn slot<'a>(out: &'a mut [IndexRow], i: &mut usize, lead: Id) -> Option<&'a mut LeadBundle> {
    if out.get(*i).is_none_or(|r| r.bundle.lead.id > lead) {
        *i = out.partition_point(|r| r.bundle.lead.id < lead);
    }
    while *i < out.len() && out[*i].bundle.lead.id < lead {
        *i += 1;
    }
    let row = out.get_mut(*i)?;
    (row.bundle.lead.id == lead).then_some(&mut row.bundle)
}
