//! The phone actor's body: owns the SIP endpoint, the single call and its media, and the ended
//! calls whose INVITE is still followed. It turns commands, dialog states, INVITE outcomes,
//! inbound INVITEs and timers into events for the call's pure `CallMachine` and performs the
//! actions that returns (SIP requests, media, `PhoneEvent`s). In-dialog offer/answer (hold,
//! re-INVITEs) is in `actor_offer`.

use std::collections::VecDeque;

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode, StatusCodeKind, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use crate::account::{PhoneConfig, with_transport};
use crate::call::{AudioFactory, Command, RejectCode, Reply, SIGNAL_TIMEOUT};
use crate::call_session::{Call, LINGER, Lingering, end_reason_for};
use crate::error::PhoneError;
use crate::machine::{Action, Event, Phase};
use crate::media::{MediaEvent, MediaSession, MediaSockets};
use crate::sdp::{Direction, LocalMedia, Negotiated, SessionDescription, Unresolved};
use crate::sip::{IncomingInvite, SipEndpoint, register, state_call_id};
use crate::state::{CallState, EndReason, PhoneEvent};

/// How long `shutdown` waits for the call to end cleanly (BYE answered, CANCEL's 487, a 2xx
/// that crossed the CANCEL BYEd) before it drops what is left.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// The outcome of one of our INVITEs, tagged with its Call-ID.
pub(crate) type InviteOutcome = (String, InviteAsyncResult);

pub(crate) struct Actor {
    pub(crate) cfg: PhoneConfig,
    pub(crate) sip: SipEndpoint,
    pub(crate) events: mpsc::UnboundedSender<PhoneEvent>,
    pub(crate) audio: AudioFactory,
    pub(crate) media_tx: mpsc::UnboundedSender<MediaEvent>,
    pub(crate) call: Option<Call>,
    /// Ended calls whose INVITE has no final response yet.
    pub(crate) lingering: Vec<Lingering>,
    pub(crate) registration: Option<register::RegistrationTask>,
    /// Where each INVITE's outcome is sent (one forwarding task per INVITE, never aborted).
    pub(crate) outcomes: mpsc::UnboundedSender<InviteOutcome>,
}

/// A shutdown in progress: who to answer, by when, and the unregistration running meanwhile.
struct Stopping {
    reply: Reply,
    until: Instant,
    unregister: Option<JoinHandle<()>>,
}

impl Actor {
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut invites: mpsc::UnboundedReceiver<IncomingInvite>,
        mut states: DialogStateReceiver,
        mut media: mpsc::UnboundedReceiver<MediaEvent>,
        mut outcomes: mpsc::UnboundedReceiver<InviteOutcome>,
    ) {
        let mut stopping: Option<Stopping> = None;
        loop {
            if let Some(s) = &stopping
                && ((self.call.is_none() && self.lingering.is_empty()) || Instant::now() >= s.until)
            {
                break;
            }
            let deadline = [
                self.call.as_ref().and_then(|c| c.machine.next_deadline()),
                self.lingering.iter().map(|l| l.until).min(),
                stopping.as_ref().map(|s| s.until),
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                command = commands.recv(), if stopping.is_none() => match command {
                    None => break,
                    Some(Command::Shutdown(reply)) => {
                        let unregister = self.registration.take().map(|r| tokio::spawn(r.stop(SHUTDOWN_WAIT)));
                        self.feed(Event::Hangup).await;
                        stopping = Some(Stopping { reply, until: Instant::now() + SHUTDOWN_WAIT, unregister });
                    }
                    Some(command) => self.command(command).await,
                },
                Some(state) = states.recv() => self.dialog_state(state).await,
                Some(incoming) = invites.recv() => self.incoming(incoming, stopping.is_some()).await,
                Some(MediaEvent::Dtmf(d)) = media.recv() => self.emit(PhoneEvent::Dtmf(d)),
                Some((call_id, result)) = outcomes.recv() => self.invite_done(&call_id, result).await,
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => self.tick().await,
            }
        }
        if let Some(call) = &self.call {
            let reason = match call.machine.phase() {
                Phase::Cancelling { reason, .. } => reason,
                _ => EndReason::Cancelled,
            };
            self.finish(reason).await;
        }
        for l in self.lingering.drain(..) {
            self.sip.dialog_layer.remove_dialog(&l.dialog.id());
        }
        if let Some(s) = stopping {
            if let Some(task) = s.unregister {
                let _ = task.await;
            }
            let _ = s.reply.send(Ok(()));
        }
    }

    pub(crate) fn emit(&self, event: PhoneEvent) {
        let _ = self.events.send(event);
    }

    async fn command(&mut self, command: Command) {
        let (reply, result) = match command {
            Command::Dial(target, r) => (r, self.dial(&target).await),
            Command::Answer(r) => (r, self.answer().await),
            Command::Reject(code, r) => (r, self.reject(code).await),
            Command::Hangup(r) => (r, self.hangup().await),
            Command::Hold(hold, r) => (r, self.hold(hold).await),
            Command::Mute(m, r) => (r, self.with_call(|c| c.mute(m))),
            Command::Dtmf(d, r) => (r, self.with_call(|c| c.dtmf(&d))),
            Command::Register(r) => (r, self.register()),
            Command::Shutdown(r) => (r, Ok(())),
        };
        let _ = reply.send(result);
    }

    fn with_call(
        &mut self,
        f: impl FnOnce(&mut Call) -> Result<(), PhoneError>,
    ) -> Result<(), PhoneError> {
        self.call
            .as_mut()
            .map_or(Err(PhoneError::InvalidState("no call")), f)
    }

    fn register(&mut self) -> Result<(), PhoneError> {
        let account = self.cfg.account.as_ref().ok_or(PhoneError::InvalidConfig {
            field: "account",
            reason: "no account configured".into(),
        })?;
        let task = register::spawn(
            self.sip.endpoint.inner.clone(),
            account,
            self.cfg.register_timeout(),
            self.events.clone(),
        )?;
        self.registration = Some(task);
        Ok(())
    }

    // --- the machine ------------------------------------------------------------------------

    /// Feed `event` to the current call's machine and do what it says.
    async fn feed(&mut self, event: Event) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let actions = call.machine.on(event, Instant::now());
        self.perform(actions).await;
    }

    async fn perform(&mut self, actions: Vec<Action>) {
        let mut queue = VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            let Some(call) = self.call.as_mut() else {
                return;
            };
            match action {
                Action::SendCancel => cancel(&self.sip, &call.dialog, call.destination.clone()),
                Action::SendBye => bye(&call.dialog).await,
                Action::Reject(code) => {
                    if let Err(e) = call.dialog.reject(Some(reject_status(code)), None) {
                        tracing::warn!(error = %e, "refusing the call failed");
                    }
                }
                Action::StartMedia(n) => {
                    if let Err(e) = self.start_media(n, false) {
                        tracing::warn!(error = %e, "media failed to start");
                        queue.clear();
                        if let Some(call) = self.call.as_mut() {
                            queue.extend(call.machine.on(Event::MediaFailed, Instant::now()));
                        }
                    }
                }
                Action::Talk => {
                    if let Some(media) = &call.media {
                        media.talk();
                    }
                }
                Action::State(state) => self.emit(PhoneEvent::Call(state)),
                Action::End(reason) => self.finish(reason).await,
            }
        }
    }

    /// Feed `event` to a lingering call (only CANCEL and BYE can follow); forget it once its
    /// INVITE has its final response.
    async fn feed_lingering(&mut self, index: usize, event: Event) {
        let l = &mut self.lingering[index];
        for action in l.machine.on(event, Instant::now()) {
            match action {
                Action::SendCancel => cancel(&self.sip, &l.dialog, l.destination.clone()),
                Action::SendBye => bye(&l.dialog).await,
                _ => {}
            }
        }
        if !l.machine.invite_pending() {
            let l = self.lingering.remove(index);
            self.sip.dialog_layer.remove_dialog(&l.dialog.id());
        }
    }

    /// The call is over for the user: stop its media, report why; keep following its INVITE
    /// when that has no final response yet.
    async fn finish(&mut self, reason: EndReason) {
        let Some(mut call) = self.call.take() else {
            return;
        };
        if let Some(media) = call.media.take() {
            let stats = media.stop().await;
            self.emit(PhoneEvent::Media(stats));
        }
        if call.machine.invite_pending() {
            self.lingering.push(Lingering {
                call_id: call.call_id,
                dialog: call.dialog,
                machine: call.machine,
                destination: call.destination,
                until: Instant::now() + LINGER,
            });
        } else {
            self.sip.dialog_layer.remove_dialog(&call.dialog.id());
        }
        self.emit(PhoneEvent::Call(CallState::Ended(reason)));
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        if self
            .call
            .as_ref()
            .and_then(|c| c.machine.next_deadline())
            .is_some_and(|d| d <= now)
        {
            self.feed(Event::Tick).await;
        }
        let layer = &self.sip.dialog_layer;
        self.lingering.retain(|l| {
            let keep = l.until > now;
            if !keep {
                layer.remove_dialog(&l.dialog.id());
            }
            keep
        });
    }

    // --- outbound calls ---------------------------------------------------------------------

    async fn dial(&mut self, target: &str) -> Result<(), PhoneError> {
        if self.call.is_some() {
            return Err(PhoneError::InvalidState("a call is already in progress"));
        }
        let account = self.cfg.account.clone();
        let domain = self.cfg.number_domain()?;
        let callee_text = self.cfg.dial_plan.resolve(target, domain.as_deref())?;
        let callee =
            Uri::try_from(callee_text.as_str()).map_err(|_| PhoneError::InvalidTarget {
                input: target.into(),
                reason: "not a valid SIP URI",
            })?;
        let local = self.local_media();
        let sockets = MediaSockets::bind(local.address).await?;
        let local = LocalMedia {
            port: sockets.rtp_port(),
            ..local
        };
        let offer = local.offer(Direction::SendRecv, 1).to_sdp();
        let (caller, credential, destination) = match &account {
            Some(a) => {
                let destination = match (a.outbound_proxy, &a.registrar) {
                    (Some(proxy), _) => Some(SipAddr::from(proxy)),
                    (None, Some(_)) => Uri::try_from(a.registrar_uri()?.as_str())
                        .ok()
                        .and_then(|u| SipAddr::try_from(&u).ok()),
                    (None, None) => None,
                };
                (a.uri.clone(), Some(register::credential(a)?), destination)
            }
            None => (self.sip.local_uri("rapport"), None, None),
        };
        let user = account
            .as_ref()
            .and_then(|a| a.validate().ok())
            .map_or_else(|| "rapport".to_owned(), |(u, _)| u);
        let transport = account.as_ref().map(|a| a.transport).unwrap_or_default();
        let contact = with_transport(&self.sip.local_uri(&user), transport);
        let option = InviteOption {
            caller: Uri::try_from(caller.as_str())?,
            callee,
            contact: Uri::try_from(contact.as_str())?,
            content_type: Some("application/sdp".into()),
            offer: Some(offer.into_bytes()),
            credential,
            destination: destination.clone(),
            ..Default::default()
        };
        let (dialog, handle) = self
            .sip
            .dialog_layer
            .do_invite_async(option, self.sip.states.clone())?;
        let deadline = Instant::now() + self.cfg.ring_timeout();
        let call = Call::outbound(dialog, local, sockets, deadline, destination);
        let (outcomes, call_id) = (self.outcomes.clone(), call.call_id.clone());
        tokio::spawn(async move {
            let result = match handle.await {
                Ok(r) => r,
                Err(e) => Err(rsipstack::Error::Error(e.to_string())),
            };
            let _ = outcomes.send((call_id, result));
        });
        self.call = Some(call);
        self.emit(PhoneEvent::Call(CallState::Dialing));
        Ok(())
    }

    pub(crate) fn local_media(&self) -> LocalMedia {
        LocalMedia {
            address: self.sip.local.ip(),
            port: 0,
            codecs: vec![crate::g711::Codec::Pcmu, crate::g711::Codec::Pcma],
            session_id: u64::from(std::process::id()) << 16 | u64::from(self.sip.local.port()),
        }
    }

    /// Start the media (or update it) with `negotiated`; `talking`: send what is captured at
    /// once (an answered call) rather than silence until `Talk`.
    pub(crate) fn start_media(
        &mut self,
        negotiated: Negotiated,
        talking: bool,
    ) -> Result<(), PhoneError> {
        let factory = self.audio.clone();
        let media_tx = self.media_tx.clone();
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        call.negotiated = Some(negotiated);
        match (&call.media, call.sockets.take()) {
            (Some(media), _) => media.update(negotiated),
            (None, Some(sockets)) => {
                let media =
                    MediaSession::start(sockets, Some(negotiated), factory()?, media_tx, talking);
                media.mute(call.muted);
                call.media = Some(media);
            }
            (None, None) => return Err(PhoneError::InvalidState("media sockets already used")),
        }
        Ok(())
    }

    async fn invite_done(&mut self, call_id: &str, result: InviteAsyncResult) {
        let current = self.call.as_ref().filter(|c| c.call_id == call_id);
        let event = match &result {
            Ok((_, Some(resp))) => {
                let status = resp.status_code.code();
                // Only an answer we still want is read (a BYE follows any other).
                let answer = match current {
                    Some(call)
                        if resp.status_code.kind() == StatusCodeKind::Successful
                            && matches!(call.machine.phase(), Phase::Inviting { .. }) =>
                    {
                        negotiate_answer(&call.local, &resp.body).await
                    }
                    _ => None,
                };
                Event::Final { status, answer }
            }
            Ok((_, None)) => Event::InviteFailed { timed_out: true },
            Err(e) => {
                tracing::info!(error = %e, "INVITE failed");
                Event::InviteFailed {
                    timed_out: e.to_string().to_ascii_lowercase().contains("timeout"),
                }
            }
        };
        if self.call.as_ref().is_some_and(|c| c.call_id == call_id) {
            return self.feed(event).await;
        }
        if let Some(index) = self.lingering.iter().position(|l| l.call_id == call_id) {
            return self.feed_lingering(index, event).await;
        }
        // A call we forgot (it lingered past LINGER): a 2xx still gets its BYE.
        if let Ok((id, Some(resp))) = result
            && resp.status_code.kind() == StatusCodeKind::Successful
            && let Some(rsipstack::dialog::dialog::Dialog::Invite(dialog)) =
                self.sip.dialog_layer.get_dialog(&id)
        {
            bye(&dialog).await;
            self.sip.dialog_layer.remove_dialog(&id);
        }
    }

    async fn hangup(&mut self) -> Result<(), PhoneError> {
        if self.call.is_none() {
            return Err(PhoneError::InvalidState("no call"));
        }
        self.feed(Event::Hangup).await;
        Ok(())
    }

    // --- inbound calls ----------------------------------------------------------------------

    async fn incoming(&mut self, incoming: IncomingInvite, stopping: bool) {
        if self.call.is_some() || stopping {
            let status = if stopping {
                StatusCode::TemporarilyUnavailable
            } else {
                StatusCode::BusyHere
            };
            let _ = incoming.dialog.reject(Some(status), None);
            return;
        }
        let local = self.local_media();
        let mut offer = SessionDescription::parse(&String::from_utf8_lossy(&incoming.offer)).ok();
        if let Some(sd) = offer.as_mut() {
            resolve_host(sd).await;
        }
        let Some(offer) = offer.filter(|o| local.answer(o, Direction::SendRecv, 1).is_ok()) else {
            // Offerless INVITEs and offers we cannot take part in (no G.711, SRTP only, no
            // usable address, another address family) are refused before they become a call.
            let _ = incoming
                .dialog
                .reject(Some(StatusCode::NotAcceptableHere), None);
            return;
        };
        let sockets = match MediaSockets::bind(local.address).await {
            Ok(s) => s,
            Err(_) => {
                let _ = incoming
                    .dialog
                    .reject(Some(StatusCode::ServerInternalError), None);
                return;
            }
        };
        let local = LocalMedia {
            port: sockets.rtp_port(),
            ..local
        };
        let _ = incoming.dialog.ringing(None, None);
        self.call = Some(Call::inbound(incoming.dialog, local, sockets, offer));
        self.emit(PhoneEvent::Incoming {
            from: incoming.from,
        });
        self.emit(PhoneEvent::Call(CallState::Ringing));
    }

    fn ringing_inbound(&mut self) -> Result<&mut Call, PhoneError> {
        self.call
            .as_mut()
            .filter(|c| c.machine.phase() == Phase::Incoming)
            .ok_or(PhoneError::InvalidState("no ringing inbound call"))
    }

    async fn answer(&mut self) -> Result<(), PhoneError> {
        let call = self.ringing_inbound()?;
        let offer = call
            .remote_offer
            .take()
            .ok_or(PhoneError::InvalidState("no offer"))?;
        call.version += 1;
        let (answer, negotiated) = call
            .local
            .answer(&offer, Direction::SendRecv, call.version)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        self.start_media(negotiated, true)?;
        let call = self.ringing_inbound()?;
        call.dialog
            .accept(Some(vec![sdp_header()]), Some(answer.to_sdp().into_bytes()))?;
        self.feed(Event::Answered).await;
        Ok(())
    }

    async fn reject(&mut self, code: RejectCode) -> Result<(), PhoneError> {
        self.ringing_inbound()
            .map_err(|_| PhoneError::InvalidState("only a ringing inbound call can be rejected"))?;
        self.feed(Event::Reject(code)).await;
        Ok(())
    }

    // --- dialog events ----------------------------------------------------------------------

    async fn dialog_state(&mut self, state: DialogState) {
        let call_id = state_call_id(&state).to_owned();
        let ours = self.call.as_ref().is_some_and(|c| c.call_id == call_id);
        let lingering = self.lingering.iter().position(|l| l.call_id == call_id);
        match state {
            DialogState::Updated(_, req, handle) if ours => self.remote_offer(req, handle).await,
            DialogState::Updated(_, _, h)
            | DialogState::Options(_, _, h)
            | DialogState::Info(_, _, h) => {
                let status = if ours {
                    StatusCode::OK
                } else {
                    StatusCode::CallTransactionDoesNotExist
                };
                let _ = h.reply(status).await;
            }
            DialogState::Notify(_, _, h)
            | DialogState::Refer(_, _, h)
            | DialogState::Message(_, _, h)
            | DialogState::Publish(_, _, h) => {
                let _ = h.reply(StatusCode::NotImplemented).await;
            }
            DialogState::Trying(_) if ours => self.feed(Event::Trying).await,
            DialogState::Early(_, resp) if ours => {
                let early = match self.call.as_ref() {
                    Some(c) if matches!(c.machine.phase(), Phase::Inviting { .. }) => {
                        negotiate_answer(&c.local, &resp.body).await
                    }
                    _ => None,
                };
                self.feed(Event::Provisional { early }).await;
            }
            DialogState::Trying(_) | DialogState::Early(..) => {
                if let Some(index) = lingering {
                    self.feed_lingering(index, Event::Provisional { early: None })
                        .await;
                }
            }
            DialogState::Terminated(_, reason) if ours => {
                self.feed(Event::Terminated(end_reason_for(&reason))).await
            }
            _ => {}
        }
    }
}

/// Our own CANCEL of the dialog's INVITE, in the background (its answer is only logged).
fn cancel(sip: &SipEndpoint, dialog: &InviteDialog, destination: Option<SipAddr>) {
    let endpoint = sip.endpoint.inner.clone();
    let invite = dialog.initial_request();
    tokio::spawn(async move {
        let sent = crate::sip::send_cancel(endpoint, &invite, destination);
        match tokio::time::timeout(SIGNAL_TIMEOUT, sent).await {
            Ok(Ok(code)) => tracing::debug!(code, "CANCEL answered"),
            Ok(Err(e)) => tracing::info!(error = %e, "CANCEL failed"),
            Err(_) => tracing::info!("CANCEL got no answer"),
        }
    });
}

/// End a dialog a 2xx established, bounded (the dialog ends even without an answer).
async fn bye(dialog: &InviteDialog) {
    match tokio::time::timeout(SIGNAL_TIMEOUT, dialog.bye()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::info!(error = %e, "BYE failed"),
        Err(_) => tracing::info!("BYE got no answer"),
    }
}

fn reject_status(code: RejectCode) -> StatusCode {
    match code {
        RejectCode::Busy => StatusCode::BusyHere,
        RejectCode::Decline => StatusCode::Decline,
    }
}

/// Read the peer's SDP answer (to our offer, in a 18x or the 2xx): `None` when it is missing or
/// we cannot take part in what it describes.
async fn negotiate_answer(local: &LocalMedia, body: &[u8]) -> Option<Negotiated> {
    let mut sd = SessionDescription::parse(&String::from_utf8_lossy(body)).ok()?;
    resolve_host(&mut sd).await;
    local.accept_answer(&sd).ok()
}

/// How long a media host name in `c=` may take to resolve before the offer is refused.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolve a `c=` host name to an address of its type; left unresolved when that fails.
pub(crate) async fn resolve_host(sd: &mut SessionDescription) {
    let Some(Unresolved::Host { name, ipv6 }) = &sd.unresolved else {
        return;
    };
    let lookup = tokio::net::lookup_host((name.as_str(), sd.port));
    let found = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(mut addrs)) => addrs.find(|a| a.is_ipv6() == *ipv6).map(|a| a.ip()),
        _ => None,
    };
    if let Some(ip) = found {
        sd.address = Some(ip);
        sd.unresolved = None;
    }
}

pub(crate) fn sdp_header() -> Header {
    Header::ContentType("application/sdp".into())
}
