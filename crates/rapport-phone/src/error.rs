//! The library's error types (`thiserror`): parse errors for media bytes and `PhoneError` for everything else.

use crate::state::{EndReason, RegistrationFailure};

/// A malformed media packet or SDP body. Carries what was parsed and why it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {reason}")]
pub struct MediaParseError {
    /// The kind of input (`rtp`, `rtcp`, `sdp`, `dtmf`).
    pub what: &'static str,
    /// Why it was refused.
    pub reason: &'static str,
}

impl MediaParseError {
    /// A parse error for `what`.
    pub const fn new(what: &'static str, reason: &'static str) -> Self {
        MediaParseError { what, reason }
    }
}

/// Errors of the softphone library.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// A dial target that is neither a SIP URI nor a number the dial plan accepts.
    #[error("invalid number or SIP address {input:?}: {reason}")]
    InvalidTarget {
        /// The text as given.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A bad account or configuration value.
    #[error("invalid setting {field}: {reason}")]
    InvalidConfig {
        /// The setting's name.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Invalid DTMF digits.
    #[error("invalid DTMF digit {0:?}")]
    InvalidDtmf(char),
    /// Audio device or file failure.
    #[error("audio: {0}")]
    Audio(String),
    /// SIP stack failure.
    #[error("sip: {0}")]
    Sip(String),
    /// Socket failure.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A call ended for a reason other than a normal hangup.
    #[error("call failed: {0}")]
    CallFailed(EndReason),
    /// REGISTER failed.
    #[error("registration failed: {0}")]
    Registration(RegistrationFailure),
    /// A command that needs a call while there is none (or the wrong kind).
    #[error("{0}")]
    InvalidState(&'static str),
    /// The phone actor is gone.
    #[error("the phone has shut down")]
    Closed,
}

impl From<rsipstack::Error> for PhoneError {
    fn from(e: rsipstack::Error) -> Self {
        PhoneError::Sip(e.to_string())
    }
}

impl From<rsipstack::sip::Error> for PhoneError {
    fn from(e: rsipstack::sip::Error) -> Self {
        PhoneError::Sip(e.to_string())
    }
}

impl From<hound::Error> for PhoneError {
    fn from(e: hound::Error) -> Self {
        PhoneError::Audio(e.to_string())
    }
}
