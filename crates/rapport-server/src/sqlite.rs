//! The SQLite backend (the default: one file in the data directory, nothing to install):
//! WAL, a busy timeout so admin commands from another process wait for the server's writes,
//! and its own migrations. Pokes stay in the process (one server per data directory).

use crate::db::{Backend, Db, Result};
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

/// The database file's URL in a data directory.
pub fn url_for(dir: &std::path::Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.join("rapport-server.db").display()
    )
}

pub async fn open(url: &str) -> Result<Db> {
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 15000; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    sqlx::migrate!("migrations/sqlite").run(&pool).await?;
    Ok(Db {
        pool,
        backend: Backend::Sqlite,
        url: url.to_string(),
    })
}

/// Whether `file` is a rapport-server database (read only: nothing is written to it).
pub async fn check_backup(file: &std::path::Path) -> Result<()> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", file.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await?;
    sqlx::query("SELECT count(*) AS n FROM orgs")
        .fetch_one(&mut conn)
        .await?;
    sqlx::query("SELECT count(*) AS n FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}
