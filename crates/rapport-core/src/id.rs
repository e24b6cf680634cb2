//! Record ids: ULIDs (time-sortable, generated offline), optionally stamped with a past time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A record id. Ordering by id is ordering by the time it carries (creation, or when an
/// activity happened), which is what makes a lead's timeline one indexed range read.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(pub ulid::Ulid);

impl Id {
    /// An id carrying `at`, with the given 80 random bits (the caller owns randomness).
    pub fn at(at: DateTime<Utc>, random: u128) -> Id {
        let ms = at.timestamp_millis().max(0) as u64;
        Id(ulid::Ulid::from_parts(ms, random))
    }
    pub fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl FromStr for Id {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Id> {
        ulid::Ulid::from_string(s.trim()).map(Id).map_err(|_| {
            crate::Error::invalid(
                "id",
                format!("`{s}` is not a valid id (a 26-character ULID)"),
            )
        })
    }
}
