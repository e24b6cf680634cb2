//! A desktop session's keychain for the CLI processes the tests start: a private dbus-daemon
//! with gnome-keyring's Secret Service on it (unlocked), shared by the whole test process and
//! stopped by a watchdog when the test process exits. The kernel's keyutils fallback keeps a
//! secret only for processes that possess it, so a token saved by `rapport sync login` would be
//! invisible to the next `rapport sync`; a real desktop has a Secret Service, and so do these
//! tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

static BUS: OnceLock<Option<String>> = OnceLock::new();

/// The session bus address once [`start`] ran (the CLI helpers pass it to their children).
pub fn bus() -> Option<&'static str> {
    BUS.get().and_then(|b| b.as_deref())
}

const SCRIPT: &str = r#"
dir="$1"; parent="$2"
mkdir -p "$dir/run"
dbus-daemon --session --nofork --print-address=1 > "$dir/addr" 2>/dev/null &
bus=$!
for i in $(seq 1 100); do [ -s "$dir/addr" ] && break; sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$dir/addr")"
printf 'test-login-password' | HOME="$dir" XDG_DATA_HOME="$dir" XDG_RUNTIME_DIR="$dir/run" \
  gnome-keyring-daemon --unlock --components=secrets --foreground >/dev/null 2>&1 &
keyring=$!
echo "$DBUS_SESSION_BUS_ADDRESS"
exec 1>/dev/null
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
kill "$keyring" "$bus" 2>/dev/null
rm -rf "$dir"
"#;

/// Starts the session (once per process) and waits until the Secret Service answers.
pub fn start() -> Option<&'static str> {
    BUS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rapport-keychain-{}", std::process::id()));
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT, "keychain"])
            .arg(&dir)
            .arg(std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let address = line.trim().to_string();
        if !address.starts_with("unix:") {
            return None;
        }
        for _ in 0..100 {
            let owned = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                .unwrap_or(false);
            if owned {
                return Some(address);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    })
    .as_deref()
}
