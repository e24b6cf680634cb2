//! The simulation's server: the team server's own storage and push planner
//! (`rapport_server::Db` on a temp SQLite database), driven in-process with the simulation's
//! clock. Members are made on first sight of their email.

use rapport_server::{Db, OrgRow};
use rapport_sim::server::SimServer;
use rapport_sync::wire::*;

pub struct RealServer {
    db: Db,
    org: OrgRow,
    _dir: tempfile::TempDir,
}

fn api(e: rapport_server::DbError) -> ApiError {
    match e {
        rapport_server::DbError::Api(a) => a,
        other => panic!("server storage failed: {other}"),
    }
}

impl RealServer {
    pub async fn new() -> RealServer {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_dir(dir.path()).await.unwrap();
        let org = db.create_org("Sim", 1).await.unwrap();
        RealServer { db, org, _dir: dir }
    }

    async fn user(&self, email: &str) -> (String, String) {
        let (u, _) = match self.db.user_by_email(email).await.unwrap() {
            Some(u) => u,
            None => {
                self.db
                    .add_member(&self.org, email, None, "member", None, 1)
                    .await
                    .unwrap();
                self.db.user_by_email(email).await.unwrap().unwrap()
            }
        };
        let role = self.db.role(&self.org.id, &u.id).await.unwrap().unwrap();
        (u.id, role)
    }
}

impl SimServer for RealServer {
    async fn member(&self, user: &str) -> (String, String, String) {
        let (id, _) = self.user(user).await;
        (id, self.org.id.clone(), self.org.name.clone())
    }
    async fn register(
        &self,
        user: &str,
        c: &RegisterRequest,
        now: i64,
    ) -> Result<RegisterResponse, ApiError> {
        let (id, role) = self.user(user).await;
        self.db
            .register(&self.org, &id, &role, c, now)
            .await
            .map_err(api)
    }
    async fn push(
        &self,
        user: &str,
        req: &PushRequest,
        now: i64,
    ) -> Result<PushResponse, ApiError> {
        let (id, _) = self.user(user).await;
        self.db.push(&self.org.id, &id, req, now).await.map_err(api)
    }
    async fn pull(
        &self,
        _user: &str,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Result<ChangesPage, ApiError> {
        let org = self.db.org(&self.org.id).await.unwrap().unwrap();
        self.db.pull(&org, since, limit, now).await.map_err(api)
    }
    async fn bootstrap(
        &self,
        _user: &str,
        after: Option<String>,
        _now: i64,
    ) -> Result<Vec<BootstrapLine>, ApiError> {
        // The same lines the HTTP route streams, collected.
        let org = self.db.org(&self.org.id).await.unwrap().unwrap();
        let mut out = vec![BootstrapLine::Header {
            org: org.id.clone(),
            epoch: org.epoch.clone(),
            snapshot_seq: org.last_seq,
            estimated: self.db.count_live(&org.id).await.map_err(api)?,
        }];
        let mut cursor = after;
        let mut n = 0;
        loop {
            let page = self
                .db
                .records_after(&org.id, cursor.as_deref(), 1000)
                .await
                .map_err(api)?;
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(|c| c.id.clone());
            for c in page {
                n += 1;
                out.push(rapport_server::http::record_line(c));
            }
        }
        out.push(BootstrapLine::End {
            count: n,
            snapshot_seq: org.last_seq,
        });
        Ok(out)
    }
    async fn last_seq(&self) -> i64 {
        self.db.org(&self.org.id).await.unwrap().unwrap().last_seq
    }
    async fn records(&self) -> Vec<Change> {
        self.db.all_records(&self.org.id).await.unwrap()
    }
}
