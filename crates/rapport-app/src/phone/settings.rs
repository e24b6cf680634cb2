//! The softphone's settings: `phone.toml` beside the store (or `$RAPPORT_PHONE_CONFIG`), which
//! is the phone crate's `PhoneConfig` plus a few app keys, and the account password, which
//! lives only in the OS keychain (`keyring`) — a password in the file is refused.

use crate::{AppError, Result};
use rapport_phone::{PhoneConfig, Secret};
use std::path::{Path, PathBuf};

/// The keychain service name under which SIP passwords are stored (user = account URI).
pub const KEYCHAIN_SERVICE: &str = "rapport-sip";

/// Where the phone's audio goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioChoice {
    /// The default microphone and speaker (needs the `sound` feature).
    Device,
    /// Silence out, nothing in: headless machines and tests.
    None,
}

/// Everything the softphone needs besides the password.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneSettings {
    /// The phone's own keys (account, dial plan, `dial_domain`, timeouts).
    pub config: PhoneConfig,
    /// Our own number, logged as the call's local number.
    pub local_number: Option<String>,
    pub audio: AudioChoice,
    /// Whether a call from a number that matches no contact creates a lead (named after the
    /// caller) so the call is logged like any other (default: true, as in Close).
    pub log_unknown_callers: bool,
    /// The file these came from (for messages).
    pub path: PathBuf,
}

fn config_error(path: &Path, message: impl std::fmt::Display) -> AppError {
    AppError::new("phone_config", format!("{}: {message}", path.display()))
}

impl PhoneSettings {
    /// `$RAPPORT_PHONE_CONFIG`, else `phone.toml` in the store's directory.
    pub fn path_for(db: &Path) -> PathBuf {
        if let Some(p) = std::env::var_os("RAPPORT_PHONE_CONFIG") {
            return PathBuf::from(p);
        }
        db.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("phone.toml")
    }

    /// Reads the file; `Ok(None)` when there is none (the phone is simply not set up).
    pub fn load(path: &Path) -> Result<Option<PhoneSettings>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(config_error(path, e)),
        }
    }

    /// Parses the TOML text: the app's keys are taken out, the rest is a `PhoneConfig`.
    pub fn parse(text: &str, path: &Path) -> Result<PhoneSettings> {
        let mut table: toml::Table = text.parse().map_err(|e| config_error(path, e))?;
        let mut take = |key: &str| -> Result<Option<String>> {
            match table.remove(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(config_error(path, format!("`{key}` must be a string"))),
            }
        };
        let local_number = take("local_number")?;
        let audio = match take("audio")?.as_deref() {
            None | Some("device") => AudioChoice::Device,
            Some("none") => AudioChoice::None,
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("audio = \"{other}\": expected \"device\" or \"none\""),
                ));
            }
        };
        let log_unknown_callers = match table.remove("log_unknown_callers") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                return Err(config_error(
                    path,
                    "`log_unknown_callers` must be true or false",
                ));
            }
        };
        if table
            .get("account")
            .and_then(|a| a.get("password"))
            .is_some()
        {
            return Err(config_error(
                path,
                "the SIP password must not be written in this file; remove it and enter it in \
                 the app, which keeps it in the OS keychain",
            ));
        }
        let rest = toml::to_string(&table).map_err(|e| config_error(path, e))?;
        let config = PhoneConfig::from_toml(&rest).map_err(|e| config_error(path, e))?;
        Ok(PhoneSettings {
            config,
            local_number,
            audio,
            log_unknown_callers,
            path: path.to_path_buf(),
        })
    }

    /// The account's URI, which names its keychain entry.
    pub fn account_uri(&self) -> Option<&str> {
        self.config.account.as_ref().map(|a| a.uri.as_str())
    }

    /// The SIP URI to dial for an E.164 number: through the dial plan, in `dial_domain` or
    /// else the account's domain (the phone's own rule, `PhoneConfig::number_domain`).
    pub fn target_for(&self, e164: &str) -> Result<String> {
        let domain = self
            .config
            .number_domain()
            .map_err(|e| config_error(&self.path, e))?
            .ok_or_else(|| {
                AppError::new(
                    "phone_config",
                    format!(
                        "numbers need a SIP account (or `dial_domain`) in {}",
                        self.path.display()
                    ),
                )
            })?;
        self.config
            .dial_plan
            .resolve(e164, Some(&domain))
            .map_err(|e| AppError::new("bad_input", e.to_string()))
    }
}

fn keychain_error(e: keyring::Error) -> AppError {
    AppError::new("keychain", format!("OS keychain: {e}"))
}

/// Which OS keychain holds the passwords: on Linux the desktop's Secret Service (GNOME
/// Keyring, KWallet — persistent across reboots) when one answers on the session bus, else
/// the kernel's keyutils (headless machines; kept until reboot). Chosen once per process.
pub fn keychain_backend() -> &'static str {
    static CHOICE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    CHOICE.get_or_init(choose_backend)
}

#[cfg(target_os = "linux")]
fn choose_backend() -> &'static str {
    use keyring::credential::CredentialApi;
    let probe =
        keyring::secret_service::SsCredential::new_with_target(None, KEYCHAIN_SERVICE, "probe");
    let answers = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && matches!(
            probe.map(|c| c.get_password()),
            Ok(Ok(_) | Err(keyring::Error::NoEntry))
        );
    if answers {
        keyring::set_default_credential_builder(
            keyring::secret_service::default_credential_builder(),
        );
        "secret-service"
    } else {
        keyring::set_default_credential_builder(keyring::keyutils::default_credential_builder());
        "keyutils"
    }
}

#[cfg(not(target_os = "linux"))]
fn choose_backend() -> &'static str {
    "native"
}

fn entry(account_uri: &str) -> Result<keyring::Entry> {
    keychain_backend();
    keyring::Entry::new(KEYCHAIN_SERVICE, account_uri).map_err(keychain_error)
}

/// Stores (or replaces) the account's password in the OS keychain.
pub fn save_password(account_uri: &str, password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(AppError::new("bad_input", "the password is empty"));
    }
    entry(account_uri)?
        .set_password(password)
        .map_err(keychain_error)
}

/// The account's password from the OS keychain, or `None` when none was saved.
pub fn load_password(account_uri: &str) -> Result<Option<Secret>> {
    match entry(account_uri)?.get_password() {
        Ok(p) => Ok(Some(Secret::new(p))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain_error(e)),
    }
}

/// Removes the account's password from the OS keychain (no error when there was none).
pub fn forget_password(account_uri: &str) -> Result<()> {
    match entry(account_uri)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PhoneSettings> {
        PhoneSettings::parse(text, Path::new("phone.toml"))
    }

    #[test]
    fn app_keys_are_taken_out_and_the_rest_is_the_phone_config() {
        let s = parse(
            "dial_domain = \"127.0.0.1:5070\"\naudio = \"none\"\nring_timeout_secs = 5\n\
             [dial_plan]\nprefix = \"9\"\n",
        )
        .unwrap();
        assert_eq!(s.audio, AudioChoice::None);
        assert_eq!(s.config.ring_timeout_secs, 5);
        assert_eq!(
            s.target_for("+14155550123").unwrap(),
            "sip:9+14155550123@127.0.0.1:5070"
        );
        let plain = parse("").unwrap();
        assert_eq!(plain.audio, AudioChoice::Device);
        assert_eq!(plain.target_for("+1").unwrap_err().code, "phone_config");
        let account = parse("[account]\nuri = \"sip:alice@example.org\"\n").unwrap();
        assert_eq!(account.account_uri(), Some("sip:alice@example.org"));
        assert_eq!(
            account.target_for("+14155550123").unwrap(),
            "sip:+14155550123@example.org"
        );
        assert!(plain.log_unknown_callers);
        assert!(
            !parse("log_unknown_callers = false\n")
                .unwrap()
                .log_unknown_callers
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let msg = |t: &str| parse(t).unwrap_err().message;
        assert!(
            msg("[account]\nuri = \"sip:a@b.org\"\npassword = \"hunter2\"\n").contains("keychain")
        );
        assert!(
            !msg("[account]\nuri = \"sip:a@b.org\"\npassword = \"hunter2\"\n").contains("hunter2")
        );
        assert!(msg("audio = \"loud\"\n").contains("expected"));
        assert!(msg("dial_domain = 5\n").contains("expected a string"));
        assert!(msg("dial_domain = \"a b\"\n").contains("host"));
        assert!(msg("bogus = 1\n").contains("phone.toml"));
        assert!(msg("log_unknown_callers = \"yes\"\n").contains("true or false"));
        assert!(msg("[account\n").contains("phone.toml"));
    }

    #[test]
    fn the_password_round_trips_through_the_os_keychain() {
        let uri = format!("sip:test-{}@example.invalid", std::process::id());
        assert!(load_password(&uri).unwrap().is_none());
        save_password(&uri, "s3cret").unwrap();
        assert_eq!(load_password(&uri).unwrap().unwrap().expose(), "s3cret");
        save_password(&uri, "n3w").unwrap();
        assert_eq!(load_password(&uri).unwrap().unwrap().expose(), "n3w");
        forget_password(&uri).unwrap();
        assert!(load_password(&uri).unwrap().is_none());
        assert_eq!(save_password(&uri, "").unwrap_err().code, "bad_input");
    }

    #[test]
    fn a_missing_file_means_no_phone() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            PhoneSettings::load(&dir.path().join("phone.toml"))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            PhoneSettings::path_for(&dir.path().join("x.db")),
            dir.path().join("phone.toml")
        );
    }
}
