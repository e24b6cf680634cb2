//! The server's storage: accounts, tokens, clients and each org's records, over sqlx's `Any`
//! driver so one body of SQL serves both backends. What differs per backend (connecting,
//! migrations, cross-process pokes) lives in `sqlite.rs` and `postgres.rs`. A push runs in one
//! transaction that first locks the org's row (an `UPDATE`, which takes SQLite's write lock and
//! PostgreSQL's row lock alike), so an org's sequence is assigned by one writer at a time, gap
//! free, across processes.

use crate::engine::{Held, PushInput, plan_push};
use rapport_core::Hlc;
use rapport_sync::state::RecordState;
use rapport_sync::wire::*;
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::{Acquire, Row};
use std::collections::HashMap;

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The storage handle (cheap to clone).
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub url: String,
}

/// Storage failures: a coded API error, or the database's own (a 500).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Api(ApiError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<ApiError> for DbError {
    fn from(e: ApiError) -> Self {
        DbError::Api(e)
    }
}

pub type Result<T> = std::result::Result<T, DbError>;

fn api(code: ErrorCode, msg: impl Into<String>) -> DbError {
    DbError::Api(ApiError::new(code, msg))
}

/// An org's row.
#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub epoch: String,
    pub last_seq: i64,
    pub horizon_seq: i64,
    pub hlc: Option<Hlc>,
}

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub struct Auth {
    pub token_id: String,
    pub user_id: String,
    /// `read` or `read_write` (an API key's scope; device tokens are `read_write`).
    pub scope: String,
}

/// The scopes an API key can have.
pub const SCOPES: [&str; 2] = ["read", "read_write"];

/// The roles, from most to least powerful.
pub const ROLES: [&str; 4] = ["owner", "admin", "member", "viewer"];

/// A new id (ULID text).
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// SHA-256 of a token, hex: all the server keeps of it.
pub fn token_hash(secret: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: a prefix naming its kind, then 256 random bits (hex).
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) with a random salt.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes encode");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn held_of(r: &AnyRow) -> Result<(String, Held)> {
    let state: String = r.try_get("state")?;
    let state: RecordState = serde_json::from_str(&state)
        .map_err(|e| sqlx::Error::Decode(format!("record state: {e}").into()))?;
    Ok((
        r.try_get("id")?,
        Held {
            entity: r.try_get("entity")?,
            lead_id: r.try_get("lead_id")?,
            state,
            seq: r.try_get("seq")?,
            body_rev: r.try_get("body_rev")?,
            updated_by: r.try_get("updated_by")?,
        },
    ))
}

fn org_of(r: &AnyRow) -> Result<OrgRow> {
    let hlc: Option<String> = r.try_get("hlc")?;
    Ok(OrgRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        epoch: r.try_get("epoch")?,
        last_seq: r.try_get("last_seq")?,
        horizon_seq: r.try_get("horizon_seq")?,
        hlc: hlc.and_then(|h| h.parse().ok()),
    })
}

const RECORD_COLUMNS: &str = "id, entity, lead_id, state, seq, body_rev, updated_by";

/// `$1, $2, …` from `from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Opens (creating and migrating) the database at `url`: `sqlite://…` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            crate::postgres::open(url).await?
        } else {
            crate::sqlite::open(url).await?
        };
        Ok(db)
    }

    /// The SQLite database in a data directory (created when missing).
    pub async fn open_dir(dir: &std::path::Path) -> Result<Db> {
        std::fs::create_dir_all(dir).map_err(|e| {
            api(
                ErrorCode::BadRequest,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        Db::open(&crate::sqlite::url_for(dir)).await
    }

    // ---- accounts ----

    pub async fn create_org(&self, name: &str, now: i64) -> Result<OrgRow> {
        let name = name.trim();
        if name.is_empty() {
            return Err(api(ErrorCode::BadRequest, "an org needs a name"));
        }
        if self.org_by_name(name).await?.is_some() {
            return Err(api(
                ErrorCode::BadRequest,
                format!("an org named `{name}` exists"),
            ));
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO orgs (id, name, epoch, last_seq, horizon_seq, created_at)
             VALUES ($1, $2, $3, 0, 0, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(new_id())
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.org(&id)
            .await?
            .ok_or_else(|| api(ErrorCode::Internal, "org vanished"))
    }

    pub async fn org(&self, id: &str) -> Result<Option<OrgRow>> {
        let r = sqlx::query(
            "SELECT id, name, epoch, last_seq, horizon_seq, hlc FROM orgs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(org_of).transpose()
    }

    pub async fn org_by_name(&self, name: &str) -> Result<Option<OrgRow>> {
        let r = sqlx::query(
            "SELECT id, name, epoch, last_seq, horizon_seq, hlc FROM orgs
             WHERE lower(name) = lower($1) OR id = $1",
        )
        .bind(name.trim())
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(org_of).transpose()
    }

    /// The org by name, or a not-found error naming the orgs there are.
    pub async fn need_org(&self, name: &str) -> Result<OrgRow> {
        self.org_by_name(name)
            .await?
            .ok_or_else(|| api(ErrorCode::NotFound, format!("no org named `{name}`")))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<(UserInfo, Option<String>)>> {
        let r = sqlx::query(
            "SELECT id, email, display_name, password_hash FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some((
                UserInfo {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    display_name: r.try_get("display_name")?,
                },
                r.try_get("password_hash")?,
            )),
            None => None,
        })
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserInfo>> {
        let r = sqlx::query("SELECT id, email, display_name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(UserInfo {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                display_name: r.try_get("display_name")?,
            }),
            None => None,
        })
    }

    /// Adds a member (creating the user when new; a password replaces theirs) and writes their
    /// user record into the org's sequence, so every device shows them by name.
    pub async fn add_member(
        &self,
        org: &OrgRow,
        email: &str,
        name: Option<&str>,
        role: &str,
        password: Option<&str>,
        now: i64,
    ) -> Result<UserInfo> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') || email.len() < 3 {
            return Err(api(
                ErrorCode::BadRequest,
                format!("`{email}` is not an email address"),
            ));
        }
        if !ROLES.contains(&role) {
            return Err(api(
                ErrorCode::BadRequest,
                format!("unknown role `{role}`; roles are {}", ROLES.join(", ")),
            ));
        }
        if password.is_some_and(|p| p.chars().count() < 8) {
            return Err(api(
                ErrorCode::BadRequest,
                "a password needs at least 8 characters",
            ));
        }
        let hash = password.map(hash_password);
        let mut tx = self.pool.begin().await?;
        lock_org(&mut tx, &org.id).await?;
        let existing = sqlx::query("SELECT id, display_name FROM users WHERE lower(email) = $1")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, display) = match existing {
            Some(r) => {
                let id: String = r.try_get("id")?;
                let mut display: String = r.try_get("display_name")?;
                if let Some(n) = name.filter(|n| !n.trim().is_empty()) {
                    display = n.trim().to_string();
                    sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                        .bind(&display)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(h) = &hash {
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(h)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                (id, display)
            }
            None => {
                let id = new_id();
                let display = name
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, password_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&id)
                .bind(&email)
                .bind(&display)
                .bind(hash.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                (id, display)
            }
        };
        sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(&org.id)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        // The member as a record of the org.
        let cur = read_org(&mut tx, &org.id).await?;
        let h = cur
            .hlc
            .unwrap_or(Hlc::zero(crate::engine::SERVER_NODE))
            .tick(now as u64);
        let mut state = RecordState::default();
        state.fields.insert("id".into(), id.clone().into());
        state.fields.insert("name".into(), display.clone().into());
        state.fields.insert("email".into(), email.clone().into());
        state.clocks.insert("*".into(), h);
        let seq = cur.last_seq + 1;
        write_record(
            &mut tx,
            &org.id,
            &id,
            &Held {
                entity: "user".into(),
                lead_id: None,
                state,
                seq,
                body_rev: None,
                updated_by: None,
            },
        )
        .await?;
        sqlx::query("UPDATE orgs SET last_seq = $1, hlc = $2 WHERE id = $3")
            .bind(seq)
            .bind(h.to_string())
            .bind(&org.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserInfo {
            id,
            email,
            display_name: display,
        })
    }

    pub async fn role(&self, org_id: &str, user_id: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(r.try_get("role")?),
            None => None,
        })
    }

    pub async fn orgs_of(&self, user_id: &str) -> Result<Vec<OrgMembership>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id
             WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgMembership {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                })
            })
            .collect()
    }

    /// A new token for a user; returns `(id, secret)` (the secret is never stored).
    pub async fn issue_token(
        &self,
        user_id: &str,
        kind: &str,
        name: &str,
        now: i64,
    ) -> Result<(String, String)> {
        let id = new_id();
        let secret = new_secret(if kind == "api" { "rpk_" } else { "rpd_" });
        sqlx::query(
            "INSERT INTO tokens (id, user_id, kind, name, hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(kind)
        .bind(name)
        .bind(token_hash(&secret))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok((id, secret))
    }

    /// A personal API key (`rpk_…`) with a scope (`read` or `read_write`).
    pub async fn issue_api_key(
        &self,
        user_id: &str,
        name: &str,
        scope: &str,
        now: i64,
    ) -> Result<(String, String)> {
        if !SCOPES.contains(&scope) {
            return Err(api(
                ErrorCode::BadRequest,
                format!("unknown scope `{scope}`; scopes are {}", SCOPES.join(", ")),
            ));
        }
        let id = new_id();
        let secret = new_secret("rpk_");
        sqlx::query(
            "INSERT INTO tokens (id, user_id, kind, name, hash, created_at, scope)
             VALUES ($1, $2, 'api', $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(token_hash(&secret))
        .bind(now)
        .bind(scope)
        .execute(&self.pool)
        .await?;
        Ok((id, secret))
    }

    /// Revokes a token; `false` when there is no such token.
    pub async fn revoke_token(&self, id: &str, now: i64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        if r.rows_affected() == 0 {
            let exists = sqlx::query("SELECT id FROM tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            return Ok(exists.is_some());
        }
        Ok(true)
    }

    pub async fn tokens_of(&self, user_id: &str) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, kind, name, created_at, last_used_at, revoked_at FROM tokens
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    expires_at: None,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// The live token with this secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Auth>> {
        let r = sqlx::query(
            "SELECT id, user_id, scope FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some(Auth {
                token_id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                scope: r
                    .try_get::<Option<String>, _>("scope")?
                    .unwrap_or_else(|| "read_write".into()),
            }),
            None => None,
        })
    }

    pub async fn token_live(&self, token_id: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    // ---- sync ----

    /// Registers (idempotently) a client of `user_id`.
    pub async fn register(
        &self,
        org: &OrgRow,
        user_id: &str,
        role: &str,
        req: &RegisterRequest,
        now: i64,
    ) -> Result<RegisterResponse> {
        if req.client_id.trim().is_empty() || req.client_id.len() > 64 {
            return Err(api(
                ErrorCode::BadRequest,
                "a client id is 1 to 64 characters",
            ));
        }
        let r = sqlx::query(
            "SELECT user_id, applied_local_seq, applied_op_id FROM clients
             WHERE org_id = $1 AND client_id = $2",
        )
        .bind(&org.id)
        .bind(&req.client_id)
        .fetch_optional(&self.pool)
        .await?;
        let (applied, op_id) = match r {
            Some(r) => {
                let owner: String = r.try_get("user_id")?;
                if owner != user_id {
                    return Err(api(
                        ErrorCode::Forbidden,
                        "this client id belongs to another user",
                    ));
                }
                (
                    r.try_get::<i64, _>("applied_local_seq")?,
                    r.try_get::<Option<String>, _>("applied_op_id")?,
                )
            }
            None => {
                sqlx::query(
                    "INSERT INTO clients (org_id, client_id, user_id, device_name, applied_local_seq, created_at)
                     VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&org.id)
                .bind(&req.client_id)
                .bind(user_id)
                .bind(&req.device_name)
                .bind(now)
                .execute(&self.pool)
                .await?;
                (0, None)
            }
        };
        let org = self.org(&org.id).await?.unwrap_or(org.clone());
        Ok(RegisterResponse {
            epoch: org.epoch,
            applied_local_seq: applied,
            applied_op_id: op_id,
            server_time: now,
            horizon_seq: org.horizon_seq,
            last_seq: org.last_seq,
            user_id: user_id.to_string(),
            role: role.to_string(),
        })
    }

    /// Applies one push in one transaction (the engine decides, this reads and writes).
    pub async fn push(
        &self,
        org_id: &str,
        user_id: &str,
        req: &PushRequest,
        now: i64,
    ) -> Result<PushResponse> {
        self.push_as(org_id, user_id, user_id, req, now).await
    }

    /// A push from a client of `user_id` made on behalf of `actor` (the member an API
    /// replica writes for): the client must be `user_id`'s, the changes are `actor`'s
    /// (`updated_by`).
    pub async fn push_as(
        &self,
        org_id: &str,
        user_id: &str,
        actor: &str,
        req: &PushRequest,
        now: i64,
    ) -> Result<PushResponse> {
        let mut tx = self.pool.begin().await?;
        lock_org(&mut tx, org_id).await?;
        let org = read_org(&mut tx, org_id).await?;
        if req.epoch != org.epoch {
            let mut e = ApiError::new(
                ErrorCode::EpochChanged,
                "the server was restored; re-register and push again",
            );
            e.epoch = Some(org.epoch.clone());
            return Err(e.into());
        }
        let c = sqlx::query(
            "SELECT user_id, applied_local_seq FROM clients WHERE org_id = $1 AND client_id = $2",
        )
        .bind(org_id)
        .bind(&req.client_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| api(ErrorCode::BadRequest, "register this client first"))?;
        let owner: String = c.try_get("user_id")?;
        if owner != user_id {
            return Err(api(
                ErrorCode::Forbidden,
                "this client id belongs to another user",
            ));
        }
        let applied: i64 = c.try_get("applied_local_seq")?;
        let dup: Vec<i64> = req
            .ops
            .iter()
            .map(|o| o.local_seq)
            .filter(|s| *s <= applied)
            .collect();
        let mut seen_ops = HashMap::new();
        for chunk in dup.chunks(500) {
            let sql = format!(
                "SELECT local_seq, op_id FROM client_ops WHERE org_id = $1 AND client_id = $2
                 AND local_seq IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org_id).bind(&req.client_id);
            for s in chunk {
                q = q.bind(*s);
            }
            for r in q.fetch_all(&mut *tx).await? {
                seen_ops.insert(r.try_get::<i64, _>("local_seq")?, r.try_get("op_id")?);
            }
        }
        let mut ids: Vec<&str> = req
            .ops
            .iter()
            .filter(|o| o.local_seq > applied)
            .map(|o| o.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut held = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE org_id = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await? {
                let (id, h) = held_of(&r)?;
                held.insert(id, h);
            }
        }
        let mut revisions = HashMap::new();
        for op in req.ops.iter().filter(|o| o.local_seq > applied) {
            if let Some(base) = op.base_rev
                && !revisions.contains_key(&(op.id.clone(), base))
                && let Some(r) = sqlx::query(
                    "SELECT body FROM note_revisions WHERE org_id = $1 AND note_id = $2 AND rev = $3",
                )
                .bind(org_id)
                .bind(&op.id)
                .bind(base)
                .fetch_optional(&mut *tx)
                .await?
            {
                revisions.insert((op.id.clone(), base), r.try_get::<String, _>("body")?);
            }
        }
        let plan = plan_push(PushInput {
            req,
            applied,
            seen_ops: &seen_ops,
            held: &held,
            revisions: &revisions,
            last_seq: org.last_seq,
            hlc: org.hlc,
            user_id: actor,
            now,
        })
        .map_err(DbError::Api)?;
        for (id, h) in &plan.writes {
            write_record(&mut tx, org_id, id, h).await?;
        }
        for (note, rev, body) in &plan.revisions {
            sqlx::query(
                "INSERT INTO note_revisions (org_id, note_id, rev, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(org_id)
            .bind(note)
            .bind(*rev)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        for (ls, op_id) in &plan.op_ids {
            sqlx::query(
                "INSERT INTO client_ops (org_id, client_id, local_seq, op_id) VALUES ($1, $2, $3, $4)",
            )
            .bind(org_id)
            .bind(&req.client_id)
            .bind(*ls)
            .bind(op_id)
            .execute(&mut *tx)
            .await?;
        }
        if plan.applied_through > applied {
            sqlx::query(
                "UPDATE clients SET applied_local_seq = $1, applied_op_id = $2
                 WHERE org_id = $3 AND client_id = $4",
            )
            .bind(plan.applied_through)
            .bind(plan.applied_op_id.clone())
            .bind(org_id)
            .bind(&req.client_id)
            .execute(&mut *tx)
            .await?;
        }
        if plan.last_seq != org.last_seq || plan.hlc != org.hlc {
            sqlx::query("UPDATE orgs SET last_seq = $1, hlc = $2 WHERE id = $3")
                .bind(plan.last_seq)
                .bind(plan.hlc.map(|h| h.to_string()))
                .bind(org_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(PushResponse {
            applied_through: plan.applied_through.max(applied),
            last_seq: plan.last_seq,
            results: plan.results,
            server_time: now,
        })
    }

    /// One page of changes after `since`, in seq order.
    pub async fn pull(
        &self,
        org: &OrgRow,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Result<ChangesPage> {
        if since < org.horizon_seq {
            let mut e = ApiError::new(
                ErrorCode::MustRebootstrap,
                format!(
                    "changes before seq {} were compacted; bootstrap again",
                    org.horizon_seq
                ),
            );
            e.epoch = Some(org.epoch.clone());
            return Err(e.into());
        }
        let limit = limit.clamp(1, MAX_PAGE);
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE org_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(&org.id)
            .bind(since)
            .bind(limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for r in &rows {
            let (id, h) = held_of(r)?;
            changes.push(h.change(&id));
        }
        // Read the org after the records: its last_seq is at least every seq read.
        let org = self.org(&org.id).await?.unwrap_or(org.clone());
        let has_more = changes.len() > limit;
        changes.truncate(limit);
        let next_since = match changes.last() {
            Some(c) if has_more => c.seq,
            Some(c) => c.seq.max(since),
            None => since.max(org.last_seq.min(since)),
        };
        Ok(ChangesPage {
            epoch: org.epoch,
            next_since,
            has_more,
            last_seq: org.last_seq,
            horizon_seq: org.horizon_seq,
            server_time: now,
            changes,
        })
    }

    /// Live records after `after` in id order (one bootstrap page).
    pub async fn records_after(
        &self,
        org_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Change>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE org_id = $1 AND deleted = 0 AND id > $2
             ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| held_of(r).map(|(id, h)| h.change(&id)))
            .collect()
    }

    pub async fn count_live(&self, org_id: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM records WHERE org_id = $1 AND deleted = 0")
            .bind(org_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// A new epoch for every org: run after a restore, so each client learns that the server
    /// may have lost what it had acknowledged (it re-registers, re-pushes everything it holds
    /// and pulls from the start). Returns how many orgs rotated.
    pub async fn rotate_epochs(&self) -> Result<u64> {
        let orgs = sqlx::query("SELECT id FROM orgs")
            .fetch_all(&self.pool)
            .await?;
        for r in &orgs {
            let id: String = r.try_get("id")?;
            sqlx::query("UPDATE orgs SET epoch = $1 WHERE id = $2")
                .bind(new_id())
                .bind(&id)
                .execute(&self.pool)
                .await?;
        }
        // Clients' positions belong to the old epoch.
        sqlx::query("DELETE FROM client_ops")
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE clients SET applied_local_seq = 0, applied_op_id = NULL")
            .execute(&self.pool)
            .await?;
        Ok(orgs.len() as u64)
    }

    /// Drops the org's tombstones at or below `horizon` (a seq) and raises its horizon: a
    /// client whose cursor is behind it is told to bootstrap again (`410`). Returns how many
    /// tombstones went.
    pub async fn collect_tombstones(&self, org: &OrgRow, horizon: i64) -> Result<u64> {
        if horizon < org.horizon_seq || horizon > org.last_seq {
            return Err(api(
                ErrorCode::BadRequest,
                format!(
                    "the horizon must lie between {} and {} (the org's last seq)",
                    org.horizon_seq, org.last_seq
                ),
            ));
        }
        let mut tx = self.pool.begin().await?;
        lock_org(&mut tx, &org.id).await?;
        let r = sqlx::query("DELETE FROM records WHERE org_id = $1 AND deleted = 1 AND seq <= $2")
            .bind(&org.id)
            .bind(horizon)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE orgs SET horizon_seq = $1 WHERE id = $2")
            .bind(horizon)
            .bind(&org.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// Every record of the org, tombstones too (for tests and the simulation's invariants).
    pub async fn all_records(&self, org_id: &str) -> Result<Vec<Change>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE org_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(org_id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| held_of(r).map(|(id, h)| h.change(&id)))
            .collect()
    }
}

/// Takes the org's write lock for the rest of the transaction.
async fn lock_org(tx: &mut sqlx::Transaction<'_, sqlx::Any>, org_id: &str) -> Result<()> {
    let conn = tx.acquire().await?;
    let r = sqlx::query("UPDATE orgs SET last_seq = last_seq WHERE id = $1")
        .bind(org_id)
        .execute(&mut *conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(api(ErrorCode::NotFound, "no such org"));
    }
    Ok(())
}

async fn read_org(tx: &mut sqlx::Transaction<'_, sqlx::Any>, org_id: &str) -> Result<OrgRow> {
    let r =
        sqlx::query("SELECT id, name, epoch, last_seq, horizon_seq, hlc FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_one(&mut **tx)
            .await?;
    org_of(&r)
}

async fn write_record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    id: &str,
    h: &Held,
) -> Result<()> {
    let state =
        serde_json::to_string(&h.state).map_err(|e| api(ErrorCode::Internal, e.to_string()))?;
    sqlx::query(
        "INSERT INTO records (org_id, id, entity, lead_id, state, deleted, seq, body_rev, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (org_id, id) DO UPDATE SET entity = excluded.entity, lead_id = excluded.lead_id,
           state = excluded.state, deleted = excluded.deleted, seq = excluded.seq,
           body_rev = excluded.body_rev, updated_by = excluded.updated_by",
    )
    .bind(org_id)
    .bind(id)
    .bind(&h.entity)
    .bind(h.lead_id.clone())
    .bind(state)
    .bind(h.state.deleted as i64)
    .bind(h.seq)
    .bind(h.body_rev)
    .bind(h.updated_by.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
