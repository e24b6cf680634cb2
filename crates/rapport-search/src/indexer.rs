//! The indexer task: the only owner of the `IndexWriter`. It follows the store through the
//! outbox — reads entries after the last indexed `seq` (kept in the commit payload),
//! re-reads the touched leads and replaces their documents (delete by lead id, then add) —
//! and rebuilds the whole index from SQLite on request or when the backlog is large.
//! Woken by `nudge` after local writes, and polls for other processes' writes.
//!
//! A lead's documents always go to the writer as one operation group (lead first), so they
//! land contiguously in one segment: sub-queries rely on it (see `query`). A rebuild runs
//! with a larger writer heap and no merging, so it writes a few large segments once.
//!
//! Bulk mode (turned on by a large import, see [`Shared::bulk`]) follows the outbox the same
//! way but with the rebuild's kind of writer and one commit at the end instead of one per
//! batch: per-batch commits made many small segments that were then merged over and over.
//! In every mode a lead's old documents are deleted only when it may have some (it is in
//! the committed index or was added since the last commit): a delete costs a term lookup
//! in every segment at commit time, and an import's leads are mostly new.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rapport_core::Id;
use rapport_store::{IndexRow, RawPage, Store};
use serde::{Deserialize, Serialize};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy, UserOperation};
use tantivy::{IndexReader, IndexWriter, TantivyDocument, Term};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::document::{Users, lead_docs};
use crate::schema::{Fields, SCHEMA_VERSION};
use crate::{Error, Result};

/// How often the indexer looks for writes by other processes.
pub const POLL: Duration = Duration::from_millis(250);
/// Outbox entries per incremental batch.
const BATCH: i64 = 20_000;
/// A backlog longer than this is cheaper to rebuild than to replay.
const REBUILD_BACKLOG: i64 = 2_000_000;
/// Leads per rebuild page.
const PAGE: i64 = 2_000;
/// Pages a rebuild reads ahead of the document builder.
const PAGES_AHEAD: usize = 2;
/// Indexing threads (the machines this targets have two cores).
pub const THREADS: usize = 2;
/// The writer's heap (all threads) while following the outbox.
pub const HEAP: usize = 96 << 20;
/// The writer's heap during a rebuild: fewer, larger segments (4 at a million leads, where
/// 1 GiB made 6: each segment serializes its own copy of every common term; 1M rebuild
/// 118–121 → 110–116 CPU-s). Freed when the rebuild ends.
const REBUILD_HEAP: usize = 2 << 30;
/// Leads per operation group sent to the writer during a rebuild.
const GROUP: usize = 64;
/// The writer's heap in bulk mode (all threads).
const BULK_HEAP: usize = 160 << 20;
/// Change-feed entries between two compactions of the store's feed.
const COMPACT_EVERY: i64 = 2000;

/// In bulk mode, commit anyway after this many outbox entries (bounds what a crash redoes).
const BULK_COMMIT_EVERY: i64 = 2_000_000;

/// What a commit records: the schema version, the store it indexes and the last outbox
/// sequence number it reflects.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Payload {
    pub v: u32,
    pub node: String,
    pub seq: i64,
}

/// Progress callback: `(leads done, leads total)`.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ReindexReport {
    pub leads: u64,
    pub documents: u64,
    pub millis: u64,
    pub cancelled: bool,
}

pub enum Cmd {
    Rebuild {
        progress: Option<Progress>,
        cancel: Arc<AtomicBool>,
        reply: oneshot::Sender<Result<ReindexReport>>,
    },
}

/// Shared state the task reports into.
pub struct Shared {
    pub seq: watch::Sender<i64>,
    pub nudge: Notify,
    pub building: AtomicBool,
    /// Set while a large import runs: see the module docs. Cleared by the importer, after
    /// which the indexer commits and goes back to its usual writer.
    pub bulk: AtomicBool,
    pub error: std::sync::Mutex<Option<String>>,
}

pub struct Indexer {
    pub store: Store,
    pub fields: Fields,
    pub writer: Option<IndexWriter>,
    pub reader: IndexReader,
    pub shared: Arc<Shared>,
    pub node: String,
    pub seq: i64,
    /// Rebuild before anything else (a new, damaged or incompatible index).
    pub needs_rebuild: bool,
    /// Leads added to the writer since the last commit (the committed searcher can't see
    /// them, and they must be deleted before being added again).
    pub added: HashSet<Id>,
    /// Outbox entries in the writer but not committed (bulk mode), and whether the writer
    /// is the bulk one.
    pub uncommitted: i64,
    pub in_bulk: bool,
    /// The feed position the store's change feed was last compacted to.
    pub compacted: i64,
}

impl Indexer {
    /// The task body: catch up, then wait for nudges, polls and commands.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Cmd>) {
        if self.needs_rebuild {
            let result = self.rebuild(None, Arc::new(AtomicBool::new(false))).await;
            self.report(result.map(|_| ()));
        }
        loop {
            let result = self.catch_up().await;
            self.report(result);
            tokio::select! {
                _ = self.shared.nudge.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                cmd = commands.recv() => match cmd {
                    Some(Cmd::Rebuild { progress, cancel, reply }) => {
                        let result = self.rebuild(progress, cancel).await;
                        let _ = reply.send(result);
                    }
                    None => return,
                },
            }
        }
    }

    fn report(&self, result: Result<()>) {
        if let Ok(mut e) = self.shared.error.lock() {
            *e = result.err().map(|e| e.to_string());
        }
    }

    fn payload(&self, seq: i64) -> String {
        serde_json::to_string(&Payload {
            v: SCHEMA_VERSION,
            node: self.node.clone(),
            seq,
        })
        .unwrap_or_default()
    }

    async fn users(&self) -> Result<Users> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }

    /// Replays the outbox after the indexed `seq`. With the bulk writer, batches are
    /// committed only every `BULK_COMMIT_EVERY` entries and once bulk mode has ended and the
    /// backlog is replayed (an import usually ends well before its indexer: the rest of the
    /// backlog is replayed the bulk way too, not as a commit per batch).
    pub async fn catch_up(&mut self) -> Result<()> {
        let bulk = self.shared.bulk.load(Ordering::SeqCst);
        if bulk && !self.in_bulk {
            // Nothing is uncommitted here: every catch-up outside bulk mode commits.
            self.swap_writer(BULK_HEAP, false).await?;
            self.in_bulk = true;
        }
        let defer = self.in_bulk;
        let last = self.store.last_seq().await?;
        if last > self.seq && last - self.seq > REBUILD_BACKLOG && self.uncommitted == 0 {
            self.rebuild(None, Arc::new(AtomicBool::new(false))).await?;
            return Ok(());
        }
        let users = if last > self.seq {
            self.users().await?
        } else {
            Users::default()
        };
        while self.seq < last {
            let touched = self.store.touched_since(self.seq, BATCH).await?;
            if touched.entries == 0 {
                break;
            }
            for chunk in touched.leads.chunks(500) {
                let rows = self.store.index_rows(chunk).await?;
                self.replace(chunk, &rows, &users)?;
            }
            self.uncommitted += touched.last_seq - self.seq;
            self.seq = touched.last_seq;
            if !defer || self.uncommitted >= BULK_COMMIT_EVERY {
                self.commit(touched.last_seq).await?;
            }
        }
        if !bulk {
            if self.uncommitted > 0 {
                self.commit(self.seq).await?;
            }
            if self.in_bulk {
                self.swap_writer(HEAP, true).await?;
                self.in_bulk = false;
            }
        }
        Ok(())
    }

    /// Whether the committed index may hold documents of `id`.
    fn maybe_indexed(&self, searcher: &tantivy::Searcher, id: &str) -> Result<bool> {
        Ok(searcher.doc_freq(&Term::from_field_text(self.fields.lead_id, id))? > 0)
    }

    fn writer(&self) -> Result<&IndexWriter> {
        self.writer
            .as_ref()
            .ok_or_else(|| Error::Busy("the index writer is gone".into()))
    }

    /// Deletes the documents of `ids` (those that may have some) and adds those of `rows`
    /// (the ids still alive).
    fn replace(&mut self, ids: &[Id], rows: &[IndexRow], users: &Users) -> Result<()> {
        let searcher = self.reader.searcher();
        for id in ids {
            let text = id.to_string();
            if self.added.contains(id) || self.maybe_indexed(&searcher, &text)? {
                self.writer()?
                    .delete_term(Term::from_field_text(self.fields.lead_id, &text));
            }
        }
        self.added.extend(rows.iter().map(|r| r.bundle.lead.id));
        let writer = self.writer()?;
        for row in rows {
            let ops = lead_docs(&self.fields, row, users)
                .into_iter()
                .map(UserOperation::Add);
            writer.run(ops)?;
        }
        Ok(())
    }

    /// Replaces the writer by one with `heap` bytes, merging or not. Uncommitted changes
    /// are dropped (callers commit first).
    async fn swap_writer(&mut self, heap: usize, merge: bool) -> Result<()> {
        let Some(old) = self.writer.take() else {
            return Err(Error::Busy("the index writer is gone".into()));
        };
        let index = old.index().clone();
        let writer = tokio::task::spawn_blocking(move || {
            drop(old);
            let writer: IndexWriter = index.writer_with_num_threads(THREADS, heap)?;
            if !merge {
                writer.set_merge_policy(Box::new(NoMergePolicy));
            } else {
                writer.set_merge_policy(Box::new(LogMergePolicy::default()));
            }
            Ok::<_, tantivy::TantivyError>(writer)
        })
        .await
        .map_err(|e| Error::Busy(format!("the indexer stopped: {e}")))??;
        self.writer = Some(writer);
        Ok(())
    }

    /// Commits with `seq` in the payload (off the async threads), then reloads the reader.
    async fn commit(&mut self, seq: i64) -> Result<()> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Busy("the index writer is gone".into()))?;
        let payload = self.payload(seq);
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let result = (|| -> tantivy::Result<()> {
                let mut prepared = writer.prepare_commit()?;
                prepared.set_payload(&payload);
                prepared.commit()?;
                Ok(())
            })();
            (writer, result)
        })
        .await
        .map_err(|e| Error::Busy(format!("the indexer stopped: {e}")))?;
        self.writer = Some(writer);
        result?;
        self.reader.reload()?;
        self.seq = seq;
        self.added.clear();
        self.uncommitted = 0;
        self.shared.seq.send_replace(seq);
        // The store's change feed up to a committed position is no longer needed; dropped
        // now and then, not after every commit (it is a write of its own).
        if seq - self.compacted >= COMPACT_EVERY {
            self.store.compact_feed(seq).await?;
            self.compacted = seq;
        }
        Ok(())
    }

    /// Rebuilds every document from SQLite, the source of truth. Pages are read ahead while
    /// the previous one is turned into documents. Cancelling rolls back to the last commit.
    pub async fn rebuild(
        &mut self,
        progress: Option<Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<ReindexReport> {
        if self.uncommitted > 0 {
            // Bulk-mode work the swap would drop (a cancelled rebuild rolls back to it).
            self.commit(self.seq).await?;
        }
        self.shared.building.store(true, Ordering::SeqCst);
        self.in_bulk = false;
        let result = match self.swap_writer(REBUILD_HEAP, false).await {
            Ok(()) => self.rebuild_inner(progress, cancel).await,
            Err(e) => Err(e),
        };
        let restored = self.swap_writer(HEAP, true).await;
        self.shared.building.store(false, Ordering::SeqCst);
        let report = result?;
        restored?;
        Ok(report)
    }

    async fn rebuild_inner(
        &mut self,
        progress: Option<Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<ReindexReport> {
        let started = Instant::now();
        // Entries after this point are replayed by the next catch-up.
        let seq = self.store.last_seq().await?;
        let total = self.store.lead_count().await?.max(0) as u64;
        let users = self.users().await?;
        self.writer()?.delete_all_documents()?;
        let mut report = ReindexReport {
            leads: 0,
            documents: 0,
            millis: 0,
            cancelled: false,
        };
        // Three stages run at once: this task reads pages (on a connection of its own),
        // one blocking thread decodes them, turns them into documents and hands those to
        // the writer (blocking while its threads are busy), and the writer's threads index.
        // The writer moves to the builder thread and comes back when the pages end.
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Busy("the index writer is gone".into()))?;
        let (tx, mut rx) = mpsc::channel::<RawPage>(PAGES_AHEAD);
        let fields = self.fields.clone();
        let builder = tokio::task::spawn_blocking(move || {
            let mut documents = 0u64;
            while let Some(page) = rx.blocking_recv() {
                let rows = match page.decode() {
                    Ok(rows) => rows,
                    Err(e) => return (writer, documents, Err(Error::from(e))),
                };
                for chunk in rows.chunks(GROUP) {
                    let group: Vec<TantivyDocument> = chunk
                        .iter()
                        .flat_map(|row| lead_docs(&fields, row, &users))
                        .collect();
                    documents += group.len() as u64;
                    if let Err(e) = writer.run(group.into_iter().map(UserOperation::Add)) {
                        return (writer, documents, Err(Error::from(e)));
                    }
                }
            }
            (writer, documents, Ok(()))
        });
        let read = async {
            let mut reader = self.store.page_reader().await?;
            loop {
                if cancel.load(Ordering::Relaxed) {
                    report.cancelled = true;
                    return Ok::<(), rapport_store::Error>(());
                }
                let page = reader.next_page(PAGE).await?;
                if page.is_empty() {
                    return Ok(());
                }
                report.leads += page.len() as u64;
                if tx.send(page).await.is_err() {
                    return Ok(()); // the builder stopped: its error is reported below
                }
                if let Some(p) = &progress {
                    p(report.leads, total.max(report.leads));
                }
            }
        }
        .await
        .map_err(Error::from);
        drop(tx);
        let (writer, documents, built) = builder
            .await
            .map_err(|e| Error::Busy(format!("the indexer stopped: {e}")))?;
        self.writer = Some(writer);
        report.documents = documents;
        if let Err(e) = read.and(built) {
            if let Some(w) = self.writer.as_mut() {
                w.rollback()?;
            }
            return Err(e);
        }
        if report.cancelled {
            if let Some(w) = self.writer.as_mut() {
                w.rollback()?;
            }
        } else {
            self.commit(seq).await?;
        }
        report.millis = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
