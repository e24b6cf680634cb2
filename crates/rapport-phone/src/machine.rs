//! The call's signalling rules as a pure state machine: `CallMachine::on(event, now)` returns
//! what to do (send CANCEL or BYE, start media, report a state, end the call). No sockets, no
//! clocks, no rsipstack: the actor feeds it what happened, in the order it happened, and does
//! what it says; tests replay the races between our timers, the user and the peer without a
//! network and without sleeping.
//!
//! The rule the races hinge on: once we no longer want our INVITE (ring timeout, hang-up,
//! shutdown), any 2xx it still gets — crossing our CANCEL, before a CANCEL could be sent, or
//! after the call already ended for the user — is ended by us with a BYE (the INVITE
//! transaction ACKs every 2xx). Nothing is left to the SIP stack's own clean-up.

use tokio::time::{Duration, Instant};

use crate::call::RejectCode;
use crate::sdp::Negotiated;
use crate::state::{CallState, EndReason};

/// How long we wait for the final response after deciding to CANCEL before the call ends for
/// the user. The INVITE itself is followed further: a 2xx that comes later is still BYEd.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Our INVITE is out without a final response; `provisional` once a 1xx came, which is
    /// when a CANCEL may be sent (RFC 3261 §9.1).
    Inviting { provisional: bool },
    /// We gave up on our INVITE for `reason`; `cancel_sent` once the CANCEL went out (it waits
    /// for a provisional response). The call ends for the user at `give_up` at the latest.
    Cancelling {
        reason: EndReason,
        provisional: bool,
        cancel_sent: bool,
        give_up: Instant,
    },
    /// An inbound INVITE waits for our answer.
    Incoming,
    /// Answered (either way).
    Established,
    /// Over for the user. `invite_pending`: our INVITE still has no final response, and a 2xx
    /// that comes is BYEd (`cancel_sent`: whether its CANCEL went out; one still waiting
    /// for a provisional response goes out when that comes).
    Ended {
        invite_pending: bool,
        cancel_sent: bool,
    },
}

/// Something that happened to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `100 Trying` to our INVITE: a CANCEL may now be sent.
    Trying,
    /// A ringing or progress response to our INVITE; `early`: its SDP gave usable early media.
    Provisional { early: Option<Negotiated> },
    /// The final response to our INVITE. For a 2xx, `answer` is the negotiated SDP answer
    /// (`None`: missing or unacceptable).
    Final {
        status: u16,
        answer: Option<Negotiated>,
    },
    /// Our INVITE's transaction ended without a final response.
    InviteFailed { timed_out: bool },
    /// The user hangs up (BYE, CANCEL, or 603 for a ringing inbound call).
    Hangup,
    /// The user refuses the ringing inbound call.
    Reject(RejectCode),
    /// We answered the ringing inbound call (its media is running).
    Answered,
    /// The peer (or the stack) ended the dialog: BYE, CANCEL of an inbound call, a timeout.
    Terminated(EndReason),
    /// The media could not start: the call cannot go on.
    MediaFailed,
    /// Time passed (a deadline from `next_deadline` may have come).
    Tick,
}

/// What the actor must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// CANCEL our INVITE.
    SendCancel,
    /// End the dialog a 2xx established.
    SendBye,
    /// Answer the inbound INVITE with this refusal.
    Reject(RejectCode),
    /// Start (or update) the media with this outcome of offer/answer.
    StartMedia(Negotiated),
    /// The call was answered: send what the microphone (or file) captures.
    Talk,
    /// Report this state.
    State(CallState),
    /// The call is over for the user, for this reason (stop the media, report `Ended`).
    End(EndReason),
}

/// One call's signalling state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMachine {
    phase: Phase,
    /// The state the user sees.
    state: CallState,
    /// Our ring timeout (outbound calls).
    ring_deadline: Option<Instant>,
}

impl CallMachine {
    /// A call we place: the INVITE is out now, rung until `ring_deadline`.
    pub fn outbound(ring_deadline: Instant) -> Self {
        CallMachine {
            phase: Phase::Inviting { provisional: false },
            state: CallState::Dialing,
            ring_deadline: Some(ring_deadline),
        }
    }

    /// A call that rings here.
    pub fn inbound() -> Self {
        CallMachine {
            phase: Phase::Incoming,
            state: CallState::Ringing,
            ring_deadline: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the call is over for the user.
    #[cfg(test)]
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Whether our INVITE still waits for its final response (so the dialog must be kept,
    /// to BYE a 2xx).
    pub fn invite_pending(&self) -> bool {
        matches!(
            self.phase,
            Phase::Inviting { .. }
                | Phase::Cancelling { .. }
                | Phase::Ended {
                    invite_pending: true,
                    ..
                }
        )
    }

    /// Whether the call is answered and not over.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    /// When to wake the actor with `Tick`.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Inviting { .. } => self.ring_deadline,
            Phase::Cancelling { give_up, .. } => Some(give_up),
            _ => None,
        }
    }

    /// A state the actor derived itself (hold, resume) while established.
    pub fn set_established_state(&mut self, state: CallState) -> Vec<Action> {
        if self.phase != Phase::Established || self.state == state {
            return Vec::new();
        }
        self.state = state;
        vec![Action::State(state)]
    }

    fn report(&mut self, state: CallState, out: &mut Vec<Action>) {
        if self.state != state {
            self.state = state;
            out.push(Action::State(state));
        }
    }

    fn end(&mut self, reason: EndReason, out: &mut Vec<Action>) {
        self.phase = Phase::Ended {
            invite_pending: false,
            cancel_sent: false,
        };
        self.state = CallState::Ended(reason);
        out.push(Action::End(reason));
    }

    fn cancel(
        &mut self,
        reason: EndReason,
        provisional: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.phase = Phase::Cancelling {
            reason,
            provisional,
            cancel_sent: provisional,
            give_up: now + CANCEL_GRACE,
        };
        if provisional {
            out.push(Action::SendCancel);
        }
    }

    /// Apply `event`, which happened at `now`; returns the actions in the order to take them.
    pub fn on(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.phase, event) {
            // --- our INVITE, still wanted ----------------------------------------------
            (Phase::Inviting { .. }, Event::Trying) => {
                self.phase = Phase::Inviting { provisional: true }
            }
            (Phase::Inviting { .. }, Event::Provisional { early }) => {
                self.phase = Phase::Inviting { provisional: true };
                match early {
                    Some(n) => {
                        out.push(Action::StartMedia(n));
                        self.report(CallState::EarlyMedia, &mut out);
                    }
                    None if self.state == CallState::Dialing => {
                        self.report(CallState::Ringing, &mut out)
                    }
                    None => {}
                }
            }
            (Phase::Inviting { .. }, Event::Final { status, answer }) if is_2xx(status) => {
                match answer {
                    Some(n) => {
                        self.phase = Phase::Established;
                        out.extend([Action::StartMedia(n), Action::Talk]);
                        self.report(CallState::Connected, &mut out);
                    }
                    None => {
                        out.push(Action::SendBye);
                        self.end(EndReason::NotAcceptable, &mut out);
                    }
                }
            }
            (Phase::Inviting { .. }, Event::Final { status, .. }) => {
                self.end(EndReason::from_status(status), &mut out)
            }
            (Phase::Inviting { .. }, Event::InviteFailed { timed_out }) => {
                let reason = if timed_out {
                    EndReason::Timeout
                } else {
                    EndReason::NetworkError
                };
                self.end(reason, &mut out);
            }
            (Phase::Inviting { provisional }, Event::Tick)
                if self.ring_deadline.is_some_and(|d| d <= now) =>
            {
                self.cancel(EndReason::Timeout, provisional, now, &mut out)
            }
            (Phase::Inviting { provisional }, Event::Hangup) => {
                self.cancel(EndReason::Cancelled, provisional, now, &mut out)
            }

            // --- our INVITE, no longer wanted --------------------------------------------
            (
                Phase::Cancelling {
                    reason,
                    cancel_sent: false,
                    give_up,
                    ..
                },
                Event::Trying | Event::Provisional { .. },
            ) => {
                self.phase = Phase::Cancelling {
                    reason,
                    provisional: true,
                    cancel_sent: true,
                    give_up,
                };
                out.push(Action::SendCancel);
            }
            (Phase::Cancelling { reason, .. }, Event::Final { status, .. }) => {
                if is_2xx(status) {
                    // Answered although we cancelled (the 2xx crossed our CANCEL, or came
                    // before one could be sent): the transaction ACKed it, we end it.
                    out.push(Action::SendBye);
                }
                self.end(reason, &mut out);
            }
            (Phase::Cancelling { reason, .. }, Event::InviteFailed { .. }) => {
                self.end(reason, &mut out)
            }
            (
                Phase::Cancelling {
                    reason,
                    give_up,
                    cancel_sent,
                    ..
                },
                Event::Tick,
            ) if give_up <= now => {
                self.end(reason, &mut out);
                self.phase = Phase::Ended {
                    invite_pending: true,
                    cancel_sent,
                };
            }

            // --- a call that rings here ----------------------------------------------------
            (Phase::Incoming, Event::Answered) => {
                self.phase = Phase::Established;
                self.report(CallState::Connected, &mut out);
            }
            (Phase::Incoming, Event::Hangup) => {
                out.push(Action::Reject(RejectCode::Decline));
                self.end(EndReason::Declined, &mut out);
            }
            (Phase::Incoming, Event::Reject(code)) => {
                out.push(Action::Reject(code));
                let reason = match code {
                    RejectCode::Busy => EndReason::Busy,
                    RejectCode::Decline => EndReason::Declined,
                };
                self.end(reason, &mut out);
            }
            (Phase::Incoming, Event::Terminated(reason)) => self.end(reason, &mut out),

            // --- answered --------------------------------------------------------------------
            (Phase::Established, Event::Hangup) => {
                out.push(Action::SendBye);
                self.end(EndReason::LocalHangup, &mut out);
            }
            (Phase::Established, Event::MediaFailed) => {
                out.push(Action::SendBye);
                self.end(EndReason::NetworkError, &mut out);
            }
            (Phase::Established, Event::Terminated(reason)) => self.end(reason, &mut out),

            // --- over ----------------------------------------------------------------------
            (
                Phase::Ended {
                    invite_pending: true,
                    cancel_sent: false,
                },
                Event::Trying | Event::Provisional { .. },
            ) => {
                self.phase = Phase::Ended {
                    invite_pending: true,
                    cancel_sent: true,
                };
                out.push(Action::SendCancel);
            }
            (
                Phase::Ended {
                    invite_pending: true,
                    ..
                },
                Event::Final { status, .. },
            ) => {
                self.phase = Phase::Ended {
                    invite_pending: false,
                    cancel_sent: false,
                };
                if is_2xx(status) {
                    // Answered after the call ended for the user: still ours to end.
                    out.push(Action::SendBye);
                }
            }
            (
                Phase::Ended {
                    invite_pending: true,
                    ..
                },
                Event::InviteFailed { .. },
            ) => {
                self.phase = Phase::Ended {
                    invite_pending: false,
                    cancel_sent: false,
                }
            }

            // Everything else changes nothing: a Terminated while our INVITE is out (its final
            // response decides), early media that failed to start (the answer may still
            // come), a second hang-up, a late timer, events after the end.
            _ => {}
        }
        out
    }
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
