//! Fast-field filters: numeric conditions checked in batches against the columns
//! ([`FilterQuery`]), custom-field ranges from the cached values, and [`Scored`], which
//! runs the plain tantivy form when scores are needed.

use super::*;

/// A condition on a numeric fast field, checked per document.
#[derive(Debug, Clone)]
pub(crate) enum Check {
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
    pub(crate) fn of(kind: &str, node: &Node) -> Option<Check> {
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

    pub(crate) fn field(&self) -> &str {
        match self {
            Check::Range { field, .. } => field,
            Check::Has { field, .. } => field,
        }
    }

    /// The field's column as its u64 encoding (which keeps the order), `None` when no
    /// document of the segment has a value.
    pub(crate) fn column(&self, reader: &SegmentReader) -> tantivy::Result<Option<Column<u64>>> {
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
    pub(crate) fn scan(
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
    pub(crate) fn filter(
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
pub(crate) fn non_null_docs(idx: &OptionalIndex, out: &mut Vec<DocId>) {
    out.clear();
    out.extend(0..idx.num_non_nulls());
    idx.select_batch(out);
}

/// Buffers reused while checking.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) docs: Vec<DocId>,
    pub(crate) rows: Vec<u32>,
    pub(crate) vals: Vec<u64>,
}

/// Documents of `kind` matching `rest` (when given) and every check: the same documents
/// as `fallback`, which runs instead when scores are needed. The candidates are checked
/// in batches against the fast fields (sequential column reads instead of one seek per
/// candidate and condition).
#[derive(Debug)]
pub(crate) struct FilterQuery {
    pub(crate) kind: KindQuery,
    pub(crate) rest: Option<Q>,
    pub(crate) checks: Vec<Check>,
    /// A check on a field only documents of the kind hold.
    pub(crate) own: Option<usize>,
    pub(crate) fallback: Q,
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

pub(crate) struct FilterWeight {
    pub(crate) kind: KindQuery,
    /// The other conditions, the kind included.
    pub(crate) rest: Option<Box<dyn Weight>>,
    pub(crate) checks: Vec<Check>,
    /// A check on a field only documents of the kind hold: without `rest`, its column is
    /// scanned for the candidates instead of checking every document of the kind.
    pub(crate) own: Option<usize>,
}

/// Candidates checked per batch.
pub(crate) const BATCH: usize = 1024;

impl FilterWeight {
    /// The matching documents, ascending.
    pub(crate) fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Vec<DocId>>> {
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
pub(crate) fn ordered_key(value: &f64) -> u64 {
    u64::from_str_radix(&ordered_hex(*value), 16).unwrap_or_default()
}

/// Documents with a custom value of `prefix` (key and tag) in range: the `custom_num`
/// term range, answered from the segment's cached `(document, value)` pairs of the field
/// (one pass over the field's values instead of opening every term's postings). Runs
/// `fallback`, the term range, when scores are needed.
#[derive(Debug)]
pub(crate) struct CustomRangeQuery {
    pub(crate) field: Field,
    pub(crate) prefix: String,
    pub(crate) lo: Bound<u64>,
    pub(crate) hi: Bound<u64>,
    pub(crate) cache: Arc<SegmentCache>,
    pub(crate) fallback: Q,
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

pub(crate) struct CustomRangeWeight(pub(crate) CustomRangeQuery);

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
pub(crate) struct Scored {
    pub(crate) scored: Q,
    pub(crate) unscored: Q,
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
