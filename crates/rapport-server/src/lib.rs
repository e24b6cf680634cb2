//! Rapport's team server: accounts and tokens, the sync protocol (register, push, pull,
//! bootstrap, event sockets with pokes and presence) over one storage layer on SQLite (the
//! default) or PostgreSQL. The push rules are the pure planner in `engine`.

pub mod api;
pub mod api_records;
pub mod db;
pub mod engine;
pub mod http;
pub mod hub;
pub mod idempotency;
pub mod openapi;
pub mod postgres;
pub mod ratelimit;
pub mod replica;
pub mod sqlite;

pub use db::{Backend, Db, DbError, OrgRow};
pub use http::{AppState, now_ms, router};
pub use hub::Hub;

/// The hub for a database: pokes through `NOTIFY` on PostgreSQL (and listening for other
/// processes' pokes), in-process on SQLite.
pub fn hub_for(db: &Db) -> Hub {
    match db.backend {
        Backend::Postgres => {
            let mut hub = Hub::default();
            hub.notify = Some(db.clone());
            postgres::listen(db.url.clone(), hub.clone());
            hub
        }
        Backend::Sqlite => Hub::default(),
    }
}
