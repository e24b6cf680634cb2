//! The planner's second pass: a [`Plan`]'s nodes become tantivy queries. Never touches the
//! store.
//!
//! Sub-queries are a block join: a lead's documents are always added in one indexing
//! operation (lead document first, then its children), so they are contiguous in one
//! segment, and merges keep that order. Per segment, the child query's matches are mapped
//! to the lead document that precedes them and collected into a list ([`ParentQuery`]).
//! Nested sub-queries (`contact(email(…))`) match the enclosing contact by the contact
//! position the child carries, within its block ([`LinkQuery`]).
//!
//! What never changes for a segment is computed once per segment and kept while it is
//! searched ([`SegmentCache`]): the documents of each kind (as a list and as bits, for the
//! `kind` condition and for finding a block's lead document), the documents with a value
//! in a numeric field, and a custom field's `custom_num` terms as `(document, value)`
//! pairs. Deleted documents are in them as they are in the postings; the collector skips
//! them.
//!
//! Shortcuts, each answering exactly what the general form answers: the `kind` term is
//! left out when the condition names a field only documents of that kind hold; `not` over
//! a count every lead holds is the complementary range (`not has:calls` is `calls < 1`);
//! a number's presence (`last_called:never`, `opened:yes`) comes from its fast field.
//! Without scores: numeric conditions ANDed with a kind are checked in batches against
//! the fast fields ([`FilterQuery`]; a field only that kind holds is scanned for the
//! candidates instead), a custom range reads the cached pairs, and a one-word prefix is
//! the prefix alone. When scores are needed, the plain tantivy form runs instead, so
//! relevance is unchanged. A prefix, alone or as a phrase's last word, matches every word
//! it starts, however many: a range of the term dictionary, or a phrase prefix whose limit
//! is the real count of those words ([`phrase`]).
//!
//! Files: this one turns plan nodes into queries; `join` holds the block-join queries,
//! `cache` the per-segment cache and its doc sets, `filter` the fast-field filters,
//! `phrase` the uncapped phrase prefix.

use std::collections::{HashMap, HashSet};
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use tantivy::columnar::column_index::{MultiValueIndex, OptionalIndex};
use tantivy::columnar::{Column, ColumnIndex, ColumnType, MonotonicallyMappableToU64};
use tantivy::index::SegmentId;
use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, BoostQuery, ConstScoreQuery, ConstScorer, EmptyQuery,
    EmptyScorer, EnableScoring, Explanation, InvertedIndexRangeQuery, Occur, PhraseQuery, Query,
    RangeQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    BitSet, DocId, DocSet, Score, Searcher, SearcherGeneration, SeekDangerResult, SegmentReader,
    TERMINATED, TantivyError, Term, Warmer,
};

use crate::document::child_text_fields;
use crate::plan::Node;
use crate::schema::{
    F64_FIELDS, Fields, I64_FIELDS, PHONE_FIELDS, SEP, SHORT_PREFIX, TEXT_FIELDS, exact_term,
    is_marked, ordered_hex, short_prefix_term,
};
use crate::words::MARK;

mod cache;
mod filter;
mod join;
mod phrase;

pub use cache::SegmentCache;
use cache::*;
use filter::*;
use join::*;

/// Builds queries over the index's fields.
pub struct Builder<'a> {
    pub f: &'a Fields,
    pub cache: &'a Arc<SegmentCache>,
}

type Q = Box<dyn Query>;

/// The activity fields that are part of a lead's free text (see [`Builder::lead_text`]):
/// notes' `title` and `body`, calls' `note`, emails' `subject` and `body`, meetings'
/// `title` and `note`. (A contact's `title` is in the lead's `all` anyway.)
const ACTIVITY_TEXT_FIELDS: &[&str] = &["body", "subject", "title", "note"];

/// Date fields only lead documents have (its counts, [`COUNTS`], are lead-only too).
const LEAD_DATES: &[&str] = &[
    "last_called",
    "last_emailed",
    "email_opened",
    "last_activity",
];

/// Fields (and `present`/`exact` keys) only documents of `kind` hold.
fn own_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "lead" => LEAD_DATES,
        "call" => &["duration", "disposition", "remote_phone", "local_phone"],
        "email" => &["opened", "subject", "from", "to"],
        "task" => &["text", "due_day", "done"],
        "opportunity" => &["value", "confidence", "period", "close_day"],
        "note" => &["pinned"],
        "meeting" => &["end"],
        _ => &[],
    }
}

/// Count fields every lead document holds (so "not in range" is "in the other range").
const COUNTS: &[&str] = &[
    "n_contacts",
    "n_calls",
    "n_emails",
    "n_notes",
    "n_tasks",
    "n_opportunities",
    "n_addresses",
    "n_activities",
];

/// For lead documents, `not node` as ranges over a count every lead document holds:
/// `not calls >= 1` is `calls < 1`. `None` when `node` is not such a range.
fn complement(kind: &str, node: &Node) -> Option<Node> {
    let Node::IRange { field, lo, hi } = node else {
        return None;
    };
    if kind != "lead" || !COUNTS.contains(field) {
        return None;
    }
    let flip = |b: &Bound<i64>| match b {
        Bound::Included(n) => Some(Bound::Excluded(*n)),
        Bound::Excluded(n) => Some(Bound::Included(*n)),
        Bound::Unbounded => None,
    };
    let mut parts = Vec::new();
    if let Some(b) = flip(lo) {
        parts.push(Node::IRange {
            field,
            lo: Bound::Unbounded,
            hi: b,
        });
    }
    if let Some(b) = flip(hi) {
        parts.push(Node::IRange {
            field,
            lo: b,
            hi: Bound::Unbounded,
        });
    }
    Some(match parts.len() {
        0 => Node::Nothing,
        1 => parts.remove(0),
        _ => Node::Or(parts),
    })
}

/// Whether every document `node` matches (for documents of `kind`) is a document of
/// `kind`: then the `kind` term would only slow the query down.
fn kind_only(kind: &str, node: &Node) -> bool {
    let own =
        |name: &str| own_fields(kind).contains(&name) || (kind == "lead" && COUNTS.contains(&name));
    match node {
        Node::IRange { field, .. } | Node::FRange { field, .. } => own(field),
        Node::Present(key) | Node::Exact { key, .. } => own(key),
        Node::Words { field, .. } => own(field),
        Node::Not(inner) => complement(kind, inner).is_some_and(|c| kind_only(kind, &c)),
        // For leads, one lead-only item suffices. Child kinds keep the kind term unless
        // every item is their own: a range over a field several kinds share (`date`) would
        // otherwise lead the intersection over every activity.
        Node::And(items) if kind == "lead" => items.iter().any(|i| kind_only(kind, i)),
        Node::And(items) => !items.is_empty() && items.iter().all(|i| kind_only(kind, i)),
        Node::Or(items) => !items.is_empty() && items.iter().all(|i| kind_only(kind, i)),
        // A lead's sub-query matches lead documents only; a linked one, documents of the
        // enclosing kind only.
        Node::Sub {
            contact_link: false,
            ..
        } => kind == "lead",
        Node::Sub {
            contact_link: true, ..
        } => true,
        _ => false,
    }
}

/// Whether `name` is a text field of the schema (not a label, which has only `exact` terms).
fn is_text(name: &str) -> bool {
    crate::schema::list_position(name).is_some_and(|p| (p as usize) < TEXT_FIELDS.len())
}

/// Whether `name` is a numeric (fast-field-only) field.
fn is_number(name: &str) -> bool {
    I64_FIELDS.contains(&name) || F64_FIELDS.contains(&name)
}

fn term_query(term: Term) -> Q {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

/// Every word of `term`'s field that starts with `term`'s text, however many: the range
/// `[prefix, next)` of the term dictionary, where `next` is the smallest byte string above
/// every string with that prefix. The matches are gathered into one bit set per segment
/// (each word's postings read once, without frequencies), with a constant score.
fn prefix_query(term: &Term) -> Q {
    let field = term.field();
    let mut end = term.serialized_value_bytes().to_vec();
    while end.last() == Some(&u8::MAX) {
        end.pop();
    }
    let upper = match end.last_mut() {
        Some(last) => {
            *last += 1;
            // Only the bytes count for the range (not the term's type).
            Bound::Excluded(Term::from_field_bytes(field, &end))
        }
        None => Bound::Unbounded,
    };
    Box::new(InvertedIndexRangeQuery::new(
        Bound::Included(term.clone()),
        upper,
    ))
}

/// A term matched without scoring (no term frequencies decoded).
fn filter_query(term: Term) -> Q {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

impl Builder<'_> {
    /// The query for documents of `kind` matching `node`.
    pub fn root(&self, kind: &str, node: &Node) -> tantivy::Result<Q> {
        let items = match node {
            Node::And(items) => items.as_slice(),
            other => std::slice::from_ref(other),
        };
        let (checks, rest): (Vec<&Node>, Vec<&Node>) =
            items.iter().partition(|i| Check::of(kind, i).is_some());
        if checks.is_empty() {
            return self.plain_root(kind, node);
        }
        let rest: Vec<Node> = rest.into_iter().cloned().collect();
        Ok(Box::new(FilterQuery {
            kind: self.kind_set(kind),
            rest: match rest.is_empty() {
                true => None,
                false => {
                    let mut clauses = self.clauses(kind, &rest)?;
                    clauses.push((Occur::Must, self.kind_query(kind)));
                    Some(Box::new(BooleanQuery::new(clauses)))
                }
            },
            own: checks.iter().position(|c| kind_only(kind, c)),
            checks: checks.iter().filter_map(|c| Check::of(kind, c)).collect(),
            fallback: self.plain_root(kind, node)?,
        }))
    }

    /// [`Builder::root`] as tantivy queries only.
    fn plain_root(&self, kind: &str, node: &Node) -> tantivy::Result<Q> {
        Ok(match node {
            Node::All => self.kind_query(kind),
            // Only documents of `kind` hold these fields: the kind term would only slow it.
            _ if kind_only(kind, node) => self.node(kind, node)?,
            // The kind term is the positive clause the exclusions apply to.
            Node::Not(_) | Node::And(_) => {
                let items = match node {
                    Node::And(items) => items.as_slice(),
                    other => std::slice::from_ref(other),
                };
                let mut clauses = self.clauses(kind, items)?;
                clauses.push((Occur::Must, self.kind_query(kind)));
                Box::new(BooleanQuery::new(clauses))
            }
            _ => Box::new(BooleanQuery::new(vec![
                (Occur::Must, self.kind_query(kind)),
                (Occur::Must, self.node(kind, node)?),
            ])),
        })
    }

    /// The clauses of `items` ANDed (`not` items as exclusions).
    fn clauses(&self, kind: &str, items: &[Node]) -> tantivy::Result<Vec<(Occur, Q)>> {
        let mut clauses = Vec::new();
        for item in items {
            match item {
                Node::Not(inner) => match complement(kind, inner) {
                    Some(c) => clauses.push((Occur::Must, self.node(kind, &c)?)),
                    None => clauses.push((Occur::MustNot, materialized(self.node(kind, inner)?))),
                },
                Node::All => {}
                other => clauses.push((Occur::Must, self.node(kind, other)?)),
            }
        }
        Ok(clauses)
    }

    fn kind_query(&self, kind: &str) -> Q {
        Box::new(self.kind_set(kind))
    }

    fn kind_set(&self, kind: &str) -> KindQuery {
        KindQuery {
            field: self.f.kind,
            kind: kind.to_owned(),
            cache: self.cache.clone(),
        }
    }

    /// `node` for documents of `kind`.
    fn node(&self, kind: &str, node: &Node) -> tantivy::Result<Q> {
        Ok(match node {
            Node::All => Box::new(AllQuery),
            Node::Nothing => Box::new(EmptyQuery),
            Node::And(items) => {
                let mut clauses = self.clauses(kind, items)?;
                if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Or(items) => {
                if items.is_empty() {
                    return Ok(Box::new(EmptyQuery));
                }
                let clauses = items
                    .iter()
                    .map(|i| Ok((Occur::Should, self.node(kind, i)?)))
                    .collect::<tantivy::Result<Vec<_>>>()?;
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Not(inner) if complement(kind, inner).is_some() => {
                let c = complement(kind, inner).unwrap_or(Node::Nothing);
                self.node(kind, &c)?
            }
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, materialized(self.node(kind, inner)?)),
            ])),
            Node::Words {
                field,
                tokens,
                prefix,
            } => match (field.as_str(), child_text_fields(kind)) {
                ("all", None) if kind == "lead" => self.lead_text(tokens, *prefix),
                // Children without an `all` field: the words in any of their text fields
                // (values never form a phrase across each other, in `all` or not).
                ("all", Some(fields)) => Box::new(BooleanQuery::new(
                    fields
                        .iter()
                        .map(|name| {
                            let q = self.words(self.f.get(name), tokens.clone(), *prefix);
                            (Occur::Should, q)
                        })
                        .collect(),
                )),
                _ => self.words(self.f.get(field), tokens.clone(), *prefix),
            },
            Node::CustomWords {
                key,
                tokens,
                prefix,
            } => {
                let keyed = tokens.iter().map(|t| format!("{key}{SEP}{t}")).collect();
                self.words(self.f.get("custom"), keyed, *prefix)
            }
            Node::Exact { key, value } => self.exact(key, value),
            // Numbers have no `present` term: their fast field says whether they exist.
            Node::Present(key) if is_number(key) => Box::new(HasValueQuery(key.clone())),
            // Marked fields: every value has tokens (its marks), so the norms say it.
            Node::Present(key) if is_marked(key) => Box::new(NormQuery {
                field: self.f.get(key),
                name: key.clone(),
                cache: self.cache.clone(),
            }),
            // Other text fields: words in the field (its norms), or a value without words.
            Node::Present(key) if is_text(key) => Box::new(BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(NormQuery {
                        field: self.f.get(key),
                        name: key.clone(),
                        cache: self.cache.clone(),
                    }) as Q,
                ),
                (
                    Occur::Should,
                    filter_query(Term::from_field_text(self.f.present, key)),
                ),
            ])),
            // Custom fields have `present` terms.
            Node::Present(key) if key.starts_with("custom.") => {
                filter_query(Term::from_field_text(self.f.present, key))
            }
            // Labels: any of the field's exact values.
            Node::Present(key) => {
                let t = |end: char| Term::from_field_text(self.f.exact, &format!("{key}{end}"));
                Box::new(RangeQuery::new(
                    Bound::Included(t(SEP)),
                    Bound::Excluded(t(char::from_u32(SEP as u32 + 1).unwrap_or(SEP))),
                ))
            }
            Node::IRange { field, lo, hi } => {
                let field = self.f.get(field);
                let t = |n: &i64| Term::from_field_i64(field, *n);
                Box::new(RangeQuery::new(lo.as_ref().map(t), hi.as_ref().map(t)))
            }
            Node::FRange { field, lo, hi } => {
                let field = self.f.get(field);
                let t = |n: &f64| Term::from_field_f64(field, *n);
                Box::new(RangeQuery::new(lo.as_ref().map(t), hi.as_ref().map(t)))
            }
            Node::CustomRange { key, tag, lo, hi } => Box::new(CustomRangeQuery {
                field: self.f.custom_num,
                prefix: format!("{key}{SEP}{tag}"),
                lo: lo.as_ref().map(ordered_key),
                hi: hi.as_ref().map(ordered_key),
                cache: self.cache.clone(),
                fallback: self.custom_range(key, *tag, lo, hi),
            }),
            Node::Slice { lo, hi } => {
                let t = |n: u64| Term::from_field_u64(self.f.slice, n);
                Box::new(RangeQuery::new(
                    Bound::Included(t(*lo)),
                    hi.map_or(Bound::Unbounded, |h| Bound::Excluded(t(h))),
                ))
            }
            Node::Sub {
                object,
                inner,
                contact_link,
            } => {
                let child = self.root(object.name(), inner)?;
                let leads = self.kind_set("lead");
                match contact_link {
                    false => Box::new(ParentQuery { child, leads }),
                    true => Box::new(LinkQuery {
                        child,
                        leads,
                        kind: self.kind_set(kind),
                    }),
                }
            }
        })
    }

    /// Free text of a lead: the words in its `all` field (its own and its contacts'
    /// values), or in a text field of one of its notes, calls, emails or meetings (not of
    /// its tasks or opportunities), found through the block join. Activity text is indexed
    /// once, on the activity's document. A match in `all` scores; one through the join adds
    /// a constant.
    fn lead_text(&self, tokens: &[String], prefix: bool) -> Q {
        let any = ACTIVITY_TEXT_FIELDS
            .iter()
            .map(|name| {
                let q = self.words(self.f.get(name), tokens.to_vec(), prefix);
                (Occur::Should, q)
            })
            .collect();
        let child = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(any)) as Q),
            // `note` is also an opportunity's note, which is not the lead's free text.
            (Occur::MustNot, self.kind_query("opportunity")),
        ]);
        let join: Q = Box::new(ParentQuery {
            child: Box::new(child),
            leads: self.kind_set("lead"),
        });
        let own = self.words(self.f.all, tokens.to_vec(), prefix);
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, own),
            (Occur::Should, join),
        ]))
    }

    /// A custom number or date range as a range of `custom_num` terms.
    fn custom_range(&self, key: &str, tag: char, lo: &Bound<f64>, hi: &Bound<f64>) -> Q {
        let field = self.f.custom_num;
        let t =
            |n: &f64| Term::from_field_text(field, &format!("{key}{SEP}{tag}{}", ordered_hex(*n)));
        let lo = match lo {
            Bound::Unbounded => {
                Bound::Included(Term::from_field_text(field, &format!("{key}{SEP}{tag}")))
            }
            b => b.as_ref().map(t),
        };
        let hi = match hi {
            Bound::Unbounded => {
                let next = char::from_u32(tag as u32 + 1).unwrap_or('~');
                Bound::Excluded(Term::from_field_text(field, &format!("{key}{SEP}{next}")))
            }
            b => b.as_ref().map(t),
        };
        Box::new(RangeQuery::new(lo, hi))
    }

    /// `key` equals the normalized `value`: on a marked field the phrase of its words
    /// between marks (the whole of one value), on a phone field its digit word, else the
    /// `exact` term.
    fn exact(&self, key: &str, value: &str) -> Q {
        if is_marked(key) {
            let field = self.f.get(key);
            let mark = || Term::from_field_text(field, MARK);
            let mut terms = vec![mark()];
            terms.extend(
                value
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(|w| Term::from_field_text(field, w)),
            );
            terms.push(mark());
            return Box::new(PhraseQuery::new(terms));
        }
        if PHONE_FIELDS.contains(&key) {
            return term_query(Term::from_field_text(self.f.get(key), value));
        }
        term_query(Term::from_field_text(self.f.exact, &exact_term(key, value)))
    }

    /// Words in order; with `prefix`, the last one matches as a prefix (and an exact match
    /// of it scores higher).
    fn words(&self, field: Field, tokens: Vec<String>, prefix: bool) -> Q {
        let terms: Vec<Term> = tokens
            .iter()
            .map(|t| Term::from_field_text(field, t))
            .collect();
        match (terms.len(), prefix) {
            (0, _) => Box::new(AllQuery),
            (1, false) => term_query(terms[0].clone()),
            (_, false) => Box::new(PhraseQuery::new(terms)),
            (1, true) => {
                let exact: Q = Box::new(BoostQuery::new(term_query(terms[0].clone()), 2.0));
                let prefix = if tokens[0].chars().count() <= SHORT_PREFIX {
                    // One posting list (scored like the range: a constant 1).
                    let mut text = String::new();
                    short_prefix_term(&mut text, field, &tokens[0]);
                    Box::new(ConstScoreQuery::new(
                        filter_query(Term::from_field_text(self.f.short, &text)),
                        1.0,
                    ))
                } else {
                    prefix_query(&terms[0])
                };
                // The word itself is one of the words it is a prefix of: without scores,
                // the prefix alone matches the same documents.
                Box::new(Scored {
                    scored: Box::new(BooleanQuery::new(vec![
                        (Occur::Should, exact),
                        (Occur::Should, prefix.box_clone()),
                    ])),
                    unscored: prefix,
                })
            }
            (_, true) => phrase::phrase_prefix(terms),
        }
    }
}
