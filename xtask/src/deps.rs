//! Installing what is missing: Debian packages (the webkit2gtk 4.1 stack, Xvfb, WebKit's
//! WebDriver, the SIP test peers, sqlite3 for baselines, PostgreSQL for the server's tests), `tauri-driver`, and the UI's npm packages.

use crate::sh::{cmd, have, root};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Build and run the desktop app.
    App,
    /// Everything tests and benchmarks use.
    All,
}

const APP_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    // Microphone and speaker (cpal → ALSA).
    "libasound2-dev",
    // The desktop keychain (Secret Service over D-Bus) for the SIP password.
    "libdbus-1-dev",
    "xvfb",
    "xauth",
];

const TEST_PACKAGES: &[&str] = &[
    // The real window driven over WebDriver.
    "webkit2gtk-driver",
    // Baselines for benchmarks.
    "sqlite3",
    // Checks schema/lead.schema.json and validates exports against it.
    "python3-jsonschema",
    "time",
    // Real SIP peers for the softphone tests.
    "sip-tester",
    "kamailio",
    // kamailio's TLS listener and the openssl CLI (throwaway CA), for the SIP-over-TLS tests.
    "kamailio-tls-modules",
    "openssl",
    "baresip-core",
    "sox",
    // A real Secret Service on a private session bus for the keychain test.
    "dbus-daemon",
    "dbus-bin",
    "gnome-keyring",
    "libsecret-tools",
    // The team server's PostgreSQL backend: its story tests start a throwaway cluster
    // (initdb + postgres on a free loopback port, as the `postgres` user via setpriv).
    "postgresql",
    "util-linux",
];

/// The `tauri-driver` version the end-to-end tests use.
const TAURI_DRIVER: &str = "2.1.0";

pub fn ensure(need: Need) -> Result<()> {
    let mut wanted: Vec<&str> = APP_PACKAGES.to_vec();
    if need == Need::All {
        wanted.extend(TEST_PACKAGES);
    }
    apt(&wanted)?;
    if !have("npm") {
        bail!("npm is missing: install Node.js 20 or newer (e.g. `apt-get install nodejs npm`)");
    }
    if need == Need::All {
        tauri_driver()?;
    }
    Ok(())
}

fn installed(pkg: &str) -> bool {
    cmd("dpkg-query", &["-W", "-f=${Status}", pkg])
        .output()
        .is_some_and(|s| s.contains("install ok installed"))
}

fn apt(packages: &[&str]) -> Result<()> {
    if !have("dpkg-query") {
        eprintln!(
            "xtask: not a Debian/Ubuntu system; make sure these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let sudo = !is_root();
    let run = |args: &[&str]| -> Result<()> {
        let mut full: Vec<&str> = Vec::new();
        if sudo {
            full.push("apt-get");
        }
        full.extend(args);
        let (prog, rest) = if sudo {
            ("sudo", &full[..])
        } else {
            ("apt-get", &full[..])
        };
        cmd(prog, rest)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()
    };
    run(&["update", "-qq", "-o", "DPkg::Lock::Timeout=600"])?;
    let mut args = vec![
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=600",
    ];
    args.extend(missing.iter().copied());
    run(&args)
}

fn is_root() -> bool {
    cmd("id", &["-u"]).output().is_some_and(|u| u.trim() == "0")
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin").join(name)
}

fn tauri_driver() -> Result<()> {
    let bin = cargo_bin("tauri-driver");
    let ok = cmd(bin.to_str().unwrap_or("tauri-driver"), &["--help"])
        .output()
        .is_some();
    let version_ok = cmd("cargo", &["install", "--list"])
        .output()
        .is_some_and(|l| l.contains(&format!("tauri-driver v{TAURI_DRIVER}")));
    if ok && version_ok {
        return Ok(());
    }
    cmd(
        "cargo",
        &[
            "install",
            "tauri-driver",
            "--locked",
            "--version",
            TAURI_DRIVER,
        ],
    )
    .run()
}

/// `npm ci` in ui/ when node_modules is missing or older than the lock file.
pub fn npm_install() -> Result<()> {
    let ui = root().join("ui");
    let stamp = ui.join("node_modules/.package-lock.json");
    let lock = ui.join("package-lock.json");
    let fresh = match (
        std::fs::metadata(&stamp).and_then(|m| m.modified()),
        std::fs::metadata(&lock).and_then(|m| m.modified()),
    ) {
        (Ok(s), Ok(l)) => s >= l,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    cmd(
        "npm",
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
    )
    .dir(&ui)
    .run()
}
