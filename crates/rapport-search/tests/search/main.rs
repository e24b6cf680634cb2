//! rapport-search's one integration-test binary: the DESIGN §5 examples as one-line table
//! tests, the indexer following the store, and the property test against an independent
//! in-memory evaluator.

mod fixture;
mod oracle;
mod table;
