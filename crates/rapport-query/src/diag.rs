//! Diagnostics: a stable code, a byte span into the query text, a message and a hint, plus the
//! did-you-mean suggester. Nothing here knows the grammar.

use std::fmt;
use std::ops::Range;

/// A stable, machine-readable error kind. The UI and the API branch on [`ErrorCode::as_str`],
/// never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A field name that does not exist in its scope.
    UnknownField,
    /// `name(` where `name` is not a sub-query object.
    UnknownSubquery,
    /// A `sort:` key that is not sortable.
    UnknownSortKey,
    /// A sub-query where it cannot be nested (`call(email(...))`).
    BadNesting,
    /// `sort:`, `slice:`, `in:` or `has:` where it does not apply (inside a sub-query, after
    /// `not`).
    MisplacedClause,
    /// A date-typed value that is not a valid date or relative date.
    BadDate,
    /// A number-typed value that is not a valid number.
    BadNumber,
    /// Any other value the field does not accept (`has:nothing`, `direction:sideways`).
    BadValue,
    /// An operator the field's type does not support (`name > 3`).
    BadOperator,
    /// A malformed or out-of-range `slice:i/n`.
    BadSlice,
    /// A `(` without `)` or a `)` without `(`.
    UnbalancedParen,
    /// A `"` without its closing `"`.
    UnterminatedQuote,
    /// An operator or `in (` with no value after it.
    ExpectedValue,
    /// `and`, `or`, `not` or `( )` with nothing to apply to.
    ExpectedExpr,
    /// A token that cannot start anything here (`,`, a lone operator, a misplaced `*`).
    UnexpectedToken,
    /// Parentheses, sub-queries or `not`s nested too deeply.
    TooDeep,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::UnknownField,
        ErrorCode::UnknownSubquery,
        ErrorCode::UnknownSortKey,
        ErrorCode::BadNesting,
        ErrorCode::MisplacedClause,
        ErrorCode::BadDate,
        ErrorCode::BadNumber,
        ErrorCode::BadValue,
        ErrorCode::BadOperator,
        ErrorCode::BadSlice,
        ErrorCode::UnbalancedParen,
        ErrorCode::UnterminatedQuote,
        ErrorCode::ExpectedValue,
        ErrorCode::ExpectedExpr,
        ErrorCode::UnexpectedToken,
        ErrorCode::TooDeep,
    ];

    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::UnknownSubquery => "unknown_subquery",
            ErrorCode::UnknownSortKey => "unknown_sort_key",
            ErrorCode::BadNesting => "bad_nesting",
            ErrorCode::MisplacedClause => "misplaced_clause",
            ErrorCode::BadDate => "bad_date",
            ErrorCode::BadNumber => "bad_number",
            ErrorCode::BadValue => "bad_value",
            ErrorCode::BadOperator => "bad_operator",
            ErrorCode::BadSlice => "bad_slice",
            ErrorCode::UnbalancedParen => "unbalanced_paren",
            ErrorCode::UnterminatedQuote => "unterminated_quote",
            ErrorCode::ExpectedValue => "expected_value",
            ErrorCode::ExpectedExpr => "expected_expr",
            ErrorCode::UnexpectedToken => "unexpected_token",
            ErrorCode::TooDeep => "too_deep",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem in the query text. `span` is a byte range into the input (always on char
/// boundaries), which the UI underlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: ErrorCode,
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

/// The error [`crate::parse`] returns: the first diagnostic.
pub type QueryError = Diagnostic;

impl Diagnostic {
    pub fn new(code: ErrorCode, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            span,
            message: message.into(),
            hint: None,
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(self, hint: impl Into<String>) -> Diagnostic {
        Diagnostic {
            hint: Some(hint.into()),
            ..self
        }
    }

    /// The same diagnostic with a hint, if there is one.
    pub fn with_hint_opt(self, hint: Option<String>) -> Diagnostic {
        Diagnostic { hint, ..self }
    }
}

/// `unknown field `last_caled` at 0..10; did you mean `last_called`?`
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}..{}",
            self.message, self.span.start, self.span.end
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The candidate closest to `word` (case-insensitive optimal-string-alignment distance), if it is
/// close enough to be a plausible typo: one edit for short words, up to three for long ones.
/// Ties go to the earliest candidate.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let limit = match word.len() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let chars: Vec<char> = candidate.to_lowercase().chars().collect();
        let distance = edit_distance(&word, &chars);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Damerau–Levenshtein distance, optimal-string-alignment variant (a transposition counts as
/// one edit).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b)
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("last_caled", "last_called"), 1);
        assert_eq!(distance("stauts", "status"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean_picks_the_closest_plausible_name() {
        let names = ["status", "state", "last_called", "called"];
        assert_eq!(did_you_mean("last_caled", names), Some("last_called"));
        assert_eq!(did_you_mean("STAUTS", names), Some("status"));
        assert_eq!(did_you_mean("banana", names), None);
        assert_eq!(did_you_mean("xy", names), None);
    }
}
