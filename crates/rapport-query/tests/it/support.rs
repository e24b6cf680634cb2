//! Test helpers: a compact S-expression dump of the AST and the `check*` one-liners.
//!
//! Dump notation: bare words as is, phrases in `"…"`, labels in `'…'`, numbers as `#n`, dates
//! as `@2024-01-31`, relative dates as `ago(3 day)`, constants in capitals (`TODAY`, `NEVER`,
//! `YES`, `NO`, `ME`), `*` for any value; `(field op value)`, `(field in v…)`, `(and …)`,
//! `(or …)`, `(not …)`, `(call …)`; then `sort(-created name)` and `slice(2/8)`.

use rapport_query::{Expr, Query, Value, format, parse, parse_lenient};

pub fn dump(query: &Query) -> String {
    let mut parts = vec![query.expr.as_ref().map_or("*".to_owned(), dump_expr)];
    if !query.sort.is_empty() {
        let keys: Vec<String> = query
            .sort
            .iter()
            .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.field.node))
            .collect();
        parts.push(format!("sort({})", keys.join(" ")));
    }
    if let Some(slice) = query.slice {
        parts.push(format!("slice({}/{})", slice.index, slice.count));
    }
    parts.join(" ")
}

fn dump_expr(expr: &Expr) -> String {
    let list = |head: &str, items: &[Expr]| {
        let items: Vec<String> = items.iter().map(dump_expr).collect();
        format!("({head} {})", items.join(" "))
    };
    match expr {
        Expr::And(items) => list("and", items),
        Expr::Or(items) => list("or", items),
        Expr::Not(inner) => format!("(not {})", dump_expr(inner)),
        Expr::Sub { object, expr } => format!("({} {})", object.name(), dump_expr(expr)),
        Expr::Cmp { field, op, value } => {
            format!(
                "({} {} {})",
                field.node,
                op.as_str(),
                dump_value(&value.node)
            )
        }
        Expr::In { field, values } => {
            let values: Vec<String> = values.iter().map(|v| dump_value(&v.node)).collect();
            format!("({} in {})", field.node, values.join(" "))
        }
        Expr::Has(target) => format!("has:{}", target.node.name()),
        Expr::InView(name) => format!("in:{:?}", name.node),
        Expr::Text(word) => word.node.clone(),
        Expr::Phrase(text) => format!("{:?}", text.node),
    }
}

fn dump_value(value: &Value) -> String {
    match value {
        Value::Any => "*".to_owned(),
        Value::Word(w) => w.clone(),
        Value::Phrase(p) => format!("{p:?}"),
        Value::Label(l) => format!("'{l}'"),
        Value::Number(n) => format!("#{n}"),
        Value::Date(d) => format!("@{d}"),
        Value::Relative { amount, unit } => format!("ago({amount} {})", unit.name()),
        Value::Today => "TODAY".to_owned(),
        Value::Yesterday => "YESTERDAY".to_owned(),
        Value::Never => "NEVER".to_owned(),
        Value::Yes => "YES".to_owned(),
        Value::No => "NO".to_owned(),
        Value::Me => "ME".to_owned(),
    }
}

/// `input` parses without error to the AST `expected` (in dump notation), and its canonical
/// text parses back to the same AST.
#[track_caller]
pub fn check(input: &str, expected: &str) {
    let query = parse(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
    assert_eq!(dump(&query), expected, "AST of {input:?}");
    let text = format(&query);
    assert_eq!(
        parse(&text),
        Ok(query),
        "{input:?} formats as {text:?}, which reads differently"
    );
}

/// `input` parses and formats as the canonical text `expected`.
#[track_caller]
pub fn check_fmt(input: &str, expected: &str) {
    let query = parse(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
    assert_eq!(format(&query), expected, "canonical text of {input:?}");
}

/// `input` fails with `expected`, written as `code: message at a..b; hint`.
#[track_caller]
pub fn check_error(input: &str, expected: &str) {
    let error = parse(input).expect_err(input);
    assert_eq!(
        format!("{}: {error}", error.code),
        expected,
        "error for {input:?}"
    );
}

/// Lenient parsing of `input` gives the AST `expected` and diagnostics with these codes.
#[track_caller]
pub fn check_lenient(input: &str, expected: &str, codes: &[&str]) {
    let (query, diagnostics) = parse_lenient(input);
    assert_eq!(dump(&query), expected, "best-effort AST of {input:?}");
    let got: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(got, codes, "diagnostics of {input:?}: {diagnostics:#?}");
}
