//! The public API's routes for a lead's contacts and tasks (`/api/v1/contacts`,
//! `/api/v1/tasks`): `lead_id` in the body of a create, then by id; each write an app use case
//! on the org's replica, like the lead routes in [`crate::api`].

use crate::api::{Answer, ApiCaller, current, decode, err, lead_id as parse_lead, object, replica};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rapport_app::{App, AppError, contact_view};
use rapport_core::Id;
use rapport_core::ops::{ContactPatch, NewContact, NewTask, TaskPatch};
use serde_json::{Map, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/contacts", post(create_contact))
        .route(
            "/api/v1/contacts/{id}",
            get(get_contact)
                .patch(patch_contact)
                .put(put_contact)
                .delete(delete_contact),
        )
        .route("/api/v1/tasks", post(create_task))
        .route("/api/v1/tasks/{id}", get(get_task).patch(patch_task))
}

fn id_of(kind: &str, id: &str) -> Answer<Id> {
    id.parse::<Id>()
        .map_err(|_| err("not_found", format!("no {kind} with id {id}")))
}

/// A live record of a table of the replica's store, or `not_found`.
async fn live<T: serde::de::DeserializeOwned>(
    app: &App,
    table: &str,
    kind: &str,
    id: Id,
) -> Answer<T> {
    let data: Option<String> = sqlx::query_scalar(&format!(
        "SELECT data FROM {table} WHERE id = ? AND deleted = 0"
    ))
    .bind(id.to_string())
    .fetch_optional(app.store().pool())
    .await
    .map_err(|e| AppError::new("internal", format!("replica read: {e}")))?;
    let data = data.ok_or_else(|| err("not_found", format!("no {kind} with id {id}")))?;
    serde_json::from_str(&data)
        .map_err(|e| AppError::new("internal", format!("replica record: {e}")).into())
}

/// The `lead_id` of a create body, taken out of it.
fn take_lead(body: &mut Map<String, Value>) -> Answer<Id> {
    match body.remove("lead_id") {
        Some(Value::String(s)) => parse_lead(&s),
        _ => Err(AppError {
            field: Some("lead_id".into()),
            ..AppError::new("invalid_field", "`lead_id` (the lead's id) is required")
        }
        .into()),
    }
}

async fn contact_json(app: &App, c: &rapport_core::Contact) -> Answer<Value> {
    let region = app
        .store()
        .meta("region")
        .await?
        .unwrap_or_else(|| "US".into());
    Ok(contact_view(c, &region))
}

/// Adds a contact to the lead `lead_id`.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts",
    request_body = crate::openapi::ContactCreate,
    responses(
        (status = 201, description = "The contact (phones with `phone_formatted`)"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, description = "No such lead in this org", body = crate::openapi::Error),
    ))]
pub async fn create_contact(
    State(st): State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    c.may_write()?;
    let mut body = object(body)?;
    let lead = take_lead(&mut body)?;
    let input: NewContact = decode(Value::Object(body), "")?;
    let r = replica(&st, &c).await?;
    let made = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            app.add_contact(lead, input).await
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(contact_json(&r.app, &made).await?),
    ))
}

/// A contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The contact"),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn get_contact(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Answer<Json<Value>> {
    let id = id_of("contact", &id)?;
    let r = current(&st, &c).await?;
    let contact: rapport_core::Contact = live(&r.app, "contacts", "contact", id).await?;
    Ok(Json(contact_json(&r.app, &contact).await?))
}

async fn update_contact(
    st: AppState,
    c: ApiCaller,
    id: String,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    c.may_write()?;
    let id = id_of("contact", &id)?;
    let patch: ContactPatch = decode(Value::Object(object(body)?), "")?;
    let r = replica(&st, &c).await?;
    let changed = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            app.update_contact(id, patch).await
        })
        .await?;
    Ok(Json(contact_json(&r.app, &changed).await?))
}

/// Changes only the fields given.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path)),
    request_body = crate::openapi::ContactPatchInput,
    responses(
        (status = 200, description = "The contact"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn patch_contact(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    update_contact(st, c, id, body).await
}

/// The same as PATCH (partial).
#[utoipa::path(put, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path)),
    request_body = crate::openapi::ContactPatchInput,
    responses(
        (status = 200, description = "The contact"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn put_contact(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    update_contact(st, c, id, body).await
}

/// Deletes a contact.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn delete_contact(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Answer<StatusCode> {
    c.may_write()?;
    let id = id_of("contact", &id)?;
    let r = replica(&st, &c).await?;
    st.replicas
        .write(
            &r,
            &c.actor,
            |app| async move { app.delete_contact(id).await },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a task to the lead `lead_id`.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    request_body = crate::openapi::TaskCreate,
    responses(
        (status = 201, description = "The task"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, description = "No such lead in this org", body = crate::openapi::Error),
    ))]
pub async fn create_task(
    State(st): State<AppState>,
    c: ApiCaller,
    body: Result<Bytes, BytesRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    c.may_write()?;
    let mut body = object(body)?;
    let lead = take_lead(&mut body)?;
    let input: NewTask = decode(Value::Object(body), "")?;
    let r = replica(&st, &c).await?;
    let task = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            app.add_task(lead, input).await
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(task).unwrap_or_default()),
    ))
}

/// A task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The task"),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn get_task(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Answer<Json<Value>> {
    let id = id_of("task", &id)?;
    let r = current(&st, &c).await?;
    let task: rapport_core::Task = live(&r.app, "tasks", "task", id).await?;
    Ok(Json(serde_json::to_value(task).unwrap_or_default()))
}

/// Changes a task (`is_complete: true` marks it done).
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path)),
    request_body = crate::openapi::TaskPatchInput,
    responses(
        (status = 200, description = "The task"),
        (status = 400, body = crate::openapi::Error),
        (status = 403, body = crate::openapi::Error),
        (status = 404, body = crate::openapi::Error),
    ))]
pub async fn patch_task(
    State(st): State<AppState>,
    c: ApiCaller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Json<Value>> {
    c.may_write()?;
    let id = id_of("task", &id)?;
    let patch: TaskPatch = decode(Value::Object(object(body)?), "")?;
    let r = replica(&st, &c).await?;
    let task = st
        .replicas
        .write(&r, &c.actor, |app| async move {
            app.update_task(id, patch).await
        })
        .await?;
    Ok(Json(serde_json::to_value(task).unwrap_or_default()))
}
