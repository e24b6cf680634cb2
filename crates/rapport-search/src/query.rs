//! The planner's second pass: a [`Plan`]'s nodes become tantivy queries. Never touches the
//! store.
//!
//! Sub-queries are a block join: a lead's documents are always added in one indexing
//! operation (lead document first, then its children), so they are contiguous in one
//! segment, and merges keep that order. Per segment, the child query's matches are mapped
//! to the lead document that precedes them and collected into a bit set ([`ParentQuery`]).
//! Nested sub-queries (`contact(email(…))`) match the enclosing contact by the contact
//! position the child carries, within its block ([`LinkQuery`]).
//!
//! Shortcuts, each answering exactly what the general form answers: the `kind` term is
//! left out when the condition names a field only documents of that kind hold; `not` over
//! a count every lead holds is the complementary range (`not has:calls` is `calls < 1`);
//! a number's presence (`last_called:never`, `opened:yes`) comes from its fast field.

use std::ops::Bound;

use tantivy::columnar::ColumnIndex;
use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, BoostQuery, ConstScorer, EmptyQuery, EmptyScorer,
    EnableScoring, Explanation, Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use crate::document::child_text_fields;
use crate::plan::Node;
use crate::schema::{F64_FIELDS, Fields, I64_FIELDS, SEP, exact_term, ordered_hex};

/// Builds queries over the index's fields.
pub struct Builder<'a> {
    pub f: &'a Fields,
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
        filter_query(Term::from_field_text(self.f.kind, kind))
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
            Node::CustomRange { key, tag, lo, hi } => {
                let field = self.f.custom_num;
                let t = |n: &f64| {
                    Term::from_field_text(field, &format!("{key}{SEP}{tag}{}", ordered_hex(*n)))
                };
                let lo = match lo {
                    Bound::Unbounded => {
                        Bound::Included(Term::from_field_text(field, &format!("{key}{SEP}{tag}")))
                    }
                    b => b.as_ref().map(t),
                };
                let hi = match hi {
                    Bound::Unbounded => {
                        let next = char::from_u32(*tag as u32 + 1).unwrap_or('~');
                        Bound::Excluded(Term::from_field_text(field, &format!("{key}{SEP}{next}")))
                    }
                    b => b.as_ref().map(t),
                };
                Box::new(RangeQuery::new(lo, hi))
            }
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
                match contact_link {
                    false => Box::new(ParentQuery {
                        child,
                        parents: self.kind_query("lead"),
                    }),
                    true => Box::new(LinkQuery {
                        child,
                        parents: self.kind_query("lead"),
                    }),
                }
            }
        })
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
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, exact),
                    (Occur::Should, Box::new(PhrasePrefixQuery::new(terms))),
                ]))
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
    /// The lead documents (`kind:lead`).
    parents: Q,
}

impl Clone for ParentQuery {
    fn clone(&self) -> Self {
        ParentQuery {
            child: self.child.box_clone(),
            parents: self.parents.box_clone(),
        }
    }
}

impl Query for ParentQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ParentWeight {
            child: self.child.weight(scoring_off(&scoring))?,
            parents: self.parents.weight(scoring_off(&scoring))?,
        }))
    }
}

struct ParentWeight {
    child: Box<dyn Weight>,
    parents: Box<dyn Weight>,
}

impl Weight for ParentWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut child = self.child.scorer(reader, 1.0)?;
        let mut doc = child.doc();
        if doc == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        let mut parents = self.parents.scorer(reader, 1.0)?;
        let mut bits = BitSet::with_max_value(reader.max_doc());
        let mut next_parent = parents.doc();
        let mut parent = TERMINATED;
        while doc != TERMINATED {
            while next_parent <= doc {
                parent = next_parent;
                next_parent = parents.advance();
            }
            if parent != TERMINATED {
                bits.insert(parent);
            }
            // Children are stepped through rather than sought past the block's end: a
            // fast-field range (the usual child query) restarts its scan on every seek.
            doc = child.advance();
            while doc < next_parent {
                doc = child.advance();
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(bits), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "lead with a matching child")
    }
}

/// Contact documents linked to a child document matching `child`: the child's
/// `contact_pos` says which of its block's contact documents (they follow the lead
/// document) it belongs to. The enclosing query keeps only documents of its own kind.
#[derive(Debug)]
struct LinkQuery {
    child: Q,
    /// The lead documents (`kind:lead`).
    parents: Q,
}

impl Clone for LinkQuery {
    fn clone(&self) -> Self {
        LinkQuery {
            child: self.child.box_clone(),
            parents: self.parents.box_clone(),
        }
    }
}

impl Query for LinkQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(LinkWeight {
            child: self.child.weight(scoring_off(&scoring))?,
            parents: self.parents.weight(scoring_off(&scoring))?,
        }))
    }
}

struct LinkWeight {
    child: Box<dyn Weight>,
    parents: Box<dyn Weight>,
}

impl Weight for LinkWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut child = self.child.scorer(reader, 1.0)?;
        let mut doc = child.doc();
        if doc == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        let pos = reader.fast_fields().u64("contact_pos")?;
        let mut parents = self.parents.scorer(reader, 1.0)?;
        let max = reader.max_doc();
        let mut bits = BitSet::with_max_value(max);
        let mut next_parent = parents.doc();
        let mut parent = TERMINATED;
        while doc != TERMINATED {
            while next_parent <= doc {
                parent = next_parent;
                next_parent = parents.advance();
            }
            if let (true, Some(k)) = (parent != TERMINATED, pos.first(doc)) {
                let target = u64::from(parent) + 1 + k;
                if target < u64::from(max) {
                    bits.insert(target as DocId);
                }
            }
            doc = child.advance();
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(bits), boost)))
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
