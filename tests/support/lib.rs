//! Harness for the end-to-end tests: finds the built binaries, runs Xvfb and tauri-driver on
//! fresh ports, opens WebDriver sessions on the real app window, saves screenshots. Every
//! child process is stopped on drop (tauri-driver with SIGTERM, never SIGKILL).

pub mod keychain;
pub mod team;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's built binaries (`target/debug`), found from the
/// test executable's own location (`target/debug/deps/it-…`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RAPPORT_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn bin(name: &str) -> Result<PathBuf> {
    let p = bin_dir().join(name);
    if !p.exists() {
        bail!(
            "{} is not built: run `cargo xtask test` (it builds rapport-desktop and rapport-cli first)",
            p.display()
        );
    }
    Ok(p)
}

/// Where screenshots go: `$RAPPORT_ARTIFACTS` or `target/e2e-artifacts`.
pub fn artifacts() -> PathBuf {
    let d = std::env::var_os("RAPPORT_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            bin_dir()
                .parent()
                .map(|t| t.join("e2e-artifacts"))
                .unwrap_or_else(|| "e2e-artifacts".into())
        });
    let _ = std::fs::create_dir_all(&d);
    d
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process stopped (SIGTERM, then SIGKILL after a grace period) when dropped.
pub struct Guard {
    child: Child,
    name: &'static str,
}

impl Guard {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Result<Guard> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Guard { child, name })
    }
    pub fn id(&self) -> u32 {
        self.child.id()
    }
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
    /// Waits for a process that was killed, without signalling it again.
    pub fn reap(mut self) {
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A virtual X display.
pub struct Display {
    pub name: String,
    _xvfb: Guard,
}

impl Display {
    pub fn start() -> Result<Display> {
        for n in 90..190 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
            if socket.exists() || lock.exists() {
                continue;
            }
            let name = format!(":{n}");
            let xvfb = Guard::spawn(
                "Xvfb",
                Command::new("Xvfb")
                    .args([&name, "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
                    .stderr(Stdio::null()),
            )?;
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if socket.exists() {
                    return Ok(Display { name, _xvfb: xvfb });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            bail!("Xvfb {name} did not come up");
        }
        bail!("no free X display number")
    }
}

/// tauri-driver (with Debian's WebKitWebDriver) serving WebDriver on a fresh port, for an app
/// binary on a given store.
pub struct Driver {
    pub port: u16,
    _driver: Guard,
}

pub fn tauri_driver_bin() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    let p = home.join("bin/tauri-driver");
    if p.exists() {
        p
    } else {
        PathBuf::from("tauri-driver")
    }
}

impl Driver {
    pub async fn start(display: &Display, db: &Path) -> Result<Driver> {
        let port = free_port()?;
        let native = free_port()?;
        let mut cmd = Command::new(tauri_driver_bin());
        // the app keeps its secrets (a team device token) in the tests' Secret Service, if any
        if let Some(bus) = crate::keychain::bus() {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        let driver = Guard::spawn(
            "tauri-driver",
            cmd.args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display.name)
            .env("RAPPORT_DB", db)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        )?;
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Driver {
                    port,
                    _driver: driver,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("tauri-driver did not listen on port {port}")
    }

    /// Starts the app (a new process) and returns a WebDriver session on its window.
    pub async fn session(&self, app: &Path) -> Result<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        // tauri-driver occasionally drops the first request on a loaded machine ("webdriver
        // server did not respond"): a session that never started is retried, twice.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = ClientBuilder::native();
            builder.capabilities(caps.clone());
            match tokio::time::timeout(Duration::from_secs(60), builder.connect(&url))
                .await
                .context("timed out starting a WebDriver session")?
            {
                Ok(client) => return Ok(client),
                Err(e) if attempt < 3 && e.to_string().contains("did not respond") => {
                    eprintln!("WebDriver session attempt {attempt} failed: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The app opened on a fresh store holding `leads` demo leads (seed 3), its list painted.
/// Fields drop in order: the driver (SIGTERM) before the display and the store directory.
pub struct DemoApp {
    pub client: Client,
    pub db: PathBuf,
    pub driver: Driver,
    pub display: Display,
    pub dir: tempfile::TempDir,
}

pub async fn open_demo(leads: u64) -> Result<DemoApp> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("demo.db");
    let (code, _, err) = rapport(&db, &["demo", "--leads", &leads.to_string(), "--seed", "3"])?;
    if code != 0 {
        bail!("rapport demo failed: {err}");
    }
    let display = Display::start()?;
    let driver = Driver::start(&display, &db).await?;
    let client = driver.session(&bin("rapport-desktop")?).await?;
    wait_css(&client, "[data-testid=lead-row]", 30).await?;
    Ok(DemoApp {
        client,
        db,
        driver,
        display,
        dir,
    })
}

/// The two cores to one test: a test whose outcome depends on timing (a kill within the
/// autosave window) and a test that loads both cores for minutes (imports killed and resumed)
/// each hold this, so the heavy one never starves the timed one.
static MACHINE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the machine (see `MACHINE`) from an async test.
pub async fn machine() -> tokio::sync::MutexGuard<'static, ()> {
    MACHINE.lock().await
}

/// Takes the machine (see `MACHINE`) from a blocking test.
pub fn machine_blocking() -> tokio::sync::MutexGuard<'static, ()> {
    MACHINE.blocking_lock()
}

/// Waits for an element by CSS selector.
pub async fn wait_css(c: &Client, css: &str, secs: u64) -> Result<fantoccini::elements::Element> {
    c.wait()
        .at_most(Duration::from_secs(secs))
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no `{css}` within {secs}s"))
}

/// Polls `check` until it returns true or the time runs out.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > end {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn screenshot(c: &Client, name: &str) -> Result<PathBuf> {
    let png = c.screenshot().await?;
    let p = artifacts().join(name);
    std::fs::write(&p, png)?;
    Ok(p)
}

/// Pids of running processes whose environment has `RAPPORT_DB=<db>` (the app under test).
pub fn app_pids(db: &Path) -> Vec<u32> {
    let needle = format!("RAPPORT_DB={}", db.display());
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            continue;
        };
        if !exe.to_string_lossy().contains("rapport-desktop") {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// Runs the `rapport` CLI on a store; returns (exit code, stdout, stderr).
pub fn rapport(db: &Path, args: &[&str]) -> Result<(i32, String, String)> {
    let out = rapport_command(db)?.args(args).output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `rapport --db DB` as a command to add arguments to (on the tests' keychain session when
/// one runs).
pub fn rapport_command(db: &Path) -> Result<Command> {
    let mut c = Command::new(bin("rapport")?);
    c.arg("--db").arg(db);
    if let Some(bus) = keychain::bus() {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    Ok(c)
}

/// Replaces the whole search query at once (as a paste does), so no half-typed query runs.
pub async fn paste_query(c: &Client, q: &str) -> Result<()> {
    let js = "const i = document.querySelector('[data-testid=search-input]');
        i.focus(); i.value = arguments[0]; i.dispatchEvent(new Event('input', { bubbles: true }));";
    c.execute(js, vec![serde_json::json!(q)]).await?;
    Ok(())
}
