//! Per-org replicas for the public API: a `rapport_app::App` over its own SQLite store and
//! search index, joined to the org as an internal client whose sync driver runs over an
//! in-process transport calling this server's `Db` (the same register/push/pull/bootstrap
//! the HTTP routes use). Reads catch the replica up to the org's `last_seq`; writes run the
//! app's use case on the replica and push its outbox through `Db::push` before answering, so
//! an API write is an ordinary change of the org's sequence (and is poked to sockets).

use crate::db::{Db, DbError, OrgRow};
use crate::hub::Hub;
use futures_util::stream;
use rapport_app::sync::Transport;
use rapport_app::sync::driver::{ClientBound, Driver};
use rapport_app::sync::http::Lines;
use rapport_app::{App, AppError};
use rapport_store::Join;
use rapport_sync::client::Failure;
use rapport_sync::wire::*;
use sqlx::Row;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The email of the server's internal user that owns every replica's sync client. It has no
/// password, no token and no membership: nobody can sign in as it.
pub const REPLICA_EMAIL: &str = "replica@rapport.internal";

impl Db {
    /// The internal user owning replica clients (made on first use).
    pub async fn replica_user(&self) -> crate::db::Result<String> {
        let find = || {
            sqlx::query("SELECT id FROM users WHERE email = $1")
                .bind(REPLICA_EMAIL)
                .fetch_optional(&self.pool)
        };
        if let Some(r) = find().await? {
            return Ok(r.try_get("id")?);
        }
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT DO NOTHING",
        )
        .bind(crate::db::new_id())
        .bind(REPLICA_EMAIL)
        .bind("Rapport API")
        .bind(crate::http::now_ms())
        .execute(&self.pool)
        .await?;
        let r = find()
            .await?
            .ok_or_else(|| DbError::Sql(sqlx::Error::RowNotFound))?;
        Ok(r.try_get("id")?)
    }
}

fn failure(e: DbError) -> Failure {
    match e {
        DbError::Api(a) => Failure::Api {
            code: a.code,
            message: a.message,
            server_time: a.server_time,
        },
        other => Failure::Unreachable(other.to_string()),
    }
}

/// The in-process link from a replica's driver to this server's storage.
pub struct InProcess {
    db: Db,
    hub: Hub,
    org_id: String,
    /// The internal user the replica's client belongs to.
    owner: String,
    /// The member the pushed changes are made for (`updated_by`).
    actor: String,
}

impl InProcess {
    async fn org(&self) -> Result<OrgRow, Failure> {
        self.db
            .org(&self.org_id)
            .await
            .map_err(failure)?
            .ok_or_else(|| Failure::Api {
                code: ErrorCode::NotFound,
                message: "the org is gone".into(),
                server_time: None,
            })
    }
}

impl ClientBound for InProcess {
    fn set_client(&mut self, _org: &str, _client_id: &str) {
        // Requests carry the client id; nothing is bound here.
    }
}

impl Transport for InProcess {
    async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, Failure> {
        let org = self.org().await?;
        self.db
            .register(&org, &self.owner, "member", req, crate::http::now_ms())
            .await
            .map_err(failure)
    }

    async fn push(&self, req: &PushRequest) -> Result<PushResponse, Failure> {
        let before = self.org().await?.last_seq;
        let resp = self
            .db
            .push_as(
                &self.org_id,
                &self.owner,
                &self.actor,
                req,
                crate::http::now_ms(),
            )
            .await
            .map_err(failure)?;
        if resp.last_seq > before {
            self.hub.poke(&self.org_id, resp.last_seq).await;
        }
        Ok(resp)
    }

    async fn pull(&self, since: i64, limit: usize) -> Result<ChangesPage, Failure> {
        let org = self.org().await?;
        self.db
            .pull(&org, since, limit, crate::http::now_ms())
            .await
            .map_err(failure)
    }

    async fn bootstrap(&self, after_id: Option<String>) -> Result<Lines, Failure> {
        // The lines the HTTP route streams, collected (a replica bootstraps once per org).
        let org = self.org().await?;
        let mut out = vec![Ok(BootstrapLine::Header {
            org: org.id.clone(),
            epoch: org.epoch.clone(),
            snapshot_seq: org.last_seq,
            estimated: self.db.count_live(&org.id).await.map_err(failure)?,
        })];
        let mut cursor = after_id;
        let mut n = 0;
        loop {
            let page = self
                .db
                .records_after(&org.id, cursor.as_deref(), 1000)
                .await
                .map_err(failure)?;
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(|c| c.id.clone());
            for c in page {
                n += 1;
                out.push(Ok(crate::http::record_line(c)));
            }
        }
        out.push(Ok(BootstrapLine::End {
            count: n,
            snapshot_seq: org.last_seq,
        }));
        Ok(Box::pin(stream::iter(out)))
    }
}

/// One org's replica.
pub struct Replica {
    pub app: App,
    pub org_id: String,
    owner: String,
    /// Held by every sync and every write (one writer per replica).
    lock: tokio::sync::Mutex<()>,
}

/// The replicas of this server process, opened on first use.
#[derive(Clone)]
pub struct Replicas {
    db: Db,
    hub: Hub,
    dir: PathBuf,
    open: Arc<tokio::sync::Mutex<HashMap<String, Arc<Replica>>>>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicas").field("dir", &self.dir).finish()
    }
}

/// Who acts through the API: their user id, shown as the author of what they write.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub email: String,
}

impl Replicas {
    /// Replicas under `dir` (`<dir>/<org_id>/replica.db`).
    pub fn new(db: Db, hub: Hub, dir: PathBuf) -> Replicas {
        Replicas {
            db,
            hub,
            dir,
            open: Default::default(),
        }
    }

    /// The org's replica, opened (and joined, the first time) on first use.
    pub async fn get(&self, org: &OrgRow, actor: &Actor) -> Result<Arc<Replica>, AppError> {
        let mut open = self.open.lock().await;
        if let Some(r) = open.get(&org.id) {
            return Ok(r.clone());
        }
        let dir = self.dir.join(&org.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| AppError::new("io", format!("replica directory: {e}")))?;
        let app = App::open(dir.join("replica.db")).await?;
        let owner = self.db.replica_user().await.map_err(internal)?;
        if app.store().sync_state().await?.is_none() {
            app.store()
                .join(&Join {
                    server_url: "in-process".into(),
                    org_id: org.id.clone(),
                    org_name: org.name.clone(),
                    user_id: actor.user_id.clone(),
                    user_name: actor.name.clone(),
                    user_email: Some(actor.email.clone()),
                    role: "member".into(),
                    client_id: format!("replica-{}", ulid::Ulid::new()),
                    device_name: "API replica".into(),
                })
                .await?;
        }
        let r = Arc::new(Replica {
            app,
            org_id: org.id.clone(),
            owner,
            lock: Default::default(),
        });
        open.insert(org.id.clone(), r.clone());
        Ok(r)
    }

    /// One push and pull to quiescence (the replica's lock held by the caller); what it
    /// pushes is `actor`'s.
    async fn sync(&self, r: &Replica, actor: &str) -> Result<rapport_app::sync::Report, AppError> {
        let transport = InProcess {
            db: self.db.clone(),
            hub: self.hub.clone(),
            org_id: r.org_id.clone(),
            owner: r.owner.clone(),
            actor: actor.to_string(),
        };
        let seed = rapport_core::ops::Rng(r.app.store().node().0).next_u64();
        let mut d = Driver::new(r.app.store().clone(), transport, "API replica", seed);
        let app = r.app.clone();
        d.hooks.changed = Some(Arc::new(move |()| app.nudge_index()));
        d.sync_once().await
    }

    /// Catches the replica up to the org's current sequence (a no-op when it is current).
    pub async fn catch_up(&self, r: &Replica) -> Result<(), AppError> {
        let _g = r.lock.lock().await;
        let last = self
            .db
            .org(&r.org_id)
            .await
            .map_err(internal)?
            .map(|o| o.last_seq)
            .unwrap_or(0);
        let st = r.app.store().joined_state().await?;
        if st.bootstrap == "done" && st.pull_cursor >= last {
            return Ok(());
        }
        // Nothing of a caller's is pending here unless a write's push failed: the internal
        // user's, then.
        self.sync(r, &r.owner).await.map(|_| ())
    }

    /// Runs a write on the replica as `actor`, then pushes it into the org's sequence before
    /// returning. Writes on one replica run one at a time.
    pub async fn write<T, F, Fut>(&self, r: &Replica, actor: &Actor, f: F) -> Result<T, AppError>
    where
        F: FnOnce(App) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let _g = r.lock.lock().await;
        // Validation sees the org's current state.
        self.sync(r, &r.owner).await?;
        r.app.store().set_meta("local_user", &actor.user_id).await?;
        let out = f(r.app.clone()).await?;
        let report = self.sync(r, &actor.user_id).await?;
        if !report.rejected.is_empty() {
            return Err(AppError::new(
                "rejected",
                format!(
                    "the server refused the change: {}",
                    report.rejected.join("; ")
                ),
            ));
        }
        Ok(out)
    }
}

fn internal(e: DbError) -> AppError {
    tracing::error!("replica: {e}");
    AppError::new("internal", "the server failed; see its log")
}
