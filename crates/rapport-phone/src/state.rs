//! The call-state and registration-state enums the UI sees, and the pure mapping from SIP status codes to end reasons.

use std::fmt;

/// Why a call ended. `Display` gives the one-line reason the CLI prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// 404/604/484/410: no such user or number.
    NotFound,
    /// 603 Decline (or our own reject).
    Declined,
    /// 487 after a CANCEL, or the caller gave up before answer.
    Cancelled,
    /// No answer in time (our ring timeout, 408, transaction timeout).
    Timeout,
    /// 401/407 that our credentials could not satisfy, or 403.
    AuthFailed,
    /// 480 Temporarily Unavailable.
    Unavailable,
    /// 488/606: no common codec or media refused.
    NotAcceptable,
    /// The peer sent BYE.
    RemoteHangup,
    /// We sent BYE.
    LocalHangup,
    /// Transport failure or no usable response.
    NetworkError,
    /// Any other final status code.
    Failed(u16),
}

impl EndReason {
    /// Map a final non-2xx status of an INVITE.
    pub fn from_status(code: u16) -> Self {
        match code {
            486 | 600 => EndReason::Busy,
            404 | 410 | 484 | 604 => EndReason::NotFound,
            603 => EndReason::Declined,
            487 => EndReason::Cancelled,
            408 => EndReason::Timeout,
            401 | 403 | 407 => EndReason::AuthFailed,
            480 => EndReason::Unavailable,
            488 | 606 => EndReason::NotAcceptable,
            c => EndReason::Failed(c),
        }
    }

    /// Whether the call ended normally (someone hung up after answering).
    pub fn is_normal(self) -> bool {
        matches!(self, EndReason::RemoteHangup | EndReason::LocalHangup)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Busy => f.write_str("busy"),
            EndReason::NotFound => f.write_str("not found"),
            EndReason::Declined => f.write_str("declined"),
            EndReason::Cancelled => f.write_str("cancelled"),
            EndReason::Timeout => f.write_str("timeout"),
            EndReason::AuthFailed => f.write_str("auth failed"),
            EndReason::Unavailable => f.write_str("unavailable"),
            EndReason::NotAcceptable => f.write_str("media not acceptable"),
            EndReason::RemoteHangup => f.write_str("remote hangup"),
            EndReason::LocalHangup => f.write_str("local hangup"),
            EndReason::NetworkError => f.write_str("network error"),
            EndReason::Failed(code) => write!(f, "failed ({code})"),
        }
    }
}

/// The state of the (single) call, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    Idle,
    /// INVITE sent, no ringing yet.
    Dialing,
    /// The callee rings (outbound), or an inbound call waits for answer.
    Ringing,
    /// 18x with SDP: the peer's early media plays.
    EarlyMedia,
    /// Answered, media flowing both ways.
    Connected,
    /// We put the call on hold.
    OnHold,
    /// The peer put the call on hold.
    HeldByRemote,
    /// The call is over.
    Ended(EndReason),
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallState::Idle => f.write_str("idle"),
            CallState::Dialing => f.write_str("dialing"),
            CallState::Ringing => f.write_str("ringing"),
            CallState::EarlyMedia => f.write_str("early media"),
            CallState::Connected => f.write_str("connected"),
            CallState::OnHold => f.write_str("on hold"),
            CallState::HeldByRemote => f.write_str("held by remote"),
            CallState::Ended(r) => write!(f, "ended: {r}"),
        }
    }
}

/// Why REGISTER failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationFailure {
    /// Wrong user or password (challenge repeated, or 403).
    AuthFailed,
    /// The registrar did not answer in time.
    Timeout,
    /// Another final status code.
    Rejected(u16),
    /// Transport error (unreachable, refused, resolution failure).
    Network(String),
}

impl fmt::Display for RegistrationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationFailure::AuthFailed => f.write_str("auth failed"),
            RegistrationFailure::Timeout => f.write_str("timeout"),
            RegistrationFailure::Rejected(c) => write!(f, "rejected ({c})"),
            RegistrationFailure::Network(e) => write!(f, "network error: {e}"),
        }
    }
}

/// Registration status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered (no account, or unregistered).
    Unregistered,
    /// The binding is valid for `expires` seconds.
    Registered {
        /// Lifetime granted by the registrar.
        expires: u32,
    },
    /// The last attempt failed.
    Failed(RegistrationFailure),
}

/// Everything the phone reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// The call changed state.
    Call(CallState),
    /// An inbound call arrived (followed by `Call(Ringing)`).
    Incoming {
        /// The caller: the From header value, e.g. `"Ann" <sip:+1415…@host>;tag=…`.
        from: String,
    },
    /// The peer sent a DTMF digit.
    Dtmf(char),
    /// Registration status changed.
    Registration(RegistrationState),
    /// The call's media stopped (just before `Call(Ended)`): what was sent, received, lost,
    /// and dropped as not coming from the negotiated peer.
    Media(crate::media::MediaStats),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_reasons() {
        let check = |code, text: &str| assert_eq!(EndReason::from_status(code).to_string(), text);
        check(486, "busy");
        check(404, "not found");
        check(603, "declined");
        check(487, "cancelled");
        check(407, "auth failed");
        check(408, "timeout");
        check(500, "failed (500)");
        assert_eq!(CallState::Ended(EndReason::Busy).to_string(), "ended: busy");
    }
}
