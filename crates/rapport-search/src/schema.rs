//! The index schema: one document per lead plus one child document per contact, call, email,
//! note, meeting, task and opportunity, all in one index and told apart by `kind`. Also the
//! text analysis both sides share (lower-case + ASCII folding) and the term encodings.
//! Never reads the store and never plans queries.

use tantivy::schema::{
    FAST, Field, IndexRecordOption, JsonObjectOptions, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;

use crate::words::{Words, for_each_word};

/// Bumped whenever the schema or what documents contain changes: an index with another
/// version is rebuilt at open.
pub const SCHEMA_VERSION: u32 = 7;

/// The name the folding analyzer is registered under.
pub const TOKENIZER: &str = "rapport";

/// The name the marking analyzer is registered under (see [`is_marked`]).
pub const MARKED_TOKENIZER: &str = "rapport_marked";

/// Separates a key from a value inside `exact`, `present`-style and custom terms.
pub const SEP: char = '\u{1}';

/// Text fields (tokenized, with positions), shared by every document kind: what a field
/// means depends on the document's kind (`title` is a contact's job title on a contact, the
/// meeting title on a meeting).
pub const TEXT_FIELDS: &[&str] = &[
    "all",
    "name",
    "description",
    "url",
    "city",
    "state",
    "zip",
    "country",
    "location",
    "title",
    "email",
    "phone",
    "owner",
    "opp_user",
    "note",
    "subject",
    "body",
    "from",
    "to",
    "user",
    "text",
    "remote_phone",
    "local_phone",
    "custom",
];

/// Whether the values of text field `name` are marked (see [`crate::words`]): `field = "…"`
/// on them is the phrase of the value's words between marks. All text fields but these:
/// `all` and `custom` are never compared whole, phone fields find an exact number by its
/// digit words, and user fields have no `=` (only `me`, by id).
pub fn is_marked(name: &str) -> bool {
    TEXT_FIELDS.contains(&name)
        && !PHONE_FIELDS.contains(&name)
        && !matches!(name, "all" | "custom" | "owner" | "opp_user" | "user")
}

/// The phone fields: words are the E.164 and national digits of each number.
pub const PHONE_FIELDS: &[&str] = &["phone", "remote_phone", "local_phone"];

/// i64 fields (fast only: tantivy answers ranges over fast fields from the column, and
/// sorts read it): counts, timestamps in ms since the epoch, and day numbers (days since
/// 1970-01-01) for date-only values.
pub const I64_FIELDS: &[&str] = &[
    "n_contacts",
    "n_calls",
    "n_emails",
    "n_notes",
    "n_tasks",
    "n_opportunities",
    "n_addresses",
    "n_activities",
    "created",
    "updated",
    "last_called",
    "last_emailed",
    "email_opened",
    "last_activity",
    "date",
    "end",
    "opened",
    "due_day",
    "close_day",
];

/// f64 fields: call duration, opportunity value (currency units) and confidence, and the
/// lead's opportunity values.
pub const F64_FIELDS: &[&str] = &["duration", "value", "confidence", "opp_value"];

/// Handles to every field.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub all: Field,
    pub kind: Field,
    pub lead_id: Field,
    pub lead_hi: Field,
    pub lead_lo: Field,
    /// On activities and opportunities linked to a contact: the contact's position among
    /// the lead's contact documents (the contact document is `lead doc + 1 + position`).
    pub contact_pos: Field,
    pub slice: Field,
    pub name_sort: Field,
    /// `{field}\u{1}{normalized whole value}`: labels, flags, user ids and custom values
    /// (text fields are compared whole through their marks, phones by their digit words).
    pub exact: Field,
    /// `{field}`: the field has a value — for custom fields, and for a value without a word
    /// in a text field that is not marked (a user's name, a phone); otherwise the field's
    /// norms say it, and labels have their `exact` terms.
    pub present: Field,
    /// `{key}\u{1}n{hex}` / `{key}\u{1}d{hex}`: ordered custom numbers and dates.
    pub custom_num: Field,
    /// `{key: value}` per custom field, fast only: the values `sort:custom.X` reads.
    pub custom_sort: Field,
    /// [`short_prefix_term`]s: the first one and two letters of every word of a text
    /// field, so a one- or two-letter prefix is one posting list, not thousands.
    pub short: Field,
}

impl Fields {
    pub fn new() -> Fields {
        let mut b = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let marked = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(MARKED_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        for name in TEXT_FIELDS {
            let options = if is_marked(name) { &marked } else { &text };
            b.add_text_field(name, options.clone());
        }
        for name in I64_FIELDS {
            b.add_i64_field(name, FAST);
        }
        for name in F64_FIELDS {
            b.add_f64_field(name, FAST);
        }
        let kind = b.add_text_field("kind", STRING);
        let lead_id = b.add_text_field("lead_id", STRING);
        let lead_hi = b.add_u64_field("lead_hi", FAST);
        let lead_lo = b.add_u64_field("lead_lo", FAST);
        let contact_pos = b.add_u64_field("contact_pos", FAST);
        let slice = b.add_u64_field("slice", FAST);
        let name_sort = b.add_text_field("name_sort", TextOptions::default().set_fast("raw"));
        let exact = b.add_text_field("exact", STRING);
        let present = b.add_text_field("present", STRING);
        let custom_num = b.add_text_field("custom_num", STRING);
        let custom_sort =
            b.add_json_field("custom_sort", JsonObjectOptions::default().set_fast("raw"));
        let short = b.add_text_field("short", STRING);
        let schema = b.build();
        let all = schema
            .get_field("all")
            .unwrap_or_else(|_| panic!("schema has no `all`"));
        Fields {
            schema,
            all,
            kind,
            lead_id,
            lead_hi,
            lead_lo,
            contact_pos,
            slice,
            name_sort,
            exact,
            present,
            custom_num,
            custom_sort,
            short,
        }
    }

    /// A field by name; the names come from the constant lists above. The text, i64 and f64
    /// fields are added first and in list order, so their ids are their list positions
    /// (a test checks this against the schema); other names go through the schema's map.
    pub fn get(&self, name: &str) -> Field {
        if let Some(id) = list_position(name) {
            return Field::from_field_id(id);
        }
        self.schema
            .get_field(name)
            .unwrap_or_else(|_| panic!("schema has no field `{name}`"))
    }
}

impl Default for Fields {
    fn default() -> Self {
        Fields::new()
    }
}

/// The position of `name` in `TEXT_FIELDS` ++ `I64_FIELDS` ++ `F64_FIELDS`: a `match` the
/// compiler turns into a few comparisons, where the schema's map hashes the name (document
/// building looks fields up by name tens of times per document). The
/// `list_positions_are_the_schema_ids` test keeps it in step with the lists.
pub fn list_position(name: &str) -> Option<u32> {
    Some(match name {
        "all" => 0,
        "name" => 1,
        "description" => 2,
        "url" => 3,
        "city" => 4,
        "state" => 5,
        "zip" => 6,
        "country" => 7,
        "location" => 8,
        "title" => 9,
        "email" => 10,
        "phone" => 11,
        "owner" => 12,
        "opp_user" => 13,
        "note" => 14,
        "subject" => 15,
        "body" => 16,
        "from" => 17,
        "to" => 18,
        "user" => 19,
        "text" => 20,
        "remote_phone" => 21,
        "local_phone" => 22,
        "custom" => 23,
        "n_contacts" => 24,
        "n_calls" => 25,
        "n_emails" => 26,
        "n_notes" => 27,
        "n_tasks" => 28,
        "n_opportunities" => 29,
        "n_addresses" => 30,
        "n_activities" => 31,
        "created" => 32,
        "updated" => 33,
        "last_called" => 34,
        "last_emailed" => 35,
        "email_opened" => 36,
        "last_activity" => 37,
        "date" => 38,
        "end" => 39,
        "opened" => 40,
        "due_day" => 41,
        "close_day" => 42,
        "duration" => 43,
        "value" => 44,
        "confidence" => 45,
        "opp_value" => 46,
        _ => return None,
    })
}

/// The analyzer for every text field: split on non-alphanumerics, lower-case, fold accents
/// (see [`crate::words`]).
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::from(Words::plain())
}

/// The analyzer of the marked fields ([`is_marked`]): the same words, each value between two marks.
pub fn marked_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(Words::marked())
}

/// The longest prefix (in characters) a word has a [`short_prefix_term`] for.
pub const SHORT_PREFIX: usize = 2;

/// The `short` term of the words of `field` that start with `prefix` (one or two
/// characters, see [`SHORT_PREFIX`]): `{field id}\u{1}{prefix}`. The document builder and
/// the query both make it here.
pub fn short_prefix_term(out: &mut String, field: Field, prefix: &str) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "{}{SEP}{prefix}", field.field_id());
}

/// The tokens of `text` as the index sees them.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_owned()));
    out
}

/// Whether `text` has at least one token.
pub fn has_words(text: &str) -> bool {
    let mut any = false;
    for_each_word(text, |_| any = true);
    any
}

/// The normalized whole value for exact comparisons: its tokens joined by one space.
pub fn norm(text: &str) -> String {
    let mut out = String::new();
    norm_into(text, &mut out);
    out
}

/// Appends the normalized value of `text` to `out` (what [`norm`] returns), without a
/// string per token.
pub fn norm_into(text: &str, out: &mut String) {
    let mut first = true;
    for_each_word(text, |w| {
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(w);
    });
}

/// The key a custom field is indexed under (its normalized name).
pub fn custom_key(name: &str) -> String {
    norm(name)
}

/// Normalized values longer than this are indexed as `exact` terms by their hash, which
/// keeps long note and email bodies out of the term dictionary.
const EXACT_MAX: usize = 96;

/// The `exact` term text for `key` = `value` (`value` normalized). Both the documents and
/// the planner's `field = "…"` terms go through here. A hashed value starts with `#`, which
/// normalized text never contains.
pub fn exact_term(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + 1 + value.len().min(EXACT_MAX + 40));
    out.push_str(key);
    out.push(SEP);
    let at = out.len();
    out.push_str(value);
    hash_long_tail(&mut out, at);
    out
}

/// Sets `out` to the `exact` term of `key` = the normalized value of `raw` (the same text
/// as `exact_term(key, &norm(raw))`), reusing `out`'s allocation.
pub fn exact_term_of_raw(out: &mut String, key: &str, raw: &str) {
    out.clear();
    out.push_str(key);
    out.push(SEP);
    let at = out.len();
    norm_into(raw, out);
    hash_long_tail(out, at);
}

/// Replaces the value that starts at byte `at` of `out` by its hash when it is longer than
/// `EXACT_MAX`.
fn hash_long_tail(out: &mut String, at: usize) {
    use std::fmt::Write as _;
    let len = out.len() - at;
    if len <= EXACT_MAX {
        return;
    }
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for byte in out[at..].bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3 | 0x1_0000_0000_0000);
    }
    out.truncate(at);
    let _ = write!(out, "#{a:016x}{b:016x}{len:x}");
}

/// Just the digits of a phone number or phone query.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// An f64 as 16 hex digits whose text order is numeric order.
pub fn ordered_hex(value: f64) -> String {
    let value = if value == 0.0 { 0.0 } else { value };
    let bits = value.to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    format!("{key:016x}")
}

/// A stable 64-bit hash of a lead id (FNV-1a over its text), for `slice:`.
pub fn slice_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The `[lo, hi)` hash range of slice `index` of `count` (the last slice ends at `u64::MAX`
/// inclusive).
pub fn slice_range(index: u32, count: u32) -> (u64, Option<u64>) {
    let width = u64::MAX / u64::from(count.max(1));
    let lo = width * u64::from(index);
    let hi = (index + 1 < count).then(|| width * u64::from(index + 1));
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(
            tokens("Café MÜNCHEN, menlo-park"),
            ["cafe", "munchen", "menlo", "park"]
        );
        assert_eq!(norm("  Bad_Fit "), "bad fit");
    }

    #[test]
    fn list_positions_are_the_schema_ids() {
        let f = Fields::new();
        for name in TEXT_FIELDS.iter().chain(I64_FIELDS).chain(F64_FIELDS) {
            assert_eq!(Some(f.get(name)), f.schema.get_field(name).ok(), "{name}");
        }
        assert_eq!(f.get("exact"), f.exact);
        assert_eq!(f.get("kind"), f.kind);
    }

    #[test]
    fn exact_terms_from_raw_text_match_the_planner_s() {
        let long = "Word ".repeat(40) + "Café";
        let mut buf = String::from("left over");
        for raw in ["  Bad_Fit ", "", "a", long.as_str()] {
            exact_term_of_raw(&mut buf, "body", raw);
            assert_eq!(buf, exact_term("body", &norm(raw)), "{raw:?}");
        }
        assert!(exact_term("body", &norm(&long)).contains('#'));
        assert_eq!(norm("  Bad_Fit  x"), "bad fit x");
    }

    #[test]
    fn ordered_hex_orders_numbers() {
        let values = [-1e9, -2.5, 0.0, 1.0, 2.5, 1e12];
        let hex: Vec<String> = values.iter().map(|v| ordered_hex(*v)).collect();
        let mut sorted = hex.clone();
        sorted.sort();
        assert_eq!(hex, sorted);
    }

    #[test]
    fn slices_cover_everything() {
        assert_eq!(slice_range(0, 1), (0, None));
        let (lo, hi) = slice_range(1, 4);
        assert!(lo > 0 && hi.is_some());
    }
}
