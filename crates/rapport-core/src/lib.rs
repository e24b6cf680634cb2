//! Rapport's domain core: record types, ids, validation, the hybrid logical clock and the
//! operations that turn a request into a plan of writes. Pure: no IO, no clock reads, no Tauri.

mod activity_json;
pub mod bundle;
pub mod demo;
pub mod error;
pub mod hlc;
pub mod id;
pub mod markdown;
pub mod model;
pub mod ops;
pub mod plan;
pub mod time;
pub mod validate;

pub use error::{Error, ErrorCode, Result};
pub use hlc::{Hlc, NodeId};
pub use id::Id;
pub use model::*;
pub use plan::{Plan, Write, WriteKind};
