//! The planner's first pass: a parsed query becomes a [`Plan`] — a small tree of index
//! conditions with every value typed (custom fields), every date resolved against "now" and
//! the time zone, and every Smart View inlined. All the planner's own errors (unknown custom
//! field or Smart View, a value of the wrong type, a cycle of views) come out here as
//! diagnostics with spans. No index access: `check` runs without one.

use std::ops::Bound;

use rapport_core::{CustomFieldDef, Id, SmartView, User};
use rapport_query::{
    CmpOp, Diagnostic, ErrorCode, Expr, Field, HasTarget, Query, Scope, Spanned, SubObject, Value,
    did_you_mean, parse,
};

use crate::schema::{digits, norm, slice_range, tokens};
use crate::time::{Clock, DateCond};

/// What a query is evaluated against besides the index.
#[derive(Debug, Clone)]
pub struct Context {
    pub clock: Clock,
    /// The local user, for `me`.
    pub me: Option<Id>,
    pub fields: Vec<CustomFieldDef>,
    pub views: Vec<SmartView>,
    /// The lead statuses' labels, in their order: `status:` takes one of them.
    pub statuses: Vec<String>,
    /// The users: `owner:`, `opportunity_user:`, `user:` and `assignee:` name one of them.
    pub users: Vec<User>,
}

/// The opportunity statuses `opportunity:` and `opportunity(status:…)` take: the labels
/// operations accept, which are also the status types (`active`, `won`, `lost`).
const OPPORTUNITY_STATUSES: [&str; 3] = ["Active", "Won", "Lost"];

/// The closed sets of values other label fields take (what the index stores for them).
const DIRECTIONS: [&str; 2] = ["inbound", "outbound"];
const PERIODS: [&str; 3] = ["one_time", "monthly", "annual"];

/// At most this many values are listed in an "unknown value" error.
const LIST_MAX: usize = 12;

/// `values` as a list for a message: the first [`LIST_MAX`], then how many more.
fn listing<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let values: Vec<&str> = values.into_iter().collect();
    if values.is_empty() {
        return "none".into();
    }
    let mut out = values
        .iter()
        .take(LIST_MAX)
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > LIST_MAX {
        out.push_str(&format!(" and {} more", values.len() - LIST_MAX));
    }
    out
}

/// Whether `query`'s words appear in order in `value`'s words (the last one a prefix
/// when `prefix`): how a user's name or email matches a word or phrase.
fn words_match(value: &str, query: &[String], prefix: bool) -> bool {
    let value = tokens(value);
    if query.is_empty() {
        return true;
    }
    value.windows(query.len()).any(|w| {
        w.iter().zip(query).enumerate().all(|(i, (a, b))| {
            if prefix && i == query.len() - 1 {
                a.starts_with(b.as_str())
            } else {
                a == b
            }
        })
    })
}

/// One index condition. Text fields are named as in `schema::TEXT_FIELDS`.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    All,
    Nothing,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Words in order in a text field; the last one a prefix when `prefix`.
    Words {
        field: String,
        tokens: Vec<String>,
        prefix: bool,
    },
    /// Words of one custom field.
    CustomWords {
        key: String,
        tokens: Vec<String>,
        prefix: bool,
    },
    /// An `exact` term: `key` equals the normalized `value`.
    Exact {
        key: String,
        value: String,
    },
    /// The field has a value.
    Present(String),
    /// An i64 field (count, ms timestamp or day number) in range.
    IRange {
        field: &'static str,
        lo: Bound<i64>,
        hi: Bound<i64>,
    },
    /// An f64 field in range.
    FRange {
        field: &'static str,
        lo: Bound<f64>,
        hi: Bound<f64>,
    },
    /// A custom number (`tag` 'n') or date (`tag` 'd', day numbers) in range.
    CustomRange {
        key: String,
        tag: char,
        lo: Bound<f64>,
        hi: Bound<f64>,
    },
    /// One related record of kind `object` matches `inner`; `contact_link` when the record
    /// must belong to the enclosing contact rather than the lead.
    Sub {
        object: SubObject,
        inner: Box<Node>,
        contact_link: bool,
    },
    /// The lead's slice hash lies in `[lo, hi)`.
    Slice {
        lo: u64,
        hi: Option<u64>,
    },
}

/// Where a sort value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SortSource {
    Score,
    /// An i64 fast field; `date` when it holds ms timestamps.
    I64 {
        field: &'static str,
        date: bool,
    },
    /// The normalized lead name.
    Name,
    /// A custom field's sort value.
    Custom(String),
}

/// One resolved sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    /// The key as written (`-created`), for output.
    pub label: String,
    pub source: SortSource,
    pub descending: bool,
}

/// A query ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub node: Node,
    pub sort: Vec<SortSpec>,
}

/// Resolves a parsed query. The first error wins (diagnostics carry spans into `text`).
pub fn plan(query: &Query, ctx: &Context) -> Result<Plan, Diagnostic> {
    let mut r = Resolver {
        ctx,
        views: Vec::new(),
    };
    let mut node = match &query.expr {
        Some(e) => r.expr(e, Scope::Lead)?,
        None => Node::All,
    };
    if let Some(slice) = query.slice {
        let (lo, hi) = slice_range(slice.index, slice.count);
        node = and(node, Node::Slice { lo, hi });
    }
    let mut sort = Vec::new();
    for key in &query.sort {
        sort.push(r.sort_key(key)?);
    }
    if sort.is_empty() {
        if query.expr.as_ref().is_some_and(has_free_text) {
            sort.push(SortSpec {
                label: "relevance".into(),
                source: SortSource::Score,
                descending: true,
            });
        }
        sort.push(SortSpec {
            label: "-updated".into(),
            source: SortSource::I64 {
                field: "updated",
                date: true,
            },
            descending: true,
        });
    }
    Ok(Plan { node, sort })
}

/// Parses and resolves `text`.
pub fn plan_text(text: &str, ctx: &Context) -> Result<Plan, Diagnostic> {
    plan(&parse(text)?, ctx)
}

/// Whether the query has bare words or phrases outside sub-queries.
fn has_free_text(e: &Expr) -> bool {
    match e {
        Expr::Text(_) | Expr::Phrase(_) => true,
        Expr::And(v) | Expr::Or(v) => v.iter().any(has_free_text),
        Expr::Not(inner) => has_free_text(inner),
        _ => false,
    }
}

fn and(a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::All, x) | (x, Node::All) => x,
        (Node::And(mut v), x) => {
            v.push(x);
            Node::And(v)
        }
        (a, b) => Node::And(vec![a, b]),
    }
}

/// How a field is stored, per scope.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text(&'static str),
    Phone(&'static str),
    Label(&'static str),
    User(&'static str),
    Ts(&'static str),
    Day(&'static str),
    Count(&'static str),
    Num(&'static str),
    Bool(&'static str),
    Occurrence(&'static str),
}

fn kind(scope: Scope, field: &Field) -> Option<Kind> {
    use Field as F;
    use Kind::*;
    let common = match field {
        F::Created => Some(Ts("created")),
        F::Updated => Some(Ts("updated")),
        _ => None,
    };
    let specific = match scope {
        Scope::Lead => match field {
            F::Name => Text("name"),
            // The lead's own name (a lead document's `name`); `name:` adds contact names.
            F::Company => Text("name"),
            F::Description => Text("description"),
            F::Url => Text("url"),
            F::City => Text("city"),
            F::State => Text("state"),
            F::Zip => Text("zip"),
            F::Country => Text("country"),
            // The street lines; `cmp` adds the other address parts.
            F::Location => Text("location"),
            F::Status => Label("status"),
            F::Owner => User("owner"),
            F::LastCalled => Ts("last_called"),
            F::LastEmailed => Ts("last_emailed"),
            F::EmailOpened => Ts("email_opened"),
            F::LastActivity => Ts("last_activity"),
            F::Contacts => Count("n_contacts"),
            F::Calls => Count("n_calls"),
            F::Emails => Count("n_emails"),
            F::Notes => Count("n_notes"),
            F::Tasks => Count("n_tasks"),
            F::Opportunities => Count("n_opportunities"),
            F::Addresses => Count("n_addresses"),
            F::Activities => Count("n_activities"),
            F::Called => Occurrence("n_calls"),
            F::Emailed => Occurrence("n_emails"),
            F::Opportunity => Label("opportunity"),
            F::OpportunityUser => User("opp_user"),
            F::OpportunityValue => Num("opp_value"),
            _ => return common,
        },
        Scope::Sub(object) => match (object, field) {
            (SubObject::Contact, F::Name) => Text("name"),
            (SubObject::Contact, F::Title) => Text("title"),
            (SubObject::Contact, F::Email) => Text("email"),
            (SubObject::Contact, F::Phone) => Phone("phone"),
            (SubObject::Task, F::Due) => Day("due_day"),
            (SubObject::Task, F::Done) => Bool("done"),
            (SubObject::Task, F::Assignee) => User("user"),
            (SubObject::Task, F::Text) => Text("text"),
            (SubObject::Opportunity, F::Value) => Num("value"),
            (SubObject::Opportunity, F::Confidence) => Num("confidence"),
            (SubObject::Opportunity, F::Period) => Label("period"),
            (SubObject::Opportunity, F::CloseDate) => Day("close_day"),
            (_, F::Date) => Ts("date"),
            (_, F::End) => Ts("end"),
            (_, F::Opened) => Ts("opened"),
            (_, F::Duration) => Num("duration"),
            (_, F::Direction) => Label("direction"),
            (_, F::Disposition) => Label("disposition"),
            (_, F::Status) => Label("status"),
            (_, F::Note) => Text("note"),
            (_, F::User) => User("user"),
            (_, F::RemotePhone) => Phone("remote_phone"),
            (_, F::LocalPhone) => Phone("local_phone"),
            (_, F::Subject) => Text("subject"),
            (_, F::Body) => Text("body"),
            (_, F::From) => Text("from"),
            (_, F::To) => Text("to"),
            (_, F::Pinned) => Bool("pinned"),
            (_, F::Title) => Text("title"),
            _ => return common,
        },
    };
    Some(specific)
}

fn bounds_i(op: CmpOp, n: i64) -> (Bound<i64>, Bound<i64>) {
    use Bound::*;
    match op {
        CmpOp::Match | CmpOp::Eq => (Included(n), Included(n)),
        CmpOp::Lt => (Unbounded, Excluded(n)),
        CmpOp::Le => (Unbounded, Included(n)),
        CmpOp::Gt => (Excluded(n), Unbounded),
        CmpOp::Ge => (Included(n), Unbounded),
    }
}

fn bounds_f(op: CmpOp, n: f64) -> (Bound<f64>, Bound<f64>) {
    use Bound::*;
    match op {
        CmpOp::Match | CmpOp::Eq => (Included(n), Included(n)),
        CmpOp::Lt => (Unbounded, Excluded(n)),
        CmpOp::Le => (Unbounded, Included(n)),
        CmpOp::Gt => (Excluded(n), Unbounded),
        CmpOp::Ge => (Included(n), Unbounded),
    }
}

/// `[lo, hi)` as bounds.
fn half_open(lo: Option<i64>, hi: Option<i64>) -> (Bound<i64>, Bound<i64>) {
    (
        lo.map_or(Bound::Unbounded, Bound::Included),
        hi.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

fn words(field: &str, text: &str, prefix: bool) -> Node {
    Node::Words {
        field: field.to_owned(),
        tokens: tokens(text),
        prefix,
    }
}

struct Resolver<'a> {
    ctx: &'a Context,
    /// Smart Views being expanded (normalized names), to report cycles.
    views: Vec<String>,
}

impl Resolver<'_> {
    /// Checks that a label field's value is one its closed set holds (lead statuses,
    /// opportunity statuses, directions, periods): an unknown one is an error listing what
    /// exists, never zero results. Fields whose values are open (a call's status or
    /// disposition) take any value.
    fn known_label(
        &self,
        scope: Scope,
        key: &str,
        label: &str,
        value: &Spanned<Value>,
    ) -> Result<(), Diagnostic> {
        let (noun, plural, known): (&str, &str, Vec<&str>) = match (scope, key) {
            (Scope::Lead, "status") => (
                "status",
                "statuses",
                self.ctx.statuses.iter().map(String::as_str).collect(),
            ),
            (Scope::Lead, "opportunity") | (Scope::Sub(SubObject::Opportunity), "status") => (
                "opportunity status",
                "opportunity statuses",
                OPPORTUNITY_STATUSES.to_vec(),
            ),
            (_, "direction") => ("direction", "directions", DIRECTIONS.to_vec()),
            (_, "period") => ("period", "periods", PERIODS.to_vec()),
            _ => return Ok(()),
        };
        let wanted = norm(label);
        if known.iter().any(|k| norm(k) == wanted) {
            return Ok(());
        }
        let list = listing(known.iter().copied());
        let hint = match did_you_mean(label, known.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? {plural} are {list}"),
            None => format!("{plural} are {list}"),
        };
        Err(Diagnostic::new(
            ErrorCode::BadValue,
            value.span.clone(),
            format!("unknown {noun} `{label}`; {plural} are {list}"),
        )
        .with_hint(hint))
    }

    /// Checks that a user field's word (a prefix) or phrase names at least one user, by
    /// the words of their name or email: an unknown user is an error listing the users.
    fn known_user(
        &self,
        text: &str,
        prefix: bool,
        value: &Spanned<Value>,
    ) -> Result<(), Diagnostic> {
        let query = tokens(text);
        let users = &self.ctx.users;
        if query.is_empty()
            || users.iter().any(|u| {
                words_match(&u.name, &query, prefix)
                    || u.email
                        .as_deref()
                        .is_some_and(|e| words_match(e, &query, prefix))
            })
        {
            return Ok(());
        }
        let list = listing(users.iter().map(|u| u.name.as_str()));
        let hint = match did_you_mean(text, users.iter().map(|u| u.name.as_str())) {
            Some(best) => format!("did you mean `{best}`? users are {list}; `me` is you"),
            None => format!("users are {list}; `me` is you"),
        };
        Err(Diagnostic::new(
            ErrorCode::BadValue,
            value.span.clone(),
            format!("unknown user `{text}`; users are {list}"),
        )
        .with_hint(hint))
    }

    fn expr(&mut self, e: &Expr, scope: Scope) -> Result<Node, Diagnostic> {
        Ok(match e {
            Expr::And(v) => Node::And(
                v.iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => Node::Or(
                v.iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Node::Not(Box::new(self.expr(inner, scope)?)),
            Expr::Sub { object, expr } => Node::Sub {
                object: *object,
                inner: Box::new(self.expr(expr, Scope::Sub(*object))?),
                contact_link: scope != Scope::Lead,
            },
            Expr::Text(w) => words("all", &w.node, true),
            Expr::Phrase(p) => words("all", &p.node, false),
            Expr::Has(target) => self.has(target.node, scope),
            Expr::InView(name) => self.view(name)?,
            Expr::Cmp { field, op, value } => self.cmp(scope, field, *op, value)?,
            Expr::In { field, values } => Node::Or(
                values
                    .iter()
                    .map(|v| self.cmp(scope, field, CmpOp::Eq, v))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn has(&self, target: HasTarget, scope: Scope) -> Node {
        let at_least_one = |field| Node::IRange {
            field,
            lo: Bound::Included(1),
            hi: Bound::Unbounded,
        };
        let linked = |object| Node::Sub {
            object,
            inner: Box::new(Node::All),
            contact_link: true,
        };
        let contact = scope != Scope::Lead;
        match target {
            HasTarget::Phone | HasTarget::Email => {
                let key = if target == HasTarget::Phone {
                    "phone"
                } else {
                    "email"
                };
                match contact {
                    true => Node::Present(key.into()),
                    // Only contact documents hold phones and emails.
                    false => Node::Sub {
                        object: SubObject::Contact,
                        inner: Box::new(Node::Present(key.into())),
                        contact_link: false,
                    },
                }
            }
            HasTarget::Calls if contact => linked(SubObject::Call),
            HasTarget::Emails if contact => linked(SubObject::Email),
            HasTarget::Notes if contact => linked(SubObject::Note),
            HasTarget::Opportunities if contact => linked(SubObject::Opportunity),
            HasTarget::Calls => at_least_one("n_calls"),
            HasTarget::Emails => at_least_one("n_emails"),
            HasTarget::Notes => at_least_one("n_notes"),
            HasTarget::Tasks => at_least_one("n_tasks"),
            HasTarget::Opportunities => at_least_one("n_opportunities"),
            HasTarget::Contacts => at_least_one("n_contacts"),
            HasTarget::Address => at_least_one("n_addresses"),
        }
    }

    fn view(&mut self, name: &Spanned<String>) -> Result<Node, Diagnostic> {
        let span = name.span.clone();
        let key = norm(&name.node);
        let Some(view) = self.ctx.views.iter().find(|v| norm(&v.name) == key) else {
            let names = self.ctx.views.iter().map(|v| v.name.as_str());
            let hint = match did_you_mean(&name.node, names.clone()) {
                Some(best) => format!("did you mean `in:\"{best}\"`?"),
                None if self.ctx.views.is_empty() => "there are no Smart Views yet".to_owned(),
                None => format!("Smart Views: {}", names.collect::<Vec<_>>().join(", ")),
            };
            return Err(Diagnostic::new(
                ErrorCode::BadValue,
                span,
                format!("unknown Smart View `{}`", name.node),
            )
            .with_hint(hint));
        };
        if self.views.contains(&key) {
            let mut chain: Vec<String> = self
                .views
                .iter()
                .skip_while(|v| **v != key)
                .cloned()
                .collect();
            chain.push(key);
            return Err(Diagnostic::new(
                ErrorCode::BadValue,
                span,
                format!(
                    "Smart View `{}` includes itself ({})",
                    view.name,
                    chain.join(" → ")
                ),
            )
            .with_hint("remove one `in:` from the loop"));
        }
        let query = parse(&view.query).map_err(|d| {
            Diagnostic::new(
                ErrorCode::BadValue,
                span.clone(),
                format!("Smart View `{}` has an error: {}", view.name, d.message),
            )
            .with_hint(format!("fix the Smart View's query: {}", view.query))
        })?;
        self.views.push(key);
        let node = match &query.expr {
            Some(e) => self.expr(e, Scope::Lead).map_err(|d| {
                if d.message.starts_with("Smart View") {
                    Diagnostic {
                        span: span.clone(),
                        ..d
                    }
                } else {
                    Diagnostic::new(
                        d.code,
                        span.clone(),
                        format!("Smart View `{}` has an error: {}", view.name, d.message),
                    )
                    .with_hint_opt(d.hint)
                }
            }),
            None => Ok(Node::All),
        };
        self.views.pop();
        let mut node = node?;
        if let Some(slice) = query.slice {
            let (lo, hi) = slice_range(slice.index, slice.count);
            node = and(node, Node::Slice { lo, hi });
        }
        Ok(node)
    }

    /// A comparison in `scope`. On leads, contact values (`contact`, `title`, `email`,
    /// `phone`, and `name` beside the lead's own) are held by the contact documents only:
    /// the condition becomes "some contact matches". `location` is any address part: the
    /// street lines (its own field) or the city, state, zip or country (theirs).
    fn cmp(
        &self,
        scope: Scope,
        field: &Spanned<Field>,
        op: CmpOp,
        value: &Spanned<Value>,
    ) -> Result<Node, Diagnostic> {
        if scope != Scope::Lead {
            return self.cmp_here(scope, field, op, value);
        }
        // The same comparison on another field (same span), on the documents of `scope`.
        let on = |scope: Scope, node: Field| {
            let other = Spanned {
                node,
                span: field.span.clone(),
            };
            self.cmp_here(scope, &other, op, value)
        };
        let contact = |node: Field| -> Result<Node, Diagnostic> {
            Ok(Node::Sub {
                object: SubObject::Contact,
                inner: Box::new(on(Scope::Sub(SubObject::Contact), node)?),
                contact_link: false,
            })
        };
        match &field.node {
            Field::Contact => contact(Field::Name),
            Field::Title | Field::Email | Field::Phone => contact(field.node.clone()),
            Field::Name => Ok(Node::Or(vec![
                self.cmp_here(scope, field, op, value)?,
                contact(Field::Name)?,
            ])),
            Field::Location => Ok(Node::Or(vec![
                on(scope, Field::Location)?,
                on(scope, Field::City)?,
                on(scope, Field::State)?,
                on(scope, Field::Zip)?,
                on(scope, Field::Country)?,
            ])),
            _ => self.cmp_here(scope, field, op, value),
        }
    }

    /// A comparison on the documents of `scope`'s own kind.
    fn cmp_here(
        &self,
        scope: Scope,
        field: &Spanned<Field>,
        op: CmpOp,
        value: &Spanned<Value>,
    ) -> Result<Node, Diagnostic> {
        if let Field::Custom(name) = &field.node {
            return self.custom(scope, name, field, op, value);
        }
        let Some(kind) = kind(scope, &field.node) else {
            return Err(Diagnostic::new(
                ErrorCode::UnknownField,
                field.span.clone(),
                format!("`{}` can't be searched here", field.node),
            ));
        };
        let v = &value.node;
        let bad = || {
            Diagnostic::new(
                ErrorCode::BadValue,
                value.span.clone(),
                format!("`{}` can't take this value", field.node),
            )
        };
        Ok(match kind {
            Kind::Text(f) => match v {
                Value::Any => Node::Present(f.into()),
                Value::Word(s) | Value::Phrase(s) if op == CmpOp::Eq => Node::Exact {
                    key: f.into(),
                    value: norm(s),
                },
                Value::Word(s) => words(f, s, true),
                Value::Phrase(s) => words(f, s, false),
                _ => return Err(bad()),
            },
            Kind::Phone(f) => match v {
                Value::Any => Node::Present(f.into()),
                Value::Word(s) | Value::Phrase(s) => {
                    let d = digits(s);
                    if d.is_empty() {
                        Node::Nothing
                    } else if op == CmpOp::Eq {
                        Node::Exact {
                            key: f.into(),
                            value: d,
                        }
                    } else {
                        Node::Words {
                            field: f.into(),
                            tokens: vec![d],
                            prefix: true,
                        }
                    }
                }
                _ => return Err(bad()),
            },
            Kind::Label(f) => match v {
                Value::Any => Node::Present(f.into()),
                Value::Label(s) | Value::Word(s) | Value::Phrase(s) => {
                    self.known_label(scope, f, s, value)?;
                    Node::Exact {
                        key: f.into(),
                        value: norm(s),
                    }
                }
                _ => return Err(bad()),
            },
            Kind::User(f) => match v {
                Value::Word(s) | Value::Phrase(s) => {
                    self.known_user(s, matches!(v, Value::Word(_)), value)?;
                    words(f, s, matches!(v, Value::Word(_)))
                }
                Value::Any => Node::Present(f.into()),
                Value::Me => match self.ctx.me {
                    Some(me) => Node::Exact {
                        key: format!("{f}#id"),
                        value: me.to_string().to_lowercase(),
                    },
                    None => Node::Nothing,
                },
                _ => return Err(bad()),
            },
            Kind::Ts(f) | Kind::Day(f) => {
                let day = matches!(kind, Kind::Day(_));
                match self.ctx.clock.cond(op, v).ok_or_else(bad)? {
                    DateCond::Exists => Node::Present(f.into()),
                    DateCond::Missing => Node::Not(Box::new(Node::Present(f.into()))),
                    DateCond::Range(lo, hi) => {
                        let (lo, hi) = if day {
                            self.ctx.clock.day_range(lo, hi)
                        } else {
                            (lo, hi)
                        };
                        let (lo, hi) = half_open(lo, hi);
                        Node::IRange { field: f, lo, hi }
                    }
                }
            }
            Kind::Count(f) => match v {
                Value::Number(n) => {
                    let (lo, hi) = bounds_i(op, *n as i64);
                    Node::IRange { field: f, lo, hi }
                }
                _ => return Err(bad()),
            },
            Kind::Num(f) => match v {
                Value::Any => Node::Present(f.into()),
                Value::Number(n) => {
                    let (lo, hi) = bounds_f(op, *n);
                    Node::FRange { field: f, lo, hi }
                }
                _ => return Err(bad()),
            },
            Kind::Bool(f) => match v {
                Value::Yes => Node::Exact {
                    key: f.into(),
                    value: "yes".into(),
                },
                Value::No => Node::Exact {
                    key: f.into(),
                    value: "no".into(),
                },
                _ => return Err(bad()),
            },
            Kind::Occurrence(f) => {
                let (lo, hi) = match v {
                    Value::Never => bounds_i(CmpOp::Eq, 0),
                    Value::Yes => bounds_i(CmpOp::Ge, 1),
                    Value::Number(n) => bounds_i(op, *n as i64),
                    _ => return Err(bad()),
                };
                Node::IRange { field: f, lo, hi }
            }
        })
    }
}

#[path = "plan_custom.rs"]
mod custom;
