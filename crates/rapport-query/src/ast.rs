//! The query AST: what a parsed query means, with byte spans for the planner's own errors.
//!
//! Spans live in [`Spanned`] wrappers and never take part in equality, so `parse("a  b") ==
//! parse("a b")` and tests compare ASTs directly (the same choice `syn` makes). This module
//! never parses or prints text; see `parser` and `format`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use crate::fields::Field;

/// A whole query: an optional filter, then the `sort:` keys and the `slice:` clause, wherever
/// they appeared in the text. `Query::default()` (the empty query, or `*`) matches every lead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// The filter; `None` means "all leads".
    pub expr: Option<Expr>,
    /// `sort:` keys in order; empty means the default order (relevance with free text, else
    /// `-updated`). Several `sort:` clauses append their keys.
    pub sort: Vec<SortKey>,
    /// `slice:i/n`: keep the i-th of n stable partitions.
    pub slice: Option<Slice>,
}

/// A filter expression. `And`/`Or` hold two or more operands; `Sub`'s operand is evaluated
/// against one related record of kind `object`, and field names inside it belong to that object.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every operand matches (written by juxtaposition or `and`).
    And(Vec<Expr>),
    /// At least one operand matches.
    Or(Vec<Expr>),
    /// The operand does not match.
    Not(Box<Expr>),
    /// One related record matches all of `expr`: `call(duration > 60 date:today)`.
    Sub { object: SubObject, expr: Box<Expr> },
    /// `field op value`, the value already typed for the field.
    Cmp {
        field: Spanned<Field>,
        op: CmpOp,
        value: Spanned<Value>,
    },
    /// `field in (a, b)`: the field equals one of the values.
    In {
        field: Spanned<Field>,
        values: Vec<Spanned<Value>>,
    },
    /// `has:calls`.
    Has(Spanned<HasTarget>),
    /// `in:"My Hot Leads"`: the lead also matches that Smart View.
    InView(Spanned<String>),
    /// A bare word: prefix match over all of the lead's (or the sub-query record's) text.
    Text(Spanned<String>),
    /// A quoted phrase: exact ordered words.
    Phrase(Spanned<String>),
}

/// A typed value. Which variants a field accepts is given by its [`crate::ValueType`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `*`: the field has any value.
    Any,
    /// An unquoted word: prefix match.
    Word(String),
    /// A quoted string: exact phrase.
    Phrase(String),
    /// A status-like label, normalised by [`normalize_label`](crate::normalize_label):
    /// `bad_fit`, `"Bad Fit"` and `BAD  FIT` are all `Label("bad fit")`.
    Label(String),
    /// A number (counts are whole and non-negative).
    Number(f64),
    /// An absolute calendar date, optionally with a time of day (in the user's time zone).
    Date(Date),
    /// How long ago: `3 days ago`. Compared as an age, not a timestamp (Close's rule).
    Relative { amount: u32, unit: TimeUnit },
    /// The whole of today in the user's time zone.
    Today,
    /// The whole of yesterday in the user's time zone.
    Yesterday,
    /// No such event ever happened (`last_called:never`).
    Never,
    /// The event happened / the flag is set.
    Yes,
    /// The flag is not set (`done:no`).
    No,
    /// The current user.
    Me,
}

/// Comparison operators. `:` matches (prefix for words, phrase for quotes, the whole day for a
/// date); `=` is exact equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `:`
    Match,
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written in canonical text.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Match => ":",
            CmpOp::Eq => "=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// `<`, `<=`, `>` and `>=` order values; `:` and `=` do not.
    pub fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// One `sort:` key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// A sortable lead field (see [`crate::SORT_KEYS`]) or a custom field.
    pub field: Spanned<Field>,
    /// Written with a leading `-`.
    pub descending: bool,
}

/// `slice:index/count`, with `index < count` guaranteed by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slice {
    pub index: u32,
    pub count: u32,
}

/// Units of a relative date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    /// Every unit, smallest first.
    pub const ALL: [TimeUnit; 6] = [
        TimeUnit::Minute,
        TimeUnit::Hour,
        TimeUnit::Day,
        TimeUnit::Week,
        TimeUnit::Month,
        TimeUnit::Year,
    ];

    /// The singular name (`day`); canonical text uses the plural when the amount is not 1.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }

    /// The unit for a written name: `min`, `mins`, `minute`, `minutes`, `hour(s)`, … (any case).
    pub fn from_name(name: &str) -> Option<TimeUnit> {
        let lower = name.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        match singular {
            "min" | "minute" => Some(TimeUnit::Minute),
            "hour" => Some(TimeUnit::Hour),
            "day" => Some(TimeUnit::Day),
            "week" => Some(TimeUnit::Week),
            "month" => Some(TimeUnit::Month),
            "year" => Some(TimeUnit::Year),
            _ => None,
        }
    }
}

/// A valid calendar date (years 1–9999), optionally with a time of day. Build it with
/// [`Date::new`] and [`Date::at`], which reject impossible dates such as 2024-02-30.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
    time: Option<(u8, u8)>,
}

impl Date {
    /// The date, if it exists on the Gregorian calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(Date {
            year,
            month,
            day,
            time: None,
        })
    }

    /// This date at `hour:minute` (24-hour clock).
    pub fn at(self, hour: u8, minute: u8) -> Option<Date> {
        (hour < 24 && minute < 60).then_some(Date {
            time: Some((hour, minute)),
            ..self
        })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// `(hour, minute)` when a time of day was given.
    pub fn time(self) -> Option<(u8, u8)> {
        self.time
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if let Some((hour, minute)) = self.time {
            write!(f, "T{hour:02}:{minute:02}")?;
        }
        Ok(())
    }
}

/// Days in `month` of `year` (Gregorian leap years).
pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// The related records a sub-query can range over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubObject {
    Contact,
    Call,
    Email,
    Note,
    Task,
    Opportunity,
    Meeting,
}

impl SubObject {
    pub const ALL: [SubObject; 7] = [
        SubObject::Contact,
        SubObject::Call,
        SubObject::Email,
        SubObject::Note,
        SubObject::Task,
        SubObject::Opportunity,
        SubObject::Meeting,
    ];

    /// The name written before `(`.
    pub fn name(self) -> &'static str {
        match self {
            SubObject::Contact => "contact",
            SubObject::Call => "call",
            SubObject::Email => "email",
            SubObject::Note => "note",
            SubObject::Task => "task",
            SubObject::Opportunity => "opportunity",
            SubObject::Meeting => "meeting",
        }
    }

    /// The object for a name, in any case.
    pub fn from_name(name: &str) -> Option<SubObject> {
        SubObject::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }

    /// One line of help for the syntax panel, ending in an example.
    pub fn help(self) -> &'static str {
        match self {
            SubObject::Contact => {
                "one contact matches everything inside: contact(title:cto email:*)"
            }
            SubObject::Call => "one call matches everything inside: call(date:today duration > 60)",
            SubObject::Email => {
                "one email matches everything inside: email(opened:yes subject:demo)"
            }
            SubObject::Note => "one note matches everything inside: note(pricing pinned:yes)",
            SubObject::Task => "one task matches everything inside: task(done:no due < today)",
            SubObject::Opportunity => {
                "one opportunity matches everything inside: opportunity(status:won value > 1000)"
            }
            SubObject::Meeting => "one meeting matches everything inside: meeting(date:today)",
        }
    }
}

/// Where field names are looked up: the lead itself, or inside a sub-query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Lead,
    Sub(SubObject),
}

impl Scope {
    /// Sub-queries allowed directly inside this scope: all of them on a lead; inside
    /// `contact(...)` the activities and opportunities linked to that contact; none elsewhere.
    pub fn allows_sub(self, object: SubObject) -> bool {
        match self {
            Scope::Lead => true,
            Scope::Sub(SubObject::Contact) => matches!(
                object,
                SubObject::Call
                    | SubObject::Email
                    | SubObject::Note
                    | SubObject::Meeting
                    | SubObject::Opportunity
            ),
            Scope::Sub(_) => false,
        }
    }

    /// `has:` targets allowed in this scope (empty where `has:` is not allowed).
    pub fn has_targets(self) -> &'static [HasTarget] {
        use HasTarget::*;
        match self {
            Scope::Lead => &HasTarget::ALL,
            Scope::Sub(SubObject::Contact) => &[Calls, Emails, Notes, Opportunities, Phone, Email],
            Scope::Sub(_) => &[],
        }
    }

    /// How the scope is named in messages: `lead` or `call(...)`.
    pub fn describe(self) -> String {
        match self {
            Scope::Lead => "lead".to_owned(),
            Scope::Sub(object) => format!("{}(...)", object.name()),
        }
    }
}

/// What `has:` can test for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HasTarget {
    Calls,
    Emails,
    Notes,
    Tasks,
    Opportunities,
    Contacts,
    Phone,
    Email,
    Address,
}

impl HasTarget {
    pub const ALL: [HasTarget; 9] = [
        HasTarget::Calls,
        HasTarget::Emails,
        HasTarget::Notes,
        HasTarget::Tasks,
        HasTarget::Opportunities,
        HasTarget::Contacts,
        HasTarget::Phone,
        HasTarget::Email,
        HasTarget::Address,
    ];

    /// The name written after `has:`.
    pub fn name(self) -> &'static str {
        match self {
            HasTarget::Calls => "calls",
            HasTarget::Emails => "emails",
            HasTarget::Notes => "notes",
            HasTarget::Tasks => "tasks",
            HasTarget::Opportunities => "opportunities",
            HasTarget::Contacts => "contacts",
            HasTarget::Phone => "phone",
            HasTarget::Email => "email",
            HasTarget::Address => "address",
        }
    }

    /// One line of help for the syntax panel.
    pub fn help(self) -> &'static str {
        match self {
            HasTarget::Calls => "at least one call",
            HasTarget::Emails => "at least one email",
            HasTarget::Notes => "at least one note",
            HasTarget::Tasks => "at least one task",
            HasTarget::Opportunities => "at least one opportunity",
            HasTarget::Contacts => "at least one contact",
            HasTarget::Phone => "a contact with a phone number",
            HasTarget::Email => "a contact with an email address",
            HasTarget::Address => "at least one address",
        }
    }

    /// The target for a name, in any case.
    pub fn from_name(name: &str) -> Option<HasTarget> {
        HasTarget::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// A node with the byte range of the text it came from. **Equality and hashing ignore the
/// span**, so ASTs from differently spaced text compare equal; compare `.span` explicitly when
/// it matters.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Range<usize>,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Range<usize>) -> Spanned<T> {
        Spanned { node, span }
    }
}

/// A node without a source position (`0..0`), for ASTs built in code.
impl<T> From<T> for Spanned<T> {
    fn from(node: T) -> Spanned<T> {
        Spanned { node, span: 0..0 }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Spanned<T>) -> bool {
        self.node == other.node
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.hash(state);
    }
}
