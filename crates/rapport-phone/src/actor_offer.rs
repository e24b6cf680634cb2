//! Offer/answer inside an established call, for the phone actor: our hold and resume
//! (re-INVITE with `sendonly`/`sendrecv`) and the peer's re-INVITEs and UPDATEs.

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Method, Request, StatusCode, StatusCodeKind};

use crate::actor::{Actor, resolve_host, sdp_header};
use crate::call::SIGNAL_TIMEOUT;
use crate::error::PhoneError;
use crate::sdp::{Direction, SessionDescription};

impl Actor {
    pub(crate) async fn hold(&mut self, hold: bool) -> Result<(), PhoneError> {
        let call = self
            .call
            .as_mut()
            .filter(|c| c.machine.is_established())
            .ok_or(PhoneError::InvalidState("the call is not established"))?;
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
        let mut sd = SessionDescription::parse(&String::from_utf8_lossy(&resp.body))
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        resolve_host(&mut sd).await;
        let call = self
            .call
            .as_mut()
            .ok_or(PhoneError::InvalidState("no call"))?;
        let negotiated = call
            .local
            .accept_answer(&sd)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        call.local_hold = hold;
        let state = call.derived_state();
        self.start_media(negotiated, true)?;
        self.set_established_state(state);
        Ok(())
    }

    fn set_established_state(&mut self, state: crate::state::CallState) {
        if let Some(call) = self.call.as_mut() {
            for action in call.machine.set_established_state(state) {
                if let crate::machine::Action::State(s) = action {
                    self.emit(crate::state::PhoneEvent::Call(s));
                }
            }
        }
    }

    pub(crate) async fn remote_offer(&mut self, req: Request, handle: TransactionHandle) {
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
        let Ok(mut offer) = SessionDescription::parse(&String::from_utf8_lossy(&req.body)) else {
            let _ = handle.reply(StatusCode::BadRequest).await;
            return;
        };
        resolve_host(&mut offer).await;
        let Some(call) = self.call.as_mut() else {
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
        if self.start_media(negotiated, true).is_ok() {
            self.set_established_state(state);
        }
    }
}
