//! Rapport softphone: SIP signalling through `rsipstack` (wrapped in `sip`), our own media (SDP, RTP/RTCP, G.711, RFC 4733 DTMF, jitter buffer), audio I/O and a headless CLI. Knows nothing of Tauri or the store.

pub mod audio;
pub mod bench;
pub mod dialplan;
pub mod dtmf;
pub mod error;
pub mod g711;
pub mod jitter;
pub mod latch;
pub mod rtp;
pub mod sdp;
pub mod state;

pub use error::{MediaParseError, PhoneError};
pub use state::{CallState, EndReason, PhoneEvent, RegistrationFailure, RegistrationState};

pub mod account;
mod actor;
mod actor_offer;
pub mod call;
mod call_session;
pub mod cli;
mod machine;
pub mod media;
pub mod sip;

pub use account::{Account, PhoneConfig, Secret, Transport};
pub use call::{AudioFactory, Phone, RejectCode};
