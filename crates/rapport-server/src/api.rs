//! The public REST API under `/api/v1/`: thin adapters from JSON (the canonical JSONL field
//! names) to the app's use cases on the org's replica ([`crate::replica`]). Auth: an API key
//! or device token as `Authorization: Bearer …` or as the HTTP Basic username; the org is
//! the key's member org (`?org=` or `X-Rapport-Org` when the member has several). Errors are
//! `{code, message, field}` (plus `span`/`hint` for a bad query) with a 4xx status.

use crate::db::{Auth, OrgRow};
use crate::http::AppState;
use crate::replica::{Actor, Replica};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rapport_app::{App, AppError, SearchOptions, activity_view};
use rapport_core::Id;
use rapport_core::ops::{self, LeadPatch, NewActivity, NewContact, NewLead};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The header naming the org when a key's member belongs to several.
pub const ORG_HEADER: &str = "x-rapport-org";
/// Activities in a lead read unless `?activities=N` says otherwise, and the most.
pub const DEFAULT_ACTIVITIES: i64 = 20;
pub const MAX_ACTIVITIES: i64 = 200;
/// Search results per page unless `limit` says otherwise, and the most.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// An API error answer: the app's error with the status its code maps to.
#[derive(Debug)]
pub struct ApiFail(pub StatusCode, pub Box<AppError>);

impl From<AppError> for ApiFail {
    fn from(e: AppError) -> Self {
        let status = match e.code.as_str() {
            "not_found" => StatusCode::NOT_FOUND,
            "unauthorized" => StatusCode::UNAUTHORIZED,
            "forbidden" => StatusCode::FORBIDDEN,
            "duplicate" | "rejected" | "conflict" => StatusCode::CONFLICT,
            "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "idempotency_in_progress" => StatusCode::CONFLICT,
            "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
            "bad_query"
            | "bad_input"
            | "bad_request"
            | "invalid_field"
            | "unknown_status"
            | "unknown_field"
            | "malformed_json"
            | "org_required"
            | "idempotency_key_reused" => StatusCode::BAD_REQUEST,
            _ => {
                tracing::error!("api: {}: {}", e.code, e.message);
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiFail(status, Box::new(e))
    }
}

impl From<crate::db::DbError> for ApiFail {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Api(a) => {
                let code = serde_json::to_value(a.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "internal".into());
                let status = StatusCode::from_u16(a.code.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiFail(
                    status,
                    Box::new(AppError {
                        field: a.field,
                        ..AppError::new(&code, a.message)
                    }),
                )
            }
            other => {
                tracing::error!("api: {other}");
                ApiFail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Box::new(AppError::new("internal", "the server failed; see its log")),
                )
            }
        }
    }
}

impl From<rapport_store::Error> for ApiFail {
    fn from(e: rapport_store::Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<rapport_core::Error> for ApiFail {
    fn from(e: rapport_core::Error) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for ApiFail {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

pub(crate) fn err(code: &str, msg: impl Into<String>) -> ApiFail {
    AppError::new(code, msg).into()
}

pub(crate) type Answer<T = Value> = Result<T, ApiFail>;

/// The secret of a request: `Authorization: Bearer KEY`, or Basic with KEY as the username
/// (any password, usually empty: Close's convention).
pub(crate) fn secret(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let user = text.split_once(':').map(|(u, _)| u).unwrap_or(&text);
        return (!user.is_empty()).then(|| user.to_string());
    }
    None
}

/// An authenticated API caller in one of their orgs.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub auth: Auth,
    pub org: OrgRow,
    pub role: String,
    pub actor: Actor,
}

impl ApiCaller {
    /// A viewer, or a key of scope `read`, may read only.
    pub(crate) fn may_write(&self) -> Answer<()> {
        if self.role == "viewer" {
            return Err(err("forbidden", "a viewer cannot change records"));
        }
        if self.auth.scope != "read_write" {
            return Err(err(
                "forbidden",
                "this key's scope is read: it cannot change records",
            ));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiFail;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiFail> {
        let unauthorized = |m: &str| {
            ApiFail(
                StatusCode::UNAUTHORIZED,
                Box::new(AppError::new("unauthorized", m.to_string())),
            )
        };
        let key = secret(&parts.headers).ok_or_else(|| {
            unauthorized("send an API key: `Authorization: Bearer KEY` or Basic with KEY as user")
        })?;
        let auth = st
            .db
            .authenticate(&key)
            .await?
            .ok_or_else(|| unauthorized("the key is unknown or revoked"))?;
        let user = st
            .db
            .user(&auth.user_id)
            .await?
            .ok_or_else(|| unauthorized("no such user"))?;
        let orgs = st.db.orgs_of(&auth.user_id).await?;
        let asked = parts
            .headers
            .get(ORG_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                let q: Query<HashMap<String, String>> = Query::try_from_uri(&parts.uri).ok()?;
                q.0.get("org").cloned()
            });
        let m = match asked {
            Some(a) => orgs
                .iter()
                .find(|o| o.id == a || o.name.eq_ignore_ascii_case(a.trim()))
                .ok_or_else(|| err("not_found", format!("no org `{a}`")))?,
            None => match orgs.as_slice() {
                [one] => one,
                [] => return Err(err("forbidden", "this key's user is in no org")),
                many => {
                    let names: Vec<&str> = many.iter().map(|o| o.name.as_str()).collect();
                    return Err(AppError {
                        field: Some("org".into()),
                        ..AppError::new(
                            "org_required",
                            format!(
                                "this key's user is in several orgs ({}): name one with ?org= or the {ORG_HEADER} header",
                                names.join(", ")
                            ),
                        )
                    }
                    .into());
                }
            },
        };
        let org = st
            .db
            .org(&m.id)
            .await?
            .ok_or_else(|| err("not_found", format!("no org `{}`", m.id)))?;
        Ok(ApiCaller {
            auth,
            role: m.role.clone(),
            org,
            actor: Actor {
                user_id: user.id,
                name: user.display_name,
                email: user.email,
            },
        })
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leads", post(create_lead).get(list_leads))
        .route(
            "/api/v1/leads/{id}",
            get(get_lead)
                .put(put_lead)
                .patch(patch_lead)
                .delete(delete_lead),
        )
        .route("/api/v1/search", post(search))
        .route("/api/v1/activities/note", post(create_note))
        .route("/api/v1/activities/call", post(create_call))
        .route("/api/v1/activities/{kind}", post(create_activity))
        .merge(crate::api_records::routes())
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
}

/// The caller's org's replica.
pub(crate) async fn replica(st: &AppState, c: &ApiCaller) -> Answer<Arc<Replica>> {
    Ok(st.replicas.get(&c.org, &c.actor).await?)
}

/// A replica caught up with the org (for reads).
pub(crate) async fn current(st: &AppState, c: &ApiCaller) -> Answer<Arc<Replica>> {
    let r = replica(st, c).await?;
    st.replicas.catch_up(&r).await?;
    Ok(r)
}

/// The body as a JSON object: 400 `malformed_json` when it is not one, 413 when too big.
pub(crate) fn object(body: Result<Bytes, BytesRejection>) -> Answer<Map<String, Value>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new("payload_too_large", e.body_text()).into()
        } else {
            err("bad_request", e.body_text())
        }
    })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err("malformed_json", "the body must be a JSON object")),
        Err(e) => Err(err("malformed_json", format!("the body is not JSON: {e}"))),
    }
}

/// A JSON value as an input type: unknown fields and wrong types are 400s naming the field.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(v: Value, at: &str) -> Answer<T> {
    serde_json::from_value(v).map_err(|e| {
        let msg = e.to_string();
        let field = |m: &str| {
            m.split('`').nth(1).map(|f| {
                if at.is_empty() {
                    f.to_string()
                } else {
                    format!("{at}.{f}")
                }
            })
        };
        if msg.starts_with("unknown field") {
            AppError {
                field: field(&msg),
                ..AppError::new("unknown_field", msg)
            }
            .into()
        } else if msg.starts_with("missing field") {
            AppError {
                field: field(&msg),
                ..AppError::new("invalid_field", msg)
            }
            .into()
        } else {
            AppError {
                field: (!at.is_empty()).then(|| at.to_string()),
                ..AppError::new("bad_input", msg)
            }
            .into()
        }
    })
}

pub(crate) fn lead_id(id: &str) -> Answer<Id> {
    id.parse::<Id>()
        .map_err(|_| err("not_found", format!("no lead with id {id}")))
}

#[derive(Debug, Deserialize)]
pub struct LeadQuery {
    activities: Option<i64>,
    /// Activities older than this one (the `next_cursor` of the previous read).
    activities_before: Option<String>,
}

/// The lead with its contacts, tasks, opportunities and newest-first activities.
async fn lead_view(app: &App, id: Id, n: i64, before: Option<Id>) -> Answer {
    let page = app.lead_page(id).await?;
    let lead_id: Id = page
        .lead
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(id);
    let tl = app
        .store()
        .timeline(lead_id, before, n.clamp(0, MAX_ACTIVITIES))
        .await?;
    let users = app.store().users().await?;
    let activities: Vec<Value> = tl.items.iter().map(|a| activity_view(a, &users)).collect();
    Ok(json!({
        "lead": page.lead,
        "contacts": page.contacts,
        "tasks": page.tasks,
        "opportunities": page.opportunities,
        "activities": activities,
        "next_cursor": tl.next_cursor.map(|c| c.to_string()),
    }))
}

/// A lead with its contacts, tasks, opportunities and newest-first activities, in one call.
#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads",
    params(
        ("id" = String, Path, description = "The lead's id (a merged lead's id opens the survivor)"),
        ("activities" = Option<i64>, Query, description = "How many activities (default 20, at most 200)"),
        ("activities_before" = Option<String>, Query, description = "The `next_cursor` of the previous read"),
    ),
    responses(
        (status = 200, body = crate::openapi::LeadRead),
        (status = 401, body = crate::openapi::Error),
        (status = 404, description = "No such lead in this org", body = crate::openapi::Error),
    ))]
pub async fn get_lead(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
    q: Result<Query<LeadQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Json<Value>> {
    let Query(q) = q.map_err(|e| err("bad_request", e.body_text()))?;
    let id = lead_id(&id)?;
    let before = match q.activities_before.as_deref() {
        Some(b) => Some(
            b.parse::<Id>()
                .map_err(|_| err("bad_request", "`activities_before` is an activity id"))?,
        ),
        None => None,
    };
    let r = current(&st, &c).await?;
    Ok(Json(
        lead_view(
            &r.app,
            id,
            q.activities.unwrap_or(DEFAULT_ACTIVITIES),
            before,
        )
        .await?,
    ))
}

/// Creates a lead, with its contacts (`contacts: [...]`) in the same transaction.
#[utoipa::path(post, path = "/api/v1/leads", tag = "leads",
    request_body = crate::openapi::LeadInput,
    responses(
        (status = 201, description = "Created; the lead as a read shows it", body = crate::openapi::LeadRead),
        (status = 400, description = "Malformed JSON, unknown field, wrong type, invalid value: nothing written", body = crate::openapi::Error),
        (status = 401, body = crate::openapi::Error),
        (status = 403, description = "A viewer's key", body = crate::openapi::Error),
    ))]
pub async fn create_lead(
    State(st): State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    c.may_write()?;
    let mut body = object(body)?;
    let contacts: Vec<NewContact> = match body.remove("contacts") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| decode(v, &format!("contacts[{i}]")))
            .collect::<Answer<_>>()?,
        Some(_) => {
            return Err(AppError {
                field: Some("contacts".into()),
                ..AppError::new("bad_input", "`contacts` is a list")
            }
            .into());
        }
    };
    let lead: NewLead = decode(Value::Object(body), "")?;
    let r = replica(&st, &c).await?;
    let id = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            create_with_contacts(&app, lead, contacts).await
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(lead_view(&r.app, id, DEFAULT_ACTIVITIES, None).await?),
    ))
}

/// One plan: the lead and every contact, all or nothing (the core's operations).
async fn create_with_contacts(
    app: &App,
    lead: NewLead,
    contacts: Vec<NewContact>,
) -> Result<Id, AppError> {
    let mut contacts = contacts.into_iter();
    let Some(first) = contacts.next() else {
        return Ok(app.create_lead(lead).await?.id);
    };
    let mut w = app.store().begin_write().await?;
    w.journal("Edit");
    let (lead, _, mut plan) = ops::create_lead_with_contact(lead, first, &mut w.ctx)?;
    for more in contacts {
        let (_, p) = ops::add_contact(&lead, more, &mut w.ctx)?;
        plan.writes.extend(p.writes);
    }
    w.apply(plan).await?;
    w.commit().await?;
    app.nudge_index();
    Ok(lead.id)
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads",
    params(("id" = String, Path)),
    request_body = crate::openapi::LeadPatchInput,
    responses(
        (status = 200, body = crate::openapi::LeadRead),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn patch_lead(
    st: State<AppState>,
    c: ApiCaller,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    update_lead(st, c, id, body).await
}

/// The same as PATCH: only the fields given change (Close's PUT is partial too).
#[utoipa::path(put, path = "/api/v1/leads/{id}", tag = "leads",
    params(("id" = String, Path)),
    request_body = crate::openapi::LeadPatchInput,
    responses(
        (status = 200, body = crate::openapi::LeadRead),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn put_lead(
    st: State<AppState>,
    c: ApiCaller,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    update_lead(st, c, id, body).await
}

async fn update_lead(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    c.may_write()?;
    let id = lead_id(&id)?;
    let patch: LeadPatch = decode(Value::Object(object(body)?), "")?;
    let r = replica(&st, &c).await?;
    st.replicas
        .write(&r, &c.actor, |app| async move {
            app.update_lead(id, patch).await
        })
        .await?;
    Ok(Json(lead_view(&r.app, id, DEFAULT_ACTIVITIES, None).await?))
}

/// Deletes the lead with everything on it.
#[utoipa::path(delete, path = "/api/v1/leads/{id}", tag = "leads",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn delete_lead(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Answer<StatusCode> {
    c.may_write()?;
    let id = lead_id(&id)?;
    let r = replica(&st, &c).await?;
    st.replicas
        .write(&r, &c.actor, |app| async move { app.delete_lead(id).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A search request (the query string of `GET /leads`, or the body of `POST /search`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// An IANA time zone for relative dates (default: the server's).
    #[serde(default)]
    tz: Option<String>,
    /// The instant relative dates count from (RFC 3339; default: now).
    #[serde(default)]
    now: Option<String>,
}

async fn run_search(st: &AppState, c: &ApiCaller, q: SearchRequest) -> Answer<Json<Value>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AppError {
            field: Some("limit".into()),
            ..AppError::new("bad_input", format!("`limit` is 1 to {MAX_LIMIT}"))
        }
        .into());
    }
    let offset = match q.cursor.as_deref() {
        Some(cur) => cur.parse::<usize>().map_err(|_| AppError {
            field: Some("cursor".into()),
            ..AppError::new("bad_input", "not a cursor from this API")
        })?,
        None => 0,
    };
    let now = match q.now.as_deref() {
        Some(t) => Some(rapport_core::time::parse(t).ok_or_else(|| AppError {
            field: Some("now".into()),
            ..AppError::new("bad_input", "`now` is an RFC 3339 time")
        })?),
        None => None,
    };
    let r = current(st, c).await?;
    let res = r
        .app
        .search(
            q.query.as_deref().unwrap_or(""),
            SearchOptions {
                now,
                tz: q.tz,
                limit,
                offset,
            },
        )
        .await?;
    let next = offset + res.rows.len();
    let next_cursor = ((next as u64) < res.total && !res.rows.is_empty()).then(|| next.to_string());
    Ok(Json(json!({
        "total": res.total,
        "data": res.rows,
        "sort": res.sort,
        "next_cursor": next_cursor,
        "stale": res.stale,
    })))
}

/// Leads matching a query of the app's search language, one page.
#[utoipa::path(get, path = "/api/v1/leads", tag = "search",
    params(
        ("query" = Option<String>, Query, description = "The search language (`status:qualified sort:name`); empty: every lead"),
        ("limit" = Option<usize>, Query, description = "1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("tz" = Option<String>, Query, description = "IANA time zone for relative dates"),
        ("now" = Option<String>, Query, description = "RFC 3339 instant relative dates count from"),
    ),
    responses(
        (status = 200, body = crate::openapi::SearchPage),
        (status = 400, description = "`bad_query` with the byte span and a hint", body = crate::openapi::Error),
        (status = 401, body = crate::openapi::Error),
    ))]
pub async fn list_leads(
    State(st): State<AppState>,
    c: ApiCaller,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Answer<Json<Value>> {
    let Query(mut q) = q.map_err(|e| err("bad_request", e.body_text()))?;
    q.remove("org");
    let q = serde_json::to_value(q).map_err(|e| err("bad_request", e.to_string()))?;
    // Query parameters are strings; `limit` is a number.
    let mut q = q.as_object().cloned().unwrap_or_default();
    if let Some(Value::String(l)) = q.get("limit").cloned() {
        let n: usize = l.parse().map_err(|_| AppError {
            field: Some("limit".into()),
            ..AppError::new("bad_input", "`limit` is a number")
        })?;
        q.insert("limit".into(), json!(n));
    }
    let req: SearchRequest = decode(Value::Object(q), "")?;
    run_search(&st, &c, req).await
}

/// The same search, its parameters in the body.
#[utoipa::path(post, path = "/api/v1/search", tag = "search",
    request_body = crate::openapi::SearchInput,
    responses(
        (status = 200, body = crate::openapi::SearchPage),
        (status = 400, description = "`bad_query` with the byte span and a hint", body = crate::openapi::Error),
        (status = 401, body = crate::openapi::Error),
    ))]
pub async fn search(
    State(st): State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    let req: SearchRequest = decode(Value::Object(object(body)?), "")?;
    run_search(&st, &c, req).await
}

/// The fields each writable activity type takes (beside `lead_id`).
fn activity_fields(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "note" => Some(&["contact_id", "activity_at", "title", "note", "pinned"]),
        "call" => Some(&[
            "contact_id",
            "activity_at",
            "direction",
            "status",
            "disposition",
            "remote_phone",
            "local_phone",
            "duration",
            "note",
        ]),
        _ => None,
    }
}

/// Logs a note on the lead `lead_id`.
#[utoipa::path(post, path = "/api/v1/activities/note", tag = "activities",
    request_body = crate::openapi::NoteInput,
    responses(
        (status = 201, description = "The note, with `_type`, `user_name`, `note_html`"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, description = "No such lead in this org", body = crate::openapi::Error),
    ))]
pub async fn create_note(
    st: State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    create_activity(st, c, Path("note".into()), body).await
}

/// Logs a call on the lead `lead_id`.
#[utoipa::path(post, path = "/api/v1/activities/call", tag = "activities",
    request_body = crate::openapi::CallInput,
    responses(
        (status = 201, description = "The call, with `_type` and `user_name`"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, description = "No such lead in this org", body = crate::openapi::Error),
    ))]
pub async fn create_call(
    st: State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    create_activity(st, c, Path("call".into()), body).await
}

/// Logs an activity on a lead: `POST /api/v1/activities/note` or `/call`, `lead_id` in the body.
async fn create_activity(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(kind): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    let Some(allowed) = activity_fields(&kind) else {
        return Err(err(
            "not_found",
            format!("no activity type `{kind}` to create here (note, call)"),
        ));
    };
    c.may_write()?;
    let mut body = object(body)?;
    let lead = match body.remove("lead_id") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(AppError {
                field: Some("lead_id".into()),
                ..AppError::new("invalid_field", "`lead_id` (the lead's id) is required")
            }
            .into());
        }
    };
    let lead = lead_id(&lead)?;
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AppError {
            field: Some(k.clone()),
            ..AppError::new(
                "unknown_field",
                format!(
                    "unknown field `{k}`, expected one of lead_id, {}",
                    allowed.join(", ")
                ),
            )
        }
        .into());
    }
    body.insert("_type".into(), json!(kind));
    let input: NewActivity = decode(Value::Object(body), "")?;
    let r = replica(&st, &c).await?;
    let a = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            app.add_activity(lead, input).await
        })
        .await?;
    let users = r.app.store().users().await?;
    Ok((StatusCode::CREATED, Json(activity_view(&a, &users))))
}
