//! The team server for end-to-end tests: a real `rapport-server` binary on a temp data
//! directory and a free loopback port, its admin commands, and a loopback TCP proxy that can
//! cut connections after the server answered (so the server committed, the client never heard).

use crate::{Guard, bin, rapport};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running `rapport-server --data DIR`.
pub struct TeamServer {
    pub data: PathBuf,
    pub url: String,
    pub port: u16,
    guard: Option<Guard>,
}

impl TeamServer {
    /// Starts a server on `data` (a new one, or one a previous server left).
    pub fn start(data: &Path) -> Result<TeamServer> {
        Self::start_on(data, 0)
    }

    /// Starts on a given port (`0`: a free one; a restarted server keeps its port, so the
    /// stores signed in to it reach it again).
    pub fn start_on(data: &Path, port: u16) -> Result<TeamServer> {
        // The clients keep their device tokens in a Secret Service, as on a desktop.
        crate::keychain::start().context("no Secret Service (apt: dbus-daemon gnome-keyring)")?;
        let mut cmd = Command::new(bin("rapport-server")?);
        cmd.arg("--data")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut guard = Guard::spawn("rapport-server", &mut cmd)?;
        let out = guard.child_mut().stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("rapport-server said `{}`", line.trim()))?
            .to_string();
        let port = url.rsplit(':').next().unwrap_or("0").parse().unwrap_or(0);
        Ok(TeamServer {
            data: data.to_path_buf(),
            url,
            port,
            guard: Some(guard),
        })
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill9(&mut self) {
        if let Some(g) = self.guard.take() {
            let _ = Command::new("kill")
                .args(["-KILL", &g.id().to_string()])
                .status();
            g.reap();
        }
    }

    /// Runs `rapport-server --data DIR admin ARGS…` (stdin: `input`); returns stdout.
    pub fn admin(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        let mut child = Command::new(bin("rapport-server")?)
            .arg("--data")
            .arg(&self.data)
            .arg("admin")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(i) = input {
            child
                .stdin
                .take()
                .context("stdin")?
                .write_all(i.as_bytes())?;
        }
        drop(child.stdin.take());
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "admin {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// An org with members: `(email, role, password)`; returns nothing, the org is `name`.
    pub fn org(&self, name: &str, members: &[(&str, &str, &str)]) -> Result<()> {
        self.admin(&["create-org", name], None)?;
        for (email, role, password) in members {
            self.admin(
                &[
                    "add-user",
                    "--org",
                    name,
                    "--email",
                    email,
                    "--role",
                    role,
                    "--password-stdin",
                ],
                Some(password),
            )?;
        }
        Ok(())
    }

    /// A device token for a member (printed once by the server).
    pub fn token(&self, org: &str, email: &str, device: &str) -> Result<String> {
        let out = self.admin(
            &[
                "issue-token",
                "--org",
                org,
                "--email",
                email,
                "--device",
                device,
            ],
            None,
        )?;
        Ok(out.trim().to_string())
    }
}

/// Signs a store in with a password (`rapport sync login … --password-stdin`).
pub fn login(
    db: &Path,
    url: &str,
    org: &str,
    email: &str,
    password: &str,
) -> Result<(i32, String, String)> {
    let mut c = Command::new(bin("rapport")?);
    if let Some(bus) = crate::keychain::bus() {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let out = c
        .arg("--db")
        .arg(db)
        .args([
            "sync",
            "login",
            url,
            "--org",
            org,
            "--email",
            email,
            "--password-stdin",
            "--device",
        ])
        .arg(db.file_stem().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .map(|mut s| s.write_all(format!("{password}\n").as_bytes()));
            c.wait_with_output()
        })?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `rapport sync` until it succeeds (a cut connection fails one run; the next resumes).
pub fn sync_until_done(db: &Path, tries: usize) -> Result<String> {
    let mut last = String::new();
    for _ in 0..tries {
        let (code, out, err) = rapport(db, &["sync"])?;
        if code == 0 {
            return Ok(out);
        }
        last = err;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!("`rapport sync` kept failing: {last}")
}

/// The lead lines of a store's JSONL export, parsed and sorted by id (definition lines and
/// users differ between stores by design: each keeps its own local records).
pub fn lead_export(db: &Path) -> Result<Vec<serde_json::Value>> {
    let (code, out, err) = rapport(db, &["export", "--format", "jsonl"])?;
    if code != 0 {
        bail!("export: {err}");
    }
    let mut leads: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("_record").is_none())
        .collect();
    leads.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(leads)
}

/// A loopback TCP proxy in front of the server. While `cut` is above zero, each connection
/// that carries a server answer is closed right after the server's first bytes arrive (the
/// request was processed and committed; the answer never reaches the client), and `cut`
/// counts down.
pub struct Proxy {
    pub url: String,
    pub cut: Arc<AtomicUsize>,
    pub cuts: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: u16) -> Result<Proxy> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let cut = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (c2, n2) = (cut.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (cut, cuts) = (c2.clone(), n2.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                        let _ = sw.shutdown().await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let take = cut.load(Ordering::SeqCst);
                        if take > 0
                            && cut
                                .compare_exchange(
                                    take,
                                    take - 1,
                                    Ordering::SeqCst,
                                    Ordering::SeqCst,
                                )
                                .is_ok()
                        {
                            cuts.fetch_add(1, Ordering::SeqCst);
                            break; // drop both halves: the answer is lost
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        Ok(Proxy {
            url: format!("http://127.0.0.1:{port}"),
            cut,
            cuts,
            task,
        })
    }
}
