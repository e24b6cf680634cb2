//! The softphone use cases over `rapport_phone::Phone`: click-to-call from a lead, inbound
//! calls matched to a contact by number, and every call logged as ONE Call activity — created
//! when the call starts ("in-progress"), its note autosaved while it runs, its outcome
//! (status, disposition, duration) written when it ends. Reports a `PhoneSnapshot` to the shell
//! after every change. Knows nothing of Tauri.

mod outcome;
mod recovery;
mod settings;

pub use outcome::{caller_name, caller_user, outcome, state_name};
pub use recovery::{CallMarker, marker_path as call_marker_path};
pub use settings::{
    AudioChoice, KEYCHAIN_SERVICE, PhoneSettings, forget_password, keychain_backend, load_password,
    save_password,
};

use crate::{App, AppError, Result};
use chrono::Utc;
use rapport_core::ops::{CONTACT_NAME_MAX, NewActivity, NewContact, NewLead, PhoneInput};
use rapport_core::time::Timestamp;
use rapport_core::validate::{phone, phone_display};
use rapport_core::{ActivityKind, CallFields, Direction, Id};
use rapport_phone::audio::{AudioIo, NullAudio};
use rapport_phone::{
    AudioFactory, CallState, EndReason, Phone, PhoneError, PhoneEvent, RegistrationState,
    RejectCode,
};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Mutex;

/// What the UI shows: registration and the current (or just ended) call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhoneSnapshot {
    /// Grows with every change: a shell may get a command's reply after later events, and
    /// keeps the snapshot with the highest `seq`.
    pub seq: u64,
    pub registration: RegistrationView,
    pub call: Option<CallView>,
    /// Something the user should know about the phone set-up (e.g. no sound device support).
    pub notice: Option<String>,
}

/// `state`: `off` (no phone.toml), `none` (no account: direct calls only), `registering`,
/// `registered`, `failed` (with `reason`), `unregistered`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegistrationView {
    pub state: String,
    pub account: Option<String>,
    pub reason: Option<String>,
    pub config_path: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    /// The Call activity logging this call (`None` for a caller matched to no lead).
    pub activity_id: Option<Id>,
    pub lead_id: Option<Id>,
    pub lead_name: Option<String>,
    pub contact_id: Option<Id>,
    pub contact_name: Option<String>,
    pub direction: Direction,
    /// E.164 when known, else what the caller sent.
    pub number: String,
    pub number_display: String,
    /// dialing, ringing, early_media, connected, on_hold, held_by_remote, ended.
    pub state: &'static str,
    pub end_reason: Option<String>,
    #[serde(with = "rapport_core::time::serde_ts")]
    pub started_at: Timestamp,
    /// When it was answered: the call timer counts from here.
    #[serde(with = "rapport_core::time::serde_opt_ts")]
    pub connected_at: Option<Timestamp>,
    /// Seconds talked, once ended.
    pub duration: Option<u32>,
    pub status: Option<String>,
    pub disposition: Option<String>,
    pub muted: bool,
}

type Sink = Arc<dyn Fn(&PhoneSnapshot) + Send + Sync>;

/// The softphone service. Cheap to clone.
#[derive(Clone)]
pub struct Softphone {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Softphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Softphone")
    }
}

struct Inner {
    app: App,
    path: PathBuf,
    /// The running call's crash marker (see `recovery`).
    marker: PathBuf,
    sink: Sink,
    state: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    settings: Option<PhoneSettings>,
    phone: Option<Phone>,
    snapshot: PhoneSnapshot,
}

fn phone_error(e: PhoneError) -> AppError {
    let code = match e {
        PhoneError::InvalidTarget { .. } | PhoneError::InvalidDtmf(_) => "bad_input",
        PhoneError::InvalidState(_) => "phone_state",
        PhoneError::InvalidConfig { .. } => "phone_config",
        _ => "phone",
    };
    AppError::new(code, e.to_string())
}

fn audio_factory(choice: AudioChoice) -> (AudioFactory, Option<String>) {
    let null: AudioFactory = Arc::new(|| Ok(Box::new(NullAudio) as Box<dyn AudioIo>));
    match choice {
        AudioChoice::None => (null, None),
        #[cfg(feature = "sound")]
        AudioChoice::Device => (
            Arc::new(|| {
                Ok(
                    Box::new(rapport_phone::audio::cpal::CpalAudio::open_default()?)
                        as Box<dyn AudioIo>,
                )
            }),
            None,
        ),
        #[cfg(not(feature = "sound"))]
        AudioChoice::Device => (
            null,
            Some("This build has no sound-device support: calls connect without audio.".into()),
        ),
    }
}

impl Softphone {
    /// Loads the settings at `path` and starts the phone (registering when there is an
    /// account). Never fails: problems show in the snapshot's registration state. A call
    /// that a previous run left open (the app was killed mid-call) is logged as interrupted
    /// first.
    pub async fn start(
        app: App,
        path: PathBuf,
        sink: impl Fn(&PhoneSnapshot) + Send + Sync + 'static,
    ) -> Softphone {
        let marker = recovery::marker_path(app.store().path());
        if let Some(id) = recovery::recover(&app, &marker).await {
            eprintln!("rapport: call {id} was cut off by the last exit; logged as interrupted");
        }
        let phone = Softphone {
            inner: Arc::new(Inner {
                app,
                path,
                marker,
                sink: Arc::new(sink),
                state: Mutex::new(Shared::default()),
            }),
        };
        phone.reload().await;
        let weak = Arc::downgrade(&phone.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(recovery::HEARTBEAT);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Softphone { inner }.heartbeat().await;
            }
        });
        phone
    }

    /// Refreshes the running call's crash marker (or writes its first one).
    async fn heartbeat(&self) {
        let s = self.inner.state.lock().await;
        self.mark(&s);
    }

    fn mark(&self, s: &Shared) {
        let Some(call) = s.snapshot.call.as_ref().filter(|c| c.state != "ended") else {
            return;
        };
        let Some(id) = call.activity_id else { return };
        let m = recovery::marker(id, call.connected_at);
        if let Err(e) = recovery::write(&self.inner.marker, &m) {
            eprintln!("rapport: the call marker could not be written: {e}");
        }
    }

    /// The default settings path for the app's store.
    pub fn settings_path(app: &App) -> PathBuf {
        PhoneSettings::path_for(app.store().path())
    }

    pub async fn snapshot(&self) -> PhoneSnapshot {
        self.inner.state.lock().await.snapshot.clone()
    }

    fn emit(&self, shared: &mut Shared) {
        shared.snapshot.seq += 1;
        (self.inner.sink)(&shared.snapshot);
    }

    /// (Re)reads the settings and the keychain, and (re)starts the phone.
    pub async fn reload(&self) {
        let mut s = self.inner.state.lock().await;
        if s.snapshot.call.as_ref().is_some_and(|c| c.state != "ended") {
            return;
        }
        if let Some(old) = s.phone.take() {
            let _ = old.shutdown().await;
        }
        s.snapshot = PhoneSnapshot {
            seq: s.snapshot.seq,
            ..Default::default()
        };
        s.snapshot.registration.config_path = Some(self.inner.path.display().to_string());
        let reg = &mut s.snapshot.registration;
        let mut settings = match PhoneSettings::load(&self.inner.path) {
            Ok(Some(settings)) => settings,
            Ok(None) => {
                reg.state = "off".into();
                reg.reason = Some(format!(
                    "No phone is set up: create {}",
                    self.inner.path.display()
                ));
                self.emit(&mut s);
                return;
            }
            Err(e) => {
                reg.state = "failed".into();
                reg.reason = Some(e.message);
                self.emit(&mut s);
                return;
            }
        };
        reg.account = settings.account_uri().map(str::to_string);
        let mut register = false;
        if let Some(account) = settings.config.account.as_mut() {
            match load_password(&account.uri) {
                Ok(Some(secret)) => {
                    account.password = secret;
                    register = true;
                }
                Ok(None) => {
                    reg.state = "failed".into();
                    reg.reason = Some("No password saved for this account".into());
                }
                Err(e) => {
                    reg.state = "failed".into();
                    reg.reason = Some(e.message);
                }
            }
        } else {
            reg.state = "none".into();
        }
        let (audio, notice) = audio_factory(settings.audio);
        s.snapshot.notice = notice;
        match Phone::start(settings.config.clone(), audio).await {
            Ok((phone, mut events)) => {
                if register {
                    s.snapshot.registration.state = "registering".into();
                    if let Err(e) = phone.register().await {
                        s.snapshot.registration.state = "failed".into();
                        s.snapshot.registration.reason = Some(e.to_string());
                    }
                }
                let me = self.clone();
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        me.on_event(event).await;
                    }
                });
                s.phone = Some(phone);
                s.settings = Some(settings);
            }
            Err(e) => {
                s.snapshot.registration.state = "failed".into();
                s.snapshot.registration.reason = Some(format!("the phone could not start: {e}"));
            }
        }
        self.emit(&mut s);
    }

    /// Saves the account's password in the OS keychain and re-registers with it.
    pub async fn set_password(&self, password: &str) -> Result<PhoneSnapshot> {
        let uri = {
            let s = self.inner.state.lock().await;
            match PhoneSettings::load(&self.inner.path)? {
                Some(settings) => settings.account_uri().map(str::to_string),
                None => s
                    .settings
                    .as_ref()
                    .and_then(|x| x.account_uri().map(str::to_string)),
            }
        };
        let uri = uri.ok_or_else(|| {
            AppError::new(
                "phone_config",
                format!("no [account] in {}", self.inner.path.display()),
            )
        })?;
        save_password(&uri, password)?;
        self.reload().await;
        Ok(self.snapshot().await)
    }

    async fn region(&self) -> Result<String> {
        Ok(self
            .inner
            .app
            .store()
            .meta("region")
            .await?
            .unwrap_or_else(|| "US".into()))
    }

    /// Calls `number` (a contact's phone on `lead`) and logs the call on that lead.
    /// Invalid numbers are refused before anything is dialled.
    pub async fn dial(&self, lead: Id, contact: Option<Id>, number: &str) -> Result<PhoneSnapshot> {
        let region = self.region().await?;
        let e164 = phone("number", number, &region)?;
        let lead = self.inner.app.lead(lead).await?;
        let contact_name = match contact {
            Some(id) => self
                .inner
                .app
                .store()
                .contacts_by_phone(&e164)
                .await?
                .into_iter()
                .find(|m| m.contact.id == id)
                .map(|m| m.contact.name),
            None => None,
        };
        let mut s = self.inner.state.lock().await;
        let (Some(phone), Some(settings)) = (s.phone.clone(), s.settings.as_ref()) else {
            let why = s.snapshot.registration.reason.clone();
            return Err(AppError::new(
                "phone_off",
                why.unwrap_or_else(|| "The phone is not set up".into()),
            ));
        };
        if s.snapshot.call.as_ref().is_some_and(|c| c.state != "ended") {
            return Err(AppError::new(
                "phone_state",
                "A call is already in progress",
            ));
        }
        let target = settings.target_for(&e164)?;
        let local_number = settings.local_number.clone();
        let started_at = Utc::now();
        // The lock is held until the call is logged, so its events wait for the activity id.
        phone.dial(&target).await.map_err(phone_error)?;
        let fields = CallFields {
            direction: Direction::Outbound,
            status: "in-progress".into(),
            disposition: "in-progress".into(),
            remote_phone: Some(e164.clone()),
            local_phone: local_number,
            duration: 0,
            note: None,
        };
        let activity = self.log_start(lead.id, contact, started_at, fields).await;
        s.snapshot.call = Some(CallView {
            activity_id: activity,
            lead_id: Some(lead.id),
            lead_name: Some(lead.name),
            contact_id: contact,
            contact_name,
            direction: Direction::Outbound,
            number_display: phone_display(&e164, &region),
            number: e164,
            state: "dialing",
            end_reason: None,
            started_at,
            connected_at: None,
            duration: None,
            status: None,
            disposition: None,
            muted: false,
        });
        self.mark(&s);
        self.emit(&mut s);
        Ok(s.snapshot.clone())
    }

    async fn log_start(
        &self,
        lead: Id,
        contact: Option<Id>,
        at: Timestamp,
        fields: CallFields,
    ) -> Option<Id> {
        let input = NewActivity {
            contact_id: contact,
            activity_at: Some(at),
            kind: ActivityKind::Call(fields),
        };
        match self.inner.app.add_activity(lead, input).await {
            Ok(a) => Some(a.id),
            Err(e) => {
                eprintln!("rapport: the call could not be logged: {e}");
                None
            }
        }
    }

    async fn on_event(&self, event: PhoneEvent) {
        let mut s = self.inner.state.lock().await;
        match event {
            PhoneEvent::Registration(r) => {
                let reg = &mut s.snapshot.registration;
                (reg.state, reg.reason) = match r {
                    RegistrationState::Registered { .. } => ("registered".into(), None),
                    RegistrationState::Unregistered => ("unregistered".into(), None),
                    RegistrationState::Failed(f) => ("failed".into(), Some(f.to_string())),
                };
            }
            PhoneEvent::Incoming { from } => self.incoming(&mut s, &from).await,
            PhoneEvent::Call(CallState::Ended(reason)) => self.ended(&mut s, reason).await,
            PhoneEvent::Call(state) => {
                let Some(call) = s.snapshot.call.as_mut() else {
                    return;
                };
                call.state = state_name(state);
                if state == CallState::Connected && call.connected_at.is_none() {
                    call.connected_at = Some(Utc::now());
                    self.mark(&s);
                }
            }
            PhoneEvent::Dtmf(_) | PhoneEvent::Media(_) => return,
        }
        self.emit(&mut s);
    }

    async fn incoming(&self, s: &mut Shared, from: &str) {
        let region = self.region().await.unwrap_or_else(|_| "US".into());
        let user = caller_user(from).unwrap_or(from);
        let e164 = phone("number", user, &region).ok();
        let mut matched = match &e164 {
            Some(n) => self
                .inner
                .app
                .store()
                .contacts_by_phone(n)
                .await
                .ok()
                .and_then(|m| m.into_iter().next()),
            None => None,
        };
        let number = e164.clone().unwrap_or_else(|| user.to_string());
        let number_display = e164
            .as_deref()
            .map_or_else(|| number.clone(), |n| phone_display(n, &region));
        let log_unknown = s.settings.as_ref().is_none_or(|x| x.log_unknown_callers);
        let started_at = Utc::now();
        let fields = CallFields {
            direction: Direction::Inbound,
            status: "in-progress".into(),
            disposition: "in-progress".into(),
            remote_phone: e164.clone(),
            local_phone: s.settings.as_ref().and_then(|x| x.local_number.clone()),
            duration: 0,
            note: None,
        };
        let activity = match &matched {
            Some(m) => {
                self.log_start(m.contact.lead_id, Some(m.contact.id), started_at, fields)
                    .await
            }
            None if log_unknown => {
                let call = NewActivity {
                    contact_id: None,
                    activity_at: Some(started_at),
                    kind: ActivityKind::Call(fields),
                };
                let made = self
                    .lead_for_unknown_caller(from, e164.as_deref(), &number_display, call)
                    .await;
                made.map(|(m, activity)| {
                    matched = Some(m);
                    activity
                })
            }
            None => None,
        };
        s.snapshot.call = Some(CallView {
            activity_id: activity,
            lead_id: matched.as_ref().map(|m| m.contact.lead_id),
            lead_name: matched.as_ref().map(|m| m.lead_name.clone()),
            contact_id: matched.as_ref().map(|m| m.contact.id),
            contact_name: matched.map(|m| m.contact.name),
            direction: Direction::Inbound,
            number_display,
            number,
            state: "ringing",
            end_reason: None,
            started_at,
            connected_at: None,
            duration: None,
            status: None,
            disposition: None,
            muted: false,
        });
        self.mark(s);
    }

    /// A caller no contact matches gets a lead of its own (named after the caller, with one
    /// contact carrying the number) and the call logged on it — as Close does — all in one
    /// transaction, so no crash or error leaves a lead without its contact or its call. The
    /// lead can be merged or renamed later. `None` if it cannot be written.
    async fn lead_for_unknown_caller(
        &self,
        from: &str,
        e164: Option<&str>,
        display: &str,
        call: NewActivity,
    ) -> Option<(rapport_store::PhoneMatch, Id)> {
        // A display name too long for a contact name falls back to the number.
        let name = caller_name(from)
            .filter(|n| n.chars().count() <= CONTACT_NAME_MAX)
            .unwrap_or(display)
            .to_string();
        let lead = NewLead {
            name: format!("Caller {display}"),
            description: Some(format!("Created for an inbound call from {display}.")),
            ..Default::default()
        };
        let contact = NewContact {
            name: name.clone(),
            phones: e164
                .map(|n| PhoneInput {
                    phone: n.to_string(),
                    kind: Some("other".into()),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let created = self
            .inner
            .app
            .create_lead_with_contact(lead, contact, Some(call))
            .await;
        match created {
            Ok((lead, contact, Some(activity))) => Some((
                rapport_store::PhoneMatch {
                    contact,
                    lead_name: lead.name,
                },
                activity.id,
            )),
            Ok((_, _, None)) => None,
            Err(e) => {
                eprintln!("rapport: no lead could be created for the caller {display}: {e}");
                None
            }
        }
    }

    async fn ended(&self, s: &mut Shared, reason: EndReason) {
        let Some(call) = s.snapshot.call.as_mut().filter(|c| c.state != "ended") else {
            return;
        };
        let now = Utc::now();
        let answered = call.connected_at.is_some();
        let duration = call.connected_at.map_or(0, |t| {
            u32::try_from((now - t).num_seconds().max(0)).unwrap_or(u32::MAX)
        });
        let (status, disposition) =
            outcome(reason, answered, call.direction == Direction::Outbound);
        call.state = "ended";
        call.end_reason = Some(reason.to_string());
        call.duration = Some(duration);
        call.status = Some(status.into());
        call.disposition = Some(disposition.into());
        if let Some(id) = call.activity_id {
            let patch = rapport_core::ops::CallPatch {
                status: Some(status.into()),
                disposition: Some(disposition.into()),
                duration: Some(duration),
                note: None,
            };
            if let Err(e) = self.inner.app.update_call(id, patch).await {
                eprintln!("rapport: the call's outcome could not be logged: {e}");
                // the marker stays: the next start logs the call as interrupted
                return;
            }
        }
        recovery::clear(&self.inner.marker);
    }

    async fn phone(&self) -> Result<Phone> {
        self.inner
            .state
            .lock()
            .await
            .phone
            .clone()
            .ok_or_else(|| AppError::new("phone_off", "The phone is not set up"))
    }

    pub async fn answer(&self) -> Result<()> {
        self.phone().await?.answer().await.map_err(phone_error)
    }

    /// Refuses the ringing inbound call (603 Decline, or 486 Busy Here when `busy`).
    pub async fn reject(&self, busy: bool) -> Result<()> {
        let code = if busy {
            RejectCode::Busy
        } else {
            RejectCode::Decline
        };
        self.phone().await?.reject(code).await.map_err(phone_error)
    }

    pub async fn hangup(&self) -> Result<()> {
        self.phone().await?.hangup().await.map_err(phone_error)
    }

    pub async fn hold(&self, hold: bool) -> Result<()> {
        let phone = self.phone().await?;
        if hold {
            phone.hold().await
        } else {
            phone.resume().await
        }
        .map_err(phone_error)
    }

    pub async fn mute(&self, muted: bool) -> Result<PhoneSnapshot> {
        self.phone().await?.mute(muted).await.map_err(phone_error)?;
        let mut s = self.inner.state.lock().await;
        if let Some(call) = s.snapshot.call.as_mut() {
            call.muted = muted;
        }
        self.emit(&mut s);
        Ok(s.snapshot.clone())
    }

    pub async fn dtmf(&self, digits: &str) -> Result<()> {
        self.phone().await?.dtmf(digits).await.map_err(phone_error)
    }

    /// The phone's SIP address (peers without a registrar call it directly).
    pub async fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner
            .state
            .lock()
            .await
            .phone
            .as_ref()
            .map(Phone::local_addr)
    }

    /// Forgets an ended call (the call bar closes).
    pub async fn dismiss(&self) -> PhoneSnapshot {
        let mut s = self.inner.state.lock().await;
        if s.snapshot.call.as_ref().is_some_and(|c| c.state == "ended") {
            s.snapshot.call = None;
            self.emit(&mut s);
        }
        s.snapshot.clone()
    }

    /// Hangs up any call (BYE, or CANCEL while ringing), logs its outcome and stops the
    /// phone: the window is closing. Outcome events that arrive after the phone stopped are
    /// not waited for; the call is logged as hung up here.
    /// Bounded: an unreachable peer delays the exit by at most 3 s.
    pub async fn shutdown(&self) {
        let phone = self.inner.state.lock().await.phone.take();
        if let Some(p) = phone {
            let stop = p.shutdown();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), stop).await;
        }
        let mut s = self.inner.state.lock().await;
        if s.snapshot.call.as_ref().is_some_and(|c| c.state != "ended") {
            self.ended(&mut s, EndReason::LocalHangup).await;
            self.emit(&mut s);
        }
    }
}
