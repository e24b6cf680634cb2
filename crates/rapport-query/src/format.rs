//! The formatter: a [`Query`] back to canonical query text, such that
//! `parse(&format(&q)) == Ok(q)` for every AST the parser can produce.
//!
//! Canonical text uses lower-case keywords, juxtaposition for AND, `:` without spaces and other
//! operators with spaces, canonical field names, quoted relative dates, and parentheses only
//! where the tree needs them.

use std::fmt::{self, Write};

use crate::ast::{Expr, Query, SortKey, Value};
use crate::lexer::is_plain_word;

/// Canonical text for `query`; the empty string for "all leads".
pub fn format(query: &Query) -> String {
    let mut out = String::new();
    if let Some(expr) = &query.expr {
        write_expr(&mut out, expr, Level::Top);
    }
    if !query.sort.is_empty() {
        separate(&mut out);
        out.push_str("sort:");
        for (i, key) in query.sort.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_sort_key(&mut out, key);
        }
    }
    if let Some(slice) = query.slice {
        separate(&mut out);
        let _ = write!(out, "slice:{}/{}", slice.index, slice.count);
    }
    out
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_expr(&mut out, self, Level::Top);
        f.write_str(&out)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(&mut out, self);
        f.write_str(&out)
    }
}

fn separate(out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
}

/// Where an expression is printed, which decides whether it needs parentheses.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// The whole query or a sub-query's inside: nothing needs parentheses.
    Top,
    /// An operand of `or`: a nested `or` needs parentheses (to keep the tree as it is).
    OrArm,
    /// An operand of AND or of `not`: `and` and `or` need parentheses.
    Operand,
}

fn write_expr(out: &mut String, expr: &Expr, level: Level) {
    let parens = match expr {
        Expr::Or(_) => level != Level::Top,
        Expr::And(_) => level == Level::Operand,
        _ => false,
    };
    if parens {
        out.push('(');
    }
    match expr {
        Expr::And(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    // After a bare word, `(` could read as a sub-query (`call (x)`) or, after
                    // `in`, as a list (`a in (x)`): spell the AND out there.
                    let explicit = ends_with_bare_word(&items[i - 1])
                        && matches!(item, Expr::And(_) | Expr::Or(_));
                    out.push_str(if explicit { " and " } else { " " });
                }
                write_expr(out, item, Level::Operand);
            }
        }
        Expr::Or(arms) => {
            for (i, arm) in arms.iter().enumerate() {
                if i > 0 {
                    out.push_str(" or ");
                }
                write_expr(out, arm, Level::OrArm);
            }
        }
        Expr::Not(inner) => {
            out.push_str("not ");
            write_expr(out, inner, Level::Operand);
        }
        Expr::Sub { object, expr } => {
            out.push_str(object.name());
            out.push('(');
            write_expr(out, expr, Level::Top);
            out.push(')');
        }
        Expr::Cmp { field, op, value } => {
            write_word(out, &field.node.name());
            let mut text = String::new();
            write_value(&mut text, &value.node);
            match op.as_str() {
                // `name://x` would lex as one URL-like word.
                ":" if text.starts_with("//") => out.push_str(": "),
                ":" => out.push(':'),
                op => {
                    let _ = write!(out, " {op} ");
                }
            }
            out.push_str(&text);
        }
        Expr::In { field, values } => {
            write_word(out, &field.node.name());
            out.push_str(" in (");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, &value.node);
            }
            out.push(')');
        }
        Expr::Has(target) => {
            out.push_str("has:");
            out.push_str(target.node.name());
        }
        Expr::InView(name) => {
            out.push_str("in:");
            write_quoted(out, &name.node);
        }
        Expr::Text(word) => {
            let keyword = ["and", "or", "not"]
                .iter()
                .any(|k| word.node.eq_ignore_ascii_case(k));
            if keyword || word.node == "*" {
                write_quoted(out, &word.node);
            } else {
                write_word(out, &word.node);
            }
        }
        Expr::Phrase(text) => write_quoted(out, &text.node),
    }
    if parens {
        out.push(')');
    }
}

/// Whether the printed expression ends with a bare word or phrase in operand position.
fn ends_with_bare_word(expr: &Expr) -> bool {
    match expr {
        Expr::Text(_) | Expr::Phrase(_) => true,
        Expr::Not(inner) => ends_with_bare_word(inner),
        _ => false,
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Any => out.push('*'),
        Value::Word(word) | Value::Label(word) if word != "*" => write_word(out, word),
        Value::Word(text) | Value::Label(text) | Value::Phrase(text) => write_quoted(out, text),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Date(date) => {
            let _ = write!(out, "{date}");
        }
        Value::Relative { amount, unit } => {
            let plural = if *amount == 1 { "" } else { "s" };
            let _ = write!(out, "\"{amount} {}{plural} ago\"", unit.name());
        }
        Value::Today => out.push_str("today"),
        Value::Yesterday => out.push_str("yesterday"),
        Value::Never => out.push_str("never"),
        Value::Yes => out.push_str("yes"),
        Value::No => out.push_str("no"),
        Value::Me => out.push_str("me"),
    }
}

fn write_sort_key(out: &mut String, key: &SortKey) {
    if key.descending {
        out.push('-');
    }
    write_word(out, &key.field.node.name());
}

/// A plain word as is; anything the lexer would split (or an empty string) quoted.
fn write_word(out: &mut String, word: &str) {
    if is_plain_word(word) {
        out.push_str(word);
    } else {
        write_quoted(out, word);
    }
}

fn write_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}
