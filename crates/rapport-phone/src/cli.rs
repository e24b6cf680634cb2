//! Headless CLI surface (`rapport phone register|listen`, `rapport call`): clap argument types the `rapport` binary mounts, and async entry points that drive a `Phone` with the WAV audio backend.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::account::{Account, PhoneConfig, Secret, Transport};
use crate::audio::AudioIo;
use crate::audio::wav::WavAudio;
use crate::call::{AudioFactory, Phone};
use crate::error::PhoneError;
use crate::state::{CallState, EndReason, PhoneEvent, RegistrationState};

/// Account and transport options shared by every phone command. Flags override the config file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AccountArgs {
    /// Phone settings file (default: `phone.toml` beside the store, or $RAPPORT_PHONE_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Account address of record, e.g. sip:alice@example.org.
    #[arg(long, value_name = "SIP_URI")]
    pub uri: Option<String>,
    /// Digest user name, when it differs from the URI's user.
    #[arg(long)]
    pub auth_user: Option<String>,
    /// Digest password (prefer the RAPPORT_SIP_PASSWORD environment variable).
    #[arg(long)]
    pub password: Option<String>,
    /// Registrar (host[:port] or SIP URI); defaults to the URI's domain.
    #[arg(long)]
    pub registrar: Option<String>,
    /// Outbound proxy ip:port.
    #[arg(long)]
    pub outbound_proxy: Option<SocketAddr>,
    /// Signalling transport.
    #[arg(long, value_enum)]
    pub transport: Option<Transport>,
    /// PEM CA certificate(s) to trust for TLS signalling (default: the system CA bundle).
    #[arg(long, value_name = "PEM_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// Local SIP address to bind (ip:port, port 0 for any).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Cancel an unanswered call after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub ring_timeout: Option<u64>,
    /// Give up on the registrar after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub register_timeout: Option<u64>,
}

impl AccountArgs {
    /// Merge the config file (`--config`, read as a plain `PhoneConfig`) and the flags.
    pub fn to_config(&self) -> Result<PhoneConfig, PhoneError> {
        let file = match &self.config {
            Some(path) => PhoneConfig::load(path)?,
            None => PhoneConfig::default(),
        };
        self.over(file)
    }

    /// Apply the flags over `cfg`, a configuration the caller already loaded (the `rapport`
    /// binary reads `phone.toml` beside the store, or `--config`, with the app's keys).
    pub fn over(&self, mut cfg: PhoneConfig) -> Result<PhoneConfig, PhoneError> {
        if let Some(uri) = &self.uri {
            let base = cfg.account.take();
            cfg.account = Some(Account {
                uri: uri.clone(),
                auth_user: base.as_ref().and_then(|a| a.auth_user.clone()),
                password: base
                    .as_ref()
                    .map(|a| a.password.clone())
                    .unwrap_or_default(),
                registrar: base.as_ref().and_then(|a| a.registrar.clone()),
                outbound_proxy: base.as_ref().and_then(|a| a.outbound_proxy),
                transport: base.as_ref().map(|a| a.transport).unwrap_or_default(),
                expires: base.as_ref().map_or(300, |a| a.expires),
                tls_ca_file: base.as_ref().and_then(|a| a.tls_ca_file.clone()),
            });
        }
        if let Some(a) = &mut cfg.account {
            if let Some(v) = &self.auth_user {
                a.auth_user = Some(v.clone());
            }
            if let Some(v) = self
                .password
                .clone()
                .or_else(|| std::env::var("RAPPORT_SIP_PASSWORD").ok())
            {
                a.password = Secret::new(v);
            }
            if let Some(v) = &self.registrar {
                a.registrar = Some(v.clone());
            }
            if let Some(v) = self.outbound_proxy {
                a.outbound_proxy = Some(v);
            }
            if let Some(v) = self.transport {
                a.transport = v;
            }
            if let Some(v) = &self.tls_ca_file {
                a.tls_ca_file = Some(v.clone());
            }
            a.validate()?;
        } else if self.password.is_some() || self.registrar.is_some() || self.auth_user.is_some() {
            return Err(PhoneError::InvalidConfig {
                field: "uri",
                reason: "account options need --uri or a config file".into(),
            });
        }
        if self.bind.is_some() {
            cfg.bind = self.bind;
        }
        if let Some(v) = self.ring_timeout {
            cfg.ring_timeout_secs = v;
        }
        if let Some(v) = self.register_timeout {
            cfg.register_timeout_secs = v;
        }
        Ok(cfg)
    }
}

/// Audio files for a call.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MediaArgs {
    /// WAV file sent as our audio (silence when absent or finished).
    #[arg(long, value_name = "FILE.wav")]
    pub play: Option<PathBuf>,
    /// WAV file (8 kHz mono) receiving what the peer sends.
    #[arg(long, value_name = "FILE.wav")]
    pub record: Option<PathBuf>,
}

impl MediaArgs {
    fn factory(&self) -> Result<AudioFactory, PhoneError> {
        // Open once up front so a bad file fails before dialling.
        WavAudio::open(self.play.as_deref(), None)?;
        let (play, record) = (self.play.clone(), self.record.clone());
        Ok(Arc::new(move || {
            Ok(Box::new(WavAudio::open(play.as_deref(), record.as_deref())?) as Box<dyn AudioIo>)
        }))
    }
}

/// `rapport call TARGET …`
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "call", about = "Place a call to a SIP URI or number")]
pub struct CallArgs {
    /// SIP URI (sip:user@host:port), user@host, or a number dialled through the account.
    pub target: String,
    #[command(flatten)]
    pub media: MediaArgs,
    /// Hang up this many seconds after the call is answered.
    #[arg(long, value_name = "SECS")]
    pub hangup_after: Option<f64>,
    /// DTMF digits to send once connected (0-9 * # A-D).
    #[arg(long, value_name = "DIGITS")]
    pub dtmf: Option<String>,
    #[command(flatten)]
    pub account: AccountArgs,
}

/// `rapport phone …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PhoneCommand {
    /// Register the account once, report the result, unregister and exit.
    Register {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Wait for inbound calls (registering first when an account is configured).
    Listen(ListenArgs),
}

/// `rapport phone listen …`
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "listen")]
pub struct ListenArgs {
    /// Answer every inbound call at once.
    #[arg(long)]
    pub auto_answer: bool,
    #[command(flatten)]
    pub media: MediaArgs,
    /// Hang up answered calls after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub hangup_after: Option<f64>,
    /// Exit after this many calls have ended.
    #[arg(long, value_name = "N")]
    pub calls: Option<u32>,
    /// Exit after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub account: AccountArgs,
}

impl PhoneCommand {
    /// The account flags of the command.
    pub fn account(&self) -> &AccountArgs {
        match self {
            PhoneCommand::Register { account } => account,
            PhoneCommand::Listen(args) => &args.account,
        }
    }
}

/// Run `rapport phone …` with the configuration `--config` names (or the defaults).
pub async fn run_phone(command: PhoneCommand) -> anyhow::Result<()> {
    let cfg = command.account().to_config()?;
    run_phone_with(command, cfg).await
}

/// Run `rapport phone …` over a configuration loaded by the caller (flags still apply).
pub async fn run_phone_with(command: PhoneCommand, file: PhoneConfig) -> anyhow::Result<()> {
    match command {
        PhoneCommand::Register { account } => run_register(account.over(file)?).await,
        PhoneCommand::Listen(args) => {
            let cfg = args.account.over(file)?;
            listen(args, cfg).await
        }
    }
}

/// Blocking wrapper for binaries without a tokio runtime.
pub fn run_phone_blocking(command: PhoneCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_phone(command))
}

/// Blocking wrapper for binaries without a tokio runtime.
pub fn run_call_blocking(args: CallArgs) -> anyhow::Result<()> {
    runtime()?.block_on(run_call(args))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The process exit code for an error from these entry points (1 for usage/config, 2 for a failed call or registration).
pub fn exit_code(error: &anyhow::Error) -> i32 {
    match error.downcast_ref::<PhoneError>() {
        Some(PhoneError::CallFailed(_) | PhoneError::Registration(_)) => 2,
        _ => 1,
    }
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.clamp(0.0, 86_400.0))
}

async fn next_event(
    events: &mut mpsc::UnboundedReceiver<PhoneEvent>,
) -> anyhow::Result<PhoneEvent> {
    events.recv().await.ok_or_else(|| PhoneError::Closed.into())
}

async fn wait_registered(
    phone: &Phone,
    events: &mut mpsc::UnboundedReceiver<PhoneEvent>,
    cfg: &PhoneConfig,
) -> anyhow::Result<()> {
    phone.register().await?;
    let limit = cfg.register_timeout() + Duration::from_secs(3);
    let outcome = tokio::time::timeout(limit, async {
        loop {
            match next_event(events).await? {
                PhoneEvent::Registration(RegistrationState::Registered { expires }) => {
                    return Ok(expires);
                }
                PhoneEvent::Registration(RegistrationState::Failed(reason)) => {
                    return Err(anyhow::Error::from(PhoneError::Registration(reason)));
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap_or(Err(PhoneError::Registration(
        crate::state::RegistrationFailure::Timeout,
    )
    .into()));
    // A failure is returned, not printed: the binary prints it once.
    let expires = outcome?;
    eprintln!("registered (expires {expires} s)");
    Ok(())
}

async fn run_register(cfg: PhoneConfig) -> anyhow::Result<()> {
    if cfg.account.is_none() {
        return Err(PhoneError::InvalidConfig {
            field: "uri",
            reason: "no account: pass --uri or --config".into(),
        }
        .into());
    }
    let (phone, mut events) = Phone::start(
        cfg.clone(),
        Arc::new(|| Ok(Box::new(crate::audio::NullAudio) as Box<dyn AudioIo>)),
    )
    .await?;
    let result = wait_registered(&phone, &mut events, &cfg).await;
    let _ = phone.shutdown().await;
    result
}

/// Run `rapport call …` with the configuration `--config` names (or the defaults): dial,
/// play/record, optionally send DTMF and hang up; fails with the end reason.
pub async fn run_call(args: CallArgs) -> anyhow::Result<()> {
    let cfg = args.account.to_config()?;
    run_call_with(args, cfg).await
}

/// Run `rapport call …` over a configuration loaded by the caller (flags still apply).
pub async fn run_call_with(args: CallArgs, file: PhoneConfig) -> anyhow::Result<()> {
    let mut cfg = args.account.over(file)?;
    if let Some(d) = &args.dtmf {
        crate::dtmf::validate_digits(d).map_err(PhoneError::InvalidDtmf)?;
    }
    let domain = cfg.number_domain()?;
    let uri = cfg.dial_plan.resolve(&args.target, domain.as_deref())?;
    if cfg.bind.is_none() && cfg.account.is_none() {
        cfg.bind = Some(SocketAddr::new(local_ip_for_uri(&uri).await, 0));
    }
    let (phone, mut events) = Phone::start(cfg, args.media.factory()?).await?;
    phone.dial(&uri).await?;
    let mut hangup_at: Option<tokio::time::Instant> = None;
    let mut dtmf_at: Option<tokio::time::Instant> = None;
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    let reason = loop {
        tokio::select! {
            event = next_event(&mut events) => match event? {
                PhoneEvent::Call(CallState::Ended(reason)) => break reason,
                PhoneEvent::Call(state) => {
                    eprintln!("call: {state}");
                    if state == CallState::Connected && hangup_at.is_none() {
                        let now = tokio::time::Instant::now();
                        hangup_at = args.hangup_after.map(|s| now + secs(s));
                        dtmf_at = args.dtmf.as_ref().map(|_| now + Duration::from_millis(500));
                    }
                }
                PhoneEvent::Dtmf(d) => eprintln!("dtmf received: {d}"),
                PhoneEvent::Media(stats) => report_media(&stats),
                _ => {}
            },
            _ = tokio::time::sleep_until(dtmf_at.unwrap_or(far)), if dtmf_at.is_some() => {
                dtmf_at = None;
                if let Err(e) = phone.dtmf(args.dtmf.as_deref().unwrap_or_default()).await {
                    eprintln!("dtmf not sent: {e}");
                }
            }
            _ = tokio::time::sleep_until(hangup_at.unwrap_or(far)), if hangup_at.is_some() => {
                hangup_at = None;
                phone.hangup().await?;
            }
            _ = tokio::signal::ctrl_c() => {
                let _ = phone.hangup().await;
            }
        }
    };
    let _ = phone.shutdown().await;
    finish(reason)
}

/// A normal end is reported here; a failure is returned for the binary to print, once.
fn finish(reason: EndReason) -> anyhow::Result<()> {
    if reason.is_normal() {
        eprintln!("call ended: {reason}");
        Ok(())
    } else {
        Err(PhoneError::CallFailed(reason).into())
    }
}

/// Say when the call's media dropped packets that did not come from the negotiated peer.
fn report_media(stats: &crate::media::MediaStats) {
    if stats.dropped_address + stats.dropped_ssrc > 0 {
        eprintln!(
            "media: dropped {} RTP packets from other addresses and {} of other streams",
            stats.dropped_address, stats.dropped_ssrc
        );
    }
}

/// Run `rapport phone listen …` with the configuration `--config` names (or the defaults).
pub async fn run_listen(args: ListenArgs) -> anyhow::Result<()> {
    let cfg = args.account.to_config()?;
    listen(args, cfg).await
}

/// `rapport phone listen …` with `cfg` (flags already applied).
async fn listen(args: ListenArgs, cfg: PhoneConfig) -> anyhow::Result<()> {
    let (phone, mut events) = Phone::start(cfg.clone(), args.media.factory()?).await?;
    if cfg.account.is_some() {
        wait_registered(&phone, &mut events, &cfg).await?;
    }
    eprintln!("listening on sip:rapport@{}", phone.local_addr());
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    let stop_at = args.duration.map(|d| tokio::time::Instant::now() + secs(d));
    let mut hangup_at: Option<tokio::time::Instant> = None;
    let mut ended = 0u32;
    let result = loop {
        tokio::select! {
            event = next_event(&mut events) => match event? {
                PhoneEvent::Incoming { from } => {
                    eprintln!("incoming call from {from}");
                    if args.auto_answer
                        && let Err(e) = phone.answer().await
                    {
                        eprintln!("answer failed: {e}");
                    }
                }
                PhoneEvent::Call(CallState::Ended(reason)) => {
                    eprintln!("call ended: {reason}");
                    hangup_at = None;
                    ended += 1;
                    if args.calls.is_some_and(|n| ended >= n) {
                        break Ok(());
                    }
                }
                PhoneEvent::Call(state) => {
                    eprintln!("call: {state}");
                    if state == CallState::Connected && hangup_at.is_none() {
                        hangup_at = args.hangup_after.map(|s| tokio::time::Instant::now() + secs(s));
                    }
                }
                PhoneEvent::Dtmf(d) => eprintln!("dtmf received: {d}"),
                PhoneEvent::Media(stats) => report_media(&stats),
                PhoneEvent::Registration(state) => eprintln!("registration: {state:?}"),
            },
            _ = tokio::time::sleep_until(hangup_at.unwrap_or(far)), if hangup_at.is_some() => {
                hangup_at = None;
                let _ = phone.hangup().await;
            }
            _ = tokio::time::sleep_until(stop_at.unwrap_or(far)), if stop_at.is_some() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    let _ = phone.shutdown().await;
    result
}

async fn local_ip_for_uri(uri: &str) -> IpAddr {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let Ok(parsed) = rsipstack::sip::Uri::try_from(uri) else {
        return loopback;
    };
    let host = parsed.host_with_port.host.to_string();
    match tokio::net::lookup_host((host.as_str(), 5060))
        .await
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) => crate::sip::local_ip_towards(addr.ip()),
        None => loopback,
    }
}
