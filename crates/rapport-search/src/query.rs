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
//! relevance is unchanged.

use std::collections::{HashMap, HashSet};
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use tantivy::columnar::column_index::{MultiValueIndex, OptionalIndex};
use tantivy::columnar::{Column, ColumnIndex, ColumnType, MonotonicallyMappableToU64};
use tantivy::index::SegmentId;
use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, BoostQuery, ConstScorer, EmptyQuery, EmptyScorer,
    EnableScoring, Explanation, Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    BitSet, DocId, DocSet, Score, Searcher, SearcherGeneration, SeekDangerResult, SegmentReader,
    TERMINATED, TantivyError, Term, Warmer,
};

use crate::document::child_text_fields;
use crate::plan::Node;
use crate::schema::{F64_FIELDS, Fields, I64_FIELDS, SEP, exact_term, ordered_hex};

/// Builds queries over the index's fields.
pub struct Builder<'a> {
    pub f: &'a Fields,
    pub cache: &'a Arc<SegmentCache>,
}

type Q = Box<dyn Query>;

/// How many words a phrase's last (prefix) word may expand to, per segment. tantivy
/// allocates this up front, so it stays bounded; single words have no limit.
const MAX_EXPANSIONS: u32 = 2_000;

/// i64 fields only lead documents have.
const LEAD_ONLY: &[&str] = &[
    "n_contacts",
    "n_calls",
    "n_emails",
    "n_notes",
    "n_tasks",
    "n_opportunities",
    "n_addresses",
    "n_activities",
    "last_called",
    "last_emailed",
    "email_opened",
    "last_activity",
];

/// Fields (and `present`/`exact` keys) only documents of `kind` hold.
fn own_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "lead" => LEAD_ONLY,
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
    let own = |name: &str| own_fields(kind).contains(&name);
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

/// Whether `name` is a numeric (fast-field-only) field.
fn is_number(name: &str) -> bool {
    I64_FIELDS.contains(&name) || F64_FIELDS.contains(&name)
}

fn term_query(term: Term) -> Q {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
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
            Node::Exact { key, value } => {
                term_query(Term::from_field_text(self.f.exact, &exact_term(key, value)))
            }
            // Numbers have no `present` term: their fast field says whether they exist.
            Node::Present(key) if is_number(key) => Box::new(HasValueQuery(key.clone())),
            Node::Present(key) => filter_query(Term::from_field_text(self.f.present, key)),
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
                let prefix: Q = Box::new(PhrasePrefixQuery::new(terms));
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
            (_, true) => {
                let mut q = PhrasePrefixQuery::new(terms);
                q.set_max_expansions(MAX_EXPANSIONS);
                Box::new(q)
            }
        }
    }
}

/// `query`, with its matches collected into a bit set per segment. Excluded (`not`) clauses
/// go through this: tantivy 0.27's phrase scorers trip a debug assertion when used as an
/// exclusion set after they are exhausted.
fn materialized(query: Q) -> Q {
    Box::new(Materialized(query))
}

#[derive(Debug)]
struct Materialized(Q);

impl Clone for Materialized {
    fn clone(&self) -> Self {
        Materialized(self.0.box_clone())
    }
}

impl Query for Materialized {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(MaterializedWeight(self.0.weight(scoring)?)))
    }
}

struct MaterializedWeight(Box<dyn Weight>);

impl Weight for MaterializedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut bits = BitSet::with_max_value(reader.max_doc());
        let mut scorer = self.0.scorer(reader, boost)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            bits.insert(doc);
            doc = scorer.advance();
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(bits), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// Documents with a value in the numeric fast field named `.0`, collected from the column's
/// index of non-empty rows (no per-document probing).
#[derive(Debug, Clone)]
struct HasValueQuery(String);

impl Query for HasValueQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(HasValueWeight(self.0.clone())))
    }
}

struct HasValueWeight(String);

impl Weight for HasValueWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let max = reader.max_doc();
        let mut bits = BitSet::with_max_value(max);
        for handle in reader.fast_fields().dynamic_column_handles(&self.0)? {
            let mut insert = |doc: DocId| {
                bits.insert(doc);
            };
            match handle.open()?.into_column_index() {
                ColumnIndex::Empty { .. } => {}
                ColumnIndex::Full => (0..max).for_each(&mut insert),
                ColumnIndex::Optional(idx) => idx.iter_non_null_docs().for_each(&mut insert),
                ColumnIndex::Multivalued(idx) => idx.iter_non_null_docs().for_each(&mut insert),
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(bits), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "has a value")
    }
}

fn scoring_off<'b>(scoring: &'b EnableScoring<'_>) -> EnableScoring<'b> {
    match scoring.searcher() {
        Some(searcher) => EnableScoring::disabled_from_searcher(searcher),
        None => EnableScoring::disabled_from_schema(scoring.schema()),
    }
}

/// Lead documents with at least one child document matching `child`: each match maps to
/// the last lead document at or before it (its block's head).
#[derive(Debug)]
struct ParentQuery {
    child: Q,
    /// The lead documents.
    leads: KindQuery,
}

impl Clone for ParentQuery {
    fn clone(&self) -> Self {
        ParentQuery {
            child: self.child.box_clone(),
            leads: self.leads.clone(),
        }
    }
}

impl Query for ParentQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ParentWeight {
            child: self.child.weight(scoring_off(&scoring))?,
            leads: self.leads.clone(),
        }))
    }
}

struct ParentWeight {
    child: Box<dyn Weight>,
    leads: KindQuery,
}

impl KindQuery {
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Arc<KindDocs>> {
        self.cache.kind(reader, self.field, &self.kind)
    }
}

impl Weight for ParentWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut child = self.child.scorer(reader, 1.0)?;
        let mut doc = child.doc();
        if doc == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        let leads = self.leads.docs(reader)?;
        let leads = &leads.bits;
        let mut found = Vec::new();
        if let Some(children) = child.downcast_ref::<Docs>() {
            // A list: each child's head, once.
            for &doc in children.rest() {
                if let Some(head) = leads.at_or_before(doc)
                    && found.last() != Some(&head)
                {
                    found.push(head);
                }
            }
            return Ok(Docs::new(Arc::new(found), boost));
        }
        while doc != TERMINATED {
            let next = leads.after(doc);
            if let Some(head) = leads.at_or_before(doc) {
                found.push(head);
            }
            if next == TERMINATED {
                break;
            }
            // Children are stepped through rather than sought past the block's end: a
            // fast-field range (a possible child query) restarts its scan on every seek.
            doc = child.advance();
            while doc < next {
                doc = child.advance();
            }
        }
        Ok(Docs::new(Arc::new(found), boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "lead with a matching child")
    }
}

/// Contact documents linked to a child document matching `child`: the child's
/// `contact_pos` says which of its block's contact documents (they follow the lead
/// document) it belongs to. Only documents of the enclosing query's kind are kept.
#[derive(Debug)]
struct LinkQuery {
    child: Q,
    /// The lead documents.
    leads: KindQuery,
    /// The enclosing query's kind.
    kind: KindQuery,
}

impl Clone for LinkQuery {
    fn clone(&self) -> Self {
        LinkQuery {
            child: self.child.box_clone(),
            leads: self.leads.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl Query for LinkQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(LinkWeight {
            child: self.child.weight(scoring_off(&scoring))?,
            leads: self.leads.clone(),
            kind: self.kind.clone(),
        }))
    }
}

struct LinkWeight {
    child: Box<dyn Weight>,
    leads: KindQuery,
    kind: KindQuery,
}

impl Weight for LinkWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut child = self.child.scorer(reader, 1.0)?;
        if child.doc() == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        let Some(pos) = reader.fast_fields().column_opt::<u64>("contact_pos")? else {
            return Ok(Box::new(EmptyScorer));
        };
        let collected;
        let children = match child.downcast_ref::<Docs>() {
            Some(docs) => docs.rest(),
            None => {
                let mut all = Vec::new();
                let mut doc = child.doc();
                while doc != TERMINATED {
                    all.push(doc);
                    doc = child.advance();
                }
                collected = all;
                &collected
            }
        };
        let leads = self.leads.docs(reader)?;
        let kind = self.kind.docs(reader)?;
        let max = reader.max_doc();
        let mut targets = Bits::new(max);
        let (mut docs, mut rows, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for batch in children.chunks(BATCH) {
            // The batch's positions, read together.
            docs.clear();
            rows.clear();
            pos.index.docids_to_rowids(batch, &mut docs, &mut rows);
            vals.clear();
            vals.resize(rows.len(), 0);
            pos.values.get_vals(&rows, &mut vals);
            let mut last = TERMINATED;
            for (d, k) in docs.iter().zip(&vals) {
                // The first value of each document, as `Column::first`.
                if *d == last {
                    continue;
                }
                last = *d;
                if let Some(head) = leads.bits.at_or_before(*d) {
                    let target = u64::from(head) + 1 + k;
                    if target < u64::from(max) && kind.bits.contains(target as DocId) {
                        targets.insert(target as DocId);
                    }
                }
            }
        }
        Ok(Docs::new(Arc::new(targets.docs()), boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "linked to a matching child")
    }
}

fn explain_set(
    mut scorer: Box<dyn Scorer>,
    doc: DocId,
    what: &'static str,
) -> tantivy::Result<Explanation> {
    if scorer.seek(doc) == doc {
        Ok(Explanation::new(what, scorer.score()))
    } else {
        Err(TantivyError::InvalidArgument(format!(
            "document {doc} does not match"
        )))
    }
}

/// Per-segment document lists that never change for a segment (its documents are
/// immutable; deletions only hide them): the documents of each `kind`. Computed once per
/// segment and kind from the `kind` postings (deleted documents included, as in the
/// postings) and kept while the segment is searched. As the reader's [`Warmer`], it fills
/// itself for new segments when the reader reloads (off the query path) and forgets
/// segments no searcher uses any more.
#[derive(Debug)]
pub struct SegmentCache {
    kind_field: Field,
    custom_num: Field,
    /// The segments warmed already.
    warmed: Mutex<HashSet<SegmentId>>,
    kinds: PerSegment<KindDocs>,
    /// Per numeric field: the documents with a value.
    present: PerSegment<Vec<DocId>>,
    /// Per custom field and tag (`{key}\u{1}{tag}`): the field's `custom_num` terms
    /// turned back into `(document, value)` pairs, by document.
    customs: PerSegment<Vec<(DocId, u64)>>,
}

/// Values kept per segment and name.
type PerSegment<T> = Mutex<HashMap<(SegmentId, String), Arc<T>>>;

/// The documents of one kind in one segment: ascending, and as a bit set.
#[derive(Debug)]
struct KindDocs {
    docs: Arc<Vec<DocId>>,
    bits: Bits,
}

/// A set of documents as bits, with neighbour lookups.
#[derive(Debug)]
struct Bits {
    words: Vec<u64>,
}

impl Bits {
    fn new(max_doc: DocId) -> Bits {
        Bits {
            words: vec![0; (max_doc as usize).div_ceil(64)],
        }
    }

    fn insert(&mut self, doc: DocId) {
        if let Some(w) = self.words.get_mut(doc as usize / 64) {
            *w |= 1 << (doc % 64);
        }
    }

    fn contains(&self, doc: DocId) -> bool {
        self.words
            .get(doc as usize / 64)
            .is_some_and(|w| w >> (doc % 64) & 1 == 1)
    }

    /// The last member at or before `doc`.
    fn at_or_before(&self, doc: DocId) -> Option<DocId> {
        let mut b = doc as usize / 64;
        let mut w = self.words.get(b)? & (u64::MAX >> (63 - doc % 64));
        loop {
            if w != 0 {
                return Some((b * 64) as DocId + 63 - w.leading_zeros());
            }
            b = b.checked_sub(1)?;
            w = self.words[b];
        }
    }

    /// The first member after `doc`, or `TERMINATED`.
    fn after(&self, doc: DocId) -> DocId {
        let from = doc as usize + 1;
        let mut b = from / 64;
        let Some(first) = self.words.get(b) else {
            return TERMINATED;
        };
        let mut w = first & (u64::MAX << (from % 64));
        loop {
            if w != 0 {
                return (b * 64) as DocId + w.trailing_zeros();
            }
            b += 1;
            match self.words.get(b) {
                Some(next) => w = *next,
                None => return TERMINATED,
            }
        }
    }

    /// The members, ascending.
    fn docs(&self) -> Vec<DocId> {
        let mut out = Vec::new();
        for (b, word) in self.words.iter().enumerate() {
            let mut w = *word;
            while w != 0 {
                out.push((b * 64) as DocId + w.trailing_zeros());
                w &= w - 1;
            }
        }
        out
    }
}

impl Warmer for SegmentCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        // A failure here is not the reload's: the query that needs the value computes it
        // again and reports the error.
        for reader in searcher.segment_readers() {
            let fresh = self
                .warmed
                .lock()
                .is_ok_and(|mut w| w.insert(reader.segment_id()));
            if fresh {
                let _ = self.warm_segment(reader);
            }
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: Vec<SegmentId> = live_generations
            .iter()
            .flat_map(|g| g.segments().keys().copied())
            .collect();
        self.retain(&live);
    }
}

impl SegmentCache {
    pub fn new(f: &Fields) -> SegmentCache {
        SegmentCache {
            kind_field: f.kind,
            custom_num: f.custom_num,
            warmed: Mutex::default(),
            kinds: Mutex::default(),
            present: Mutex::default(),
            customs: Mutex::default(),
        }
    }

    /// Computes the documents of every kind, the documents with a value in multi-valued
    /// numeric fields, and every custom field's values for one segment.
    fn warm_segment(&self, reader: &SegmentReader) -> tantivy::Result<()> {
        let mut kinds = Vec::new();
        let inverted = reader.inverted_index(self.kind_field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            kinds.push(String::from_utf8_lossy(terms.key()).into_owned());
        }
        for kind in kinds {
            self.kind(reader, self.kind_field, &kind)?;
        }
        // The documents with a value, for fields with several values per document (finding
        // them is slowest there); other fields' are kept once a query needed them.
        for field in I64_FIELDS.iter().chain(F64_FIELDS) {
            let check = Check::Has {
                field: (*field).to_owned(),
                present: true,
            };
            let col = check.column(reader)?;
            if let Some(ColumnIndex::Multivalued(_)) = col.as_ref().map(|c| &c.index) {
                self.present(reader, field, || {
                    check.scan(col.as_ref(), reader.max_doc(), None)
                });
            }
        }
        // Every `custom_num` term is a key, a tag and 16 hex digits.
        let mut prefixes: Vec<String> = Vec::new();
        let inverted = reader.inverted_index(self.custom_num)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            let key = terms.key();
            let Some(prefix) = key
                .len()
                .checked_sub(16)
                .and_then(|n| std::str::from_utf8(&key[..n]).ok())
            else {
                continue;
            };
            if prefixes.last().is_none_or(|p| p != prefix) {
                prefixes.push(prefix.to_owned());
            }
        }
        for prefix in prefixes {
            self.custom(reader, self.custom_num, &prefix)?;
        }
        Ok(())
    }

    /// Forgets segments other than `live` (merged away or deleted).
    pub fn retain(&self, live: &[SegmentId]) {
        if let Ok(mut warmed) = self.warmed.lock() {
            warmed.retain(|id| live.contains(id));
        }
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.retain(|(id, _), _| live.contains(id));
        }
        if let Ok(mut customs) = self.customs.lock() {
            customs.retain(|(id, _), _| live.contains(id));
        }
        if let Ok(mut present) = self.present.lock() {
            present.retain(|(id, _), _| live.contains(id));
        }
    }

    /// The documents of `reader`'s segment with a value in numeric field `field`, as
    /// `compute` finds them.
    fn present(
        &self,
        reader: &SegmentReader,
        field: &str,
        compute: impl FnOnce() -> Vec<DocId>,
    ) -> Arc<Vec<DocId>> {
        let key = (reader.segment_id(), field.to_owned());
        if let Some(hit) = self.present.lock().ok().and_then(|p| p.get(&key).cloned()) {
            return hit;
        }
        let docs = Arc::new(compute());
        if let Ok(mut present) = self.present.lock() {
            present.insert(key, docs.clone());
        }
        docs
    }

    /// Every `custom_num` term of `reader`'s segment starting with `prefix` (a key and a
    /// tag, followed by 16 hex digits in every term) as `(document, value)`, by document.
    fn custom(
        &self,
        reader: &SegmentReader,
        field: Field,
        prefix: &str,
    ) -> tantivy::Result<Arc<Vec<(DocId, u64)>>> {
        let key = (reader.segment_id(), prefix.to_owned());
        if let Some(hit) = self.customs.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        let inverted = reader.inverted_index(field)?;
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let mut terms = inverted.terms().range().ge(prefix).lt(&end).into_stream()?;
        let mut pairs = Vec::new();
        while terms.advance() {
            let hex = std::str::from_utf8(&terms.key()[prefix.len()..]).unwrap_or_default();
            let Ok(value) = u64::from_str_radix(hex, 16) else {
                continue;
            };
            let mut postings =
                inverted.read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                pairs.push((doc, value));
                doc = postings.advance();
            }
        }
        pairs.sort_unstable();
        let pairs = Arc::new(pairs);
        if let Ok(mut customs) = self.customs.lock() {
            customs.insert(key, pairs.clone());
        }
        Ok(pairs)
    }

    /// The documents of `kind` in `reader`'s segment.
    fn kind(
        &self,
        reader: &SegmentReader,
        field: Field,
        kind: &str,
    ) -> tantivy::Result<Arc<KindDocs>> {
        let key = (reader.segment_id(), kind.to_owned());
        if let Some(hit) = self.kinds.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(hit);
        }
        let term = Term::from_field_text(field, kind);
        let mut docs = Vec::new();
        let mut bits = Bits::new(reader.max_doc());
        if let Some(mut postings) = reader
            .inverted_index(field)?
            .read_postings(&term, IndexRecordOption::Basic)?
        {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                docs.push(doc);
                bits.insert(doc);
                doc = postings.advance();
            }
        }
        let set = Arc::new(KindDocs {
            docs: Arc::new(docs),
            bits,
        });
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.insert(key, set.clone());
        }
        Ok(set)
    }
}

/// A scorer over an ascending list of documents, with a constant score. Sub-queries read
/// the list directly when their child query yields one.
struct Docs {
    docs: Arc<Vec<DocId>>,
    pos: usize,
    score: Score,
    /// The same documents as bits, when at hand: membership tests for intersections.
    set: Option<Arc<KindDocs>>,
    /// The document a membership test found, until `pos` is moved to it.
    found: Option<DocId>,
}

impl Docs {
    fn new(docs: Arc<Vec<DocId>>, score: Score) -> Box<Docs> {
        Box::new(Docs {
            docs,
            pos: 0,
            score,
            set: None,
            found: None,
        })
    }

    fn of_kind(set: Arc<KindDocs>, score: Score) -> Box<Docs> {
        Box::new(Docs {
            docs: set.docs.clone(),
            pos: 0,
            score,
            set: Some(set),
            found: None,
        })
    }

    /// The documents not yet visited.
    fn rest(&self) -> &[DocId] {
        let pos = match self.found {
            Some(doc) => gallop(&self.docs, self.pos, doc),
            None => self.pos,
        };
        &self.docs[pos.min(self.docs.len())..]
    }

    /// Moves `pos` to the document a membership test found.
    fn settle(&mut self) {
        if let Some(doc) = self.found.take() {
            self.pos = gallop(&self.docs, self.pos, doc);
        }
    }
}

impl DocSet for Docs {
    fn advance(&mut self) -> DocId {
        self.settle();
        self.pos += 1;
        self.doc()
    }

    fn doc(&self) -> DocId {
        match self.found {
            Some(doc) => doc,
            None => self.docs.get(self.pos).copied().unwrap_or(TERMINATED),
        }
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.settle();
        self.pos = gallop(&self.docs, self.pos, target);
        self.doc()
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if target >= TERMINATED {
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        }
        let Some(set) = &self.set else {
            return match self.seek(target.max(self.doc())) {
                doc if doc == target => SeekDangerResult::Found,
                doc => SeekDangerResult::SeekLowerBound(doc),
            };
        };
        // `pos` stays behind (never past `target`): it moves on the next step.
        if set.bits.contains(target) {
            self.found = Some(target);
            SeekDangerResult::Found
        } else {
            self.found = None;
            SeekDangerResult::SeekLowerBound(set.bits.after(target))
        }
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.pos.min(self.docs.len())) as u32
    }
}

impl Scorer for Docs {
    fn score(&mut self) -> Score {
        self.score
    }
}

/// The first position at or after `from` whose document is `>= target` (`docs` ascending).
fn gallop(docs: &[DocId], from: usize, target: DocId) -> usize {
    let rest = &docs[from.min(docs.len())..];
    let mut hi = 1;
    while hi < rest.len() && rest[hi - 1] < target {
        hi *= 2;
    }
    let hi = hi.min(rest.len());
    let lo = hi / 2;
    from + lo + rest[lo..hi].partition_point(|d| *d < target)
}

/// The documents of one kind; when scoring, the `kind` term (whose score it adds).
#[derive(Debug, Clone)]
struct KindQuery {
    field: Field,
    kind: String,
    cache: Arc<SegmentCache>,
}

impl Query for KindQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        if scoring.is_scoring_enabled() {
            return filter_query(Term::from_field_text(self.field, &self.kind)).weight(scoring);
        }
        Ok(Box::new(self.clone()))
    }
}

impl Weight for KindQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let set = self.cache.kind(reader, self.field, &self.kind)?;
        Ok(Docs::of_kind(set, boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "of this kind")
    }
}

/// A condition on a numeric fast field, checked per document.
#[derive(Debug, Clone)]
enum Check {
    /// Some value in range (bounds as the column's u64 encoding, which keeps the order).
    Range {
        field: &'static str,
        float: bool,
        lo: Bound<u64>,
        hi: Bound<u64>,
    },
    /// Has a value (`present`) or none.
    Has { field: String, present: bool },
}

impl Check {
    /// The check `node` is for documents of `kind`, if it is one.
    fn of(kind: &str, node: &Node) -> Option<Check> {
        match node {
            Node::IRange { field, lo, hi } => Some(Check::Range {
                field,
                float: false,
                lo: lo.map(MonotonicallyMappableToU64::to_u64),
                hi: hi.map(MonotonicallyMappableToU64::to_u64),
            }),
            Node::FRange { field, lo, hi } => Some(Check::Range {
                field,
                float: true,
                lo: lo.map(MonotonicallyMappableToU64::to_u64),
                hi: hi.map(MonotonicallyMappableToU64::to_u64),
            }),
            Node::Present(key) if is_number(key) => Some(Check::Has {
                field: key.clone(),
                present: true,
            }),
            Node::Not(inner) => match complement(kind, inner) {
                Some(c) => Check::of(kind, &c),
                None => match &**inner {
                    Node::Present(key) if is_number(key) => Some(Check::Has {
                        field: key.clone(),
                        present: false,
                    }),
                    _ => None,
                },
            },
            _ => None,
        }
    }

    fn field(&self) -> &str {
        match self {
            Check::Range { field, .. } => field,
            Check::Has { field, .. } => field,
        }
    }

    /// The field's column as its u64 encoding (which keeps the order), `None` when no
    /// document of the segment has a value.
    fn column(&self, reader: &SegmentReader) -> tantivy::Result<Option<Column<u64>>> {
        let float = match self {
            Check::Range { float, .. } => *float,
            Check::Has { field, .. } => F64_FIELDS.contains(&field.as_str()),
        };
        let typ = if float {
            ColumnType::F64
        } else {
            ColumnType::I64
        };
        Ok(reader
            .fast_fields()
            .u64_lenient_for_type(Some(&[typ]), self.field())?
            .map(|(col, _)| col))
    }

    /// Every document that passes (ascending), from a scan of the column, for a check on
    /// a field only documents of the kind listed in `kind` hold. Not for absence.
    /// `kind` is `None` when the field is not only the kind's (then the column's documents
    /// are enumerated).
    fn scan(
        &self,
        col: Option<&Column<u64>>,
        max_doc: DocId,
        kind: Option<&[DocId]>,
    ) -> Vec<DocId> {
        let mut out = Vec::new();
        let Some(col) = col else {
            return out;
        };
        // Every document of the kind has one value: row `r` is the kind's `r`-th document,
        // so matching rows need no lookup in the column's index.
        let kind = kind.unwrap_or_default();
        let one_each = !kind.is_empty()
            && match &col.index {
                ColumnIndex::Optional(idx) => idx.num_non_nulls() as usize == kind.len(),
                ColumnIndex::Full => max_doc as usize == kind.len(),
                _ => false,
            }
            && col.values.num_vals() as usize == kind.len();
        match self {
            Check::Has { .. } if one_each => out.extend_from_slice(kind),
            Check::Range { lo, hi, .. } => {
                let lo = match lo {
                    Bound::Included(n) => Some(*n),
                    Bound::Excluded(n) => n.checked_add(1),
                    Bound::Unbounded => Some(0),
                };
                let hi = match hi {
                    Bound::Included(n) => Some(*n),
                    Bound::Excluded(n) => n.checked_sub(1),
                    Bound::Unbounded => Some(u64::MAX),
                };
                // The column's range search requires a range overlapping its values.
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && lo <= hi
                    && lo <= col.values.max_value()
                    && hi >= col.values.min_value()
                {
                    if one_each {
                        let rows = 0..col.values.num_vals();
                        col.values
                            .get_row_ids_for_value_range(lo..=hi, rows, &mut out);
                        for doc in &mut out {
                            *doc = kind[*doc as usize];
                        }
                    } else {
                        col.get_docids_for_value_range(lo..=hi, 0..max_doc, &mut out);
                    }
                }
                // A document with several values in range comes once per value.
                out.dedup();
            }
            Check::Has { .. } => match &col.index {
                ColumnIndex::Empty { .. } => {}
                ColumnIndex::Full => out.extend(0..max_doc),
                ColumnIndex::Optional(idx) => non_null_docs(idx, &mut out),
                ColumnIndex::Multivalued(MultiValueIndex::MultiValueIndexV2(idx)) => {
                    non_null_docs(&idx.optional_index, &mut out);
                }
                ColumnIndex::Multivalued(idx) => out.extend(idx.iter_non_null_docs()),
            },
        }
        out
    }

    /// Keeps the documents of `docs` (ascending) that pass, in `out`. `present`: the
    /// documents with a value, for `Has`, with a cursor into it (batches come in order).
    fn filter(
        &self,
        col: Option<&Column<u64>>,
        present: Option<(&[DocId], &mut usize)>,
        docs: &[DocId],
        s: &mut Scratch,
        out: &mut Vec<DocId>,
    ) {
        out.clear();
        if let (Check::Has { present: want, .. }, Some((with, at))) = (self, present) {
            for doc in docs {
                *at = gallop(with, *at, *doc);
                if (with.get(*at) == Some(doc)) == *want {
                    out.push(*doc);
                }
            }
            return;
        }
        let Some(col) = col else {
            if let Check::Has { present: false, .. } = self {
                out.extend_from_slice(docs);
            }
            return;
        };
        s.docs.clear();
        s.rows.clear();
        col.index.docids_to_rowids(docs, &mut s.docs, &mut s.rows);
        match self {
            Check::Range { lo, hi, .. } => {
                s.vals.clear();
                s.vals.resize(s.rows.len(), 0);
                col.values.get_vals(&s.rows, &mut s.vals);
                let range = (*lo, *hi);
                for (doc, v) in s.docs.iter().zip(&s.vals) {
                    if range.contains(v) && out.last() != Some(doc) {
                        out.push(*doc);
                    }
                }
            }
            Check::Has { present: true, .. } => {
                for doc in &s.docs {
                    if out.last() != Some(doc) {
                        out.push(*doc);
                    }
                }
            }
            Check::Has { present: false, .. } => {
                let mut with = s.docs.iter().peekable();
                for doc in docs {
                    while with.next_if(|d| *d < doc).is_some() {}
                    if with.peek() != Some(&doc) {
                        out.push(*doc);
                    }
                }
            }
        }
    }
}

/// The documents of an optional index, ascending (one batch selection rather than an
/// iterator).
fn non_null_docs(idx: &OptionalIndex, out: &mut Vec<DocId>) {
    out.clear();
    out.extend(0..idx.num_non_nulls());
    idx.select_batch(out);
}

/// Buffers reused while checking.
#[derive(Default)]
struct Scratch {
    docs: Vec<DocId>,
    rows: Vec<u32>,
    vals: Vec<u64>,
}

/// Documents of `kind` matching `rest` (when given) and every check: the same documents
/// as `fallback`, which runs instead when scores are needed. The candidates are checked
/// in batches against the fast fields (sequential column reads instead of one seek per
/// candidate and condition).
#[derive(Debug)]
struct FilterQuery {
    kind: KindQuery,
    rest: Option<Q>,
    checks: Vec<Check>,
    /// A check on a field only documents of the kind hold.
    own: Option<usize>,
    fallback: Q,
}

impl Clone for FilterQuery {
    fn clone(&self) -> Self {
        FilterQuery {
            kind: self.kind.clone(),
            rest: self.rest.as_ref().map(|q| q.box_clone()),
            checks: self.checks.clone(),
            own: self.own,
            fallback: self.fallback.box_clone(),
        }
    }
}

impl Query for FilterQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        if scoring.is_scoring_enabled() {
            return self.fallback.weight(scoring);
        }
        Ok(Box::new(FilterWeight {
            kind: self.kind.clone(),
            rest: match &self.rest {
                Some(q) => Some(q.weight(scoring)?),
                None => None,
            },
            checks: self.checks.clone(),
            own: self.own,
        }))
    }
}

struct FilterWeight {
    kind: KindQuery,
    /// The other conditions, the kind included.
    rest: Option<Box<dyn Weight>>,
    checks: Vec<Check>,
    /// A check on a field only documents of the kind hold: without `rest`, its column is
    /// scanned for the candidates instead of checking every document of the kind.
    own: Option<usize>,
}

/// Candidates checked per batch.
const BATCH: usize = 1024;

impl FilterWeight {
    /// The matching documents, ascending.
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Vec<DocId>>> {
        let columns = self
            .checks
            .iter()
            .map(|c| c.column(reader))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let kind = self.kind.docs(reader)?;
        // The documents with a value, per `Has` check (the same whatever the kind).
        let mut present = Vec::new();
        for (i, (check, col)) in self.checks.iter().zip(&columns).enumerate() {
            present.push(match check {
                Check::Has { field, .. } => {
                    let own = (self.own == Some(i)).then_some(kind.docs.as_slice());
                    let scan = || check.scan(col.as_ref(), reader.max_doc(), own);
                    // A column every document has is not worth keeping.
                    match col.as_ref().map(|c| &c.index) {
                        Some(ColumnIndex::Full) => Some(Arc::new(scan())),
                        _ => Some(self.kind.cache.present(reader, field, scan)),
                    }
                }
                Check::Range { .. } => None,
            });
        }
        let mut cursors = vec![0; self.checks.len()];
        let mut s = Scratch::default();
        let mut out = Vec::new();
        let (mut a, mut b) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        // Without `rest`, the candidates already pass the `own` check.
        let skip = if self.rest.is_none() { self.own } else { None };
        let mut run = |batch: &[DocId], out: &mut Vec<DocId>| {
            a.clear();
            a.extend_from_slice(batch);
            for (i, (check, col)) in self.checks.iter().zip(&columns).enumerate() {
                if Some(i) == skip {
                    continue;
                }
                if a.is_empty() {
                    break;
                }
                let with = present[i]
                    .as_deref()
                    .map(|p| (p.as_slice(), &mut cursors[i]));
                check.filter(col.as_ref(), with, &a, &mut s, &mut b);
                std::mem::swap(&mut a, &mut b);
            }
            out.extend_from_slice(&a);
        };
        match (&self.rest, self.own) {
            (None, Some(own)) => {
                let docs = match &present[own] {
                    // Which documents have a value never changes for a segment.
                    Some(docs) => docs.clone(),
                    None => Arc::new(self.checks[own].scan(
                        columns[own].as_ref(),
                        reader.max_doc(),
                        Some(&kind.docs),
                    )),
                };
                if self.checks.len() == 1 {
                    return Ok(docs);
                }
                for batch in docs.chunks(BATCH) {
                    run(batch, &mut out);
                }
            }
            (None, None) => {
                for batch in kind.docs.chunks(BATCH) {
                    run(batch, &mut out);
                }
            }
            (Some(rest), _) => {
                let mut scorer = rest.scorer(reader, 1.0)?;
                let mut batch = Vec::with_capacity(BATCH);
                let mut doc = scorer.doc();
                while doc != TERMINATED {
                    batch.push(doc);
                    if batch.len() == BATCH {
                        run(&batch, &mut out);
                        batch.clear();
                    }
                    doc = scorer.advance();
                }
                run(&batch, &mut out);
            }
        }
        Ok(Arc::new(out))
    }
}

impl Weight for FilterWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Docs::new(self.docs(reader)?, boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "matches every condition")
    }
}

/// The `custom_num` encoding of a custom number or day: the value of its 16 hex digits,
/// whose order is the terms' order.
fn ordered_key(value: &f64) -> u64 {
    u64::from_str_radix(&ordered_hex(*value), 16).unwrap_or_default()
}

/// Documents with a custom value of `prefix` (key and tag) in range: the `custom_num`
/// term range, answered from the segment's cached `(document, value)` pairs of the field
/// (one pass over the field's values instead of opening every term's postings). Runs
/// `fallback`, the term range, when scores are needed.
#[derive(Debug)]
struct CustomRangeQuery {
    field: Field,
    prefix: String,
    lo: Bound<u64>,
    hi: Bound<u64>,
    cache: Arc<SegmentCache>,
    fallback: Q,
}

impl Clone for CustomRangeQuery {
    fn clone(&self) -> Self {
        CustomRangeQuery {
            field: self.field,
            prefix: self.prefix.clone(),
            lo: self.lo,
            hi: self.hi,
            cache: self.cache.clone(),
            fallback: self.fallback.box_clone(),
        }
    }
}

impl Query for CustomRangeQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        if scoring.is_scoring_enabled() {
            return self.fallback.weight(scoring);
        }
        Ok(Box::new(CustomRangeWeight(self.clone())))
    }
}

struct CustomRangeWeight(CustomRangeQuery);

impl Weight for CustomRangeWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let q = &self.0;
        let pairs = q.cache.custom(reader, q.field, &q.prefix)?;
        let range = (q.lo, q.hi);
        let mut docs: Vec<DocId> = Vec::new();
        for (doc, value) in pairs.iter() {
            if range.contains(value) && docs.last() != Some(doc) {
                docs.push(*doc);
            }
        }
        Ok(Docs::new(Arc::new(docs), boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "custom value in range")
    }
}

/// `scored` when scores are needed, else `unscored`, which matches the same documents.
#[derive(Debug)]
struct Scored {
    scored: Q,
    unscored: Q,
}

impl Clone for Scored {
    fn clone(&self) -> Self {
        Scored {
            scored: self.scored.box_clone(),
            unscored: self.unscored.box_clone(),
        }
    }
}

impl Query for Scored {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        match scoring.is_scoring_enabled() {
            true => self.scored.weight(scoring),
            false => self.unscored.weight(scoring),
        }
    }
}
