//! The per-call record the phone actor keeps (dialog, media, hold flags, timers) and the pure rules deriving call state and end reasons from it.

use rsipstack::dialog::dialog::TerminatedReason;
use rsipstack::dialog::invite_dialog::InviteDialog;
use tokio::time::{Duration, Instant};

use crate::error::PhoneError;
use crate::media::{MediaSession, MediaSockets};
use crate::sdp::{Direction, LocalMedia, Negotiated, SessionDescription};
use crate::state::{CallState, EndReason};

/// How long we wait for the final response after sending CANCEL.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// One call, owned by the actor.
pub(crate) struct Call {
    pub call_id: String,
    pub dialog: InviteDialog,
    pub outbound: bool,
    pub state: CallState,
    pub local: LocalMedia,
    pub sockets: Option<MediaSockets>,
    pub media: Option<MediaSession>,
    pub negotiated: Option<Negotiated>,
    /// Outbound INVITE still waiting for its final response.
    pub awaiting_final: bool,
    /// Our ring timeout.
    pub ring_deadline: Option<Instant>,
    /// After a CANCEL: end the call by then even without a final response.
    pub give_up: Option<Instant>,
    /// Why we cancelled, which wins over the 487 we then get.
    pub cancel_reason: Option<EndReason>,
    /// The inbound INVITE's offer, until answered.
    pub remote_offer: Option<SessionDescription>,
    /// Our `o=` version.
    pub version: u64,
    pub local_hold: bool,
    pub remote_hold: bool,
    pub muted: bool,
}

impl Call {
    pub fn outbound(
        dialog: InviteDialog,
        local: LocalMedia,
        sockets: MediaSockets,
        ring_deadline: Instant,
    ) -> Self {
        Call::new(
            dialog,
            true,
            CallState::Dialing,
            local,
            sockets,
            Some(ring_deadline),
            None,
        )
    }

    pub fn inbound(
        dialog: InviteDialog,
        local: LocalMedia,
        sockets: MediaSockets,
        offer: SessionDescription,
    ) -> Self {
        Call::new(
            dialog,
            false,
            CallState::Ringing,
            local,
            sockets,
            None,
            Some(offer),
        )
    }

    fn new(
        dialog: InviteDialog,
        outbound: bool,
        state: CallState,
        local: LocalMedia,
        sockets: MediaSockets,
        ring_deadline: Option<Instant>,
        remote_offer: Option<SessionDescription>,
    ) -> Self {
        Call {
            call_id: dialog.id().call_id.clone(),
            dialog,
            outbound,
            state,
            local,
            sockets: Some(sockets),
            media: None,
            negotiated: None,
            awaiting_final: outbound,
            ring_deadline,
            give_up: None,
            cancel_reason: None,
            remote_offer,
            version: 1,
            local_hold: false,
            remote_hold: false,
            muted: false,
        }
    }

    /// The earliest timer to wake the actor for.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.ring_deadline, self.give_up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// CANCEL the outbound INVITE (in the background) and arm the grace timer.
    pub fn start_cancel(&mut self, reason: EndReason) {
        self.ring_deadline = None;
        if self.cancel_reason.is_some() {
            return;
        }
        self.cancel_reason = Some(reason);
        self.give_up = Some(Instant::now() + CANCEL_GRACE);
        let dialog = self.dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = dialog.cancel().await {
                tracing::info!(error = %e, "CANCEL failed");
            }
        });
    }

    pub fn mute(&mut self, muted: bool) -> Result<(), PhoneError> {
        self.muted = muted;
        if let Some(media) = &self.media {
            media.mute(muted);
        }
        Ok(())
    }

    pub fn dtmf(&mut self, digits: &str) -> Result<(), PhoneError> {
        crate::dtmf::validate_digits(digits).map_err(PhoneError::InvalidDtmf)?;
        match (&self.media, self.negotiated.and_then(|n| n.dtmf_pt)) {
            (Some(media), Some(_)) => {
                media.dtmf(digits);
                Ok(())
            }
            (None, _) => Err(PhoneError::InvalidState("no media yet")),
            (Some(_), None) => Err(PhoneError::InvalidState(
                "the peer did not negotiate telephone-event",
            )),
        }
    }

    /// The direction we ask for in offers and answers.
    pub fn want_direction(&self) -> Direction {
        if self.local_hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        }
    }

    /// The established-call state implied by the hold flags.
    pub fn derived_state(&self) -> CallState {
        derive_state(self.local_hold, self.remote_hold)
    }
}

/// Established-call state from the two hold flags (our hold wins).
pub fn derive_state(local_hold: bool, remote_hold: bool) -> CallState {
    match (local_hold, remote_hold) {
        (true, _) => CallState::OnHold,
        (false, true) => CallState::HeldByRemote,
        (false, false) => CallState::Connected,
    }
}

/// Map rsipstack's termination reason for an answered (or inbound) call.
pub(crate) fn end_reason_for(reason: &TerminatedReason, _outbound: bool) -> EndReason {
    match reason {
        TerminatedReason::UacBye | TerminatedReason::UasBye => EndReason::RemoteHangup,
        TerminatedReason::UacCancel => EndReason::Cancelled,
        TerminatedReason::Timeout => EndReason::Timeout,
        TerminatedReason::UacBusy | TerminatedReason::UasBusy => EndReason::Busy,
        TerminatedReason::UasDecline => EndReason::Declined,
        TerminatedReason::ProxyAuthRequired => EndReason::AuthFailed,
        TerminatedReason::ProxyError(c)
        | TerminatedReason::UacOther(c)
        | TerminatedReason::UasOther(c) => EndReason::from_status(c.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_flags_give_state() {
        assert_eq!(derive_state(false, false), CallState::Connected);
        assert_eq!(derive_state(true, false), CallState::OnHold);
        assert_eq!(derive_state(false, true), CallState::HeldByRemote);
        assert_eq!(derive_state(true, true), CallState::OnHold);
        assert_eq!(
            end_reason_for(&TerminatedReason::UasBye, true),
            EndReason::RemoteHangup
        );
    }
}
