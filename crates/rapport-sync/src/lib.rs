//! Rapport Sync v1, the pure part shared by the client and the server: the wire types
//! ([`wire`]), a record's replicated state and its per-field last-writer-wins merge by
//! `(HLC, node)` ([`state`]), the three-way merge of note bodies ([`note`]) and the client's
//! protocol state machine ([`client`]). No IO, no clocks, no sockets: callers pass `now`.

pub mod client;
pub mod note;
pub mod state;
pub mod wire;

pub use state::{Clocks, RecordState, merge};
pub use wire::*;
