//! [`SearchIndex`]: the tantivy index of one store, living next to it (`<db>.index/`). Opening
//! checks the index against the store (schema version, store identity, outbox position) and
//! rebuilds it when it is missing, damaged or incompatible; then an indexer task keeps it
//! caught up. Searching waits until the index reflects every committed write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rapport_core::Id;
use rapport_query::{Diagnostic, parse_lenient};
use rapport_store::Store;
use serde::Serialize;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyError, Warmer};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::collect::{Key, TopCollector};
use crate::indexer::{Cmd, HEAP, Indexer, Payload, Progress, ReindexReport, Shared};
use crate::plan::{Context, Plan, SortSource, plan_text};
use crate::query::{Builder, SegmentCache};
use crate::schema::{
    Fields, MARKED_TOKENIZER, SCHEMA_VERSION, TOKENIZER, analyzer, marked_analyzer,
};
use crate::time::Clock;
use crate::{Error, Result};

/// How long a search waits for the index to catch up with the store.
const FRESH_TIMEOUT: Duration = Duration::from_secs(60);

/// One matching lead: its id and the values of the sort keys, in `Hits::sort` order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub id: Id,
    pub values: Vec<serde_json::Value>,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hits {
    /// Every matching lead, not just this page.
    pub total: u64,
    pub rows: Vec<Hit>,
    /// The sort keys as written (`relevance`, `-updated`, …).
    pub sort: Vec<String>,
    /// True when the index could not be brought up to date in time (another process owns
    /// it and has not caught up, or a bulk import is running): the results may miss the
    /// newest writes.
    pub stale: bool,
}

/// The index's state, for status displays.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStatus {
    pub dir: String,
    /// Last outbox sequence number the index reflects.
    pub seq: i64,
    pub building: bool,
    /// False when another process owns the index writer (this one only reads).
    pub writable: bool,
    pub error: Option<String>,
}

/// A handle to the index of one store. Cheap to clone; the indexer stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Per-segment document lists the queries reuse; the reader's warmer.
    cache: Arc<SegmentCache>,
    shared: Arc<Shared>,
    seq: watch::Receiver<i64>,
    commands: Option<mpsc::UnboundedSender<Cmd>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

/// Where the index of the store at `db` lives.
pub fn index_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".index");
    db.with_file_name(name)
}

/// Opens the index at `dir` if it is usable for this store, with its indexed seq.
fn open_existing(dir: &Path, fields: &Fields, node: &str, last_seq: i64) -> Option<(Index, i64)> {
    let index = Index::open_in_dir(dir).ok()?;
    let same_schema = serde_json::to_string(&index.schema()).ok()?
        == serde_json::to_string(&fields.schema).ok()?;
    let payload: Payload =
        serde_json::from_str(index.load_metas().ok()?.payload.as_deref()?).ok()?;
    let ok = same_schema && payload.v == SCHEMA_VERSION && payload.node == node;
    (ok && payload.seq <= last_seq).then_some((index, payload.seq))
}

impl SearchIndex {
    /// Opens (creating or rebuilding as needed) the index of `store` and starts its indexer.
    /// Returns at once; searches wait until the index has caught up.
    pub async fn open(store: Store) -> Result<SearchIndex> {
        let dir = index_dir(store.path());
        let fields = Fields::new();
        let node = format!("{:016x}", store.node().0);
        let last_seq = store.last_seq().await?;
        let (index, seq, fresh) = match open_existing(&dir, &fields, &node, last_seq) {
            Some((index, seq)) => (index, seq, false),
            None => {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .map_err(|e| Error::Io(format!("cannot remove {}: {e}", dir.display())))?;
                }
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
                (Index::create_in_dir(&dir, fields.schema.clone())?, 0, true)
            }
        };
        index.tokenizers().register(TOKENIZER, analyzer());
        index
            .tokenizers()
            .register(MARKED_TOKENIZER, marked_analyzer());
        let cache = Arc::new(SegmentCache::new(&fields));
        let warmer: Weak<dyn Warmer> = Arc::downgrade(&cache) as Weak<dyn Warmer>;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .warmers(vec![warmer])
            .try_into()?;
        let writer = match index.writer_with_num_threads(crate::indexer::THREADS, HEAP) {
            Ok(w) => Some(w),
            Err(TantivyError::LockFailure(..)) => None,
            Err(e) => return Err(e.into()),
        };
        let (seq_tx, seq_rx) = watch::channel(seq);
        let shared = Arc::new(Shared {
            seq: seq_tx,
            nudge: Notify::new(),
            building: AtomicBool::new(fresh && writer.is_some()),
            bulk: AtomicBool::new(false),
            error: std::sync::Mutex::new(None),
        });
        let (commands, task) = match writer {
            Some(writer) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let indexer = Indexer {
                    store: store.clone(),
                    fields: fields.clone(),
                    writer: Some(writer),
                    reader: reader.clone(),
                    shared: shared.clone(),
                    node,
                    seq,
                    needs_rebuild: fresh,
                    added: Default::default(),
                    uncommitted: 0,
                    in_bulk: false,
                    compacted: 0,
                };
                (Some(tx), Some(tokio::spawn(indexer.run(rx))))
            }
            None => (None, None),
        };
        Ok(SearchIndex {
            inner: Arc::new(Inner {
                store,
                dir,
                index,
                reader,
                fields,
                cache,
                shared,
                seq: seq_rx,
                commands,
                task,
            }),
        })
    }

    /// Tells the indexer the store changed (call after every local write).
    pub fn nudge(&self) {
        self.inner.shared.nudge.notify_one();
    }

    /// Bulk mode, for large imports: the indexer keeps following the outbox but with a
    /// larger writer, no merging and no commit per batch, so new documents become
    /// searchable when bulk mode is turned off (then it commits at once). Turn it off
    /// before waiting with [`SearchIndex::wait_fresh`].
    pub fn set_bulk(&self, on: bool) {
        self.inner.shared.bulk.store(on, Ordering::SeqCst);
        self.nudge();
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The last outbox sequence number the index reflects.
    pub fn indexed_seq(&self) -> i64 {
        if self.inner.commands.is_none() {
            return self.read_only_seq();
        }
        *self.inner.seq.borrow()
    }

    fn read_only_seq(&self) -> i64 {
        let _ = self.inner.reader.reload();
        self.inner
            .index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
            .map_or(0, |p| p.seq)
    }

    pub fn status(&self) -> IndexStatus {
        IndexStatus {
            dir: self.inner.dir.display().to_string(),
            seq: self.indexed_seq(),
            building: self.inner.shared.building.load(Ordering::SeqCst),
            writable: self.inner.commands.is_some(),
            error: self.inner.shared.error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// Total size of the index files, in bytes.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.inner.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Waits until the index reflects every write committed so far; false on timeout.
    pub async fn wait_fresh(&self, timeout: Duration) -> Result<bool> {
        let target = self.inner.store.last_seq().await?;
        let deadline = Instant::now() + timeout;
        if self.inner.commands.is_none() {
            while self.read_only_seq() < target {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Ok(true);
        }
        if *self.inner.seq.borrow() >= target {
            return Ok(true);
        }
        self.nudge();
        let mut rx = self.inner.seq.clone();
        let wait = rx.wait_for(|seq| *seq >= target);
        Ok(matches!(
            tokio::time::timeout_at(deadline.into(), wait).await,
            Ok(Ok(_))
        ))
    }

    /// The context a query is planned in: custom fields, Smart Views, the local user, and
    /// the closed sets values are checked against (lead statuses, users).
    pub async fn context(&self, clock: Clock) -> Result<Context> {
        let store = &self.inner.store;
        Ok(Context {
            clock,
            me: Some(store.local_user().await?.id),
            fields: store.fields().await?,
            views: store.views().await?,
            statuses: store
                .statuses()
                .await?
                .into_iter()
                .map(|s| s.label)
                .collect(),
            users: store.users().await?,
        })
    }

    /// Every problem with `text`: the parser's, then the planner's (unknown custom fields or
    /// Smart Views, wrong-typed values, view cycles).
    pub async fn check(&self, text: &str, clock: Clock) -> Result<Vec<Diagnostic>> {
        let ctx = self.context(clock).await?;
        Ok(check(text, &ctx))
    }

    /// Runs a query: parses, plans, waits for the index to be fresh, then searches.
    pub async fn search(
        &self,
        text: &str,
        clock: Clock,
        offset: usize,
        limit: usize,
    ) -> Result<Hits> {
        let ctx = self.context(clock).await?;
        let plan = plan_text(text, &ctx).map_err(Error::Query)?;
        self.run(&plan, offset, limit).await
    }

    /// Runs a planned query.
    pub async fn run(&self, plan: &Plan, offset: usize, limit: usize) -> Result<Hits> {
        // In bulk mode the index is behind until the import ends: answer at once from what
        // is committed (marked stale) instead of waiting for it.
        let timeout = match self.inner.shared.bulk.load(Ordering::SeqCst) {
            true => Duration::ZERO,
            false => FRESH_TIMEOUT,
        };
        let fresh = self.wait_fresh(timeout).await?;
        let mut hits = self.run_now(plan, offset, limit)?;
        hits.stale = !fresh;
        Ok(hits)
    }

    /// Runs a planned query on what is indexed now, without waiting.
    pub fn run_now(&self, plan: &Plan, offset: usize, limit: usize) -> Result<Hits> {
        let searcher = self.inner.reader.searcher();
        let builder = Builder {
            f: &self.inner.fields,
            cache: &self.inner.cache,
        };
        let query = builder.root("lead", &plan.node)?;
        let collector = TopCollector {
            specs: plan.sort.clone(),
            keep: offset.saturating_add(limit),
        };
        let (total, entries) = searcher.search(&*query, &collector)?;
        let rows = entries
            .into_iter()
            .skip(offset)
            .map(|e| Hit {
                id: Id(ulid::Ulid(e.id)),
                values: e
                    .keys
                    .iter()
                    .zip(&plan.sort)
                    .map(|(k, s)| key_json(k, &s.source))
                    .collect(),
            })
            .collect();
        Ok(Hits {
            total: total as u64,
            rows,
            sort: plan.sort.iter().map(|s| s.label.clone()).collect(),
            stale: false,
        })
    }

    /// Rebuilds the index from the store. `progress(done, total)` is called per page;
    /// setting `cancel` stops and keeps the previous index.
    pub async fn reindex(
        &self,
        progress: Option<Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<ReindexReport> {
        let Some(commands) = &self.inner.commands else {
            return Err(Error::Busy(
                "another Rapport process owns the search index".into(),
            ));
        };
        let (reply, rx) = oneshot::channel();
        commands
            .send(Cmd::Rebuild {
                progress,
                cancel,
                reply,
            })
            .map_err(|_| Error::Busy("the indexer stopped".into()))?;
        rx.await
            .map_err(|_| Error::Busy("the indexer stopped".into()))?
    }
}

/// Every problem with `text` in `ctx`, sorted by position (parser's first).
pub fn check(text: &str, ctx: &Context) -> Vec<Diagnostic> {
    let (_, mut diagnostics) = parse_lenient(text);
    if diagnostics.is_empty()
        && let Err(d) = plan_text(text, ctx)
    {
        diagnostics.push(d);
    }
    diagnostics
}

fn key_json(key: &Key, source: &SortSource) -> serde_json::Value {
    use serde_json::Value as J;
    match key {
        Key::Missing => J::Null,
        Key::I(ms) if matches!(source, SortSource::I64 { date: true, .. }) => {
            chrono::DateTime::from_timestamp_millis(*ms)
                .map(|t| J::String(rapport_core::time::fmt(&t)))
                .unwrap_or(J::Null)
        }
        Key::I(n) => J::from(*n),
        Key::F(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Key::Str(s) => J::String(s.clone()),
        Key::Ord(o) => J::from(*o),
    }
}
