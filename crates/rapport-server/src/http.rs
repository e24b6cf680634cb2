//! The HTTP routes: thin adapters from requests to the storage's operations, every answer a
//! wire type and every error an `ApiError` with its status. Auth: a bearer token (device or
//! API), checked against the org's memberships on every org-scoped route.

use crate::db::{Auth, Db, DbError, OrgRow};
use crate::hub::Hub;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rapport_sync::wire::*;
use serde::Deserialize;
use std::time::Duration;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub hub: Hub,
    /// The per-org replicas the public API reads and writes through.
    pub replicas: crate::replica::Replicas,
    /// The public API's per-key rate limits.
    pub limiter: std::sync::Arc<crate::ratelimit::RateLimiter>,
}

impl AppState {
    /// The state of one server process; its org replicas live under `replica_dir`.
    pub fn new(db: Db, hub: Hub, replica_dir: std::path::PathBuf) -> AppState {
        let replicas = crate::replica::Replicas::new(db.clone(), hub.clone(), replica_dir);
        AppState {
            db,
            hub,
            replicas,
            limiter: std::sync::Arc::new(crate::ratelimit::RateLimiter::new(
                crate::ratelimit::DEFAULT_RATE,
            )),
        }
    }

    /// The API's requests a second per key (0: no limit).
    pub fn with_rate_limit(mut self, per_second: u32) -> AppState {
        self.limiter = std::sync::Arc::new(crate::ratelimit::RateLimiter::new(per_second));
        self
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An error answer.
#[derive(Debug)]
pub struct Fail(pub ApiError);

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Fail(e)
    }
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Api(a) => Fail(a),
            other => {
                tracing::error!("{other}");
                Fail(ApiError::new(
                    ErrorCode::Internal,
                    "the server failed; see its log",
                ))
            }
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

fn fail(code: ErrorCode, msg: impl Into<String>) -> Fail {
    Fail(ApiError::new(code, msg))
}

type Answer<T> = Result<Json<T>, Fail>;

/// A body that is not the JSON a route takes: 413 when over the limit, else 400.
fn bad_json(e: axum::extract::rejection::JsonRejection) -> Fail {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return fail(
            ErrorCode::PayloadTooLarge,
            format!("the body is over {MAX_BODY} bytes"),
        );
    }
    fail(ErrorCode::BadRequest, e.body_text())
}

/// The bearer token of a request (header `Authorization: Bearer …`).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_string())
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Auth);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Fail;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Fail> {
        if let Some(v) = parts.headers.get(PROTOCOL_HEADER)
            && v.to_str().ok().and_then(|s| s.parse::<u32>().ok()) != Some(PROTOCOL)
        {
            return Err(fail(
                ErrorCode::BadRequest,
                format!("this server speaks sync protocol {PROTOCOL}"),
            ));
        }
        let token = bearer(&parts.headers)
            .ok_or_else(|| fail(ErrorCode::Unauthorized, "sign in: no bearer token"))?;
        let auth = st
            .db
            .authenticate(&token)
            .await?
            .ok_or_else(|| fail(ErrorCode::Unauthorized, "the token is unknown or revoked"))?;
        Ok(Caller(auth))
    }
}

/// The org in the path, if the caller is a member (else the same 404 as no org).
async fn member_of(st: &AppState, caller: &Caller, org: &str) -> Result<(OrgRow, String), Fail> {
    let not_found = || fail(ErrorCode::NotFound, format!("no org `{org}`"));
    let row = st.db.org(org).await?.ok_or_else(not_found)?;
    let role = st
        .db
        .role(&row.id, &caller.0.user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((row, role))
}

pub fn router(state: AppState) -> Router {
    use tower_http::compression::CompressionLayer;
    use tower_http::decompression::RequestDecompressionLayer;
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/tokens", get(tokens))
        .route("/v1/tokens/{id}", delete(revoke))
        .route("/v1/orgs/{org}/clients", post(register))
        .route("/v1/orgs/{org}/push", post(push))
        .route("/v1/orgs/{org}/changes", get(changes))
        .route("/v1/orgs/{org}/bootstrap", get(bootstrap))
        .route("/v1/orgs/{org}/events", get(events))
        .merge(
            crate::api::routes()
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::idempotency::layer,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::ratelimit::layer,
                )),
        )
        .fallback(|| async { fail(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
        .with_state(state)
}

async fn capabilities() -> Json<Capabilities> {
    Json(Capabilities {
        protocols: vec![PROTOCOL],
        max_push_ops: MAX_PUSH_OPS,
        max_page: MAX_PAGE,
        max_body: MAX_BODY,
        max_future_skew_ms: MAX_FUTURE_SKEW_MS,
        compression: vec!["gzip".into(), "zstd".into()],
        features: vec![
            "note_merge".into(),
            "bootstrap".into(),
            "events".into(),
            "presence".into(),
        ],
        server_time: now_ms(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn login(
    State(st): State<AppState>,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<LoginResponse> {
    let Json(req) = body.map_err(bad_json)?;
    let wrong = || fail(ErrorCode::Unauthorized, "wrong email or password");
    let Some((user, Some(hash))) = st.db.user_by_email(&req.email).await? else {
        // Same work as a real check, so timing does not tell which emails exist.
        let _ = crate::db::verify_password(&req.password, DUMMY_HASH);
        return Err(wrong());
    };
    let ok = tokio::task::spawn_blocking(move || crate::db::verify_password(&req.password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(wrong());
    }
    let device = if req.device_name.trim().is_empty() {
        "device".to_string()
    } else {
        req.device_name.trim().chars().take(100).collect()
    };
    let (id, secret) = st
        .db
        .issue_token(&user.id, "device", &device, now_ms())
        .await?;
    let orgs = st.db.orgs_of(&user.id).await?;
    Ok(Json(LoginResponse {
        token: Some(secret),
        token_id: Some(id),
        user,
        orgs,
    }))
}

/// An Argon2id hash of nothing in particular (for the unknown-email path).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3r5ZBzkQWxM9n/SaYCUMlUg0vApj8j/fTa8Oc0nSJGY";

async fn logout(State(st): State<AppState>, c: Caller) -> Result<StatusCode, Fail> {
    st.db.revoke_token(&c.0.token_id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(st): State<AppState>, c: Caller) -> Answer<LoginResponse> {
    let user = st
        .db
        .user(&c.0.user_id)
        .await?
        .ok_or_else(|| fail(ErrorCode::Unauthorized, "no such user"))?;
    let orgs = st.db.orgs_of(&user.id).await?;
    Ok(Json(LoginResponse {
        token: None,
        token_id: Some(c.0.token_id),
        user,
        orgs,
    }))
}

async fn tokens(State(st): State<AppState>, c: Caller) -> Answer<Vec<TokenInfo>> {
    Ok(Json(st.db.tokens_of(&c.0.user_id).await?))
}

async fn revoke(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Fail> {
    let mine = st
        .db
        .tokens_of(&c.0.user_id)
        .await?
        .iter()
        .any(|t| t.id == id);
    if !mine {
        return Err(fail(ErrorCode::NotFound, format!("no token `{id}`")));
    }
    st.db.revoke_token(&id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn register(
    State(st): State<AppState>,
    c: Caller,
    Path(org): Path<String>,
    body: Result<Json<RegisterRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<RegisterResponse> {
    let (org, role) = member_of(&st, &c, &org).await?;
    let Json(req) = body.map_err(bad_json)?;
    Ok(Json(
        st.db
            .register(&org, &c.0.user_id, &role, &req, now_ms())
            .await?,
    ))
}

async fn push(
    State(st): State<AppState>,
    c: Caller,
    Path(org): Path<String>,
    body: Result<Json<PushRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<PushResponse> {
    let (org, role) = member_of(&st, &c, &org).await?;
    if role == "viewer" {
        return Err(fail(ErrorCode::Forbidden, "a viewer cannot change records"));
    }
    if c.0.scope != "read_write" {
        return Err(fail(
            ErrorCode::Forbidden,
            "this key's scope is read: it cannot change records",
        ));
    }
    let Json(req) = body.map_err(bad_json)?;
    let resp = st.db.push(&org.id, &c.0.user_id, &req, now_ms()).await?;
    if resp.last_seq > org.last_seq {
        st.hub.poke(&org.id, resp.last_seq).await;
    }
    Ok(Json(resp))
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    since: Option<i64>,
    limit: Option<usize>,
}

async fn changes(
    State(st): State<AppState>,
    c: Caller,
    Path(org): Path<String>,
    q: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<ChangesPage> {
    let (org, _) = member_of(&st, &c, &org).await?;
    let Query(q) = q.map_err(|e| fail(ErrorCode::BadRequest, e.body_text()))?;
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(fail(ErrorCode::BadRequest, "`since` is a seq, 0 or more"));
    }
    Ok(Json(
        st.db
            .pull(&org, since, q.limit.unwrap_or(1000), now_ms())
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct BootstrapQuery {
    after_id: Option<String>,
}

/// The org's live records as NDJSON, streamed page by page in id order.
async fn bootstrap(
    State(st): State<AppState>,
    c: Caller,
    Path(org): Path<String>,
    Query(q): Query<BootstrapQuery>,
) -> Result<Response, Fail> {
    let (org, _) = member_of(&st, &c, &org).await?;
    let estimated = st.db.count_live(&org.id).await?;
    let header = BootstrapLine::Header {
        org: org.id.clone(),
        epoch: org.epoch.clone(),
        snapshot_seq: org.last_seq,
        estimated,
    };
    let first = line(&header);
    let db = st.db.clone();
    let org_id = org.id.clone();
    let snapshot = org.last_seq;
    // state: (cursor, count, done)
    let pages =
        futures_util::stream::unfold((q.after_id, 0i64, false), move |(after, count, done)| {
            let db = db.clone();
            let org_id = org_id.clone();
            async move {
                if done {
                    return None;
                }
                match db.records_after(&org_id, after.as_deref(), 1000).await {
                    Ok(page) if page.is_empty() => {
                        let end = line(&BootstrapLine::End {
                            count,
                            snapshot_seq: snapshot,
                        });
                        Some((Ok::<_, std::io::Error>(end), (after, count, true)))
                    }
                    Ok(page) => {
                        let mut out = String::new();
                        let n = page.len() as i64;
                        let last = page.last().map(|c| c.id.clone());
                        for c in page {
                            out.push_str(&line(&record_line(c)));
                        }
                        Some((Ok(out), (last, count + n, false)))
                    }
                    Err(e) => {
                        tracing::error!("bootstrap: {e}");
                        Some((
                            Err(std::io::Error::other("bootstrap failed")),
                            (after, count, true),
                        ))
                    }
                }
            }
        });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) }),
        futures_util::StreamExt::fuse(pages),
    );
    let body = futures_util::StreamExt::fuse(body);
    Ok((
        [("content-type", "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// A live record as a bootstrap line.
pub fn record_line(c: Change) -> BootstrapLine {
    BootstrapLine::Record {
        entity: c.entity,
        id: c.id,
        lead_id: c.lead_id,
        deleted: false,
        fields: c.state.fields,
        clocks: c.state.clocks,
        seq: c.seq,
        body_rev: c.body_rev,
    }
}

fn line<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s.push('\n');
    s
}

async fn events(
    State(st): State<AppState>,
    c: Caller,
    Path(org): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Fail> {
    let (org, _) = member_of(&st, &c, &org).await?;
    let client_id = headers
        .get(CLIENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let user = st.db.user(&c.0.user_id).await?;
    Ok(ws.on_upgrade(move |socket| {
        socket_loop(
            st,
            c.0,
            org.id,
            client_id,
            user.map(|u| u.display_name).unwrap_or_default(),
            socket,
        )
    }))
}

/// One event socket: pokes after `hello`, a ping every 20 s, presence both ways; closed when
/// the token is revoked (checked every 2 s).
async fn socket_loop(
    st: AppState,
    auth: Auth,
    org: String,
    client_id: String,
    display_name: String,
    mut socket: WebSocket,
) {
    let mut rx = st.hub.subscribe(&org);
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    let mut check = tokio::time::interval(Duration::from_secs(2));
    let send = |m: &ServerMessage| Message::text(serde_json::to_string(m).unwrap_or_default());
    let entry = |lead: String| PresenceEntry {
        user_id: auth.user_id.clone(),
        display_name: display_name.clone(),
        client_id: client_id.clone(),
        lead_id: lead,
    };
    let mut open_lead: Option<String> = None;
    loop {
        tokio::select! {
            m = socket.recv() => {
                let Some(Ok(m)) = m else { break };
                let Message::Text(t) = m else { continue };
                match serde_json::from_str::<ClientMessage>(&t) {
                    Ok(ClientMessage::Hello { cursor }) => {
                        if let Ok(Some(o)) = st.db.org(&org).await
                            && o.last_seq > cursor
                            && socket.send(send(&ServerMessage::Poke { seq: o.last_seq })).await.is_err()
                        {
                            break;
                        }
                        let entries = st.hub.presence_now(&org);
                        if !entries.is_empty()
                            && socket.send(send(&ServerMessage::Presence { entries })).await.is_err()
                        {
                            break;
                        }
                    }
                    Ok(ClientMessage::Presence { lead_id }) => {
                        if let Some(old) = open_lead.take() {
                            st.hub.presence(&org, entry(old), false);
                        }
                        if let Some(l) = lead_id {
                            open_lead = Some(l.clone());
                            st.hub.presence(&org, entry(l), true);
                        }
                    }
                    Err(_) => {}
                }
            }
            m = rx.recv() => {
                match m {
                    Ok(m) => {
                        if socket.send(send(&m)).await.is_err() {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Missed pokes: one poke with the current seq says it all.
                        if let Ok(Some(o)) = st.db.org(&org).await
                            && socket.send(send(&ServerMessage::Poke { seq: o.last_seq })).await.is_err()
                        {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            _ = ping.tick() => {
                if socket.send(send(&ServerMessage::Ping)).await.is_err() {
                    break;
                }
            }
            _ = check.tick() => {
                if !st.db.token_live(&auth.token_id).await.unwrap_or(true) {
                    let _ = socket.send(send(&ServerMessage::Revoked)).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            }
        }
    }
    if let Some(old) = open_lead {
        st.hub.presence(&org, entry(old), false);
    }
}
