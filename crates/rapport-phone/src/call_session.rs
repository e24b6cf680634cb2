//! The per-call records the phone actor keeps (dialog, signalling machine, media, hold flags; and ended calls whose INVITE is still followed) and the pure rules deriving call state and end reasons.

use rsipstack::dialog::dialog::TerminatedReason;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::transport::SipAddr;
use tokio::time::{Duration, Instant};

use crate::error::PhoneError;
use crate::machine::CallMachine;
use crate::media::{MediaSession, MediaSockets};
use crate::sdp::{Direction, LocalMedia, Negotiated, SessionDescription};
use crate::state::{CallState, EndReason};

/// How long an ended call's INVITE is still followed for a late 2xx (64·T1, the INVITE
/// transaction's own limit).
pub const LINGER: Duration = Duration::from_secs(32);

/// One call, owned by the actor.
pub(crate) struct Call {
    pub call_id: String,
    pub dialog: InviteDialog,
    /// The signalling rules (`machine`): phase, timers, the state the user sees.
    pub machine: CallMachine,
    pub outbound: bool,
    /// Where our INVITE went: its CANCEL goes the same way.
    pub destination: Option<SipAddr>,
    pub local: LocalMedia,
    pub sockets: Option<MediaSockets>,
    pub media: Option<MediaSession>,
    pub negotiated: Option<Negotiated>,
    /// The inbound INVITE's offer, until answered.
    pub remote_offer: Option<SessionDescription>,
    /// Our `o=` version.
    pub version: u64,
    pub local_hold: bool,
    pub remote_hold: bool,
    pub muted: bool,
}

/// A call that ended for the user while its INVITE still waits for the final response: kept
/// so that a 2xx it still gets is ended with our BYE (and a deferred CANCEL still goes out).
pub(crate) struct Lingering {
    pub call_id: String,
    pub dialog: InviteDialog,
    pub machine: CallMachine,
    pub destination: Option<SipAddr>,
    /// Forgotten by then even without a final response.
    pub until: Instant,
}

impl Call {
    pub fn outbound(
        dialog: InviteDialog,
        local: LocalMedia,
        sockets: MediaSockets,
        ring_deadline: Instant,
        destination: Option<SipAddr>,
    ) -> Self {
        let mut call = Call::new(dialog, CallMachine::outbound(ring_deadline), local, sockets);
        call.outbound = true;
        call.destination = destination;
        call
    }

    pub fn inbound(
        dialog: InviteDialog,
        local: LocalMedia,
        sockets: MediaSockets,
        offer: SessionDescription,
    ) -> Self {
        let mut call = Call::new(dialog, CallMachine::inbound(), local, sockets);
        call.remote_offer = Some(offer);
        call
    }

    fn new(
        dialog: InviteDialog,
        machine: CallMachine,
        local: LocalMedia,
        sockets: MediaSockets,
    ) -> Self {
        Call {
            call_id: dialog.id().call_id.clone(),
            dialog,
            machine,
            outbound: false,
            destination: None,
            local,
            sockets: Some(sockets),
            media: None,
            negotiated: None,
            remote_offer: None,
            version: 1,
            local_hold: false,
            remote_hold: false,
            muted: false,
        }
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
pub(crate) fn end_reason_for(reason: &TerminatedReason) -> EndReason {
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
            end_reason_for(&TerminatedReason::UasBye),
            EndReason::RemoteHangup
        );
    }
}
