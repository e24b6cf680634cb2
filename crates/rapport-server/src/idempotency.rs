//! `Idempotency-Key` on the public API's POSTs: the first request with a key (per API key)
//! runs and, when it succeeds (2xx), its answer is kept for 24 h; a retry with the same key and
//! the same request gets that answer again (`Idempotent-Replayed: true`) and writes nothing. A
//! retry while the first still runs is `409 idempotency_in_progress` (also across server
//! processes: the claim is a row of the shared database); the same key with another request is
//! `400 idempotency_key_reused`. A failed first request releases the key.

use crate::api::{ApiFail, secret};
use crate::db::token_hash;
use crate::http::{AppState, now_ms};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rapport_app::AppError;
use rapport_sync::wire::MAX_BODY;
use sqlx::Row;

pub const HEADER: &str = "idempotency-key";
/// How long an answer is kept.
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

fn fail(code: &str, msg: impl Into<String>) -> Response {
    ApiFail::from(AppError::new(code, msg)).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("idempotency: {e}");
    fail("internal", "the server failed; see its log")
}

/// The middleware (on the `/api/v1/` routes).
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let key = match req.headers().get(HEADER) {
        Some(v) if req.method() == Method::POST => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 255 => k.trim().to_string(),
            _ => {
                return fail(
                    "bad_request",
                    "an Idempotency-Key is 1 to 255 visible characters",
                );
            }
        },
        _ => return next.run(req).await,
    };
    // Unauthenticated: the route answers 401 itself.
    let Some(token) = secret(req.headers()) else {
        return next.run(req).await;
    };
    let token_id = match st.db.authenticate(&token).await {
        Ok(Some(a)) => a.token_id,
        Ok(None) => return next.run(req).await,
        Err(e) => return internal(e),
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return fail(
                "payload_too_large",
                format!("the body is over {MAX_BODY} bytes"),
            );
        }
    };
    let request = format!(
        "{} {} {}",
        parts.method,
        parts.uri,
        token_hash(&String::from_utf8_lossy(&bytes))
    );
    let now = now_ms();
    let db = &st.db;
    let _ = sqlx::query("DELETE FROM api_idempotency WHERE created_at < $1")
        .bind(now - KEEP_MS)
        .execute(&db.pool)
        .await;
    let claimed = sqlx::query(
        "INSERT INTO api_idempotency (token_id, idem_key, request, status, body, created_at)
         VALUES ($1, $2, $3, 0, NULL, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&token_id)
    .bind(&key)
    .bind(&request)
    .bind(now)
    .execute(&db.pool)
    .await;
    match claimed {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => return replay(&st, &token_id, &key, &request).await,
        Err(e) => return internal(e),
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !resp.status().is_success() {
        let _ = sqlx::query("DELETE FROM api_idempotency WHERE token_id = $1 AND idem_key = $2")
            .bind(&token_id)
            .bind(&key)
            .execute(&db.pool)
            .await;
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return internal(e),
    };
    if let Err(e) = sqlx::query(
        "UPDATE api_idempotency SET status = $1, body = $2 WHERE token_id = $3 AND idem_key = $4",
    )
    .bind(parts.status.as_u16() as i64)
    .bind(String::from_utf8_lossy(&bytes).into_owned())
    .bind(&token_id)
    .bind(&key)
    .execute(&db.pool)
    .await
    {
        tracing::error!("idempotency: keeping the answer: {e}");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The answer for a key seen before.
async fn replay(st: &AppState, token_id: &str, key: &str, request: &str) -> Response {
    let row = sqlx::query(
        "SELECT request, status, body FROM api_idempotency WHERE token_id = $1 AND idem_key = $2",
    )
    .bind(token_id)
    .bind(key)
    .fetch_optional(&st.db.pool)
    .await;
    let row = match row {
        Ok(Some(r)) => r,
        // Released between our insert and this read: the first request failed.
        Ok(None) => {
            return fail(
                "idempotency_in_progress",
                "a request with this Idempotency-Key just ran; retry",
            );
        }
        Err(e) => return internal(e),
    };
    let (first, status, body): (String, i64, Option<String>) = match (
        row.try_get("request"),
        row.try_get("status"),
        row.try_get("body"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => return internal("an unreadable idempotency row"),
    };
    if first != request {
        return ApiFail::from(AppError {
            field: Some("Idempotency-Key".into()),
            ..AppError::new(
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request",
            )
        })
        .into_response();
    }
    if status == 0 {
        return fail(
            "idempotency_in_progress",
            "the first request with this Idempotency-Key is still running; retry",
        );
    }
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let mut resp = (
        status,
        [("content-type", "application/json")],
        body.unwrap_or_default(),
    )
        .into_response();
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
