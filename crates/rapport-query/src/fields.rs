//! The field catalogue: every field name, alias, value type and help line, per scope.
//!
//! One flat table drives name resolution, type checking, did-you-mean hints and the app's
//! syntax-help panel, so they cannot disagree. Nothing here parses query text.

use std::borrow::Cow;
use std::fmt;

use crate::ast::{Scope, SubObject};

/// A field, resolved from its name or alias. The meaning of a variant that exists in several
/// scopes (`status`, `date`, `user`, …) is the field of the enclosing scope's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Company,
    Description,
    Url,
    Status,
    Owner,
    City,
    State,
    Zip,
    Country,
    Location,
    Contact,
    Title,
    Email,
    Phone,
    Created,
    Updated,
    LastCalled,
    LastEmailed,
    EmailOpened,
    LastActivity,
    Contacts,
    Calls,
    Emails,
    Notes,
    Tasks,
    Opportunities,
    Addresses,
    Activities,
    Called,
    Emailed,
    Opportunity,
    OpportunityUser,
    OpportunityValue,
    Date,
    Duration,
    Direction,
    Disposition,
    Note,
    User,
    RemotePhone,
    LocalPhone,
    Opened,
    Subject,
    Body,
    From,
    To,
    Pinned,
    Text,
    Due,
    Done,
    Assignee,
    Value,
    Confidence,
    Period,
    CloseDate,
    End,
    /// `custom.<Name>`: a user-defined field, name as written (case kept).
    Custom(String),
}

impl Field {
    /// The canonical name, as the formatter writes it.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Field::Custom(name) => Cow::Owned(format!("custom.{name}")),
            field => Cow::Borrowed(
                FIELDS
                    .iter()
                    .find(|info| info.field == *field)
                    .map_or("", |info| info.name),
            ),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a field's values are; decides how a value is read and which operators apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Free text: words (prefix), phrases, `*`.
    Text,
    /// A configurable label (lead status, opportunity status, call disposition):
    /// case-insensitive, `_` ≡ space; `*`.
    Label,
    /// One of a fixed set of labels.
    Choice(&'static [&'static str]),
    /// A user: `me`, a name or email word/phrase, `*`.
    User,
    /// A timestamp: `2024-01-31[T09:30]`, `3 days ago`, `today`, `yesterday`, `never`, `yes`, `*`.
    Date,
    /// A whole number ≥ 0.
    Count,
    /// Any number, or `*`.
    Number,
    /// `yes`/`no` (also `true`/`false`).
    Bool,
    /// `never`, `yes`, or a count (`called`, `emailed`).
    Occurrence,
    /// A custom field: its type is known only to the app, so values stay as written (word,
    /// phrase, `*`); see [`crate::Spanned::interpret`].
    Custom,
}

impl ValueType {
    /// Whether `<`, `<=`, `>`, `>=` make sense for this type.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            ValueType::Date
                | ValueType::Count
                | ValueType::Number
                | ValueType::Occurrence
                | ValueType::Custom
        )
    }

    /// A short description for messages: "a date", "a whole number", …
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Text => "text",
            ValueType::Label => "a label",
            ValueType::Choice(_) => "one of a fixed set of values",
            ValueType::User => "a user",
            ValueType::Date => "a date",
            ValueType::Count => "a whole number",
            ValueType::Number => "a number",
            ValueType::Bool => "yes or no",
            ValueType::Occurrence => "never, yes or a count",
            ValueType::Custom => "a value",
        }
    }

    /// Example values, for hints and help.
    pub fn examples(self) -> &'static str {
        match self {
            ValueType::Text => "`acme`, `\"menlo park\"` or `*`",
            ValueType::Label => "`customer`, `bad_fit` or `\"Bad Fit\"`",
            ValueType::Choice(_) => "one of the listed values",
            ValueType::User => "`me`, `alice` or `\"Alice Smith\"`",
            ValueType::Date => {
                "`2024-01-31`, `2024-01-31T09:30`, `\"3 days ago\"`, `today`, `yesterday` or `never`"
            }
            ValueType::Count => "`0`, `3` or `10`",
            ValueType::Number => "`60` or `99.5`",
            ValueType::Bool => "`yes` or `no`",
            ValueType::Occurrence => "`never`, `yes` or a count such as `3`",
            ValueType::Custom => "a word, a `\"quoted phrase\"` or `*`",
        }
    }
}

/// One row of the field catalogue.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// Where the name is valid: on the lead, or inside a sub-query.
    pub scope: Scope,
    /// The canonical name (`custom.<Name>` for the custom-field row).
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// The field; for the `custom.<Name>` row, `Field::Custom` with an empty name.
    pub field: Field,
    /// How values are read.
    pub ty: ValueType,
    /// One line for the syntax-help panel.
    pub help: &'static str,
}

/// Every known field in every scope, lead fields first, then per sub-query object.
pub fn fields() -> &'static [FieldInfo] {
    FIELDS
}

/// The fields valid in one scope.
pub fn fields_in(scope: Scope) -> impl Iterator<Item = &'static FieldInfo> {
    FIELDS.iter().filter(move |info| info.scope == scope)
}

/// Lead fields that `sort:` accepts (plus any `custom.<Name>`).
pub const SORT_KEYS: &[Field] = &[
    Field::Created,
    Field::Updated,
    Field::Name,
    Field::LastCalled,
    Field::LastEmailed,
    Field::LastActivity,
    Field::Calls,
    Field::Contacts,
    Field::Opportunities,
    Field::Activities,
];

/// The prefix of custom field names.
pub(crate) const CUSTOM_PREFIX: &str = "custom.";

/// Choices for `direction`.
const DIRECTIONS: &[&str] = &["inbound", "outbound"];
/// Choices for an opportunity's `period`.
const PERIODS: &[&str] = &["one time", "monthly", "annual"];

/// The field catalogue entry for a (non-custom) name or alias in `scope`, any case.
pub(crate) fn lookup(scope: Scope, name: &str) -> Option<&'static FieldInfo> {
    fields_in(scope).find(|info| {
        !matches!(info.field, Field::Custom(_))
            && (info.name.eq_ignore_ascii_case(name)
                || info
                    .aliases
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(name)))
    })
}

/// Whether `custom.<Name>` fields exist in `scope` (leads and contacts have custom fields).
pub(crate) fn allows_custom(scope: Scope) -> bool {
    matches!(scope, Scope::Lead | Scope::Sub(SubObject::Contact))
}

/// All names and aliases valid in `scope`, for did-you-mean hints.
pub(crate) fn names_in(scope: Scope) -> impl Iterator<Item = &'static str> {
    fields_in(scope)
        .filter(|info| !matches!(info.field, Field::Custom(_)))
        .flat_map(|info| std::iter::once(info.name).chain(info.aliases.iter().copied()))
}

/// The value type of `field` in `scope` (custom fields are [`ValueType::Custom`]).
pub fn value_type(scope: Scope, field: &Field) -> Option<ValueType> {
    match field {
        Field::Custom(_) => allows_custom(scope).then_some(ValueType::Custom),
        _ => fields_in(scope)
            .find(|info| info.field == *field)
            .map(|info| info.ty),
    }
}

macro_rules! field {
    (Custom) => {
        Field::Custom(String::new())
    };
    ($field:ident) => {
        Field::$field
    };
}

macro_rules! table {
    ($( $scope:expr => [ $( $name:literal $( | $alias:literal )* : $field:ident, $ty:expr, $help:literal; )* ] )*) => {
        &[ $( $( FieldInfo {
            scope: $scope,
            name: $name,
            aliases: &[$($alias),*],
            field: field!($field),
            ty: $ty,
            help: $help,
        }, )* )* ]
    };
}

const LEAD: Scope = Scope::Lead;
const CONTACT: Scope = Scope::Sub(SubObject::Contact);
const CALL: Scope = Scope::Sub(SubObject::Call);
const EMAIL: Scope = Scope::Sub(SubObject::Email);
const NOTE: Scope = Scope::Sub(SubObject::Note);
const TASK: Scope = Scope::Sub(SubObject::Task);
const OPPORTUNITY: Scope = Scope::Sub(SubObject::Opportunity);
const MEETING: Scope = Scope::Sub(SubObject::Meeting);

use ValueType::{Bool, Count, Date, Label, Number, Occurrence, Text, User};

static FIELDS: &[FieldInfo] = table! {
    LEAD => [
        "name": Name, Text, "Lead name or any contact's name";
        "company": Company, Text, "Lead (company) name only";
        "description": Description, Text, "Lead description";
        "url": Url, Text, "Lead website";
        "status": Status, Label, "Lead status label; `_` matches a space (status:bad_fit)";
        "owner": Owner, User, "Lead owner; `me` is you";
        "city": City, Text, "City of any address";
        "state": State, Text, "State of any address";
        "zip": Zip, Text, "ZIP or postal code of any address";
        "country": Country, Text, "Country of any address";
        "location": Location, Text, "Any part of any address";
        "contact": Contact, Text, "Any contact's name";
        "title": Title, Text, "Any contact's job title";
        "email" | "email_address": Email, Text, "Any contact's email address";
        "phone" | "phone_number": Phone, Text, "Digit prefix of any phone number (phone:415)";
        "created" | "date_created": Created, Date, "When the lead was created";
        "updated" | "date_updated": Updated, Date, "When the lead last changed";
        "last_called" | "last_call": LastCalled, Date, "Most recent call";
        "last_emailed" | "last_email": LastEmailed, Date, "Most recent email";
        "email_opened": EmailOpened, Date, "Most recent open of an email";
        "last_activity": LastActivity, Date, "Most recent activity of any kind";
        "contacts": Contacts, Count, "Number of contacts";
        "calls": Calls, Count, "Number of calls";
        "emails": Emails, Count, "Number of emails";
        "notes": Notes, Count, "Number of notes";
        "tasks": Tasks, Count, "Number of tasks";
        "opportunities": Opportunities, Count, "Number of opportunities";
        "addresses": Addresses, Count, "Number of addresses";
        "activities": Activities, Count, "Number of activities";
        "called": Called, Occurrence, "Whether or how often the lead was called: never, yes, a count";
        "emailed": Emailed, Occurrence, "Whether or how often the lead was emailed: never, yes, a count";
        "opportunity": Opportunity, Label, "Status type (active/won/lost) or label of any opportunity";
        "opportunity_user": OpportunityUser, User, "Owner of any opportunity";
        "opportunity_value": OpportunityValue, Number, "Value of any opportunity";
        "custom.<Name>": Custom, ValueType::Custom, "A custom field; quote it all if the name has spaces: \"custom.Lead Source\":web";
    ]
    CONTACT => [
        "name": Name, Text, "Contact name";
        "title": Title, Text, "Job title";
        "email" | "email_address": Email, Text, "Any of the contact's email addresses";
        "phone" | "phone_number": Phone, Text, "Digit prefix of any of the contact's phone numbers";
        "created" | "date_created": Created, Date, "When the contact was created";
        "updated" | "date_updated": Updated, Date, "When the contact last changed";
        "custom.<Name>": Custom, ValueType::Custom, "A contact custom field";
    ]
    CALL => [
        "date": Date, Date, "When the call happened";
        "duration": Duration, Number, "Length in seconds";
        "direction": Direction, ValueType::Choice(DIRECTIONS), "inbound or outbound";
        "disposition": Disposition, Label, "answered, no-answer, busy, failed, vm-left, …";
        "status": Status, Label, "Call status";
        "note": Note, Text, "The call note";
        "user": User, User, "Who made or took the call";
        "remote_phone" | "phone": RemotePhone, Text, "The other party's number (digit prefix)";
        "local_phone": LocalPhone, Text, "Our number (digit prefix)";
        "created" | "date_created": Created, Date, "When the call was logged";
        "updated" | "date_updated": Updated, Date, "When the call last changed";
    ]
    EMAIL => [
        "date" | "sent" | "sent_at": Date, Date, "When the email was sent";
        "opened": Opened, Date, "When it was opened: yes, never, or a date";
        "subject": Subject, Text, "Subject line";
        "body": Body, Text, "Body text";
        "from": From, Text, "Sender address";
        "to": To, Text, "Recipient addresses";
        "direction": Direction, ValueType::Choice(DIRECTIONS), "inbound or outbound";
        "user": User, User, "Who sent or received it";
        "created" | "date_created": Created, Date, "When the email was logged";
        "updated" | "date_updated": Updated, Date, "When the email last changed";
    ]
    NOTE => [
        "body" | "text": Body, Text, "Note text (Markdown)";
        "title": Title, Text, "Note title";
        "date": Date, Date, "When the note was taken";
        "pinned": Pinned, Bool, "Pinned to the top of the lead";
        "user": User, User, "Who wrote it";
        "created" | "date_created": Created, Date, "When the note was created";
        "updated" | "date_updated": Updated, Date, "When the note last changed";
    ]
    TASK => [
        "text": Text, Text, "What to do";
        "due" | "date": Due, Date, "Due date";
        "done" | "is_complete": Done, Bool, "Completed";
        "assignee" | "user": Assignee, User, "Who it is assigned to";
        "created" | "date_created": Created, Date, "When the task was created";
        "updated" | "date_updated": Updated, Date, "When the task last changed";
    ]
    OPPORTUNITY => [
        "status": Status, Label, "Status type (active/won/lost) or label";
        "value": Value, Number, "Value in the lead's currency";
        "confidence": Confidence, Number, "Confidence in percent";
        "period": Period, ValueType::Choice(PERIODS), "one_time, monthly or annual";
        "user" | "owner": User, User, "Opportunity owner";
        "close_date" | "close": CloseDate, Date, "Expected close date";
        "note": Note, Text, "Opportunity note";
        "created" | "date_created": Created, Date, "When the opportunity was created";
        "updated" | "date_updated": Updated, Date, "When the opportunity last changed";
    ]
    MEETING => [
        "title": Title, Text, "Meeting title";
        "date" | "start": Date, Date, "When the meeting starts";
        "end": End, Date, "When the meeting ends";
        "note": Note, Text, "Meeting note";
        "user": User, User, "Who organised it";
        "created" | "date_created": Created, Date, "When the meeting was logged";
        "updated" | "date_updated": Updated, Date, "When the meeting last changed";
    ]
};
