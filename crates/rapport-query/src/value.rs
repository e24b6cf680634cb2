//! Reading values by type: a written word or quoted string becomes a typed [`Value`] for the
//! field's [`ValueType`] (dates, relative dates, numbers, labels, …), or a problem to report.
//! No tokens here: the parser attaches spans, and `Spanned<Value>::interpret` lets the planner
//! type custom-field values later.

use std::ops::Range;

use crate::ast::{CmpOp, Date, Spanned, TimeUnit, Value, days_in_month};
use crate::diag::{Diagnostic, ErrorCode, did_you_mean};
use crate::fields::ValueType;

/// A value as written, before typing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Word(&'a str),
    Quoted(&'a str),
}

impl<'a> Raw<'a> {
    fn text(self) -> &'a str {
        match self {
            Raw::Word(s) | Raw::Quoted(s) => s,
        }
    }
}

/// Why a value was rejected; the parser adds the span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(
        code: ErrorCode,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) -> Problem {
        Problem {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn at(self, span: Range<usize>) -> Diagnostic {
        Diagnostic::new(self.code, span, self.message).with_hint_opt(self.hint)
    }
}

/// Lower-cases a label and treats `_` and runs of whitespace as one space, so `bad_fit`,
/// `"Bad Fit"` and `BAD  FIT` all become `bad fit`. The planner applies the same function to
/// the configured labels before comparing.
pub fn normalize_label(label: &str) -> String {
    label
        .to_lowercase()
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `raw` as a value of type `ty`.
pub(crate) fn interpret(ty: ValueType, raw: Raw<'_>) -> Result<Value, Problem> {
    let text = raw.text();
    let is_word = matches!(raw, Raw::Word(_));
    let keyword = |kw: &str| text.eq_ignore_ascii_case(kw);
    if is_word && text == "*" {
        return match ty {
            ValueType::Count | ValueType::Bool | ValueType::Occurrence => Err(Problem::new(
                code_for(ty),
                format!("`*` can't be used here: expected {}", ty.describe()),
                format!("use {}", ty.examples()),
            )),
            _ => Ok(Value::Any),
        };
    }
    match ty {
        ValueType::Text | ValueType::Custom => Ok(match raw {
            Raw::Word(s) => Value::Word(s.to_owned()),
            Raw::Quoted(s) => Value::Phrase(s.to_owned()),
        }),
        ValueType::User if is_word && keyword("me") => Ok(Value::Me),
        ValueType::User => Ok(match raw {
            Raw::Word(s) => Value::Word(s.to_owned()),
            Raw::Quoted(s) => Value::Phrase(s.to_owned()),
        }),
        ValueType::Label => Ok(Value::Label(normalize_label(text))),
        ValueType::Choice(options) => {
            let label = normalize_label(text);
            if options.contains(&label.as_str()) {
                Ok(Value::Label(label))
            } else {
                let hint = match did_you_mean(&label, options.iter().copied()) {
                    Some(best) => format!("did you mean `{}`?", best.replace(' ', "_")),
                    None => {
                        let names: Vec<String> =
                            options.iter().map(|o| o.replace(' ', "_")).collect();
                        format!("use one of: {}", names.join(", "))
                    }
                };
                Err(Problem::new(
                    ErrorCode::BadValue,
                    format!("unknown value `{text}`"),
                    hint,
                ))
            }
        }
        ValueType::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(Value::Yes),
            "no" | "false" => Ok(Value::No),
            _ => Err(expected(ty, text)),
        },
        ValueType::Count => parse_count(text).map_err(|p| p.unwrap_or_else(|| expected(ty, text))),
        ValueType::Number => parse_number(text).ok_or_else(|| expected(ty, text)),
        ValueType::Occurrence => match text.to_ascii_lowercase().as_str() {
            "never" => Ok(Value::Never),
            "yes" => Ok(Value::Yes),
            _ => parse_count(text).map_err(|p| p.unwrap_or_else(|| expected(ty, text))),
        },
        ValueType::Date => interpret_date(text),
    }
}

/// Checks that `op` applies to a value of type `ty`; ordering needs an ordered type and an
/// ordered value (not `*`, `never`, `yes`, …).
pub(crate) fn check_op(ty: ValueType, op: CmpOp, value: &Value) -> Result<(), Problem> {
    if !op.is_ordering() {
        return Ok(());
    }
    if !ty.is_ordered() {
        return Err(Problem::new(
            ErrorCode::BadOperator,
            format!("`{}` can't compare {}", op.as_str(), ty.describe()),
            "use `:` or `=`".to_owned(),
        ));
    }
    let unordered = match value {
        Value::Any => Some("*"),
        Value::Never => Some("never"),
        Value::Yes => Some("yes"),
        Value::No => Some("no"),
        Value::Me => Some("me"),
        _ => None,
    };
    match unordered {
        Some(word) => Err(Problem::new(
            ErrorCode::BadOperator,
            format!("`{}` can't be used with `{word}`", op.as_str()),
            format!("write `:{word}`"),
        )),
        None => Ok(()),
    }
}

fn code_for(ty: ValueType) -> ErrorCode {
    match ty {
        ValueType::Date => ErrorCode::BadDate,
        ValueType::Count | ValueType::Number => ErrorCode::BadNumber,
        _ => ErrorCode::BadValue,
    }
}

fn expected(ty: ValueType, text: &str) -> Problem {
    Problem::new(
        code_for(ty),
        format!("expected {}, found `{text}`", ty.describe()),
        format!("use {}", ty.examples()),
    )
}

/// A whole number ≥ 0 that fits in `u32`; `Err(None)` when it is not a number at all.
fn parse_count(text: &str) -> Result<Value, Option<Problem>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(None);
    }
    let n: u32 = text.parse().map_err(|_| {
        Some(Problem::new(
            ErrorCode::BadNumber,
            format!("`{text}` is too large"),
            None,
        ))
    })?;
    Ok(Value::Number(f64::from(n)))
}

/// `-?digits(.digits)?`, finite.
fn parse_number(text: &str) -> Option<Value> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return None;
    }
    let n: f64 = text.parse().ok()?;
    n.is_finite().then_some(Value::Number(n))
}

const UNIT_NAMES: [&str; 6] = ["minutes", "hours", "days", "weeks", "months", "years"];

const DATE_HINT: &str = "write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM";

fn interpret_date(text: &str) -> Result<Value, Problem> {
    match text.to_ascii_lowercase().as_str() {
        "today" => return Ok(Value::Today),
        "yesterday" => return Ok(Value::Yesterday),
        "never" => return Ok(Value::Never),
        "yes" => return Ok(Value::Yes),
        _ => {}
    }
    if let Some(date) = parse_date(text) {
        return date.map(Value::Date);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if let [amount, unit, ago] = words[..]
        && ago.eq_ignore_ascii_case("ago")
    {
        return parse_relative(amount, unit).map_err(|(_, problem)| problem);
    }
    let hint = match words[..] {
        [amount, unit] if TimeUnit::from_name(unit).is_some() => {
            format!("relative dates end in `ago`: \"{amount} {unit} ago\"")
        }
        [amount] if amount.bytes().all(|b| b.is_ascii_digit()) => {
            format!("did you mean \"{amount} days ago\"?")
        }
        _ => format!("use {}", ValueType::Date.examples()),
    };
    Err(Problem::new(
        ErrorCode::BadDate,
        format!("expected a date, found `{text}`"),
        hint,
    ))
}

/// `3 days ago` from its amount and unit words. On error, says which word is wrong
/// (`0` amount, `1` unit) so the parser can point at it.
pub(crate) fn parse_relative(amount: &str, unit: &str) -> Result<Value, (usize, Problem)> {
    if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
        let problem = Problem::new(
            ErrorCode::BadDate,
            format!("expected a whole number of units, found `{amount}`"),
            "write relative dates like \"3 days ago\"".to_owned(),
        );
        return Err((0, problem));
    }
    let amount: u32 = amount.parse().map_err(|_| {
        (
            0,
            Problem::new(ErrorCode::BadDate, format!("`{amount}` is too large"), None),
        )
    })?;
    let unit = TimeUnit::from_name(unit).ok_or_else(|| {
        let hint = match did_you_mean(unit, UNIT_NAMES) {
            Some(best) => format!("did you mean `{best}`?"),
            None => "units: minutes, hours, days, weeks, months, years".to_owned(),
        };
        (
            1,
            Problem::new(
                ErrorCode::BadDate,
                format!("unknown time unit `{unit}`"),
                hint,
            ),
        )
    })?;
    Ok(Value::Relative { amount, unit })
}

/// `None` when `text` does not look like a date at all; `Some(Err)` when it does but is not a
/// valid one (`2024-13-01`, `2024-02-30`).
fn parse_date(text: &str) -> Option<Result<Date, Problem>> {
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let number = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let [y, m, d] = parts[..] else { return None };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return None;
    };
    let bad = |message: String| {
        Some(Err(Problem::new(
            ErrorCode::BadDate,
            message,
            DATE_HINT.to_owned(),
        )))
    };
    if y.len() != 4 || year == 0 {
        return bad(format!(
            "invalid date `{text}`: the year must be 0001 to 9999"
        ));
    }
    if !(1..=12).contains(&month) {
        return bad(format!("invalid date `{text}`: there is no month {month}"));
    }
    let max_day = days_in_month(year, month as u8);
    let Some(date) = Date::new(year, month as u8, day as u8) else {
        return bad(match day {
            0 => format!("invalid date `{text}`: there is no day 0"),
            _ => format!("invalid date `{text}`: {year}-{month:02} has only {max_day} days"),
        });
    };
    let Some(time) = time else {
        return Some(Ok(date));
    };
    let hm: Vec<&str> = time.split(':').collect();
    let (Some(hour), Some(minute)) = (
        hm.first().and_then(|h| number(h, 2)),
        hm.get(1).and_then(|m| number(m, 2)),
    ) else {
        return bad(format!("invalid time in `{text}`"));
    };
    if hm.len() > 2 {
        return bad(format!(
            "invalid time in `{text}`: seconds are not supported"
        ));
    }
    match date.at(hour as u8, minute as u8) {
        Some(date) => Some(Ok(date)),
        None => bad(format!(
            "invalid time in `{text}`: {hour:02}:{minute:02} is not a time of day"
        )),
    }
}

impl Spanned<Value> {
    /// Reads a value that the parser kept as written (a custom field's word or phrase) as type
    /// `ty`, once the planner knows the field's real type; other values are checked as they are.
    /// Errors point at this value's span.
    pub fn interpret(&self, ty: ValueType) -> Result<Value, Diagnostic> {
        let raw = match &self.node {
            Value::Word(s) => Raw::Word(s),
            Value::Phrase(s) | Value::Label(s) => Raw::Quoted(s),
            Value::Any => Raw::Word("*"),
            other => {
                return if accepts(ty, other) {
                    Ok(other.clone())
                } else {
                    Err(Problem::new(
                        code_for(ty),
                        format!("expected {}", ty.describe()),
                        format!("use {}", ty.examples()),
                    )
                    .at(self.span.clone()))
                };
            }
        };
        interpret(ty, raw).map_err(|problem| problem.at(self.span.clone()))
    }
}

/// Whether an already-typed value is one `ty` produces.
pub(crate) fn accepts(ty: ValueType, value: &Value) -> bool {
    use Value as V;
    match ty {
        ValueType::Text | ValueType::Custom => matches!(value, V::Any | V::Word(_) | V::Phrase(_)),
        ValueType::User => matches!(value, V::Any | V::Word(_) | V::Phrase(_) | V::Me),
        ValueType::Label | ValueType::Choice(_) => matches!(value, V::Any | V::Label(_)),
        ValueType::Date => matches!(
            value,
            V::Any | V::Date(_) | V::Relative { .. } | V::Today | V::Yesterday | V::Never | V::Yes
        ),
        ValueType::Count => {
            matches!(value, V::Number(n) if *n >= 0.0 && n.fract() == 0.0 && *n <= f64::from(u32::MAX))
        }
        ValueType::Number => {
            matches!(value, V::Any) || matches!(value, V::Number(n) if n.is_finite())
        }
        ValueType::Bool => matches!(value, V::Yes | V::No),
        ValueType::Occurrence => {
            matches!(value, V::Never | V::Yes) || accepts(ValueType::Count, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> String {
        match interpret(ValueType::Date, Raw::Word(text)) {
            Ok(Value::Date(d)) => d.to_string(),
            Ok(other) => format!("{other:?}"),
            Err(p) => format!("{}: {}", p.code, p.message),
        }
    }

    #[test]
    fn reads_dates_and_rejects_impossible_ones() {
        assert_eq!(date("2024-01-31"), "2024-01-31");
        assert_eq!(date("2024-1-5T9:05"), "2024-01-05T09:05");
        assert_eq!(date("2024-02-29"), "2024-02-29");
        assert_eq!(
            date("2023-02-29"),
            "bad_date: invalid date `2023-02-29`: 2023-02 has only 28 days"
        );
        assert_eq!(
            date("2024-13-01"),
            "bad_date: invalid date `2024-13-01`: there is no month 13"
        );
        assert_eq!(
            date("2024-01-01T24:00"),
            "bad_date: invalid time in `2024-01-01T24:00`: 24:00 is not a time of day"
        );
        assert_eq!(date("banana"), "bad_date: expected a date, found `banana`");
        assert_eq!(date("3 days ago"), "Relative { amount: 3, unit: Day }");
        assert_eq!(date("1 MIN AGO"), "Relative { amount: 1, unit: Minute }");
        assert_eq!(date("TODAY"), "Today");
    }

    #[test]
    fn normalizes_labels() {
        assert_eq!(normalize_label("Bad_Fit"), "bad fit");
        assert_eq!(normalize_label("  BAD   fit "), "bad fit");
        assert_eq!(normalize_label("no-answer"), "no-answer");
    }

    #[test]
    fn numbers_and_counts() {
        assert_eq!(
            interpret(ValueType::Number, Raw::Word("-2.5")),
            Ok(Value::Number(-2.5))
        );
        assert!(interpret(ValueType::Number, Raw::Word("1e3")).is_err());
        assert!(interpret(ValueType::Count, Raw::Word("2.5")).is_err());
        assert_eq!(
            interpret(ValueType::Count, Raw::Quoted("3")),
            Ok(Value::Number(3.0))
        );
        assert_eq!(
            interpret(ValueType::Count, Raw::Word("99999999999")).map_err(|p| p.message),
            Err("`99999999999` is too large".to_owned())
        );
    }
}
