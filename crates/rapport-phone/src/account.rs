//! SIP account and phone configuration (TOML-loadable): identity, credentials, registrar, proxy, transport, dial plan and timeouts. The password is held as a `Secret` that never prints.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialplan::DialPlan;
use crate::error::PhoneError;

/// A password that never appears in `Debug`/`Display` output or logs.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a password.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The password itself, for the digest computation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SIP transport for signalling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP (default).
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS (needs the `tls` cargo feature).
    Tls,
}

impl Transport {
    /// The `transport=` URI parameter value.
    pub fn as_param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// A SIP account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Address of record, e.g. `sip:alice@example.org`.
    pub uri: String,
    /// Digest user name when it differs from the URI's user.
    #[serde(default)]
    pub auth_user: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Secret,
    /// Registrar URI or `host[:port]`; defaults to the URI's domain.
    #[serde(default)]
    pub registrar: Option<String>,
    /// Outbound proxy `ip:port` every request is sent to.
    #[serde(default)]
    pub outbound_proxy: Option<SocketAddr>,
    /// Signalling transport.
    #[serde(default)]
    pub transport: Transport,
    /// Requested registration lifetime in seconds (at least 10); refreshed at 75 % of what the registrar grants.
    #[serde(default = "default_expires")]
    pub expires: u32,
    /// PEM file of the CA certificate(s) trusted for TLS signalling. Without it, the system's CA
    /// bundle is used; verification is never turned off.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

fn default_expires() -> u32 {
    300
}

impl Account {
    /// Check the fields and split the AOR into user and domain.
    pub fn validate(&self) -> Result<(String, String), PhoneError> {
        let bad = |reason: &str| PhoneError::InvalidConfig {
            field: "uri",
            reason: reason.to_owned(),
        };
        let uri =
            rsipstack::sip::Uri::try_from(self.uri.as_str()).map_err(|e| bad(&e.to_string()))?;
        let user = uri
            .auth
            .as_ref()
            .map(|a| a.user.clone())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad("needs a user part"))?;
        let domain = uri.host_with_port.to_string();
        if domain.is_empty() {
            return Err(bad("needs a domain"));
        }
        if self.transport == Transport::Tls && !cfg!(feature = "tls") {
            return Err(PhoneError::InvalidConfig {
                field: "transport",
                reason: "TLS needs the `tls` feature".into(),
            });
        }
        Ok((user, domain))
    }

    /// The registrar as a SIP URI with the transport parameter.
    pub fn registrar_uri(&self) -> Result<String, PhoneError> {
        let (_, domain) = self.validate()?;
        let base = match &self.registrar {
            Some(r) if r.starts_with("sip:") || r.starts_with("sips:") => r.clone(),
            Some(r) => format!("sip:{r}"),
            None => format!("sip:{domain}"),
        };
        Ok(with_transport(&base, self.transport))
    }

    /// The CA certificates TLS signalling trusts, when the transport is TLS.
    pub fn tls_trust(&self) -> Result<Option<Vec<u8>>, PhoneError> {
        if self.transport != Transport::Tls {
            return Ok(None);
        }
        load_tls_trust(self.tls_ca_file.as_deref()).map(Some)
    }

    /// The domain numbers are dialled in.
    pub fn domain(&self) -> Result<String, PhoneError> {
        Ok(self.validate()?.1)
    }
}

/// Where Linux distributions keep the system CA bundle (Debian/Ubuntu, Fedora/RHEL, Alpine/Arch, openSUSE).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The PEM trust anchors for TLS signalling: the account's `tls_ca_file`, else the system CA
/// bundle. An error (never an unverified connection) when neither is usable.
pub fn load_tls_trust(ca_file: Option<&Path>) -> Result<Vec<u8>, PhoneError> {
    let bad = |reason: String| PhoneError::InvalidConfig {
        field: "tls_ca_file",
        reason,
    };
    let path = match ca_file {
        Some(p) => p.to_path_buf(),
        None => SYSTEM_CA_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| bad("no system CA bundle found; set tls_ca_file".into()))?,
    };
    let pem = std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad(format!("{}: no PEM certificate in it", path.display())));
    }
    Ok(pem)
}

/// Add `;transport=` for non-UDP transports unless the URI has one.
pub fn with_transport(uri: &str, transport: Transport) -> String {
    if transport == Transport::Udp || uri.to_ascii_lowercase().contains("transport=") {
        uri.to_owned()
    } else {
        format!("{uri};transport={}", transport.as_param())
    }
}

/// Everything the phone needs to start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneConfig {
    /// The account; without one, SIP URIs are called directly from a local identity.
    #[serde(default)]
    pub account: Option<Account>,
    /// Local signalling address; the port may be 0. Defaults to the interface
    /// that routes to the registrar (or loopback without an account).
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// How typed numbers become URIs.
    #[serde(default)]
    pub dial_plan: DialPlan,
    /// Numbers are dialled as `sip:<number>@<dial_domain>` (`host[:port]`); by default in the
    /// account's domain.
    #[serde(default)]
    pub dial_domain: Option<String>,
    /// Our own ring timeout: CANCEL an unanswered call after this many seconds.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: u64,
    /// Give up on a REGISTER (or a hung transaction) after this many seconds.
    #[serde(default = "default_register_timeout")]
    pub register_timeout_secs: u64,
}

fn default_ring_timeout() -> u64 {
    60
}

fn default_register_timeout() -> u64 {
    10
}

impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            account: None,
            bind: None,
            dial_plan: DialPlan::default(),
            dial_domain: None,
            ring_timeout_secs: default_ring_timeout(),
            register_timeout_secs: default_register_timeout(),
        }
    }
}

impl PhoneConfig {
    /// Load from a TOML file.
    pub fn load(path: &Path) -> Result<Self, PhoneError> {
        let text = std::fs::read_to_string(path)?;
        Self::from_toml(&text)
    }

    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, PhoneError> {
        let cfg: PhoneConfig = toml::from_str(text).map_err(|e| PhoneError::InvalidConfig {
            field: "config",
            reason: e.message().to_owned(),
        })?;
        if let Some(a) = &cfg.account {
            a.validate()?;
        }
        if let Some(d) = &cfg.dial_domain {
            let host_char = |c: char| c.is_ascii_alphanumeric() || ".-:[]_".contains(c);
            if d.is_empty() || !d.chars().all(host_char) {
                return Err(PhoneError::InvalidConfig {
                    field: "dial_domain",
                    reason: format!("`{d}` is not a host[:port]"),
                });
            }
        }
        Ok(cfg)
    }

    /// The domain numbers are dialled in: `dial_domain`, else the account's; `None` when
    /// there is neither (only SIP addresses can be called then).
    pub fn number_domain(&self) -> Result<Option<String>, PhoneError> {
        match (&self.dial_domain, &self.account) {
            (Some(d), _) => Ok(Some(d.clone())),
            (None, Some(a)) => a.domain().map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The ring timeout as a duration.
    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_secs.max(1))
    }

    /// The register timeout as a duration.
    pub fn register_timeout(&self) -> Duration {
        Duration::from_secs(self.register_timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_toml_and_hides_the_password() {
        let cfg = PhoneConfig::from_toml(
            r#"
            ring_timeout_secs = 5
            [account]
            uri = "sip:alice@example.org"
            password = "hunter2"
            registrar = "127.0.0.1:5060"
            transport = "tcp"
            [dial_plan]
            strip_plus = true
            "#,
        )
        .unwrap();
        let a = cfg.account.as_ref().unwrap();
        assert_eq!(
            a.registrar_uri().unwrap(),
            "sip:127.0.0.1:5060;transport=tcp"
        );
        assert_eq!(a.domain().unwrap(), "example.org");
        assert_eq!(a.expires, 300);
        assert!(cfg.dial_plan.strip_plus);
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert_eq!(a.password.expose(), "hunter2");
    }

    #[test]
    fn tls_trust_comes_from_the_ca_file_and_refuses_junk() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = load_tls_trust(Some(&junk)).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        assert!(load_tls_trust(Some(&dir.path().join("missing.pem"))).is_err());
        let cfg = PhoneConfig::from_toml(&format!(
            "[account]\nuri = \"sip:a@example.org\"\ntls_ca_file = \"{}\"\n",
            junk.display()
        ))
        .unwrap();
        let a = cfg.account.unwrap();
        assert_eq!(a.tls_ca_file.as_deref(), Some(junk.as_path()));
        // UDP needs no trust store at all.
        assert_eq!(a.tls_trust().unwrap(), None);
    }

    #[test]
    fn rejects_bad_accounts() {
        assert!(PhoneConfig::from_toml("[account]\nuri = \"sip:example.org\"\n").is_err());
        assert!(PhoneConfig::from_toml("[account]\nuri = \"nonsense\"\n").is_err());
        assert!(PhoneConfig::from_toml("bogus = 1\n").is_err());
    }
}
