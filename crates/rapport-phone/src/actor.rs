//! The phone actor's body: owns the SIP endpoint, the single call and its media, and turns commands, dialog states, inbound INVITEs and timers into SIP actions and `PhoneEvent`s.

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::sip::{Header, Method, StatusCode, StatusCodeKind, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use crate::account::{PhoneConfig, with_transport};
use crate::call::{AudioFactory, Command, RejectCode, SIGNAL_TIMEOUT};
use crate::call_session::{Call, end_reason_for};
use crate::error::PhoneError;
use crate::media::{MediaEvent, MediaSession, MediaSockets};
use crate::sdp::{Direction, LocalMedia, SessionDescription};
use crate::sip::{IncomingInvite, SipEndpoint, register, state_call_id};
use crate::state::{CallState, EndReason, PhoneEvent};

pub(crate) struct Actor {
    pub(crate) cfg: PhoneConfig,
    pub(crate) sip: SipEndpoint,
    pub(crate) events: mpsc::UnboundedSender<PhoneEvent>,
    pub(crate) audio: AudioFactory,
    pub(crate) media_tx: mpsc::UnboundedSender<MediaEvent>,
    pub(crate) call: Option<Call>,
    pub(crate) registration: Option<register::RegistrationTask>,
    pub(crate) new_invite: Option<JoinHandle<InviteAsyncResult>>,
}

impl Actor {
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut invites: mpsc::UnboundedReceiver<IncomingInvite>,
        mut states: DialogStateReceiver,
        mut media: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        let mut invite: Option<JoinHandle<InviteAsyncResult>> = None;
        loop {
            if let Some(h) = self.new_invite.take() {
                invite = Some(h);
            }
            if self.call.is_none()
                && let Some(h) = invite.take()
            {
                h.abort();
            }
            let deadline = self.call.as_ref().and_then(Call::next_deadline);
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    if let Command::Shutdown(reply) = command {
                        self.shutdown().await;
                        let _ = reply.send(Ok(()));
                        break;
                    }
                    self.command(command).await;
                }
                Some(state) = states.recv() => self.dialog_state(state).await,
                Some(incoming) = invites.recv() => self.incoming(incoming).await,
                Some(MediaEvent::Dtmf(d)) = media.recv() => self.emit(PhoneEvent::Dtmf(d)),
                result = async { invite.as_mut().expect("guarded").await }, if invite.is_some() => {
                    invite = None;
                    let result = match result {
                        Ok(r) => r,
                        Err(e) => Err(rsipstack::Error::Error(e.to_string())),
                    };
                    self.invite_done(result).await;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => self.deadline().await,
            }
        }
        if let Some(h) = invite {
            h.abort();
        }
    }

    fn emit(&self, event: PhoneEvent) {
        let _ = self.events.send(event);
    }

    fn set_state(&mut self, state: CallState) {
        if let Some(call) = &mut self.call
            && call.state != state
        {
            call.state = state;
            let _ = self.events.send(PhoneEvent::Call(state));
        }
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

    async fn shutdown(&mut self) {
        if self.call.is_some() {
            let _ = self.hangup().await;
            // A CANCEL in flight: give the 487 a moment, then drop the call.
            if self.call.is_some() {
                self.end(EndReason::Cancelled).await;
            }
        }
        if let Some(reg) = self.registration.take() {
            reg.stop(Duration::from_secs(3)).await;
        }
    }

    async fn dial(&mut self, target: &str) -> Result<(), PhoneError> {
        if self.call.is_some() {
            return Err(PhoneError::InvalidState("a call is already in progress"));
        }
        let account = self.cfg.account.clone();
        let domain = account.as_ref().map(|a| a.domain()).transpose()?;
        let callee_text = self.cfg.dial_plan.resolve(target, domain.as_deref())?;
        let callee =
            Uri::try_from(callee_text.as_str()).map_err(|_| PhoneError::InvalidTarget {
                input: target.into(),
                reason: "not a valid SIP URI",
            })?;
        let local = self.local_media().await?;
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
            destination,
            ..Default::default()
        };
        let (dialog, handle) = self
            .sip
            .dialog_layer
            .do_invite_async(option, self.sip.states.clone())?;
        let deadline = Instant::now() + self.cfg.ring_timeout();
        self.call = Some(Call::outbound(dialog, local, sockets, deadline));
        self.new_invite = Some(handle);
        let _ = self.events.send(PhoneEvent::Call(CallState::Dialing));
        Ok(())
    }

    async fn local_media(&self) -> Result<LocalMedia, PhoneError> {
        Ok(LocalMedia {
            address: self.sip.local.ip(),
            port: 0,
            codecs: vec![crate::g711::Codec::Pcmu, crate::g711::Codec::Pcma],
            session_id: u64::from(std::process::id()) << 16 | u64::from(self.sip.local.port()),
        })
    }

    fn start_media(&mut self, negotiated: crate::sdp::Negotiated) -> Result<(), PhoneError> {
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
                let media = MediaSession::start(sockets, Some(negotiated), factory()?, media_tx);
                media.mute(call.muted);
                call.media = Some(media);
            }
            (None, None) => return Err(PhoneError::InvalidState("media sockets already used")),
        }
        Ok(())
    }

    async fn end(&mut self, reason: EndReason) {
        let Some(mut call) = self.call.take() else {
            return;
        };
        if let Some(media) = call.media.take() {
            media.stop().await;
        }
        self.sip.dialog_layer.remove_dialog(&call.dialog.id());
        self.emit(PhoneEvent::Call(CallState::Ended(reason)));
    }

    async fn invite_done(&mut self, result: InviteAsyncResult) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.awaiting_final = false;
        call.ring_deadline = None;
        let cancelled = call.cancel_reason;
        let resp = match result {
            Ok((_, Some(resp))) => resp,
            Ok((_, None)) => return self.end(cancelled.unwrap_or(EndReason::Timeout)).await,
            Err(e) => {
                tracing::info!(error = %e, "INVITE failed");
                let reason = if e.to_string().to_ascii_lowercase().contains("timeout") {
                    EndReason::Timeout
                } else {
                    EndReason::NetworkError
                };
                return self.end(cancelled.unwrap_or(reason)).await;
            }
        };
        if resp.status_code.kind() != StatusCodeKind::Successful {
            return self
                .end(cancelled.unwrap_or(EndReason::from_status(resp.status_code.code())))
                .await;
        }
        if let Some(reason) = cancelled {
            // rsipstack ends a 2xx that crossed our CANCEL with a BYE.
            return self.end(reason).await;
        }
        let answer = String::from_utf8_lossy(&resp.body);
        let negotiated = SessionDescription::parse(&answer)
            .ok()
            .and_then(|sd| call.local.accept_answer(&sd).ok());
        match negotiated {
            Some(n) => match self.start_media(n) {
                Ok(()) => self.set_state(CallState::Connected),
                Err(e) => {
                    tracing::warn!(error = %e, "media failed to start");
                    self.bye_and_end(EndReason::NetworkError).await;
                }
            },
            None => self.bye_and_end(EndReason::NotAcceptable).await,
        }
    }

    async fn bye_and_end(&mut self, reason: EndReason) {
        if let Some(call) = &self.call {
            let _ = tokio::time::timeout(SIGNAL_TIMEOUT, call.dialog.bye()).await;
        }
        self.end(reason).await;
    }

    async fn deadline(&mut self) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let now = Instant::now();
        if call.give_up.is_some_and(|t| t <= now) {
            let reason = call.cancel_reason.unwrap_or(EndReason::Timeout);
            return self.end(reason).await;
        }
        if call.ring_deadline.is_some_and(|t| t <= now) {
            call.start_cancel(EndReason::Timeout);
        }
    }

    async fn hangup(&mut self) -> Result<(), PhoneError> {
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        if call.awaiting_final {
            call.start_cancel(EndReason::Cancelled);
            return Ok(());
        }
        if !call.outbound && call.state == CallState::Ringing {
            return self.reject(RejectCode::Decline).await;
        }
        self.bye_and_end(EndReason::LocalHangup).await;
        Ok(())
    }

    async fn reject(&mut self, code: RejectCode) -> Result<(), PhoneError> {
        let call = self
            .call
            .as_ref()
            .ok_or(PhoneError::InvalidState("no call"))?;
        if call.outbound || call.state != CallState::Ringing {
            return Err(PhoneError::InvalidState(
                "only a ringing inbound call can be rejected",
            ));
        }
        let (status, reason) = match code {
            RejectCode::Busy => (StatusCode::BusyHere, EndReason::Busy),
            RejectCode::Decline => (StatusCode::Decline, EndReason::Declined),
        };
        call.dialog.reject(Some(status), None)?;
        self.end(reason).await;
        Ok(())
    }

    async fn incoming(&mut self, incoming: IncomingInvite) {
        if self.call.is_some() {
            let _ = incoming.dialog.reject(Some(StatusCode::BusyHere), None);
            return;
        }
        let offer = SessionDescription::parse(&String::from_utf8_lossy(&incoming.offer));
        let local = match self.local_media().await {
            Ok(l) => l,
            Err(_) => return,
        };
        let usable = offer
            .as_ref()
            .ok()
            .filter(|o| local.answer(o, Direction::SendRecv, 1).is_ok())
            .cloned();
        let Some(offer) = usable else {
            // Offerless INVITEs and offers without G.711 are refused.
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

    async fn answer(&mut self) -> Result<(), PhoneError> {
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        if call.outbound || call.state != CallState::Ringing {
            return Err(PhoneError::InvalidState("no ringing inbound call"));
        }
        let offer = call
            .remote_offer
            .take()
            .ok_or(PhoneError::InvalidState("no offer"))?;
        call.version += 1;
        let (answer, negotiated) = call
            .local
            .answer(&offer, Direction::SendRecv, call.version)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        self.start_media(negotiated)?;
        let call = self
            .call
            .as_ref()
            .ok_or(PhoneError::InvalidState("no call"))?;
        call.dialog
            .accept(Some(vec![sdp_header()]), Some(answer.to_sdp().into_bytes()))?;
        self.set_state(CallState::Connected);
        Ok(())
    }

    async fn hold(&mut self, hold: bool) -> Result<(), PhoneError> {
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        if !matches!(
            call.state,
            CallState::Connected | CallState::OnHold | CallState::HeldByRemote
        ) {
            return Err(PhoneError::InvalidState("the call is not established"));
        }
        let direction = match (hold, call.remote_hold) {
            (false, _) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (true, true) => Direction::Inactive,
        };
        call.version += 1;
        let offer = call.local.offer(direction, call.version).to_sdp();
        let dialog = call.dialog.clone();
        let resp = tokio::time::timeout(
            SIGNAL_TIMEOUT,
            dialog.reinvite(Some(vec![sdp_header()]), Some(offer.into_bytes())),
        )
        .await
        .map_err(|_| PhoneError::Sip("re-INVITE timed out".into()))??
        .ok_or(PhoneError::InvalidState("the dialog is not confirmed"))?;
        if resp.status_code.kind() != StatusCodeKind::Successful {
            return Err(PhoneError::Sip(format!(
                "re-INVITE refused: {}",
                resp.status_code.code()
            )));
        }
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        let sd = SessionDescription::parse(&String::from_utf8_lossy(&resp.body))
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        let negotiated = call
            .local
            .accept_answer(&sd)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        call.local_hold = hold;
        let state = call.derived_state();
        self.start_media(negotiated)?;
        self.set_state(state);
        Ok(())
    }

    async fn dialog_state(&mut self, state: DialogState) {
        let ours = self
            .call
            .as_ref()
            .is_some_and(|c| c.call_id == state_call_id(&state));
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
            DialogState::Early(_, resp) if ours => {
                let Some(call) = self.call.as_mut() else {
                    return;
                };
                if !call.awaiting_final {
                    return;
                }
                let early = SessionDescription::parse(&String::from_utf8_lossy(&resp.body))
                    .ok()
                    .and_then(|sd| call.local.accept_answer(&sd).ok());
                match early {
                    Some(n) if self.start_media(n).is_ok() => self.set_state(CallState::EarlyMedia),
                    _ if call_state(&self.call) == Some(CallState::Dialing) => {
                        self.set_state(CallState::Ringing)
                    }
                    _ => {}
                }
            }
            DialogState::Terminated(_, reason) if ours => {
                if self.call.as_ref().is_some_and(|c| c.awaiting_final) {
                    return; // the INVITE's final response decides the reason
                }
                self.end(end_reason_for(
                    &reason,
                    self.call.as_ref().is_some_and(|c| c.outbound),
                ))
                .await;
            }
            _ => {}
        }
    }

    async fn remote_offer(
        &mut self,
        req: rsipstack::sip::Request,
        handle: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        if req.body.is_empty() {
            // An offerless re-INVITE gets our current offer; UPDATE without SDP just refreshes.
            let body = (req.method == Method::Invite).then(|| {
                call.version += 1;
                call.local
                    .offer(call.want_direction(), call.version)
                    .to_sdp()
                    .into_bytes()
            });
            let headers = body.as_ref().map(|_| vec![sdp_header()]);
            let _ = handle.respond(StatusCode::OK, headers, body).await;
            return;
        }
        let Ok(offer) = SessionDescription::parse(&String::from_utf8_lossy(&req.body)) else {
            let _ = handle.reply(StatusCode::BadRequest).await;
            return;
        };
        call.version += 1;
        let Ok((answer, negotiated)) =
            call.local
                .answer(&offer, call.want_direction(), call.version)
        else {
            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
            return;
        };
        call.remote_hold = !offer.direction.receives() || offer.rtp_addr().is_none();
        let state = call.derived_state();
        let _ = handle
            .respond(
                StatusCode::OK,
                Some(vec![sdp_header()]),
                Some(answer.to_sdp().into_bytes()),
            )
            .await;
        if self.start_media(negotiated).is_ok() {
            self.set_state(state);
        }
    }
}

fn call_state(call: &Option<Call>) -> Option<CallState> {
    call.as_ref().map(|c| c.state)
}

fn sdp_header() -> Header {
    Header::ContentType("application/sdp".into())
}
