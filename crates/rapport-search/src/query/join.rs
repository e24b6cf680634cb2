//! Block-join queries: a child kind's matches mapped to their lead document
//! ([`ParentQuery`]) or to their contact ([`LinkQuery`]), and the small wrappers the planner
//! needs around them (materialized exclusion sets, "has a value" checks).

use super::*;

/// `query`, with its matches collected into a bit set per segment. Excluded (`not`) clauses
/// go through this: tantivy 0.27's phrase scorers trip a debug assertion when used as an
/// exclusion set after they are exhausted.
pub(crate) fn materialized(query: Q) -> Q {
    Box::new(Materialized(query))
}

#[derive(Debug)]
pub(crate) struct Materialized(pub(crate) Q);

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

pub(crate) struct MaterializedWeight(pub(crate) Box<dyn Weight>);

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
pub(crate) struct HasValueQuery(pub(crate) String);

impl Query for HasValueQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(HasValueWeight(self.0.clone())))
    }
}

pub(crate) struct HasValueWeight(pub(crate) String);

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

pub(crate) fn scoring_off<'b>(scoring: &'b EnableScoring<'_>) -> EnableScoring<'b> {
    match scoring.searcher() {
        Some(searcher) => EnableScoring::disabled_from_searcher(searcher),
        None => EnableScoring::disabled_from_schema(scoring.schema()),
    }
}

/// Lead documents with at least one child document matching `child`: each match maps to
/// the last lead document at or before it (its block's head).
#[derive(Debug)]
pub(crate) struct ParentQuery {
    pub(crate) child: Q,
    /// The lead documents.
    pub(crate) leads: KindQuery,
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

pub(crate) struct ParentWeight {
    pub(crate) child: Box<dyn Weight>,
    pub(crate) leads: KindQuery,
}

impl KindQuery {
    pub(crate) fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Arc<KindDocs>> {
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
pub(crate) struct LinkQuery {
    pub(crate) child: Q,
    /// The lead documents.
    pub(crate) leads: KindQuery,
    /// The enclosing query's kind.
    pub(crate) kind: KindQuery,
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

pub(crate) struct LinkWeight {
    pub(crate) child: Box<dyn Weight>,
    pub(crate) leads: KindQuery,
    pub(crate) kind: KindQuery,
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

pub(crate) fn explain_set(
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
