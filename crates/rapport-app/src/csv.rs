//! CSV import and export for every shell (the import wizard, `rapport import FILE.csv`):
//! preview with a suggested mapping, a cancellable import with progress, and export of all
//! leads or of a query's. The work itself lives in `rapport-import`.

use crate::{App, AppError, Result, SearchOptions};
use rapport_import::csv::{self as imp, CsvError, CsvExporter};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Files at least this large are imported with the indexer in bulk mode.
const BULK_FROM: u64 = 4 << 20;

/// How long an import waits for the search index to catch up with it before returning.
const INDEX_CATCH_UP: Duration = Duration::from_secs(600);

pub use rapport_import::csv::{
    CsvExportReport, CsvImportOptions, ImportSummary, Mapping, MatchKey, Phase as CsvPhase,
    Preview as CsvPreview, Progress as CsvProgress, Target as CsvTarget, UnknownColumns,
};

impl From<CsvError> for AppError {
    fn from(e: CsvError) -> Self {
        match e {
            CsvError::Store(s) => s.into(),
            other => AppError::new(other.code(), other.to_string()),
        }
    }
}

fn io_error(path: &Path, e: std::io::Error) -> AppError {
    AppError::new("io", format!("{}: {e}", path.display()))
}

impl App {
    /// Encoding, delimiter, headers, the first `sample_rows` rows and a suggested mapping.
    /// Fails (`csv_empty`, `csv_binary`, `csv_header`, `csv_no_rows`…) on a file that cannot
    /// be imported.
    pub async fn csv_preview(
        &self,
        path: impl AsRef<Path>,
        sample_rows: usize,
    ) -> Result<CsvPreview> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || imp::preview_csv(&path, sample_rows))
            .await
            .map_err(|e| AppError::new("internal", e.to_string()))?
            .map_err(Into::into)
    }

    /// Imports a CSV file. `mapping` `None` uses the suggested one (or the saved one when
    /// `options.resume`). `progress` is called after each chunk (and while scanning);
    /// setting `cancel` stops after the current chunk — `ImportSummary::cancelled` — and
    /// `options.resume` continues it later. Bad lines go to `FILE.errors.csv`.
    pub async fn import_csv(
        &self,
        path: impl AsRef<Path>,
        mapping: Option<Mapping>,
        options: CsvImportOptions,
        progress: impl Fn(&CsvProgress) + Send + Sync + 'static,
        cancel: Arc<AtomicBool>,
    ) -> Result<ImportSummary> {
        // Index while importing: the index is opened first (its indexer follows the outbox on
        // its own task) and nudged after each committed chunk, so indexing overlaps the
        // import instead of following it; the import returns once the index has caught up.
        let index = match options.dry_run {
            true => None,
            false => self.search_index().await.ok().cloned(),
        };
        // A large file puts the indexer in bulk mode for the import (one commit at the end,
        // no merging meanwhile): its leads become searchable together when it finishes.
        let bulk = index
            .as_ref()
            .filter(|i| i.status().writable)
            .filter(|_| std::fs::metadata(path.as_ref()).is_ok_and(|m| m.len() >= BULK_FROM));
        if let Some(index) = bulk {
            index.set_bulk(true);
        }
        let app = self.clone();
        let progress = move |p: &CsvProgress| {
            app.nudge_index();
            progress(p)
        };
        let summary = imp::import_csv(
            &self.store,
            path.as_ref(),
            mapping,
            &options,
            &progress,
            cancel,
        )
        .await;
        if let Some(index) = bulk {
            index.set_bulk(false);
        }
        let summary = summary?;
        if let Some(index) = index.filter(|i| i.status().writable && !summary.cancelled) {
            // Another process may own the index (then it follows by itself); a failure
            // here is the index's, not the import's: searches wait or rebuild as usual.
            let _ = index.wait_fresh(INDEX_CATCH_UP).await;
        } else {
            self.nudge_index();
        }
        Ok(summary)
    }

    /// Writes all leads (or those matching `query`) to `path` as CSV.
    pub async fn export_csv(
        &self,
        path: impl AsRef<Path>,
        query: Option<&str>,
    ) -> Result<CsvExportReport> {
        let path = path.as_ref();
        let f = std::fs::File::create(path).map_err(|e| io_error(path, e))?;
        self.export_csv_to(std::io::BufWriter::new(f), query).await
    }

    /// Like `export_csv`, to any writer (the CLI's standard output).
    pub async fn export_csv_to(
        &self,
        out: impl Write,
        query: Option<&str>,
    ) -> Result<CsvExportReport> {
        let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(imp::export_csv(&self.store, out).await?);
        };
        let mut x = CsvExporter::start(&self.store, out).await?;
        let mut offset = 0;
        loop {
            let opts = SearchOptions {
                limit: 500,
                offset,
                ..Default::default()
            };
            let page = self.search(q, opts).await?;
            for row in &page.rows {
                let id = row.lead.id.parse()?;
                let lead = self.store.lead_page(id).await?;
                x.lead(&lead.lead, &lead.contacts)?;
            }
            offset += page.rows.len();
            if page.rows.is_empty() || offset as u64 >= page.total {
                break;
            }
        }
        Ok(x.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preview_import_and_export_a_query() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(dir.path().join("a.db")).await.unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(
            &path,
            "Organization - Name,Person - Name,Person - Email - Work,Seats\n\
             Acme Inc,Ann Smith,ann@acme.com,12\nGlobex,Bob Jones,bob@globex.com,3\n",
        )
        .unwrap();
        let p = app.csv_preview(&path, 1).await.unwrap();
        assert_eq!(p.headers.len(), 4);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(
            p.mapping.columns["Organization - Name"],
            CsvTarget::LeadName
        );
        assert_eq!(
            p.mapping.columns["Seats"],
            CsvTarget::LeadCustom("Seats".into())
        );
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let on = move |x: &CsvProgress| s2.lock().unwrap().push(x.phase);
        let sum = app
            .import_csv(
                &path,
                Some(p.mapping),
                CsvImportOptions::default(),
                on,
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            (sum.counts.leads_created, sum.counts.contacts_created),
            (2, 2)
        );
        assert_eq!(seen.lock().unwrap().last(), Some(&CsvPhase::Done));
        // The import indexed as it went and left the index caught up.
        let index = app.search_index().await.unwrap();
        assert_eq!(index.indexed_seq(), app.store.last_seq().await.unwrap());
        let mut out = Vec::new();
        let r = app.export_csv_to(&mut out, Some("acme")).await.unwrap();
        assert_eq!((r.leads, r.rows), (1, 1));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Acme Inc") && !text.contains("Globex"),
            "{text}"
        );
        let e = app
            .csv_preview(dir.path().join("missing.csv"), 5)
            .await
            .unwrap_err();
        assert_eq!(e.code, "io");
    }
}
