//! `rapport-server`: serves the sync protocol on `--listen` (first line on stdout:
//! `listening on URL`), and the admin commands that manage orgs, members and tokens directly on
//! the storage (safe while a server runs on it).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use rapport_server::{Db, now_ms};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "rapport-server", version, about = "Rapport's team sync server")]
struct Cli {
    /// The data directory (an embedded SQLite database; the default backend).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://…) instead of `--data`.
    #[arg(long, global = true, env = "RAPPORT_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the public API keeps its per-org replicas (store + search index). Default:
    /// `<data>/replicas` with `--data`; with PostgreSQL a directory of this process under the
    /// system's temp dir. Each server process needs its own.
    #[arg(long, env = "RAPPORT_REPLICA_DIR")]
    replica_dir: Option<PathBuf>,
    /// The public API's requests a second per key (bursts of twice that; 0: no limit).
    #[arg(long, default_value_t = rapport_server::ratelimit::DEFAULT_RATE)]
    api_rate_limit: u32,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7700")]
    listen: String,
    /// TLS certificate chain (PEM); with `--tls-key`.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy only).
    #[arg(long)]
    insecure_http: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage orgs, members and tokens.
    Admin {
        #[command(subcommand)]
        cmd: Admin,
    },
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Creates an org; prints its id.
    CreateOrg { name: String },
    /// Adds a member to an org (creating the user when new).
    AddUser {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "member")]
        role: String,
        /// Display name (default: the email's local part).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from stdin (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issues a device token for a member; prints it once.
    IssueToken {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        device: String,
    },
    /// Issues a personal API key (`rpk_…`, 256-bit, stored hashed) for a member of the org;
    /// prints it once. The key acts with the member's role in that org.
    CreateApiKey {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// A label for the key (shown by `list-tokens`).
        #[arg(long, default_value = "api")]
        name: String,
        /// `read` (every write refused) or `read_write`; the member's role applies on top.
        #[arg(long, default_value = "read_write")]
        scope: String,
    },
    /// Revokes a token by id (its open sockets close within seconds).
    RevokeToken { id: String },
    /// Lists a user's tokens (never the secrets).
    ListTokens {
        #[arg(long)]
        email: String,
    },
    /// Writes a consistent copy of the SQLite database to FILE (safe while serving).
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Puts a backup in place (SQLite: `--from FILE`, with the server stopped; PostgreSQL:
    /// after `pg_restore`, without `--from`) and gives every org a new epoch, so clients
    /// re-push what the backup lacks.
    Restore {
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Drops an org's tombstones up to a seq (default: all but the last 100,000 seqs); clients
    /// behind it bootstrap again.
    Gc {
        #[arg(long)]
        org: String,
        #[arg(long)]
        horizon: Option<i64>,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("rapport-server: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let db = open(&cli).await?;
        match cli.command {
            Some(Command::Admin { cmd }) => admin(&db, cmd).await,
            None => serve(db, &cli).await,
        }
    })
}

async fn open(cli: &Cli) -> Result<Db> {
    let db = match (&cli.data, &cli.database_url) {
        (Some(_), Some(_)) => bail!("give --data DIR or --database-url URL, not both"),
        (Some(dir), None) => Db::open_dir(dir).await,
        (None, Some(url)) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("--database-url takes a postgres:// URL (for SQLite use --data DIR)");
            }
            Db::open(url).await
        }
        (None, None) => bail!("give --data DIR (SQLite) or --database-url postgres://…"),
    };
    db.context("cannot open the database")
}

async fn admin(db: &Db, cmd: Admin) -> Result<()> {
    let db = &match cmd {
        Admin::Restore {
            from: Some(ref from),
        } => {
            if db.backend != rapport_server::Backend::Sqlite {
                bail!(
                    "--from restores a SQLite backup; on PostgreSQL run pg_restore, then `admin restore`"
                );
            }
            let target = db
                .url
                .strip_prefix("sqlite://")
                .and_then(|u| u.split('?').next())
                .map(PathBuf::from)
                .context("not a SQLite database")?;
            // The backup must be a database of ours before anything is replaced.
            rapport_server::sqlite::check_backup(from)
                .await
                .with_context(|| format!("{} is not a rapport-server backup", from.display()))?;
            db.pool.close().await;
            for ext in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", target.display()));
            }
            let tmp = target.with_extension("restoring");
            std::fs::copy(from, &tmp).with_context(|| format!("cannot read {}", from.display()))?;
            std::fs::rename(&tmp, &target)?;
            Db::open(&db.url).await?
        }
        _ => db.clone(),
    };
    let now = now_ms();
    let mut out = std::io::stdout().lock();
    match cmd {
        Admin::CreateOrg { name } => {
            let org = db.create_org(&name, now).await?;
            writeln!(out, "{}", org.id)?;
        }
        Admin::AddUser {
            org,
            email,
            role,
            name,
            password_stdin,
        } => {
            let org = db.need_org(&org).await?;
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                let p = s.lines().next().unwrap_or("").to_string();
                if p.is_empty() {
                    bail!("no password on stdin");
                }
                Some(p)
            } else {
                None
            };
            let u = db
                .add_member(
                    &org,
                    &email,
                    name.as_deref(),
                    &role,
                    password.as_deref(),
                    now,
                )
                .await?;
            writeln!(out, "{}", u.id)?;
        }
        Admin::IssueToken { org, email, device } => {
            let org = db.need_org(&org).await?;
            let (user, _) = db
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no user `{email}`"))?;
            if db.role(&org.id, &user.id).await?.is_none() {
                bail!("{email} is not a member of {}", org.name);
            }
            let (_, secret) = db.issue_token(&user.id, "device", &device, now).await?;
            writeln!(out, "{secret}")?;
        }
        Admin::CreateApiKey {
            org,
            email,
            name,
            scope,
        } => {
            let org = db.need_org(&org).await?;
            let (user, _) = db
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no user `{email}`"))?;
            if db.role(&org.id, &user.id).await?.is_none() {
                bail!("{email} is not a member of {}", org.name);
            }
            let (_, secret) = db.issue_api_key(&user.id, &name, &scope, now).await?;
            writeln!(out, "{secret}")?;
        }
        Admin::RevokeToken { id } => {
            if !db.revoke_token(&id, now).await? {
                bail!("no token `{id}`");
            }
            writeln!(out, "revoked {id}")?;
        }
        Admin::Backup { to } => {
            if db.backend != rapport_server::Backend::Sqlite {
                bail!("on PostgreSQL back up with pg_dump");
            }
            if to.exists() {
                bail!("{} exists; give a new file", to.display());
            }
            sqlx::query(&format!(
                "VACUUM INTO '{}'",
                to.display().to_string().replace('\'', "''")
            ))
            .execute(&db.pool)
            .await?;
            writeln!(out, "backed up to {}", to.display())?;
        }
        Admin::Restore { .. } => {
            let n = db.rotate_epochs().await?;
            writeln!(out, "restored; {n} orgs have a new epoch")?;
        }
        Admin::Gc { org, horizon } => {
            let org = db.need_org(&org).await?;
            let h = horizon.unwrap_or((org.last_seq - 100_000).max(org.horizon_seq));
            let n = db.collect_tombstones(&org, h).await?;
            writeln!(out, "dropped {n} tombstones up to seq {h}")?;
        }
        Admin::ListTokens { email } => {
            let (user, _) = db
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no user `{email}`"))?;
            for t in db.tokens_of(&user.id).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.kind,
                    t.name,
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    }
                )?;
            }
        }
    }
    Ok(())
}

async fn serve(db: Db, cli: &Cli) -> Result<()> {
    let addr: SocketAddr = cli
        .listen
        .parse()
        .with_context(|| format!("`{}` is not an address:port", cli.listen))?;
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    if tls.is_none() && !addr.ip().is_loopback() && !cli.insecure_http {
        bail!(
            "refusing plain HTTP on {addr}, a non-loopback address: give --tls-cert/--tls-key, \
             or --insecure-http behind a TLS-terminating proxy"
        );
    }
    let hub = rapport_server::hub_for(&db);
    let replicas = match (&cli.replica_dir, &cli.data) {
        (Some(d), _) => d.clone(),
        (None, Some(data)) => data.join("replicas"),
        (None, None) => {
            std::env::temp_dir().join(format!("rapport-replicas-{}", std::process::id()))
        }
    };
    let state =
        rapport_server::AppState::new(db, hub, replicas).with_rate_limit(cli.api_rate_limit);
    let app = rapport_server::router(state);
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        });
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{local}");
    std::io::stdout().flush()?;
    let svc = app.into_make_service();
    match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load TLS from {} and {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(svc)
                .await?;
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(svc)
                .await?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
