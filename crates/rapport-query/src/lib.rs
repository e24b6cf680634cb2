//! The lead search language (DESIGN §5): lexer, parser, AST, diagnostics and formatter.
//!
//! This crate is pure: no IO, no clock, no index and no SQL — it depends on nothing but `std`.
//! The planner (in `rapport-search`) turns the [`Query`] AST into index and store queries,
//! resolving what only it knows: custom field types ([`Spanned::interpret`]), configured status
//! labels ([`normalize_label`]), Smart View names, "now" and the time zone.
//!
//! ```text
//! query   := expr? (sort | slice)*            ; sort:/slice: may appear anywhere
//! expr    := and ("or" and)*
//! and     := unary (["and"] unary)*           ; juxtaposition = AND
//! unary   := "not"* primary
//! primary := "(" expr ")" | SUB "(" expr ")"  ; contact call email note task opportunity meeting
//!          | field op value                   ; op: ":" "=" "<" ">" "<=" ">=" (spaces allowed)
//!          | field "in" "(" value ("," value)* ")"
//!          | "has:" name | "in:" "<Smart View name>"
//!          | word | "quoted phrase"           ; \" and \\ escape inside quotes
//! ```
//!
//! Pieces: `lexer` (text → tokens), `parser` and `clause` (tokens → [`Query`] plus
//! [`Diagnostic`]s, with recovery), `fields` (the field catalogue, [`fields()`]), `value`
//! (typing values per [`ValueType`]), `format` (canonical text), `diag` (codes, did-you-mean).
//!
//! Invariants, all tested: `parse(&format(&q)) == Ok(q)` for every AST the parser can produce
//! (property-tested on random ASTs); no input makes the parser panic, and every diagnostic span
//! lies on char boundaries inside the input; an error is never silently turned into "no
//! results". AST equality ignores spans (see [`Spanned`]).
//!
//! ```
//! use rapport_query::{parse, format, ErrorCode};
//!
//! let query = parse("status:bad_fit last_called < \"3 days ago\" sort:-created").unwrap();
//! assert_eq!(format(&query), "status:\"bad fit\" last_called < \"3 days ago\" sort:-created");
//!
//! let error = parse("last_caled:yesterday").unwrap_err();
//! assert_eq!(error.code, ErrorCode::UnknownField);
//! assert_eq!(error.to_string(), "unknown field `last_caled` at 0..10; did you mean `last_called`?");
//! ```

mod ast;
mod clause;
mod diag;
mod fields;
mod format;
mod lexer;
mod parser;
mod value;

pub use ast::{
    CmpOp, Date, Expr, HasTarget, Query, Scope, Slice, SortKey, Spanned, SubObject, TimeUnit, Value,
};
pub use diag::{Diagnostic, ErrorCode, QueryError, did_you_mean};
pub use fields::{Field, FieldInfo, SORT_KEYS, ValueType, fields, fields_in, value_type};
pub use format::format;
pub use value::normalize_label;

/// Parses a query, stopping at the first problem (the diagnostic that starts earliest in the
/// text). `""` and `"*"` parse to the query matching every lead.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let (query, diagnostics) = parse_lenient(text);
    match diagnostics.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(query),
    }
}

/// Parses as much of a query as makes sense and reports every problem, sorted by position.
/// Clauses with errors are left out of the AST; use this for as-you-type feedback.
pub fn parse_lenient(text: &str) -> (Query, Vec<Diagnostic>) {
    parser::parse_lenient(text)
}

impl std::str::FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Query, QueryError> {
        parse(text)
    }
}
