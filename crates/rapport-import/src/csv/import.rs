//! The CSV import: checks the file and the mapping before anything is written, then groups and
//! matches each chunk of rows and writes it — new leads through the bulk path, changes to
//! existing leads through the operations, fields and statuses it needs, the error CSV and the
//! checkpoint — in one transaction. Cancel stops between chunks; `resume` continues after the
//! last committed chunk.

use super::errors_file::ErrorsFile;
use super::index::{LeadKeys, MatchIndex};
use super::mapping::{Mapping, Target, UnknownColumns};
use super::merge::{self, Counts, IdSeq};
use super::reader::{self, Chunk, Msg, ReaderJob};
use super::row::{Parsed, RowData, RowRules};
use super::source;
use super::summary::{CsvImportOptions, ImportSummary, Phase, Progress};
use super::{CsvError, Problem};
use rapport_core::{CustomFieldDef, FieldTarget, FieldType, Id, LeadBundle, ops, validate};
use rapport_store::{ImportCheckpoint, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const MAX_PROBLEMS: usize = 10_000;

struct Run<'a> {
    store: &'a Store,
    opts: &'a CsvImportOptions,
    index: MatchIndex,
    ids: IdSeq,
    user: Option<Id>,
    default_status: String,
    new_fields: Vec<(String, FieldTarget, FieldType)>,
    errors: ErrorsFile,
    cp: ImportCheckpoint,
    sum: ImportSummary,
    started: Instant,
    rows_at_start: u64,
    /// Resumed: when the interrupted import started (its leads' ids are later).
    ours_since: Option<u64>,
}

/// 80 random bits from the OS-seeded hasher keys (ids of new records).
fn random_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    rapport_core::ops::Rng(h.finish()).next_u128()
}

fn now_text(store: &Store) -> String {
    rapport_core::time::fmt(&store.now())
}

/// Imports `path`. `mapping` `None` uses the suggested mapping (or, with `resume`, the saved
/// one). Errors about the file or mapping come before anything is written.
pub async fn import_csv(
    store: &Store,
    path: &Path,
    mapping: Option<Mapping>,
    opts: &CsvImportOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
    cancel: Arc<AtomicBool>,
) -> Result<ImportSummary, CsvError> {
    let (summary, _) = import_with_index(store, path, mapping, opts, progress, cancel).await?;
    Ok(summary)
}

/// `import_csv`, also returning the match table it ended with (tests compare it with the
/// table loaded from the store).
pub(super) async fn import_with_index(
    store: &Store,
    path: &Path,
    mapping: Option<Mapping>,
    opts: &CsvImportOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
    cancel: Arc<AtomicBool>,
) -> Result<(ImportSummary, MatchIndex), CsvError> {
    let started = Instant::now();
    let (dialect, _) = source::sniff(path)?;
    let ident = source::identity(path)?;
    let mut notice = None;
    let resume = if opts.resume {
        match store
            .last_import(&ident.path, ident.size as i64, &ident.head_hash)
            .await?
        {
            Some(cp) if cp.state == "running" => {
                if cp.rows_done == 0 {
                    notice = Some(format!(
                        "the interrupted import of {} had committed nothing; importing it from the start",
                        path.display()
                    ));
                }
                Some(cp)
            }
            Some(_) => {
                return Err(CsvError::input(
                    "csv_resume",
                    format!(
                        "the import of {} finished; there is nothing to resume (import it again without --resume to update its leads)",
                        path.display()
                    ),
                ));
            }
            None => {
                notice = Some(format!(
                    "no interrupted import of {} was found (it committed nothing, or the file changed); importing it from the start",
                    path.display()
                ));
                None
            }
        }
    } else {
        None
    };
    // A resumed import runs with the options it started with (chunks cut at the same rows).
    let saved: Option<CsvImportOptions> = resume
        .as_ref()
        .and_then(|c| serde_json::from_str(&c.options).ok());
    let opts = &match &saved {
        Some(o) => CsvImportOptions {
            dry_run: opts.dry_run,
            resume: true,
            preview_leads: opts.preview_leads,
            ..o.clone()
        },
        None => opts.clone(),
    };
    let (mut rdr, _) = source::open(path, dialect, opts.max_record_bytes)?;
    let headers = source::header(&mut rdr, path)?;
    let sample = source::read_rows(&mut rdr, 1000, path)?;
    drop(rdr);
    if sample.is_empty() {
        return Err(CsvError::input(
            "csv_no_rows",
            format!("{} has a header but no rows", path.display()),
        ));
    }
    let mut mapping = match (&resume, mapping) {
        (Some(cp), _) => Mapping::from_json(&cp.mapping)?,
        (None, Some(m)) => m,
        (None, None) => {
            super::mapping::suggest(&headers, &sample, opts.unknown_columns.unwrap_or_default())
        }
    };
    if resume.is_none() {
        if let Some(u) = opts.unknown_columns {
            mapping.unknown_columns = u;
            if u == UnknownColumns::Skip {
                mapping.skip_unknown();
            }
        }
        if let Some(m) = &opts.match_on {
            mapping.match_on.clone_from(m);
        }
    }
    let mut targets = mapping.resolve(&headers, &sample)?;
    let fields = store.fields().await?;
    let statuses: Vec<String> = store
        .statuses()
        .await?
        .into_iter()
        .map(|s| s.label)
        .collect();
    let region = store.meta("region").await?.unwrap_or_else(|| "US".into());
    let users = store.users().await?;
    let user = store.local_user().await?.id;
    let (custom_types, choices, new_fields) = custom_fields(&mut targets, &mapping, &fields)?;
    let rules = RowRules {
        headers: headers.clone(),
        targets,
        custom_types,
        choices,
        statuses: statuses.clone(),
        create_statuses: mapping.create_statuses,
        users,
        region,
        day_first: mapping.day_first,
        max_record_bytes: opts.max_record_bytes,
        phone_memo: Default::default(),
    };
    let import_id = match &resume {
        Some(cp) => cp.id.clone(),
        None => Id::at(store.now(), random_u128()).to_string(),
    };
    let errors = if opts.dry_run {
        ErrorsFile::disabled()
    } else {
        ErrorsFile::open(path, &headers, resume.as_ref().map(|c| c.errors_len as u64))?
    };
    let prior: ImportSummary = resume
        .as_ref()
        .and_then(|c| serde_json::from_str(&c.summary).ok())
        .unwrap_or_default();
    let cp = resume.clone().unwrap_or_else(|| ImportCheckpoint {
        id: import_id.clone(),
        path: ident.path.clone(),
        size: ident.size as i64,
        head_hash: ident.head_hash.clone(),
        mapping: mapping.to_json(),
        options: serde_json::to_string(opts).unwrap_or_default(),
        rows_done: 0,
        byte_offset: 0,
        next_line: 2,
        errors_len: 0,
        summary: "{}".into(),
        state: "running".into(),
        started_at: now_text(store),
        updated_at: now_text(store),
    });
    if !opts.dry_run && resume.is_none() {
        // Saved before any row, so a run killed before its first chunk commits is resumed
        // with the same mapping and options (from the start).
        let mut w = store.begin_write().await?;
        w.save_import(&cp).await?;
        w.commit().await?;
    }
    let sum = ImportSummary {
        import_id: (!opts.dry_run).then(|| import_id.clone()),
        dry_run: opts.dry_run,
        resumed: resume.as_ref().is_some_and(|c| c.rows_done > 0),
        notice,
        encoding: dialect.encoding.name().into(),
        delimiter: dialect.delimiter_name(),
        rows_done: cp.rows_done as u64,
        mapping: Some(mapping.clone()),
        ..prior
    };
    let mut run = Run {
        store,
        opts,
        index: MatchIndex::new(&mapping.match_on),
        ids: IdSeq(random_u128() >> 16),
        user: Some(user),
        default_status: statuses
            .first()
            .cloned()
            .unwrap_or_else(|| "Potential".into()),
        new_fields,
        errors,
        sum,
        started,
        rows_at_start: cp.rows_done as u64,
        ours_since: resume
            .as_ref()
            .and_then(|c| rapport_core::time::parse(&c.started_at))
            .map(|t| t.timestamp_millis().max(0) as u64),
        cp,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(3);
    let job = ReaderJob {
        path: path.to_path_buf(),
        dialect,
        cap: opts.max_record_bytes,
        rules,
        skip: run.cp.rows_done as u64,
        // A checkpoint that committed no row holds byte 0, not where the first row starts.
        expect_byte: resume
            .as_ref()
            .filter(|c| c.rows_done > 0)
            .map(|c| c.byte_offset as u64),
        chunk_rows: opts.chunk_rows.max(1),
        cancel: cancel.clone(),
    };
    let reader = reader::spawn(job, tx)?;
    let result = run.drive(&mut rx, progress, &cancel, ident.size).await;
    drop(rx);
    let _ = reader.join();
    result?;
    run.sum.seconds = run.started.elapsed().as_secs_f64();
    if !run.sum.cancelled && !opts.dry_run {
        store.finish_import(&run.cp.id, &run.summary_json()).await?;
    }
    run.sum.errors_file = run.errors.written_path();
    Ok((run.sum, run.index))
}

/// Canonical spelling of existing custom fields, their types and choices, and the fields to
/// create (checked here, so a bad name fails before anything is written).
#[allow(clippy::type_complexity)]
fn custom_fields(
    targets: &mut [Target],
    mapping: &Mapping,
    fields: &[CustomFieldDef],
) -> Result<
    (
        BTreeMap<String, FieldType>,
        BTreeMap<String, Vec<String>>,
        Vec<(String, FieldTarget, FieldType)>,
    ),
    CsvError,
> {
    let mut types = BTreeMap::new();
    let mut choices = BTreeMap::new();
    let mut new = Vec::new();
    for t in targets.iter_mut() {
        let (name, target) = match t {
            Target::LeadCustom(n) => (n, FieldTarget::Lead),
            Target::ContactCustom(n) => (n, FieldTarget::Contact),
            _ => continue,
        };
        match crate::defs::find_field(fields, target, name) {
            Some(def) => {
                *name = crate::defs::value_key(def).to_string();
                types.insert(name.clone(), def.kind);
                choices.insert(def.name.to_lowercase(), def.choices.clone());
            }
            None => {
                if name.chars().count() > 100 || name.contains(['"', '\n']) {
                    return Err(CsvError::input(
                        "csv_mapping",
                        format!(
                            "`{name}` cannot be a custom field name (at most 100 characters, no quotes or line breaks); map the column elsewhere or to skip"
                        ),
                    ));
                }
                let kind = mapping
                    .custom_types
                    .get(name.as_str())
                    .copied()
                    .unwrap_or(FieldType::Text);
                if kind == FieldType::Choice {
                    return Err(CsvError::input(
                        "csv_mapping",
                        format!(
                            "custom field `{name}` does not exist; an import creates text, number or date fields only"
                        ),
                    ));
                }
                types.insert(name.clone(), kind);
                new.push((name.clone(), target, kind));
            }
        }
    }
    Ok((types, choices, new))
}

impl Run<'_> {
    fn summary_json(&self) -> String {
        let mut s = self.sum.clone();
        s.problems.clear();
        s.preview.clear();
        s.mapping = None;
        serde_json::to_string(&s).unwrap_or_default()
    }

    fn report(
        &self,
        phase: Phase,
        rows_total: u64,
        bytes: u64,
        bytes_total: u64,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = (self.sum.rows_done - self.rows_at_start) as f64 / secs;
        let left = rows_total.saturating_sub(self.sum.rows_done) as f64;
        progress(&Progress {
            phase,
            rows_done: self.sum.rows_done,
            rows_total,
            bytes_done: bytes.min(bytes_total),
            bytes_total,
            rows_per_sec: rate,
            eta_secs: (rate > 0.0 && phase == Phase::Importing).then(|| left / rate),
            leads_created: self.sum.counts.leads_created,
            leads_updated: self.sum.counts.leads_updated,
            errors: self.sum.rows_failed,
        });
    }

    async fn drive(
        &mut self,
        rx: &mut tokio::sync::mpsc::Receiver<Msg>,
        progress: &(dyn Fn(&Progress) + Send + Sync),
        cancel: &AtomicBool,
        size: u64,
    ) -> Result<(), CsvError> {
        let mut total = 0;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Scan { rows, bytes } => {
                    progress(&Progress {
                        phase: Phase::Scanning,
                        rows_done: rows,
                        rows_total: 0,
                        bytes_done: bytes,
                        bytes_total: size,
                        rows_per_sec: 0.0,
                        eta_secs: None,
                        leads_created: 0,
                        leads_updated: 0,
                        errors: 0,
                    });
                }
                Msg::Total { rows } => {
                    total = rows;
                    self.sum.rows_total = rows;
                    self.report(Phase::Matching, total, 0, size, progress);
                    self.index.load(self.store, self.ours_since).await?;
                }
                Msg::Failed(e) => return Err(e),
                Msg::Chunk(c) => {
                    let last = c.last;
                    let bytes = if last { size } else { c.raw_bytes };
                    self.chunk(c).await?;
                    self.report(
                        if last { Phase::Done } else { Phase::Importing },
                        total,
                        bytes,
                        size,
                        progress,
                    );
                    if last {
                        return Ok(());
                    }
                }
            }
            if cancel.load(Ordering::Relaxed) {
                self.sum.cancelled = true;
                return Ok(());
            }
        }
        // The reader stopped without a last chunk: it saw the cancel flag.
        self.sum.cancelled = true;
        Ok(())
    }

    async fn chunk(&mut self, chunk: Chunk) -> Result<(), CsvError> {
        let now = self.store.now();
        let mut n = Counts::default();
        let mut new: Vec<LeadBundle> = Vec::new();
        let mut new_at: HashMap<Id, usize> = HashMap::new();
        let mut updates: Vec<(Id, Vec<RowData>)> = Vec::new();
        let mut update_at: HashMap<Id, usize> = HashMap::new();
        let mut bad = Vec::new();
        let mut wanted_statuses = BTreeSet::new();
        self.sum.rows_done = chunk.rows_end;
        for p in chunk.rows {
            let row = match p {
                Parsed::Blank => {
                    self.sum.rows_blank += 1;
                    continue;
                }
                Parsed::Bad { record, problem } => {
                    bad.push((record, problem));
                    continue;
                }
                Parsed::Row(r) => *r,
            };
            self.sum.rows_imported += 1;
            if let Some(o) = &row.lead.unmatched_owner
                && self.sum.unmatched_owners.len() < 20
                && !self.sum.unmatched_owners.contains(o)
            {
                self.sum.unmatched_owners.push(o.clone());
            }
            if let Some(s) = &row.lead.status {
                wanted_statuses.insert(s.clone());
            }
            let id = match self.index.find(&row) {
                Some(id) if new_at.contains_key(&id) => {
                    merge::apply_row(
                        &mut new[new_at[&id]],
                        &row,
                        now,
                        self.user,
                        &mut self.ids,
                        &mut n,
                    );
                    id
                }
                Some(id) => {
                    let i = *update_at.entry(id).or_insert_with(|| {
                        updates.push((id, vec![]));
                        updates.len() - 1
                    });
                    updates[i].1.push(row.clone());
                    id
                }
                None => {
                    let mut b =
                        merge::new_lead(&row, now, &self.default_status, self.user, &mut self.ids);
                    merge::apply_row(&mut b, &row, now, self.user, &mut self.ids, &mut n);
                    let id = b.lead.id;
                    self.index.add_new(id, &b.lead.name, &row);
                    new_at.insert(id, new.len());
                    new.push(b);
                    n.leads_created += 1;
                    continue;
                }
            };
            self.index.add_row(id, &row);
        }
        let mut w = self.store.begin_write().await?;
        self.ensure_fields(&mut w).await?;
        self.ensure_statuses(&mut w, &wanted_statuses).await?;
        for b in &mut new {
            let key = validate::status_key(&b.lead.status_label);
            if let Some(s) = w
                .ctx
                .statuses
                .iter()
                .find(|s| validate::status_key(s) == key)
            {
                b.lead.status_label = s.clone();
            }
        }
        let room = self
            .opts
            .preview_leads
            .saturating_sub(self.sum.preview.len());
        if self.opts.dry_run && room > 0 {
            self.sum.preview.extend(new.iter().take(room).cloned());
        }
        // The exact keys of every lead this chunk touches, for `MatchIndex::settle`.
        let mut settled: Vec<(Id, Option<LeadKeys>, Option<LeadKeys>)> = new
            .iter()
            .map(|b| (b.lead.id, None, Some(LeadKeys::of(&b.lead, &b.contacts))))
            .collect();
        if !self.opts.dry_run && !new.is_empty() {
            w.insert_new_bundles(new).await?;
        }
        let wanted: Vec<Id> = updates
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !(self.opts.dry_run && self.index.is_ours(*id)))
            .collect();
        let mut targets = w.merge_targets(&wanted).await?;
        for (id, rows) in &updates {
            let ours = self.index.is_ours(*id);
            if self.opts.dry_run && ours {
                n.contacts_created += rows.iter().filter(|r| r.contact.is_some()).count() as u64;
                continue;
            }
            let target = targets.remove(id);
            let old = target.as_ref().map(|(l, c, _)| LeadKeys::of(l, c));
            let now = merge::update_existing(&mut w, target, rows, ours, &mut n).await?;
            let gone = now.is_none();
            settled.push((*id, old, now.map(|(l, c)| LeadKeys::of(&l, &c))));
            if gone {
                for r in rows {
                    bad.push((
                        vec![],
                        Problem {
                            line: r.line,
                            column: None,
                            reason: "the matching lead was deleted during the import".into(),
                        },
                    ));
                }
            }
        }
        self.sum.rows_failed += bad.len() as u64;
        for (record, problem) in bad {
            self.errors.push(&record, &problem)?;
            if self.sum.problems.len() < MAX_PROBLEMS {
                self.sum.problems.push(problem);
            }
        }
        let c = &mut self.sum.counts;
        for (a, b) in [
            (&mut c.leads_created, n.leads_created),
            (&mut c.leads_updated, n.leads_updated),
            (&mut c.leads_unchanged, n.leads_unchanged),
            (&mut c.contacts_created, n.contacts_created),
            (&mut c.contacts_updated, n.contacts_updated),
            (&mut c.contacts_skipped, n.contacts_skipped),
            (&mut c.notes_created, n.notes_created),
        ] {
            *a += b;
        }
        if self.opts.dry_run {
            self.index.keep_log();
            return Ok(()); // `w` rolls back
        }
        self.index.settle(settled);
        self.cp.errors_len = self.errors.sync()? as i64;
        self.cp.rows_done = chunk.rows_end as i64;
        self.cp.byte_offset = chunk.byte_end as i64;
        self.cp.next_line = chunk.next_line as i64;
        self.cp.updated_at = now_text(self.store);
        self.cp.summary = self.summary_json();
        w.save_import(&self.cp).await?;
        w.commit().await?;
        Ok(())
    }

    /// Creates the custom fields the mapping needs (a dry run only adds them to the context).
    async fn ensure_fields(&mut self, w: &mut rapport_store::Writer) -> Result<(), CsvError> {
        for (name, target, kind) in &self.new_fields {
            if crate::defs::find_field(&w.ctx.fields, *target, name).is_some() {
                continue;
            }
            let (def, plan) = ops::add_field(name, *kind, *target, vec![], &mut w.ctx)?;
            if !self.opts.dry_run {
                w.apply(plan).await?;
            }
            w.ctx.fields.push(def.clone());
            if !self.sum.created_fields.contains(&def.name) {
                self.sum.created_fields.push(def.name);
            }
        }
        Ok(())
    }

    async fn ensure_statuses(
        &mut self,
        w: &mut rapport_store::Writer,
        wanted: &BTreeSet<String>,
    ) -> Result<(), CsvError> {
        for label in wanted {
            let key = validate::status_key(label);
            if w.ctx
                .statuses
                .iter()
                .any(|s| validate::status_key(s) == key)
            {
                continue;
            }
            let existing = w.statuses().await?;
            let (s, plan) = ops::add_status(label, &existing, &mut w.ctx)?;
            if !self.opts.dry_run {
                w.apply(plan).await?;
            }
            w.ctx.statuses.push(s.label.clone());
            if !self.sum.created_statuses.contains(&s.label) {
                self.sum.created_statuses.push(s.label);
            }
        }
        Ok(())
    }
}
