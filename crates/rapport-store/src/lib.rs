//! Rapport's local store: SQLite through sqlx (WAL), migrations from `migrations/`, and the
//! execution of the core's operations — row, field clocks and outbox in one transaction.
//! Never depends on Tauri; never builds SQL from user text.

mod aggregates;
mod bulk;
mod error;
mod feed;
mod lookup;
mod phones;
mod read;
mod reports;
mod rows;
mod slot;
mod sync;
mod undo;
mod write;

pub use bulk::BulkReport;
pub use error::{Error, Result};
pub use feed::{IndexRow, PageReader, RawPage, Touched};
pub use lookup::{ContactKey, ImportCheckpoint, LeadKey, MergeTarget};
pub use phones::PhoneMatch;
pub use read::{
    Aggregates, LeadPage, LeadSummary, OutboxEntry, StoreStats, TIMELINE_PAGE, TimelinePage,
};
pub use reports::{
    CallsReport, CallsRow, FunnelMonth, FunnelReport, FunnelRow, PipelineReport, PipelineRow,
};
pub use sync::{ApplyReport, Join, Override, Progress, SyncPatch, SyncState, SyncStatus};
pub use undo::{UndoAction, UndoReport};
pub use write::Writer;

use chrono::Utc;
use rapport_core::ops::{self, Rng};
use rapport_core::time::Timestamp;
use rapport_core::{Hlc, NodeId, User};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The table that keeps records of `e`.
pub fn table_of(e: rapport_core::plan::Entity) -> &'static str {
    rows::table(e).name
}

/// The migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The wall clock a store reads (`Utc::now`, or a test's).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// An open store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The connection writes run on (outside the pool).
    writes: Arc<slot::Slot>,
    path: PathBuf,
    node: NodeId,
    rng: Arc<Mutex<Rng>>,
    clock: Clock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("node", &self.node)
            .finish()
    }
}

/// A random 64-bit value from the OS-seeded hasher keys (no extra dependency).
pub(crate) fn os_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    h.finish()
}

impl Store {
    /// Opens (creating if needed) the store at `path`, runs migrations and, on a new store,
    /// writes its node id, the local user and the default statuses.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, Arc::new(Utc::now), None).await
    }

    /// `open` with a given clock and, for reproducible runs (the sync simulation), a seed
    /// for the node id of a new store and for the ids this process generates.
    pub async fn open_with(
        path: impl AsRef<Path>,
        clock: Clock,
        seed: Option<u64>,
    ) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-32000")
            .pragma("temp_store", "memory");
        // No ping before handing out a connection: SQLite runs in this process, a ping only
        // costs a round trip to the connection's thread on every read.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await
            .map_err(|e| Error::Open(format!("{}: {e}", path.display())))?;
        MIGRATOR.run(&pool).await?;
        let mut store = Store {
            writes: Arc::new(slot::Slot::new(&opts)),
            pool,
            path,
            node: NodeId(0),
            rng: Arc::new(Mutex::new(Rng(seed.unwrap_or_else(os_random)))),
            clock,
        };
        store.node = store.init(seed).await?;
        Ok(store)
    }

    /// Replaces the wall clock (tests and reproducible demos).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Store {
        self.clock = Arc::new(clock);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
    pub fn node(&self) -> NodeId {
        self.node
    }
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// A fresh id from this store's generator and clock (seeded stores make the same ones).
    pub fn new_id(&self) -> rapport_core::Id {
        let r = ((self.next_seed() as u128) << 64 | self.next_seed() as u128) & ((1u128 << 80) - 1);
        rapport_core::Id::at(self.now(), r)
    }

    pub(crate) fn next_seed(&self) -> u64 {
        self.rng
            .lock()
            .map(|mut r| r.next_u64())
            .unwrap_or_else(|_| os_random())
    }

    async fn init(&self, seed: Option<u64>) -> Result<NodeId> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let node: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'node_id'")
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(n) = node {
            tx.commit().await?;
            return u64::from_str_radix(&n, 16)
                .map(NodeId)
                .map_err(|_| Error::Corrupt(format!("bad node_id `{n}`")));
        }
        let node = NodeId(seed.map(|s| Rng(s).next_u64()).unwrap_or_else(os_random));
        for (k, v) in [
            ("node_id", format!("{:016x}", node.0)),
            ("hlc", write::hlc_text(&Hlc::zero(node))),
            ("region", "US".to_string()),
        ] {
            sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?)")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // The seed records go through the operations like every other write.
        let mut w = self.begin_write().await?;
        let user_name = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty() && u != "root")
            .unwrap_or_else(|| "Me".into());
        let (user, plan) = ops::create_user(&user_name, None, &mut w.ctx)?;
        w.apply(plan).await?;
        w.set_meta("local_user", &user.id.to_string()).await?;
        // The default statuses are the same records on every store (fixed ids, the zero
        // clock): when stores join one org they are one set, and any real edit wins.
        let mut plan = rapport_core::Plan::default();
        for (position, label) in rapport_core::DEFAULT_STATUSES.iter().enumerate() {
            plan.push(rapport_core::Write::create(
                rapport_core::plan::Record::LeadStatus(rapport_core::LeadStatus {
                    id: rapport_core::LeadStatus::seed_id(label),
                    label: label.to_string(),
                    position: position as i64,
                }),
            ));
        }
        w.apply_seed(plan).await?;
        w.commit().await?;
        Ok(node)
    }

    /// The local user (the identity of this store's writes).
    pub async fn local_user(&self) -> Result<User> {
        let id: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'local_user'")
            .fetch_one(&self.pool)
            .await?;
        let data: String = sqlx::query_scalar("SELECT data FROM users WHERE id = ?")
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
        rows::decode(&data)
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Sets a local setting (not synced).
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        w.set_meta(key, value).await?;
        w.commit().await
    }

    /// Sets the default phone region (ISO 3166 alpha-2).
    pub async fn set_region(&self, region: &str) -> Result<()> {
        let region = region.trim().to_uppercase();
        if !rapport_core::validate::region_known(&region) {
            return Err(Error::Core(rapport_core::Error::invalid(
                "region",
                format!("`{region}` is not a known region code (e.g. US, GB, DE)"),
            )));
        }
        sqlx::query("UPDATE meta SET value = ? WHERE key = 'region'")
            .bind(region)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the write connection and the pool, checkpointing the WAL.
    pub async fn close(self) {
        self.writes.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests;
