//! The write connection: every write transaction runs on one dedicated connection outside the
//! pool. Its page cache stays warm (SQLite drops a connection's cache whenever another
//! connection wrote), a write costs no pool round trips (acquire ping, release ping), and
//! writers of this process queue on a fair mutex instead of polling SQLite's busy handler.
//! Writes of other processes still serialise on SQLite's write lock (`BEGIN IMMEDIATE`).
//!
//! Checkpoints run outside the write path: the connection's automatic checkpoint (which runs
//! inside the COMMIT that crosses 1000 WAL pages, and fsyncs: 1-150 ms measured on a busy
//! disk) is off; a passive checkpoint runs on a pooled connection in the background once
//! enough has been written. A bulk write (demo, import chunk) checkpoints right after its
//! commit, as SQLite's automatic checkpoint did. Durability is unchanged: a commit is in the
//! WAL either way (WAL + synchronous=NORMAL).

use crate::error::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Records written between two background checkpoints. A checkpoint's I/O slows the writes
/// that overlap it, so rarer, larger checkpoints slow fewer of them: at 100 the p99 of a
/// single write at 100k leads was 2.5 ms, at 400 it is 1.3–1.8 ms (`cargo xtask bench`). The
/// WAL stays bounded by `WAL_LIMIT` either way.
const CHECKPOINT_EVERY: u64 = 400;

/// WAL pages (4 KiB) past which a checkpoint makes this process's writers wait for it.
const WAL_LIMIT: i64 = 4000;

/// How long a write waits for this process's other writes (SQLite's busy timeout is the
/// same): a writer held that long is a bug, reported like a locked database.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct Conn {
    conn: Option<SqliteConnection>,
    /// A transaction may be open (set before `BEGIN`, cleared after `COMMIT`/`ROLLBACK`).
    open_tx: bool,
}

pub(crate) struct Slot {
    opts: SqliteConnectOptions,
    conn: Arc<Mutex<Conn>>,
    /// Records written since the last background checkpoint.
    written: AtomicU64,
    checkpointing: AtomicBool,
}

impl Slot {
    pub(crate) fn new(opts: &SqliteConnectOptions) -> Slot {
        Slot {
            opts: opts.clone().pragma("wal_autocheckpoint", "0"),
            conn: Default::default(),
            written: AtomicU64::new(0),
            checkpointing: AtomicBool::new(false),
        }
    }

    /// Takes the write connection (opening it on first use) with no transaction open.
    pub(crate) async fn take(&self) -> Result<WriteConn> {
        let mut guard = tokio::time::timeout(WAIT, self.conn.clone().lock_owned())
            .await
            .map_err(|_| {
                Error::Db(sqlx::Error::Protocol(
                    "database is locked: another write of this process is still open".into(),
                ))
            })?;
        guard.end_tx().await;
        if guard.conn.is_none() {
            guard.conn = Some(self.opts.connect().await?);
        }
        Ok(WriteConn { guard: Some(guard) })
    }

    /// Counts what a committed transaction wrote; past the threshold starts a checkpoint in
    /// the background, unless one is running.
    pub(crate) fn committed(self: &Arc<Self>, records: u64, pool: &SqlitePool) {
        let total = self.written.fetch_add(records, Ordering::Relaxed) + records;
        if total < CHECKPOINT_EVERY || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.written.store(0, Ordering::Relaxed);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.checkpointing.store(false, Ordering::Release);
            return;
        };
        let (slot, pool) = (self.clone(), pool.clone());
        rt.spawn(async move {
            let _ = slot.checkpoint(&pool).await;
            slot.checkpointing.store(false, Ordering::Release);
        });
    }

    /// A passive checkpoint (copies what no reader still needs, never waits for a writer)
    /// on a pooled connection. SQLite starts the WAL over only when a write begins after a
    /// checkpoint copied everything, which a steady stream of writes never allows; so once
    /// the WAL is past `WAL_LIMIT` pages, a second pass runs while this process's writers
    /// wait, copying the little written since the first.
    async fn checkpoint(&self, pool: &SqlitePool) -> Result<()> {
        const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";
        let (_, log, _): (i64, i64, i64) = sqlx::query_as(PASSIVE).fetch_one(pool).await?;
        if log > WAL_LIMIT {
            let _writers = tokio::time::timeout(WAIT, self.conn.lock()).await;
            sqlx::query(PASSIVE).execute(pool).await?;
        }
        Ok(())
    }

    /// Closes the write connection (rolling back anything left open).
    pub(crate) async fn close(&self) {
        let mut c = self.conn.lock().await;
        c.end_tx().await;
        if let Some(conn) = c.conn.take() {
            let _ = conn.close().await;
        }
    }
}

impl Conn {
    /// Rolls back a transaction left open; a connection that cannot is closed (SQLite rolls
    /// back on close) and reopened by the next write.
    async fn end_tx(&mut self) {
        if !self.open_tx {
            return;
        }
        let ok = match self.conn.as_mut() {
            Some(c) => sqlx::query("ROLLBACK").execute(c).await.is_ok(),
            None => true,
        };
        if !ok {
            self.conn = None;
        }
        self.open_tx = false;
    }
}

/// The write connection, held by one `Writer`; derefs to the connection for queries.
pub(crate) struct WriteConn {
    /// Always `Some` until dropped.
    guard: Option<OwnedMutexGuard<Conn>>,
}

const HELD: &str = "the write connection is held until drop";
const OPEN: &str = "`Slot::take` opened the connection; only `Conn::end_tx` closes it";

impl WriteConn {
    fn conn(&mut self) -> &mut Conn {
        self.guard.as_mut().expect(HELD)
    }
    /// Marks a transaction as possibly open (call before sending `BEGIN`).
    pub(crate) fn opening(&mut self) {
        self.conn().open_tx = true;
    }
    /// Marks the transaction finished (after a successful `COMMIT`).
    pub(crate) fn closed(&mut self) {
        self.conn().open_tx = false;
    }
    /// A passive checkpoint on this connection, in the caller's time (after a bulk write:
    /// its WAL pages are copied before the next write appends more).
    pub(crate) async fn checkpoint(&mut self, slot: &Slot) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut **self)
            .await;
        slot.written.store(0, Ordering::Relaxed);
    }
}

impl Deref for WriteConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.guard.as_ref().expect(HELD).conn.as_ref().expect(OPEN)
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn().conn.as_mut().expect(OPEN)
    }
}

impl Drop for WriteConn {
    /// A writer dropped without committing rolls back right away, in the background, so the
    /// write lock is not held until this process's next write. The task owns the guard, so
    /// no other writer can take the connection before the rollback.
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        if !guard.open_tx {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { guard.end_tx().await });
            }
            Err(_) => drop(guard), // no runtime: the next `Slot::take` rolls back
        }
    }
}
