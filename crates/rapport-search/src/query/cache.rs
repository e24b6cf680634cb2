//! The per-segment cache ([`SegmentCache`], the reader's warmer): each kind's documents as
//! a list and as bits, presence lists and custom values, plus the doc sets built on them.

use super::*;

/// Per-segment document lists that never change for a segment (its documents are
/// immutable; deletions only hide them): the documents of each `kind`. Computed once per
/// segment and kind from the `kind` postings (deleted documents included, as in the
/// postings) and kept while the segment is searched. As the reader's [`Warmer`], it fills
/// itself for new segments when the reader reloads (off the query path) and forgets
/// segments no searcher uses any more.
#[derive(Debug)]
pub struct SegmentCache {
    pub(crate) kind_field: Field,
    pub(crate) custom_num: Field,
    /// The segments warmed already.
    pub(crate) warmed: Mutex<HashSet<SegmentId>>,
    pub(crate) kinds: PerSegment<KindDocs>,
    /// Per numeric field, and per text field (`norm\u{1}{field}`, see [`NormQuery`]): the
    /// documents with a value.
    pub(crate) present: PerSegment<Vec<DocId>>,
    /// Per custom field and tag (`{key}\u{1}{tag}`): the field's `custom_num` terms
    /// turned back into `(document, value)` pairs, by document.
    pub(crate) customs: PerSegment<Vec<(DocId, u64)>>,
}

/// Values kept per segment and name.
pub(crate) type PerSegment<T> = Mutex<HashMap<(SegmentId, String), Arc<T>>>;

/// The documents of one kind in one segment: ascending, and as a bit set.
#[derive(Debug)]
pub(crate) struct KindDocs {
    pub(crate) docs: Arc<Vec<DocId>>,
    pub(crate) bits: Bits,
}

/// A set of documents as bits, with neighbour lookups.
#[derive(Debug)]
pub(crate) struct Bits {
    pub(crate) words: Vec<u64>,
}

impl Bits {
    pub(crate) fn new(max_doc: DocId) -> Bits {
        Bits {
            words: vec![0; (max_doc as usize).div_ceil(64)],
        }
    }

    pub(crate) fn insert(&mut self, doc: DocId) {
        if let Some(w) = self.words.get_mut(doc as usize / 64) {
            *w |= 1 << (doc % 64);
        }
    }

    pub(crate) fn contains(&self, doc: DocId) -> bool {
        self.words
            .get(doc as usize / 64)
            .is_some_and(|w| w >> (doc % 64) & 1 == 1)
    }

    /// The last member at or before `doc`.
    pub(crate) fn at_or_before(&self, doc: DocId) -> Option<DocId> {
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
    pub(crate) fn after(&self, doc: DocId) -> DocId {
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
    pub(crate) fn docs(&self) -> Vec<DocId> {
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
    pub(crate) fn warm_segment(&self, reader: &SegmentReader) -> tantivy::Result<()> {
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

    /// The documents of `reader`'s segment with a value in `field`, as `compute` finds
    /// them.
    pub(crate) fn present(
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
    pub(crate) fn custom(
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
    pub(crate) fn kind(
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
pub(crate) struct Docs {
    pub(crate) docs: Arc<Vec<DocId>>,
    pub(crate) pos: usize,
    pub(crate) score: Score,
    /// The same documents as bits, when at hand: membership tests for intersections.
    pub(crate) set: Option<Arc<KindDocs>>,
    /// The document a membership test found, until `pos` is moved to it.
    pub(crate) found: Option<DocId>,
}

impl Docs {
    pub(crate) fn new(docs: Arc<Vec<DocId>>, score: Score) -> Box<Docs> {
        Box::new(Docs {
            docs,
            pos: 0,
            score,
            set: None,
            found: None,
        })
    }

    pub(crate) fn of_kind(set: Arc<KindDocs>, score: Score) -> Box<Docs> {
        Box::new(Docs {
            docs: set.docs.clone(),
            pos: 0,
            score,
            set: Some(set),
            found: None,
        })
    }

    /// The documents not yet visited.
    pub(crate) fn rest(&self) -> &[DocId] {
        let pos = match self.found {
            Some(doc) => gallop(&self.docs, self.pos, doc),
            None => self.pos,
        };
        &self.docs[pos.min(self.docs.len())..]
    }

    /// Moves `pos` to the document a membership test found.
    pub(crate) fn settle(&mut self) {
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
pub(crate) fn gallop(docs: &[DocId], from: usize, target: DocId) -> usize {
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
pub(crate) struct KindQuery {
    pub(crate) field: Field,
    pub(crate) kind: String,
    pub(crate) cache: Arc<SegmentCache>,
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

/// Documents with at least one token in text field `field`, read from its field norms (a
/// document's token count per field, 0 when it has none) and kept per segment. Documents
/// get a `present` term only for values that have no token at all (see `document`), so
/// "the field has a value" is this or that term.
#[derive(Debug, Clone)]
pub(crate) struct NormQuery {
    pub(crate) field: Field,
    pub(crate) name: String,
    pub(crate) cache: Arc<SegmentCache>,
}

impl Query for NormQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for NormQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let norms = reader.get_fieldnorms_reader(self.field)?;
        let docs = self
            .cache
            .present(reader, &format!("norm{SEP}{}", self.name), || {
                (0..reader.max_doc())
                    .filter(|doc| norms.fieldnorm_id(*doc) > 0)
                    .collect()
            });
        Ok(Docs::new(docs, boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_set(self.scorer(reader, 1.0)?, doc, "has words in the field")
    }
}
