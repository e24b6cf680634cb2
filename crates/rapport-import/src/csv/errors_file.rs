//! `FILE.errors.csv`: every rejected line with its original columns, its line number and the
//! reason, written next to the input. Synced before the chunk that rejected them commits, and
//! cut back to the committed length when an import resumes, so no line is listed twice.

use super::{CsvError, Problem};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

pub struct ErrorsFile {
    path: Option<PathBuf>,
    headers: Vec<String>,
    out: Option<::csv::Writer<File>>,
}

/// `leads.csv` → `leads.errors.csv`.
pub fn errors_path(input: &Path) -> PathBuf {
    input.with_extension("errors.csv")
}

impl ErrorsFile {
    pub fn disabled() -> ErrorsFile {
        ErrorsFile {
            path: None,
            headers: vec![],
            out: None,
        }
    }

    /// A fresh import removes a stale error file; a resumed one cuts it to `resume_len`.
    pub fn open(
        input: &Path,
        headers: &[String],
        resume_len: Option<u64>,
    ) -> Result<ErrorsFile, CsvError> {
        let path = errors_path(input);
        let io = |e: std::io::Error| CsvError::io(format!("cannot write {}", path.display()), e);
        match resume_len {
            Some(len) if len > 0 && path.exists() => {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(len))
                    .map_err(io)?;
            }
            _ if path.exists() => std::fs::remove_file(&path).map_err(io)?,
            _ => {}
        }
        Ok(ErrorsFile {
            path: Some(path),
            headers: headers.to_vec(),
            out: None,
        })
    }

    pub fn push(&mut self, record: &[String], p: &Problem) -> Result<(), CsvError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io =
            |e: &dyn std::fmt::Display| CsvError::io(format!("cannot write {}", path.display()), e);
        if self.out.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io(&e))?;
            let fresh = f.metadata().map(|m| m.len() == 0).unwrap_or(true);
            let mut w = ::csv::WriterBuilder::new().flexible(true).from_writer(f);
            if fresh {
                let mut head = self.headers.clone();
                head.extend(["_line".to_string(), "_error".to_string()]);
                w.write_record(&head).map_err(|e| io(&e))?;
            }
            self.out = Some(w);
        }
        let n = self.headers.len();
        let mut row: Vec<String> = record.iter().take(n).cloned().collect();
        row.resize(n, String::new());
        let reason = match &p.column {
            Some(c) => format!("{} (column `{c}`)", p.reason),
            None => p.reason.clone(),
        };
        row.extend([p.line.to_string(), reason]);
        if let Some(w) = self.out.as_mut() {
            w.write_record(&row).map_err(|e| io(&e))?;
        }
        Ok(())
    }

    /// Flushes and syncs; returns the file's length (0 when there is none).
    pub fn sync(&mut self) -> Result<u64, CsvError> {
        let Some(w) = self.out.as_mut() else {
            return Ok(self
                .path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .unwrap_or(0));
        };
        let io = |e: std::io::Error| CsvError::io("cannot write the error file", e);
        w.flush().map_err(io)?;
        w.get_ref().sync_data().map_err(io)?;
        Ok(w.get_ref().metadata().map_err(io)?.len())
    }

    /// The file, when it holds any rejected line.
    pub fn written_path(&mut self) -> Option<String> {
        let _ = self.sync();
        let p = self.path.as_ref()?;
        (std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) > 0).then(|| p.display().to_string())
    }
}
