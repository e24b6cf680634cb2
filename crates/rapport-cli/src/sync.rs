//! `rapport sync`: sign in to a team server and join an org, one sync round, stay connected
//! (`--watch`), status, sign out. A bootstrap shows its progress on standard error.

use crate::Out;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use rapport_app::App;
use rapport_app::sync::{Credentials, Hooks, LoginArgs, Report};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub cmd: Option<SyncCmd>,
    /// Stay connected: pull on every poke, push every local change, until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Subcommand)]
pub enum SyncCmd {
    /// Sign in to a team server and join one of your orgs (the token goes to the keychain).
    Login {
        /// The server, e.g. `https://crm.example.com` or `http://127.0.0.1:7700`.
        url: String,
        /// The org's name (or id).
        #[arg(long)]
        org: String,
        #[arg(long, required_unless_present = "token")]
        email: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long, requires = "email")]
        password_stdin: bool,
        /// A device or API token instead of a password.
        #[arg(long, conflicts_with_all = ["email", "password_stdin"])]
        token: Option<String>,
        /// This device's name on the server (default: the host name).
        #[arg(long)]
        device: Option<String>,
        /// A CA certificate (PEM) to trust for this server besides the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Where sync stands: server, org, pending changes, cursor, last success, conflicts.
    Status,
    /// Sign out: the server and the keychain forget this device; the data stays.
    Logout,
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "rapport".into())
}

fn print_report(out: Out, r: &Report) {
    out.print(r, || {
        let mut s = format!("pushed {} change(s), pulled {}", r.pushed, r.pulled);
        if r.bootstrapped > 0 {
            s.push_str(&format!(", bootstrapped {} record(s)", r.bootstrapped));
        }
        if r.stale > 0 {
            s.push_str(&format!(", {} overridden by newer edits", r.stale));
        }
        if r.conflicts > 0 {
            s.push_str(&format!(
                ", {} note conflict(s) kept for review",
                r.conflicts
            ));
        }
        for e in &r.rejected {
            s.push_str(&format!("\nrefused: {e}"));
        }
        s
    });
}

/// A one-line progress bar with records/s, redrawn in place on a terminal.
fn progress_hooks() -> Hooks {
    let tty = std::io::stderr().is_terminal();
    Hooks {
        bootstrap: Some(Arc::new(move |p: rapport_app::sync::BootstrapProgress| {
            let pct = if p.estimated > 0 {
                (p.done as f64 * 100.0 / p.estimated as f64).min(100.0)
            } else {
                0.0
            };
            let width = 30usize;
            let filled = (pct / 100.0 * width as f64) as usize;
            let line = format!(
                "bootstrap [{}{}] {:>5.1}% {}/{} records, {:.0} records/s",
                "#".repeat(filled),
                " ".repeat(width - filled),
                pct,
                p.done,
                p.estimated,
                p.per_second
            );
            let mut e = std::io::stderr();
            if tty {
                let _ = write!(e, "\r{line}");
            } else {
                let _ = writeln!(e, "{line}");
            }
            let _ = e.flush();
        })),
        ..Hooks::default()
    }
}

pub async fn sync(app: &App, args: SyncArgs, out: Out) -> Result<()> {
    match args.cmd {
        Some(SyncCmd::Login {
            url,
            org,
            email,
            password_stdin,
            token,
            device,
            ca_file,
        }) => {
            let credentials = match (token, email) {
                (Some(t), _) => Credentials::Token(t.trim().to_string()),
                (None, Some(email)) => {
                    if !password_stdin {
                        bail!("give the password on standard input with --password-stdin");
                    }
                    let mut p = String::new();
                    std::io::stdin()
                        .read_to_string(&mut p)
                        .context("cannot read the password from standard input")?;
                    let password = p.lines().next().unwrap_or_default().to_string();
                    if password.is_empty() {
                        bail!("the password on standard input is empty");
                    }
                    Credentials::Password { email, password }
                }
                (None, None) => bail!("give --email with --password-stdin, or --token"),
            };
            let status = app
                .sync_login(LoginArgs {
                    server_url: url,
                    org,
                    credentials,
                    device_name: device.unwrap_or_else(hostname),
                    ca_file,
                })
                .await?;
            out.print(&status, || {
                format!(
                    "joined {} on {} as {} ({}); {} change(s) to push — run `rapport sync`",
                    status.state.org_name,
                    status.state.server_url,
                    status.state.user_id,
                    status.state.role,
                    status.pending
                )
            });
            Ok(())
        }
        Some(SyncCmd::Status) => {
            let st = app.sync_status().await?;
            match st {
                None => out.print(&serde_json::json!({ "joined": false }), || {
                    "not signed in to a team server (`rapport sync login URL --org NAME`)".into()
                }),
                Some(s) => out.print(&s, || {
                    let st = &s.state;
                    let mut t = format!(
                        "server: {}\norg: {} ({})\nuser: {} ({})\ndevice: {} (client {})\npending: {}\ncursor: {} of {}\nbootstrap: {}\nlast success: {}\nconflicts: {}",
                        st.server_url,
                        st.org_name,
                        st.org_id,
                        st.user_id,
                        st.role,
                        st.device_name,
                        st.client_id,
                        s.pending,
                        st.pull_cursor,
                        st.server_seq,
                        st.bootstrap,
                        st.last_success_at.as_deref().unwrap_or("never"),
                        s.conflicts
                    );
                    if let (Some(c), Some(m)) = (&st.last_error_code, &st.last_error) {
                        t.push_str(&format!("\nlast error: {c}: {m}"));
                    }
                    t
                }),
            }
            Ok(())
        }
        Some(SyncCmd::Logout) => {
            let pending = app.sync_logout().await?;
            out.print(&serde_json::json!({ "signed_out": true, "unpushed": pending }), || {
                if pending > 0 {
                    format!("signed out; {pending} local change(s) never reached the server (they stay in this store)")
                } else {
                    "signed out".into()
                }
            });
            Ok(())
        }
        None if args.watch => {
            let json = out.json;
            let hooks = Hooks {
                bootstrap: progress_hooks().bootstrap,
                status: Some(Arc::new(move |s| {
                    if json {
                        println!("{}", serde_json::to_string(&s).unwrap_or_default());
                    } else {
                        eprintln!("sync: {}", serde_json::to_string(&s).unwrap_or_default());
                    }
                })),
                ..Default::default()
            };
            let (stop_tx, stop) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop_tx.send(true);
            });
            let (_presence_tx, presence_rx) = tokio::sync::mpsc::unbounded_channel();
            let report = app.sync_live(hooks, stop, presence_rx).await?;
            print_report(out, &report);
            Ok(())
        }
        None => {
            let report = app.sync_once(progress_hooks()).await?;
            if std::io::stderr().is_terminal() && report.bootstrapped > 0 {
                eprintln!();
            }
            print_report(out, &report);
            Ok(())
        }
    }
}
