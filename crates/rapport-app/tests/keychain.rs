//! The SIP password in a desktop keychain: with a Secret Service on the session bus (a real
//! gnome-keyring-daemon on a private dbus-daemon here), the password is stored there — and so
//! survives a restart of the keyring daemon, as it survives a reboot — not only in the
//! kernel's keyutils. Runs alone in its process because it points the process at its bus.

use rapport_app::{forget_password, keychain_backend, load_password, save_password};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts gnome-keyring's secret service on `bus`, unlocking (or creating) the login
/// keyring under `data` with a fixed password.
fn keyring_daemon(bus: &str, data: &Path, runtime: &Path) -> Kill {
    let mut daemon = Kill(
        Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("XDG_DATA_HOME", data)
            .env("XDG_RUNTIME_DIR", runtime)
            .env("HOME", data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (apt: gnome-keyring) must be installed"),
    );
    let mut stdin = daemon.0.stdin.take().unwrap();
    stdin.write_all(b"test-login-password").unwrap();
    drop(stdin);
    // the daemon owns org.freedesktop.secrets once it answers
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
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
            .unwrap_or(false);
        if owned {
            return daemon;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gnome-keyring-daemon did not take org.freedesktop.secrets");
}

#[test]
fn the_password_lives_in_the_secret_service_and_survives_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon must be installed");
    let mut line = String::new();
    BufReader::new(bus.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _bus = Kill(bus);
    let address = line.trim().to_string();
    assert!(address.starts_with("unix:"), "{address}");
    // SAFETY: the only test in this process, before any other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address)
    };

    let daemon = keyring_daemon(&address, dir.path(), &runtime);
    assert_eq!(keychain_backend(), "secret-service");
    let uri = "sip:keychain-test@example.invalid";
    save_password(uri, "s3cret-over-dbus").unwrap();
    assert_eq!(
        load_password(uri).unwrap().unwrap().expose(),
        "s3cret-over-dbus"
    );
    // what the desktop's own tools see: the item is in the Secret Service
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "rapport-sip", "username", uri])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .output()
        .expect("secret-tool (apt: libsecret-tools) must be installed");
    assert_eq!(String::from_utf8_lossy(&lookup.stdout), "s3cret-over-dbus");

    // The keyring daemon restarts (as after a reboot): the password is still there.
    drop(daemon);
    let _daemon = keyring_daemon(&address, dir.path(), &runtime);
    assert_eq!(
        load_password(uri).unwrap().unwrap().expose(),
        "s3cret-over-dbus"
    );
    forget_password(uri).unwrap();
    assert!(load_password(uri).unwrap().is_none());
}
