//! Per-key rate limits for the public API: a token bucket per API key (keyed by the key's
//! SHA-256, so unknown keys are limited too), `rate` requests a second with bursts of twice
//! that; over it, `429 rate_limited` with `Retry-After` (seconds). The buckets live in the
//! process: with several server processes, each allows the rate.

use crate::api::{ApiFail, secret};
use crate::db::token_hash;
use crate::http::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rapport_app::AppError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Requests a second per key unless `--api-rate-limit` says otherwise.
pub const DEFAULT_RATE: u32 = 50;

#[derive(Debug)]
pub struct RateLimiter {
    /// Requests a second (0: no limit).
    rate: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how many seconds until one is free.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let rate = self.rate as f64;
        let burst = 2.0 * rate;
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            // Full buckets are the same as none.
            b.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = b.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// The middleware (on the `/api/v1/` routes).
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = secret(req.headers())
        && let Err(wait) = st.limiter.take(&token_hash(&key))
    {
        let mut resp = ApiFail::from(AppError::new(
            "rate_limited",
            format!("too many requests with this key; retry in {wait} s"),
        ))
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    next.run(req).await
}
