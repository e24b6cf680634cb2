//! REGISTER with digest auth through rsipstack's `Registration`, bounded by our own timeout, refreshed at 75 % of the granted expiry, and retried with backoff after a failure (registrar down, transport error) until it succeeds again; reports `RegistrationState`s. A registrar that refuses connections is told apart from one that does not answer.

use std::net::SocketAddr;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::{Registration, backoff_interval, refresh_interval};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::account::{Account, Transport};
use crate::error::PhoneError;
use crate::state::{PhoneEvent, RegistrationFailure, RegistrationState};

/// Build the digest credential of an account (the password stays out of logs).
pub fn credential(account: &Account) -> Result<Credential, PhoneError> {
    let (user, _) = account.validate()?;
    Ok(Credential {
        username: user,
        password: account.password.expose().to_owned(),
        realm: None,
        auth_username: account.auth_user.clone(),
    })
}

/// Map the final response of a REGISTER.
pub fn classify(code: u16) -> Result<(), RegistrationFailure> {
    match code {
        200..=299 => Ok(()),
        401 | 403 | 407 => Err(RegistrationFailure::AuthFailed),
        408 => Err(RegistrationFailure::Timeout),
        c => Err(RegistrationFailure::Rejected(c)),
    }
}

/// Where REGISTERs go, to check that something listens there: the outbound proxy, else the
/// registrar when its address is certain (an IP literal or an explicit port: no DNS SRV
/// lookup could send the request elsewhere, RFC 3263 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub target: SocketAddr,
    pub transport: Transport,
}

impl Probe {
    /// The probe for `account`, when its registrar's address is certain.
    pub async fn for_account(account: &Account) -> Option<Probe> {
        let transport = account.transport;
        if let Some(proxy) = account.outbound_proxy {
            return Some(Probe {
                target: proxy,
                transport,
            });
        }
        let uri = rsipstack::sip::Uri::try_from(account.registrar_uri().ok()?.as_str()).ok()?;
        let host = uri.host_with_port.host.to_string();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.host_with_port.port.map(u16::from);
        let target = match (host.parse::<std::net::IpAddr>(), port) {
            (Ok(ip), port) => SocketAddr::new(ip, port.unwrap_or(default_port(transport))),
            (Err(_), Some(port)) => tokio::net::lookup_host((host, port)).await.ok()?.next()?,
            (Err(_), None) => return None,
        };
        Some(Probe { target, transport })
    }

    /// `Some(reason)` when the target refuses us outright — a TCP connection is refused, or a
    /// UDP keep-alive (an empty CRLF CRLF, RFC 5626 §4.4.1, which registrars ignore) draws
    /// an ICMP port-unreachable — else `None` once `limit` passed without such proof.
    pub async fn refused(self, limit: Duration) -> Option<String> {
        let refused = |e: &std::io::Error| {
            (e.kind() == std::io::ErrorKind::ConnectionRefused)
                .then(|| format!("connection refused by {}", self.target))
        };
        let probe = async {
            match self.transport {
                Transport::Tcp | Transport::Tls => {
                    match tokio::net::TcpStream::connect(self.target).await {
                        Ok(_) => None,
                        Err(e) => refused(&e),
                    }
                }
                Transport::Udp => {
                    let any: SocketAddr = if self.target.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    let sock = tokio::net::UdpSocket::bind(any).await.ok()?;
                    sock.connect(self.target).await.ok()?;
                    if let Err(e) = sock.send(b"\r\n\r\n").await {
                        return refused(&e);
                    }
                    let mut buf = [0u8; 64];
                    match sock.recv(&mut buf).await {
                        Ok(_) => None,
                        Err(e) => refused(&e),
                    }
                }
            }
        };
        tokio::time::timeout(limit, probe).await.ok().flatten()
    }
}

fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Tls => 5061,
        Transport::Udp | Transport::Tcp => 5060,
    }
}

/// One REGISTER (with its auth retry), bounded by `timeout`; a registrar that refuses
/// connections (`probe`) fails it at once. Returns the granted expiry.
pub async fn register_once(
    reg: &mut Registration,
    server: &rsipstack::sip::Uri,
    expires: u32,
    timeout: Duration,
    probe: Option<Probe>,
) -> Result<u32, RegistrationFailure> {
    let refused = async {
        match probe {
            Some(p) => p.refused(timeout).await,
            None => None,
        }
    };
    let register = tokio::time::timeout(timeout, reg.register(server.clone(), Some(expires)));
    let outcome = tokio::select! {
        outcome = register => outcome,
        Some(reason) = refused => return Err(RegistrationFailure::Network(reason)),
    };
    match outcome {
        Err(_) => Err(RegistrationFailure::Timeout),
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.to_ascii_lowercase().contains("timeout") {
                Err(RegistrationFailure::Timeout)
            } else {
                Err(RegistrationFailure::Network(text))
            }
        }
        Ok(Ok(resp)) => {
            classify(resp.status_code.code())?;
            Ok(reg.granted_expires.filter(|e| *e > 0).unwrap_or(expires))
        }
    }
}

/// The shortest registration lifetime we ask for, in seconds.
pub const MIN_EXPIRES: u32 = 10;

/// Wait before retry number `failures` (1-based) after a failed REGISTER: 2 s, doubling, capped at 60 s.
pub fn retry_after(failures: u32) -> Duration {
    backoff_interval(failures.max(1))
}

/// A running registration; dropping it stops refreshing (and unregisters in the background).
#[derive(Debug)]
pub struct RegistrationTask {
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RegistrationTask {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl RegistrationTask {
    /// Stop refreshing and send an `Expires: 0` REGISTER, waiting at most `wait`.
    pub async fn stop(mut self, wait: Duration) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(wait, task).await;
        }
    }
}

/// Register now and keep the binding fresh until the task is dropped.
pub fn spawn(
    endpoint: EndpointInnerRef,
    account: &Account,
    timeout: Duration,
    events: mpsc::UnboundedSender<PhoneEvent>,
) -> Result<RegistrationTask, PhoneError> {
    let server_text = account.registrar_uri()?;
    let server = rsipstack::sip::Uri::try_from(server_text.as_str()).map_err(|e| {
        PhoneError::InvalidConfig {
            field: "registrar",
            reason: e.to_string(),
        }
    })?;
    let mut reg = Registration::new(endpoint, Some(credential(account)?));
    reg.outbound_proxy = account.outbound_proxy;
    let expires = account.expires.max(MIN_EXPIRES);
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let account = account.clone();
    let task = tokio::spawn(async move {
        let probe = Probe::for_account(&account).await;
        let mut failures = 0u32;
        let mut registered = false;
        let mut last_failure: Option<RegistrationFailure> = None;
        loop {
            let attempt = tokio::select! {
                _ = token.cancelled() => break,
                r = register_once(&mut reg, &server, expires, timeout, probe) => r,
            };
            let wait = match attempt {
                Ok(granted) => {
                    failures = 0;
                    registered = true;
                    last_failure = None;
                    let _ = events.send(PhoneEvent::Registration(RegistrationState::Registered {
                        expires: granted,
                    }));
                    refresh_interval(granted)
                }
                Err(reason) => {
                    failures += 1;
                    registered = false;
                    let wait = retry_after(failures);
                    tracing::warn!(%reason, retry_in = ?wait, "registration failed");
                    // One event per change: a registrar that stays down does not repeat itself.
                    if last_failure.as_ref() != Some(&reason) {
                        last_failure = Some(reason.clone());
                        let _ = events
                            .send(PhoneEvent::Registration(RegistrationState::Failed(reason)));
                    }
                    wait
                }
            };
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if registered {
            let _ = register_once(&mut reg, &server, 0, Duration::from_secs(2), None).await;
            let _ = events.send(PhoneEvent::Registration(RegistrationState::Unregistered));
        }
    });
    Ok(RegistrationTask {
        cancel,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_statuses() {
        assert_eq!(classify(200), Ok(()));
        assert_eq!(classify(401), Err(RegistrationFailure::AuthFailed));
        assert_eq!(classify(403), Err(RegistrationFailure::AuthFailed));
        assert_eq!(classify(503), Err(RegistrationFailure::Rejected(503)));
    }

    #[test]
    fn retries_back_off_from_two_seconds_to_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_after(0), retry_after(1));
    }
}
