//! The planner's second pass: a [`Plan`]'s nodes become tantivy queries. Sub-queries run
//! first, against the child documents of their kind; the ids they collect (leads, or
//! contacts for nested sub-queries) then restrict the enclosing query through a fast-field
//! predicate — tantivy has no block join. Never touches the store.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, BoostQuery, ConstScorer, EmptyQuery, EnableScoring,
    Explanation, Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, Scorer, TermQuery,
    Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    BitSet, DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED, Term,
};

use crate::plan::Node;
use crate::schema::{Fields, SEP, ordered_hex};

/// Builds queries for one searcher (sub-queries are executed against it while building).
pub struct Builder<'a> {
    pub f: &'a Fields,
    pub searcher: &'a Searcher,
}

type Q = Box<dyn Query>;

/// How many words a phrase's last (prefix) word may expand to, per segment. tantivy
/// allocates this up front, so it stays bounded; single words have no limit.
const MAX_EXPANSIONS: u32 = 2_000;

fn term_query(term: Term) -> Q {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

impl Builder<'_> {
    /// The query for documents of `kind` matching `node`.
    pub fn root(&self, kind: &str, node: &Node) -> tantivy::Result<Q> {
        let kind_q = term_query(Term::from_field_text(self.f.kind, kind));
        Ok(match node {
            Node::All => kind_q,
            _ => Box::new(BooleanQuery::new(vec![
                (Occur::Must, kind_q),
                (Occur::Must, self.node(node)?),
            ])),
        })
    }

    fn node(&self, node: &Node) -> tantivy::Result<Q> {
        Ok(match node {
            Node::All => Box::new(AllQuery),
            Node::Nothing => Box::new(EmptyQuery),
            Node::And(items) => {
                let mut clauses = Vec::new();
                for item in items {
                    match item {
                        Node::Not(inner) => {
                            clauses.push((Occur::MustNot, materialized(self.node(inner)?)))
                        }
                        Node::All => {}
                        other => clauses.push((Occur::Must, self.node(other)?)),
                    }
                }
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
                    .map(|i| Ok((Occur::Should, self.node(i)?)))
                    .collect::<tantivy::Result<Vec<_>>>()?;
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, materialized(self.node(inner)?)),
            ])),
            Node::Words {
                field,
                tokens,
                prefix,
            } => self.words(self.f.get(field), tokens.clone(), *prefix),
            Node::CustomWords {
                key,
                tokens,
                prefix,
            } => {
                let keyed = tokens.iter().map(|t| format!("{key}{SEP}{t}")).collect();
                self.words(self.f.get("custom"), keyed, *prefix)
            }
            Node::Exact { key, value } => term_query(Term::from_field_text(
                self.f.exact,
                &format!("{key}{SEP}{value}"),
            )),
            Node::Present(key) => term_query(Term::from_field_text(self.f.present, key)),
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
                let (hi, lo) = match contact_link {
                    true => ("contact_hi", "contact_lo"),
                    false => ("lead_hi", "lead_lo"),
                };
                let ids = self.searcher.search(&*child, &IdCollector { hi, lo })?;
                if ids.is_empty() {
                    return Ok(Box::new(EmptyQuery));
                }
                // Leads are matched by their own id; contacts by the contact's id.
                let (hi, lo) = match contact_link {
                    true => ("rec_hi", "rec_lo"),
                    false => ("lead_hi", "lead_lo"),
                };
                id_in(hi, lo, Arc::new(ids))
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

/// Documents whose `(hi, lo)` fast fields form an id in `ids`.
fn id_in(hi: &'static str, lo: &'static str, ids: Arc<HashSet<u128>>) -> Q {
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let hi_col = segment.fast_fields().u64(hi)?;
        let lo_col = segment.fast_fields().u64(lo)?;
        let ids = ids.clone();
        Ok(move |doc: DocId| {
            matches!((hi_col.first(doc), lo_col.first(doc)),
                (Some(h), Some(l)) if ids.contains(&(u128::from(h) << 64 | u128::from(l))))
        })
    });
    Box::new(DocPredicateQuery::from(predicate))
}

/// Collects the ids held in two u64 fast fields of the matching documents.
pub struct IdCollector {
    pub hi: &'static str,
    pub lo: &'static str,
}

pub struct IdSegment {
    hi: Column<u64>,
    lo: Column<u64>,
    ids: HashSet<u128>,
}

impl Collector for IdCollector {
    type Fruit = HashSet<u128>;
    type Child = IdSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<IdSegment> {
        Ok(IdSegment {
            hi: segment.fast_fields().u64(self.hi)?,
            lo: segment.fast_fields().u64(self.lo)?,
            ids: HashSet::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HashSet<u128>>) -> tantivy::Result<HashSet<u128>> {
        let mut all = HashSet::new();
        for f in fruits {
            all.extend(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for IdSegment {
    type Fruit = HashSet<u128>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let (Some(h), Some(l)) = (self.hi.first(doc), self.lo.first(doc)) {
            self.ids.insert(u128::from(h) << 64 | u128::from(l));
        }
    }

    fn harvest(self) -> HashSet<u128> {
        self.ids
    }
}
