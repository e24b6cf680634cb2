//! Turns one lead (with everything nested and its aggregates) into index documents: the lead
//! document and one child document per contact, call, email, note, meeting, task and
//! opportunity. Pure: no IO; the user names it needs are passed in.
//!
//! Child documents carry only what sub-queries read: no free-text `all` field beyond a
//! contact's custom values (a bare word inside `call(…)` or `contact(…)` searches the
//! kind's text fields, see [`child_text_fields`]), and only lead documents carry the lead
//! id as fast fields (a lead's documents are added as one block, lead first, so a child
//! finds its lead by position — see `query`).
//!
//! Little is indexed twice: the lead document holds the lead's own values (name,
//! description, url, addresses, status, owner, custom values), its counts, dates and
//! opportunity summary, and as free text (`all`) its contacts' values too. Contact fields
//! and activity text live on their own documents only: lead-level conditions on them
//! (`email:…`, free text found in a note) go through the block join.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rapport_core::time::{self, Timestamp};
use rapport_core::validate::phone_national_digits;
use rapport_core::*;
use rapport_store::IndexRow;
use tantivy::TantivyDocument;
use tantivy::schema::{Field, OwnedValue};
use tantivy::tokenizer::{PreTokenizedString, Token};

use crate::schema::{
    Fields, SEP, SHORT_PREFIX, custom_key, digits, exact_term, exact_term_of_raw, has_words,
    list_position, norm, ordered_hex, short_prefix_term, slice_hash, tokens,
};
use crate::words::for_each_word;

// `Doc::words` keys a document's `short` terms by at most two characters.
const _: () = assert!(SHORT_PREFIX == 2);

/// Users by id, for owner / assignee names.
pub type Users = HashMap<Id, User>;

/// Milliseconds since the epoch.
pub fn millis(t: &Timestamp) -> i64 {
    t.timestamp_millis()
}

/// Days since 1970-01-01.
pub fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days()
}

/// The text fields that make up the free text of a child document of `kind` (every value
/// they hold is part of that free text), or `None` for leads, whose `all` field holds all
/// of theirs. A contact's `all` holds only its custom values: its other values are in
/// their own fields, which is where `contact(…)` finds its words (one copy fewer of every
/// contact's text).
pub fn child_text_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "contact" => &["name", "title", "email", "phone", "all"],
        "call" => &["note"],
        "email" => &["subject", "body"],
        "note" => &["title", "body"],
        "meeting" => &["title", "note"],
        "task" => &["text"],
        "opportunity" => &["note"],
        _ => return None,
    })
}

/// National digits of an E.164 number, memoized: parsing is slow and numbers repeat (a
/// contact's number on each of its calls, the user's own numbers).
fn national_digits(e164: &str) -> Option<String> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Option<String>>> =
            std::cell::RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(hit) = c.get(e164) {
            return hit.clone();
        }
        if c.len() >= 100_000 {
            c.clear();
        }
        let value = phone_national_digits(e164);
        c.insert(e164.to_owned(), value.clone());
        value
    })
}

/// The digit forms a phone number is found by: E.164 digits, then national digits.
fn phone_variants(e164: &str) -> Vec<String> {
    let mut variants = vec![digits(e164)];
    if let Some(national) = national_digits(e164).filter(|n| !variants.contains(n)) {
        variants.push(national);
    }
    variants.retain(|v| !v.is_empty());
    variants
}

fn id_parts(id: Id) -> (u64, u64) {
    let v = id.0.0;
    ((v >> 64) as u64, v as u64)
}

/// One document being built.
struct Doc<'a> {
    f: &'a Fields,
    doc: TantivyDocument,
    /// Whether this kind of document has an `all` field (leads; contacts, for custom values).
    keep_all: bool,
    custom_tokens: Vec<Token>,
    custom_sort: BTreeMap<String, OwnedValue>,
    /// Scratch space for term text (one allocation per document, not per term).
    buf: String,
    /// `present` keys already added: schema-list fields as bits of their position, other
    /// keys by name (a key is worth one term per document, however many values it has).
    present_bits: u64,
    present_other: Vec<String>,
    /// `short` terms already added (one per prefix and field is enough).
    short: std::collections::HashSet<u64>,
}

impl<'a> Doc<'a> {
    /// A document of `kind` in the block of the lead whose id is `lead` (`lead_text` is
    /// its text form, made once per lead). Lead documents carry the lead id as fast fields
    /// (results read it).
    fn new(f: &'a Fields, kind: &str, lead: Id, lead_text: &str) -> Doc<'a> {
        let mut doc = TantivyDocument::new();
        doc.add_text(f.kind, kind);
        doc.add_text(f.lead_id, lead_text);
        if kind == "lead" {
            let (hi, lo) = id_parts(lead);
            doc.add_u64(f.lead_hi, hi);
            doc.add_u64(f.lead_lo, lo);
        }
        Doc {
            f,
            doc,
            keep_all: matches!(kind, "lead" | "contact"),
            custom_tokens: Vec::new(),
            custom_sort: BTreeMap::new(),
            buf: String::new(),
            present_bits: 0,
            present_other: Vec::new(),
            short: Default::default(),
        }
    }

    /// `text` as words of the text field `field`, with the `short` terms of its words'
    /// first one and two characters (each made once per document: the set holds them as
    /// `field << 48 | first char << 24 | second char + 1`, 0 for none).
    fn words(&mut self, field: Field, text: &str) {
        self.doc.add_text(field, text);
        let (doc, short, mut buf) = (
            &mut self.doc,
            &mut self.short,
            std::mem::take(&mut self.buf),
        );
        let f = self.f.short;
        let fid = u64::from(field.field_id()) << 48;
        for_each_word(text, |w| {
            let mut key = fid;
            for (n, (i, c)) in w.char_indices().take(SHORT_PREFIX).enumerate() {
                key |= if n == 0 {
                    u64::from(c) << 24
                } else {
                    u64::from(c) + 1
                };
                if short.insert(key) {
                    short_prefix_term(&mut buf, field, &w[..i + c.len_utf8()]);
                    doc.add_text(f, &buf);
                }
            }
        });
        self.buf = buf;
    }

    /// Free text of the record (kept only by kinds that have an `all` field). Values are
    /// added as they come: their order is the `all` field's position order.
    fn all(&mut self, text: &str) {
        if self.keep_all {
            self.words(self.f.all, text);
        }
    }

    fn field(&self, name: &str) -> Field {
        self.f.get(name)
    }

    /// A `present` term: for custom fields, and for a text field whose value has no word
    /// (a value with words shows in the field's norms, see `query::NormQuery`).
    fn present(&mut self, key: &str) {
        match list_position(key).filter(|p| *p < 64) {
            Some(p) if self.present_bits & (1 << p) != 0 => return,
            Some(p) => self.present_bits |= 1 << p,
            None if self.present_other.iter().any(|k| k == key) => return,
            None => self.present_other.push(key.to_owned()),
        }
        self.doc.add_text(self.f.present, key);
    }

    fn exact(&mut self, key: &str, value: &str) {
        self.doc.add_text(self.f.exact, exact_term(key, value));
    }

    /// A text value of `field` (a marked one, see [`crate::schema::is_marked`]): its words,
    /// which also answer `=` and "has a value" (see [`crate::words`]); and, when `in_all`,
    /// part of the record's free text.
    fn text(&mut self, field: &str, value: &str, in_all: bool) {
        if value.trim().is_empty() {
            return;
        }
        self.words(self.field(field), value);
        if in_all {
            self.all(value);
        }
    }

    fn opt_text(&mut self, field: &str, value: Option<&str>, in_all: bool) {
        if let Some(v) = value {
            self.text(field, v, in_all);
        }
    }

    /// A phone number's words (E.164 digits and national digits) in `all` only.
    fn phone_words(&mut self, e164: &str) {
        let variants = phone_variants(e164);
        if !variants.is_empty() {
            self.all(&variants.join(" "));
        }
    }

    /// A phone number: E.164 digits and national digits, as words (an exact number is a
    /// word: the planner's `phone = …` is a term query).
    fn phone(&mut self, field: &str, e164: &str, in_all: bool) {
        let variants = phone_variants(e164);
        if variants.is_empty() {
            return;
        }
        let joined = variants.join(" ");
        self.words(self.field(field), &joined);
        // Digits are words, unless too long to be indexed.
        if variants.iter().all(|v| !has_words(v)) {
            self.present(field);
        }
        if in_all {
            self.all(&joined);
        }
    }

    /// A label: an exact value only ("has a label" is any `exact` term of the field).
    fn label(&mut self, field: &str, label: &str) {
        let mut buf = std::mem::take(&mut self.buf);
        exact_term_of_raw(&mut buf, field, label);
        self.doc.add_text(self.f.exact, &buf);
        self.buf = buf;
    }

    fn flag(&mut self, field: &str, on: bool) {
        self.exact(field, if on { "yes" } else { "no" });
    }

    /// A user reference: id for `me`, name and email as words.
    fn user(&mut self, field: &str, user: Option<Id>, users: &Users) {
        let Some(id) = user else { return };
        // `{field}#id` = the lowercase id (ids are ASCII): what `exact_term` makes of it.
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        {
            use std::fmt::Write as _;
            let _ = write!(buf, "{field}#id{SEP}{id}");
        }
        buf.make_ascii_lowercase();
        self.doc.add_text(self.f.exact, &buf);
        self.buf = buf;
        let mut words = false;
        if let Some(u) = users.get(&id) {
            self.words(self.field(field), &u.name);
            words = has_words(&u.name);
            if let Some(e) = &u.email {
                self.words(self.field(field), e);
                words = words || has_words(e);
            }
        }
        if !words {
            self.present(field);
        }
    }

    /// A number. Its presence is answered from the fast field (no `present` term).
    fn i64(&mut self, field: &str, value: i64) {
        self.doc.add_i64(self.field(field), value);
    }

    /// A number. Its presence is answered from the fast field (no `present` term).
    fn f64(&mut self, field: &str, value: f64) {
        self.doc.add_f64(self.field(field), value);
    }

    fn ts(&mut self, field: &str, value: &Timestamp) {
        self.i64(field, millis(value));
    }

    fn opt_ts_text(&mut self, field: &str, value: Option<&str>) {
        if let Some(t) = value.and_then(time::parse) {
            self.ts(field, &t);
        }
    }

    /// Custom values: words under `{key}\u{1}`, exact value, presence, ordered number/date.
    fn custom(&mut self, custom: &Custom) {
        for (name, value) in custom {
            let key = custom_key(name);
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            let field = format!("custom.{key}");
            let normalized = norm(&text);
            self.present(&field);
            self.exact(&field, &normalized);
            let sort = match value.as_f64() {
                Some(n) => OwnedValue::F64(n),
                None => OwnedValue::Str(normalized),
            };
            self.custom_sort.insert(key.clone(), sort);
            if let Some(n) = value.as_f64() {
                self.doc
                    .add_text(self.f.custom_num, format!("{key}{SEP}n{}", ordered_hex(n)));
            }
            if let Some(d) = value
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
            {
                let day = day_number(d) as f64;
                self.custom_sort.insert(key.clone(), OwnedValue::F64(day));
                self.doc.add_text(
                    self.f.custom_num,
                    format!("{key}{SEP}d{}", ordered_hex(day)),
                );
            }
            let base = self.custom_tokens.last().map_or(0, |t| t.position + 2);
            for (i, tok) in tokens(&text).into_iter().enumerate() {
                self.custom_tokens.push(Token {
                    offset_from: 0,
                    offset_to: 0,
                    position: base + i,
                    text: format!("{key}{SEP}{tok}"),
                    position_length: 1,
                });
            }
            self.all(&text);
        }
    }

    fn finish(mut self) -> TantivyDocument {
        if !self.custom_sort.is_empty() {
            let values = std::mem::take(&mut self.custom_sort);
            self.doc.add_object(self.f.custom_sort, values);
        }
        if !self.custom_tokens.is_empty() {
            let tokens = std::mem::take(&mut self.custom_tokens);
            self.doc.add_pre_tokenized_text(
                self.field("custom"),
                PreTokenizedString {
                    text: String::new(),
                    tokens,
                },
            );
        }
        self.doc
    }
}

/// Every document of one lead: the lead document first, then its children.
pub fn lead_docs(f: &Fields, row: &IndexRow, users: &Users) -> Vec<TantivyDocument> {
    let b = &row.bundle;
    let lead = &b.lead;
    let agg = &row.aggregates;
    let mut docs = Vec::with_capacity(1 + b.contacts.len() + b.activities.len());
    let lead_text = lead.id.to_string();
    let lt = lead_text.as_str();
    let mut d = Doc::new(f, "lead", lead.id, lt);
    d.doc.add_u64(f.slice, slice_hash(lt));
    d.doc.add_text(f.name_sort, norm(&lead.name));
    // `company:` is the lead's own name: the `name` field of lead documents.
    d.text("name", &lead.name, true);
    d.opt_text("description", lead.description.as_deref(), true);
    d.opt_text("url", lead.url.as_deref(), true);
    d.label("status", &lead.status_label);
    d.user("owner", lead.owner_id, users);
    // `location:` (any address part) is the street lines here or a part in its own field.
    for a in &lead.addresses {
        for (field, value) in [
            ("location", &a.address_1),
            ("location", &a.address_2),
            ("city", &a.city),
            ("state", &a.state),
            ("zip", &a.zipcode),
            ("country", &a.country),
        ] {
            d.opt_text(field, value.as_deref(), true);
        }
    }
    // The lead's free text includes its contacts' (their own documents hold the values
    // field by field, for `email:…` and `contact(…)`).
    for c in &b.contacts {
        d.all(&c.name);
        if let Some(t) = &c.title {
            d.all(t);
        }
        for e in &c.emails {
            d.all(&e.email);
        }
        for p in &c.phones {
            d.phone_words(&p.phone);
        }
        for v in c.custom.values() {
            if let Some(s) = v.as_str() {
                d.all(s);
            } else if !v.is_null() {
                d.all(&v.to_string());
            }
        }
    }
    for o in &b.opportunities {
        d.label("opportunity", &o.status_label);
        d.label("opportunity", status_type(o.status_type));
        d.user("opp_user", o.user_id, users);
        d.f64("opp_value", o.value as f64 / 100.0);
    }
    d.custom(&lead.custom);
    for (field, n) in [
        ("n_contacts", agg.n_contacts),
        ("n_calls", agg.n_calls),
        ("n_emails", agg.n_emails),
        ("n_notes", agg.n_notes),
        ("n_tasks", agg.n_tasks),
        ("n_opportunities", agg.n_opportunities),
        ("n_addresses", lead.addresses.len() as i64),
        ("n_activities", agg.n_activities),
    ] {
        d.i64(field, n);
    }
    d.ts("created", &lead.date_created);
    d.ts("updated", &lead.date_updated);
    d.opt_ts_text("last_called", agg.last_called.as_deref());
    d.opt_ts_text("last_emailed", agg.last_emailed.as_deref());
    d.opt_ts_text("email_opened", agg.email_opened.as_deref());
    d.opt_ts_text("last_activity", agg.last_activity.as_deref());
    docs.push(d.finish());
    for c in &b.contacts {
        docs.push(contact_doc(f, c, lt));
    }
    for a in &b.activities {
        docs.extend(activity_doc(f, a, users, &b.contacts, lt));
    }
    for t in &b.tasks {
        let mut d = Doc::new(f, "task", t.lead_id, lt);
        d.text("text", &t.text, true);
        if let Some(due) = t.date {
            d.i64("due_day", day_number(due));
        }
        d.flag("done", t.is_complete);
        d.user("user", t.assigned_to, users);
        d.ts("created", &t.date_created);
        d.ts("updated", &t.date_updated);
        docs.push(d.finish());
    }
    for o in &b.opportunities {
        let mut d = Doc::new(f, "opportunity", o.lead_id, lt);
        link_contact(&mut d, o.contact_id, &b.contacts);
        d.label("status", &o.status_label);
        d.label("status", status_type(o.status_type));
        d.f64("value", o.value as f64 / 100.0);
        if let Some(c) = o.confidence {
            d.f64("confidence", f64::from(c));
        }
        d.label("period", period(o.value_period));
        d.user("user", o.user_id, users);
        if let Some(day) = o.date_won {
            d.i64("close_day", day_number(day));
        }
        d.opt_text("note", o.note.as_deref(), true);
        d.ts("created", &o.date_created);
        d.ts("updated", &o.date_updated);
        docs.push(d.finish());
    }
    docs
}

fn contact_doc(f: &Fields, c: &Contact, lead_text: &str) -> TantivyDocument {
    let mut d = Doc::new(f, "contact", c.lead_id, lead_text);
    d.text("name", &c.name, false);
    d.opt_text("title", c.title.as_deref(), false);
    for e in &c.emails {
        d.text("email", &e.email, false);
    }
    for p in &c.phones {
        d.phone("phone", &p.phone, false);
    }
    d.custom(&c.custom);
    d.ts("created", &c.date_created);
    d.ts("updated", &c.date_updated);
    d.finish()
}

/// Links a child to its contact by the contact document's position in the block (contact
/// documents follow the lead document in `contacts` order). A contact that is not among
/// the lead's contacts links nothing.
fn link_contact(d: &mut Doc<'_>, contact: Option<Id>, contacts: &[Contact]) {
    if let Some(pos) = contact.and_then(|id| contacts.iter().position(|c| c.id == id)) {
        d.doc.add_u64(d.f.contact_pos, pos as u64);
    }
}

fn activity_doc(
    f: &Fields,
    a: &Activity,
    users: &Users,
    contacts: &[Contact],
    lead_text: &str,
) -> Option<TantivyDocument> {
    let kind = match &a.kind {
        ActivityKind::Note(_) => "note",
        ActivityKind::Call(_) => "call",
        ActivityKind::Email(_) => "email",
        ActivityKind::Meeting(_) => "meeting",
        ActivityKind::Link(_) | ActivityKind::StatusChange(_) => return None,
    };
    let mut d = Doc::new(f, kind, a.lead_id, lead_text);
    link_contact(&mut d, a.contact_id, contacts);
    d.user("user", a.user_id, users);
    d.ts("created", &a.date_created);
    d.ts("updated", &a.date_updated);
    match &a.kind {
        ActivityKind::Note(n) => {
            d.ts("date", &a.activity_at);
            d.opt_text("title", n.title.as_deref(), true);
            d.text("body", &n.note, true);
            d.flag("pinned", n.pinned);
        }
        ActivityKind::Call(c) => {
            d.ts("date", &a.activity_at);
            d.f64("duration", f64::from(c.duration));
            d.label("direction", direction(c.direction));
            d.label("disposition", &c.disposition);
            d.label("status", &c.status);
            d.opt_text("note", c.note.as_deref(), true);
            if let Some(p) = &c.remote_phone {
                d.phone("remote_phone", p, false);
            }
            if let Some(p) = &c.local_phone {
                d.phone("local_phone", p, false);
            }
        }
        ActivityKind::Email(e) => {
            d.ts("date", &a.activity_at);
            for open in &e.opens {
                d.ts("opened", open);
            }
            d.text("subject", &e.subject, true);
            d.text("body", &e.body_text, true);
            d.opt_text("from", e.sender.as_deref(), false);
            for to in &e.to {
                d.text("to", to, false);
            }
            d.label("direction", direction(e.direction));
        }
        ActivityKind::Meeting(m) => {
            d.ts("date", &m.starts_at);
            if let Some(end) = &m.ends_at {
                d.ts("end", end);
            }
            d.text("title", &m.title, true);
            d.opt_text("note", m.note.as_deref(), true);
        }
        ActivityKind::Link(_) | ActivityKind::StatusChange(_) => {}
    }
    Some(d.finish())
}

pub fn status_type(t: OpportunityStatusType) -> &'static str {
    match t {
        OpportunityStatusType::Active => "active",
        OpportunityStatusType::Won => "won",
        OpportunityStatusType::Lost => "lost",
    }
}

pub fn period(p: ValuePeriod) -> &'static str {
    match p {
        ValuePeriod::OneTime => "one time",
        ValuePeriod::Monthly => "monthly",
        ValuePeriod::Annual => "annual",
    }
}

pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}
