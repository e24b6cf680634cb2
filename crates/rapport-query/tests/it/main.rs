//! The crate's one integration-test binary: data-driven `check` tests and property tests.

mod catalogue;
// One case per line reads best as a table; rustfmt would wrap the long ones.
#[rustfmt::skip]
mod errors;
#[rustfmt::skip]
mod examples;
mod props;
mod support;
