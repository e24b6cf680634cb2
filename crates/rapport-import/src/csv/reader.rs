//! The reader thread: first a structural pass over the whole file (row count, oversized records
//! — so a bad file fails before anything is written), then the rows, parsed and validated, in
//! chunks cut where the company changes. Blocking IO only; talks to the importer by channel.

use super::CsvError;
use super::row::{Parsed, RowRules};
use super::source::{self, Dialect};
use super::values::{key, name_norm};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc::Sender;

/// Rows of one transaction and where the file stands after them.
#[derive(Debug)]
pub struct Chunk {
    pub rows: Vec<Parsed>,
    /// Records (after the header) consumed up to the end of this chunk, from the file start.
    pub rows_end: u64,
    /// Decoded byte offset and line of the next record.
    pub byte_end: u64,
    pub next_line: u64,
    /// Raw bytes read so far (progress).
    pub raw_bytes: u64,
    pub last: bool,
}

#[derive(Debug)]
pub enum Msg {
    Scan { rows: u64, bytes: u64 },
    Total { rows: u64 },
    Chunk(Chunk),
    Failed(CsvError),
}

pub struct ReaderJob {
    pub path: PathBuf,
    pub dialect: Dialect,
    pub cap: usize,
    pub rules: RowRules,
    /// Records to skip (resume) and where they must end.
    pub skip: u64,
    pub expect_byte: Option<u64>,
    pub chunk_rows: usize,
    pub cancel: Arc<AtomicBool>,
}

/// Runs the job on a new thread.
pub fn spawn(job: ReaderJob, tx: Sender<Msg>) -> Result<std::thread::JoinHandle<()>, CsvError> {
    std::thread::Builder::new()
        .name("csv-reader".into())
        .spawn(move || {
            if let Err(e) = run(&job, &tx) {
                let _ = tx.blocking_send(Msg::Failed(e));
            }
        })
        .map_err(|e| CsvError::io("cannot start the reader thread", e))
}

fn group_key(p: &Parsed) -> Option<u64> {
    match p {
        Parsed::Row(r) => Some(
            match (
                r.lead.domain.as_ref().or(r.lead.email_domain.as_ref()),
                &r.lead.company,
            ) {
                (Some(d), _) => key(1, d),
                (None, Some(c)) => key(2, &name_norm(c)),
                (None, None) => key(3, &r.lead_name),
            },
        ),
        _ => None,
    }
}

fn run(job: &ReaderJob, tx: &Sender<Msg>) -> Result<(), CsvError> {
    let path = job.path.as_path();
    let send = |m: Msg| {
        tx.blocking_send(m)
            .map_err(|_| CsvError::input("cancelled", "the import stopped"))
    };
    let stop = || job.cancel.load(Ordering::Relaxed);
    // Pass 1: structure only.
    let (mut rdr, bytes) = source::open(path, job.dialect, job.cap)?;
    source::header(&mut rdr, path)?;
    let mut rec = ::csv::ByteRecord::new();
    let mut total = 0u64;
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| source::read_error(e, path))?
    {
        total += 1;
        if total.is_multiple_of(50_000) {
            send(Msg::Scan {
                rows: total,
                bytes: bytes.load(Ordering::Relaxed),
            })?;
            if stop() {
                return Ok(());
            }
        }
    }
    send(Msg::Total { rows: total })?;
    // Pass 2: the rows.
    let (mut rdr, bytes) = source::open(path, job.dialect, job.cap)?;
    source::header(&mut rdr, path)?;
    let mut rec = ::csv::StringRecord::new();
    for _ in 0..job.skip {
        if !rdr
            .read_record(&mut rec)
            .map_err(|e| source::read_error(e, path))?
        {
            break;
        }
    }
    if let Some(b) = job.expect_byte
        && rdr.position().byte() != b
    {
        return Err(CsvError::input(
            "csv_resume",
            format!(
                "{} changed since the interrupted import (row {} is no longer at byte {b}); import it again without --resume",
                path.display(),
                job.skip
            ),
        ));
    }
    let mut consumed = job.skip;
    let mut rows: Vec<Parsed> = Vec::with_capacity(job.chunk_rows + 16);
    let mut last_key = None;
    loop {
        let pos = rdr.position().clone();
        if !rdr
            .read_record(&mut rec)
            .map_err(|e| source::read_error(e, path))?
        {
            break;
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let parsed = job.rules.parse(line, &rec);
        let gk = group_key(&parsed).or(last_key);
        if rows.len() >= job.chunk_rows && (gk != last_key || rows.len() >= 2 * job.chunk_rows) {
            send(Msg::Chunk(Chunk {
                rows: std::mem::take(&mut rows),
                rows_end: consumed,
                byte_end: pos.byte(),
                next_line: pos.line(),
                raw_bytes: bytes.load(Ordering::Relaxed),
                last: false,
            }))?;
            if stop() {
                return Ok(());
            }
        }
        rows.push(parsed);
        consumed += 1;
        last_key = gk;
    }
    let pos = rdr.position().clone();
    send(Msg::Chunk(Chunk {
        rows,
        rows_end: consumed,
        byte_end: pos.byte(),
        next_line: pos.line(),
        raw_bytes: bytes.load(Ordering::Relaxed),
        last: true,
    }))?;
    Ok(())
}
