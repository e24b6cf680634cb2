//! The operations: every change to the data is one of these pure functions, which validate
//! the request against the current records and return a `Plan`. The desktop app, the CLI and
//! (later) the server's API all go through them.

mod activities;
mod bulk;
mod contacts;
mod deals;
mod input;
mod leads;
mod merge;
mod settings;
mod undo;

pub use activities::*;
pub use bulk::*;
pub use contacts::*;
pub use deals::*;
pub use input::*;
pub use leads::*;
pub use merge::*;
pub use settings::*;
pub use undo::*;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::model::*;
use crate::time::Timestamp;
use crate::validate;

/// Everything an operation may consult besides the records it changes. The shell supplies
/// `now` and the randomness, so operations stay deterministic and testable.
pub struct Ctx {
    pub now: Timestamp,
    pub user: Option<Id>,
    /// Default region for phone numbers without a country code (ISO 3166 alpha-2).
    pub region: String,
    pub statuses: Vec<String>,
    pub fields: Vec<CustomFieldDef>,
    pub rng: Rng,
}

impl Ctx {
    /// A fresh id carrying `at` (or now).
    pub fn id_at(&mut self, at: Option<Timestamp>) -> Id {
        Id::at(at.unwrap_or(self.now), self.rng.next_u128())
    }

    fn custom(&self, target: FieldTarget, custom: &Custom) -> Result<Custom> {
        let mut out = Custom::new();
        for (name, value) in custom {
            let def = self
                .fields
                .iter()
                .find(|d| d.applies_to == target && d.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::invalid(
                        format!("custom.{name}"),
                        format!("no custom field `{name}` is defined for {target:?}s; add it with `rapport field add`"),
                    )
                })?;
            let v = validate::custom_value(def, value)?;
            if !v.is_null() {
                out.insert(def.name.clone(), v);
            }
        }
        Ok(out)
    }
}

/// SplitMix64: a tiny, stable pseudo-random generator (ids, demo data). Its sequence never
/// changes between versions, which keeps seeded data sets reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// 80 random bits for a ULID.
    pub fn next_u128(&mut self) -> u128 {
        (((self.next_u64() as u128) << 64) | self.next_u64() as u128) & ((1u128 << 80) - 1)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
#[path = "../ops_tests.rs"]
mod tests;
