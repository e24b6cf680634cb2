//! The phone actor: one task owns the SIP endpoint, the (single) call and its media; `Phone` sends it commands and `PhoneEvent`s come back. Signalling ↔ media ↔ audio stay separate layers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::Uri;
use tokio::sync::{mpsc, oneshot};

use crate::account::PhoneConfig;
use crate::audio::AudioIo;
use crate::error::PhoneError;
use crate::sip::SipEndpoint;
use crate::state::PhoneEvent;

/// Creates the audio backend for each call (WAV files, a sound card, silence).
pub type AudioFactory = Arc<dyn Fn() -> Result<Box<dyn AudioIo>, PhoneError> + Send + Sync>;

/// How to refuse an inbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// 486 Busy Here.
    Busy,
    /// 603 Decline.
    Decline,
}

pub(crate) type Reply = oneshot::Sender<Result<(), PhoneError>>;

pub(crate) enum Command {
    Dial(String, Reply),
    Answer(Reply),
    Reject(RejectCode, Reply),
    Hangup(Reply),
    Hold(bool, Reply),
    Mute(bool, Reply),
    Dtmf(String, Reply),
    Register(Reply),
    Shutdown(Reply),
}

/// Handle to the phone actor. Cheap to clone; the actor stops on `shutdown` or when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Phone {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
}

pub(crate) const SIGNAL_TIMEOUT: Duration = Duration::from_secs(8);

impl Phone {
    /// Bind the SIP endpoint and start the actor. Events arrive on the returned receiver.
    pub async fn start(
        config: PhoneConfig,
        audio: AudioFactory,
    ) -> Result<(Phone, mpsc::UnboundedReceiver<PhoneEvent>), PhoneError> {
        let bind = match config.bind {
            Some(b) => b,
            None => SocketAddr::new(default_ip(&config).await, 0),
        };
        let tls_trust = match &config.account {
            Some(a) => a.tls_trust()?,
            None => None,
        };
        let (sip, invites, states) = SipEndpoint::start_with_tls(bind, tls_trust).await?;
        let local = sip.local;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, rx) = mpsc::unbounded_channel();
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
        let actor = crate::actor::Actor {
            cfg: config,
            sip,
            events: events_tx,
            audio,
            media_tx,
            call: None,
            lingering: Vec::new(),
            registration: None,
            outcomes,
        };
        tokio::spawn(actor.run(rx, invites, states, media_rx, outcomes_rx));
        Ok((Phone { commands, local }, events))
    }

    /// Our SIP address (for peers calling us directly).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    async fn send(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| PhoneError::Closed)?;
        rx.await.map_err(|_| PhoneError::Closed)?
    }

    /// Call a SIP URI, `user@host` or a number (through the dial plan). Invalid input is refused before dialling.
    pub async fn dial(&self, target: &str) -> Result<(), PhoneError> {
        self.send(|r| Command::Dial(target.to_owned(), r)).await
    }
    /// Answer the ringing inbound call.
    pub async fn answer(&self) -> Result<(), PhoneError> {
        self.send(Command::Answer).await
    }
    /// Refuse the ringing inbound call.
    pub async fn reject(&self, code: RejectCode) -> Result<(), PhoneError> {
        self.send(|r| Command::Reject(code, r)).await
    }
    /// Hang up: BYE when answered, CANCEL while ringing out, 603 while ringing in.
    pub async fn hangup(&self) -> Result<(), PhoneError> {
        self.send(Command::Hangup).await
    }
    /// Put the call on hold (re-INVITE with `sendonly`).
    pub async fn hold(&self) -> Result<(), PhoneError> {
        self.send(|r| Command::Hold(true, r)).await
    }
    /// Resume a held call (re-INVITE with `sendrecv`).
    pub async fn resume(&self) -> Result<(), PhoneError> {
        self.send(|r| Command::Hold(false, r)).await
    }
    /// Mute or unmute the microphone.
    pub async fn mute(&self, muted: bool) -> Result<(), PhoneError> {
        self.send(|r| Command::Mute(muted, r)).await
    }
    /// Send DTMF digits as RFC 4733 events.
    pub async fn dtmf(&self, digits: &str) -> Result<(), PhoneError> {
        crate::dtmf::validate_digits(digits).map_err(PhoneError::InvalidDtmf)?;
        self.send(|r| Command::Dtmf(digits.to_owned(), r)).await
    }
    /// Start registering the account (refreshed before expiry); results arrive as events.
    pub async fn register(&self) -> Result<(), PhoneError> {
        self.send(Command::Register).await
    }
    /// End any call (waiting at most 3 s for it to end cleanly: the BYE answered, the CANCEL's
    /// 487, an answer that crossed the CANCEL BYEd), unregister and stop the actor.
    pub async fn shutdown(&self) -> Result<(), PhoneError> {
        self.send(Command::Shutdown).await
    }
}

async fn default_ip(config: &PhoneConfig) -> IpAddr {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let Some(account) = &config.account else {
        return loopback;
    };
    if let Some(proxy) = account.outbound_proxy {
        return crate::sip::local_ip_towards(proxy.ip());
    }
    let Ok(registrar) = account.registrar_uri() else {
        return loopback;
    };
    let Ok(uri) = Uri::try_from(registrar.as_str()) else {
        return loopback;
    };
    let host = uri.host_with_port.host.to_string();
    let port = uri.host_with_port.port.map(u16::from).unwrap_or(5060);
    match tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) => crate::sip::local_ip_towards(addr.ip()),
        None => loopback,
    }
}
