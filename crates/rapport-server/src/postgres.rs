//! The PostgreSQL backend (for teams that outgrow one machine; several server processes may
//! share one database): its own migrations, and pokes that cross processes by
//! `LISTEN/NOTIFY` on one channel (`org_id:seq` payloads).

use crate::db::{Backend, Db, Result};
use crate::hub::Hub;
use sqlx::any::AnyPoolOptions;

/// The channel every server process listens on.
pub const CHANNEL: &str = "rapport_poke";

pub async fn open(url: &str) -> Result<Db> {
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await?;
    // Two processes starting at once must not both run the migrations.
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    Ok(Db {
        pool,
        backend: Backend::Postgres,
        url: url.to_string(),
    })
}

/// Tells every server process (this one too) that `org` reached `seq`.
pub async fn notify(db: &Db, org: &str, seq: i64) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{org}:{seq}"))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forwards the channel's notifications to this process's sockets, reconnecting on failure.
pub fn listen(url: String, hub: Hub) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut l) => {
                    if l.listen(CHANNEL).await.is_ok() {
                        while let Ok(n) = l.recv().await {
                            if let Some((org, seq)) = n.payload().split_once(':')
                                && let Ok(seq) = seq.parse()
                            {
                                hub.poke_local(org, seq);
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("LISTEN failed: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
}
