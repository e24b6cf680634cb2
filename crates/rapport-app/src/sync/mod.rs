//! Team sync use cases: sign in to a server and join an org (the device token in the OS
//! keychain), one sync to quiescence, staying connected, status, sign out. The protocol is
//! `rapport_sync`; the store's side is `rapport_store::sync`; this is the glue every shell
//! (CLI, desktop) calls.

pub mod driver;
pub mod http;

pub use driver::{BootstrapProgress, Driver, Hooks, Report};
pub use http::{Http, Transport};

use crate::{App, AppError, Result};
use driver::failure_error;
use rapport_store::{Join, SyncStatus};
use rapport_sync::wire::{LoginRequest, RegisterRequest};
use std::path::PathBuf;

/// How to sign in.
#[derive(Debug, Clone)]
pub enum Credentials {
    Password {
        email: String,
        password: String,
    },
    /// A device or API token issued by the server (`rapport-server admin issue-token`).
    Token(String),
}

/// Joining a server's org.
#[derive(Debug, Clone)]
pub struct LoginArgs {
    pub server_url: String,
    /// The org's name (case-insensitive) or id.
    pub org: String,
    pub credentials: Credentials,
    pub device_name: String,
    /// A CA certificate (PEM) to trust besides the system's, for a self-hosted server.
    pub ca_file: Option<PathBuf>,
}

/// The environment variable that overrides the keychain's token (headless use, tests).
pub const TOKEN_ENV: &str = "RAPPORT_SYNC_TOKEN";

/// The keychain account of one store's device token: per client (each store is its own
/// device with its own token, so two stores on one machine, signed in as different members of
/// one org, never share a token).
fn token_account(server_url: &str, org_id: &str, client_id: &str) -> String {
    format!("sync:{org_id}:{client_id}@{server_url}")
}

impl App {
    /// Signs in, registers this device with the org and joins it: everything this store
    /// holds is queued for the first push. Nothing is written locally unless the server
    /// accepted the credentials and the org.
    pub async fn sync_login(&self, args: LoginArgs) -> Result<SyncStatus> {
        if self.store.sync_state().await?.is_some() {
            return Err(AppError::new(
                "already_joined",
                "this store already syncs with a team server; sign out first (`rapport sync logout`)",
            ));
        }
        let http =
            Http::new(&args.server_url, args.ca_file.as_deref()).map_err(|f| failure_error(&f))?;
        let me = match &args.credentials {
            Credentials::Password { email, password } => http
                .login(&LoginRequest {
                    email: email.clone(),
                    password: password.clone(),
                    device_name: args.device_name.clone(),
                })
                .await
                .map_err(|f| failure_error(&f))?,
            Credentials::Token(t) => {
                let mut me = http
                    .clone()
                    .with_token(t)
                    .me()
                    .await
                    .map_err(|f| failure_error(&f))?;
                me.token = Some(t.clone());
                me
            }
        };
        let token = me
            .token
            .clone()
            .ok_or_else(|| AppError::new("sync_failed", "the server issued no token"))?;
        let wanted = args.org.trim();
        let org = me
            .orgs
            .iter()
            .find(|o| o.id == wanted || o.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                let names: Vec<&str> = me.orgs.iter().map(|o| o.name.as_str()).collect();
                AppError::new(
                    "not_found",
                    format!(
                        "{} is not a member of an org named `{wanted}`; their orgs: {}",
                        me.user.email,
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            })?
            .clone();
        let client_id = ulid::Ulid::new().to_string();
        let http = http.with_token(&token).for_client(&org.id, &client_id);
        let reg = http
            .register(&RegisterRequest {
                client_id: client_id.clone(),
                device_name: args.device_name.clone(),
            })
            .await
            .map_err(|f| failure_error(&f))?;
        if std::env::var_os(TOKEN_ENV).is_none() {
            crate::save_password(&token_account(http.base(), &org.id, &client_id), &token)?;
        }
        if let Some(ca) = &args.ca_file {
            self.store
                .set_meta("sync_ca_file", &ca.display().to_string())
                .await?;
        }
        self.store
            .join(&Join {
                server_url: http.base().to_string(),
                org_id: org.id.clone(),
                org_name: org.name.clone(),
                user_id: reg.user_id.clone(),
                user_name: me.user.display_name.clone(),
                user_email: Some(me.user.email.clone()),
                role: reg.role.clone(),
                client_id,
                device_name: args.device_name.clone(),
            })
            .await?;
        self.store
            .update_sync_state(rapport_store::SyncPatch {
                epoch: Some(reg.epoch),
                server_seq: Some(reg.last_seq),
                ..Default::default()
            })
            .await?;
        self.nudge_index();
        self.sync_status()
            .await?
            .ok_or_else(|| AppError::new("sync_failed", "joined, but no sync state"))
    }

    /// Where sync stands (`None`: not signed in).
    pub async fn sync_status(&self) -> Result<Option<SyncStatus>> {
        Ok(self.store.sync_status().await?)
    }

    /// The device token: `RAPPORT_SYNC_TOKEN`, else the keychain's.
    fn sync_token(&self, st: &rapport_store::SyncState) -> Result<String> {
        if let Some(t) = std::env::var_os(TOKEN_ENV) {
            return Ok(t.to_string_lossy().into_owned());
        }
        crate::load_password(&token_account(&st.server_url, &st.org_id, &st.client_id))?
            .map(|s| s.expose().to_string())
            .ok_or_else(|| {
                AppError::new(
                    "unauthorized",
                    "no sign-in for this server in the keychain; run `rapport sync login` again",
                )
            })
    }

    /// A driver for this store's server (the caller runs it once or keeps it running).
    pub async fn sync_driver(&self) -> Result<Driver<Http>> {
        let st = self.store.joined_state().await?;
        let token = self.sync_token(&st)?;
        self.sync_driver_with_token(&token).await
    }

    /// A driver with a given device token (a headless process that holds it already).
    pub async fn sync_driver_with_token(&self, token: &str) -> Result<Driver<Http>> {
        let st = self.store.joined_state().await?;
        let token = token.to_string();
        let ca = self.store.meta("sync_ca_file").await?.map(PathBuf::from);
        let http = Http::new(&st.server_url, ca.as_deref())
            .map_err(|f| failure_error(&f))?
            .with_token(&token)
            .for_client(&st.org_id, &st.client_id);
        let mut d = Driver::new(
            self.store.clone(),
            http,
            &st.device_name,
            rapport_core::ops::Rng(self.store.node().0).next_u64(),
        );
        let app = self.clone();
        d.hooks.changed = Some(std::sync::Arc::new(move |()| app.nudge_index()));
        Ok(d)
    }

    /// One push and pull to quiescence (bootstrapping first when needed).
    pub async fn sync_once(&self, hooks: Hooks) -> Result<Report> {
        let mut d = self.sync_driver().await?;
        if hooks.bootstrap.is_some() {
            d.hooks.bootstrap = hooks.bootstrap;
        }
        if hooks.status.is_some() {
            d.hooks.status = hooks.status;
        }
        d.sync_once().await
    }

    /// Stays signed in until `stop`: pushes every local change as it is written (this process's
    /// and other processes' writes to the store), pulls on every poke, reconnects and retries on
    /// its own. `presence` carries what this client has open. Shared by `rapport sync --watch`
    /// and the desktop app.
    pub async fn sync_live(
        &self,
        hooks: Hooks,
        stop: tokio::sync::watch::Receiver<bool>,
        presence: tokio::sync::mpsc::UnboundedReceiver<rapport_sync::wire::ClientMessage>,
    ) -> Result<Report> {
        let mut d = self.sync_driver().await?;
        if hooks.bootstrap.is_some() {
            d.hooks.bootstrap = hooks.bootstrap;
        }
        if hooks.status.is_some() {
            d.hooks.status = hooks.status;
        }
        if hooks.presence.is_some() {
            d.hooks.presence = hooks.presence;
        }
        if let Some(extra) = hooks.changed {
            let app = self.clone();
            d.hooks.changed = Some(std::sync::Arc::new(move |()| {
                app.nudge_index();
                extra(());
            }));
        }
        let mut local = self.sync_nudges();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let _watcher = crate::StoreWatcher::start(self.store.clone(), {
            let tx = tx.clone();
            move |_| {
                let _ = tx.send(());
            }
        })
        .await?;
        let forward = tokio::spawn(async move {
            while local.recv().await.is_some() {
                let _ = tx.send(());
            }
        });
        let report = d.run(rx, stop, presence).await;
        forward.abort();
        report
    }

    /// Signs out: the server forgets this device's token (when it can be reached), the
    /// keychain forgets it, the store stops syncing (its data stays). Returns how many local
    /// changes the server never received.
    pub async fn sync_logout(&self) -> Result<i64> {
        let st = self.store.joined_state().await?;
        if let Ok(token) = self.sync_token(&st) {
            let ca = self.store.meta("sync_ca_file").await?.map(PathBuf::from);
            if let Ok(http) = Http::new(&st.server_url, ca.as_deref()) {
                let _ = http.with_token(&token).logout().await;
            }
        }
        crate::forget_password(&token_account(&st.server_url, &st.org_id, &st.client_id))?;
        Ok(self.store.leave().await?)
    }
}
