//! The result collector: counts every matching lead and keeps the first `keep` in `sort:`
//! order (several keys, each ascending or descending, missing values last, ties broken by
//! lead id), reading sort values from fast fields. Pure tantivy; no store.
//!
//! Per segment, only a document's first sort key is read while collecting: it is compared
//! with the worst entry kept (dropped when worse, kept without reading more when better);
//! the other keys and the lead id are read only for documents that tie with it on that key,
//! for candidates tying with the page's boundary when pruning, and for the page itself.
//! Without scores, documents come in blocks whose first keys are read together; integer
//! first keys wait as compact `(rank, document)` pairs, pruned by rank, before they become
//! candidates.

use std::cmp::Ordering;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::plan::{SortSource, SortSpec};

/// One sort value. `Ord` values are string ordinals, only comparable within a segment;
/// harvesting turns them into `Str`.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Missing,
    I(i64),
    F(f64),
    Ord(u64),
    Str(String),
}

/// A collected lead: its sort values and id.
#[derive(Debug, Clone)]
pub struct Entry {
    pub keys: Vec<Key>,
    pub id: u128,
}

/// Counts matches and keeps the best `keep` entries.
pub struct TopCollector {
    pub specs: Vec<SortSpec>,
    pub keep: usize,
}

fn cmp_key(a: &Key, b: &Key, descending: bool) -> Ordering {
    let natural = match (a, b) {
        (Key::Missing, Key::Missing) => return Ordering::Equal,
        (Key::Missing, _) => return Ordering::Greater,
        (_, Key::Missing) => return Ordering::Less,
        (Key::I(x), Key::I(y)) => x.cmp(y),
        (Key::F(x), Key::F(y)) => x.total_cmp(y),
        (Key::Ord(x), Key::Ord(y)) => x.cmp(y),
        (Key::Str(x), Key::Str(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    if descending {
        natural.reverse()
    } else {
        natural
    }
}

/// The order of two entries under `specs`.
pub fn compare(specs: &[SortSpec], a: &Entry, b: &Entry) -> Ordering {
    compare_keys(specs, &a.keys, &b.keys).then(a.id.cmp(&b.id))
}

/// The order of two key lists under `specs`, ids aside.
fn compare_keys(specs: &[SortSpec], a: &[Key], b: &[Key]) -> Ordering {
    for (i, spec) in specs.iter().enumerate() {
        let o = cmp_key(&a[i], &b[i], spec.descending);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn top(specs: &[SortSpec], entries: &mut Vec<Entry>, keep: usize) {
    if entries.len() > keep {
        if keep == 0 {
            entries.clear();
            return;
        }
        entries.select_nth_unstable_by(keep - 1, |a, b| compare(specs, a, b));
        entries.truncate(keep);
    }
}

enum Source {
    Score,
    I64(Column<i64>),
    F64(Column<f64>),
    Str(Option<StrColumn>),
    None,
}

fn read_key(source: &Source, doc: DocId, score: Score) -> Key {
    match source {
        Source::Score => Key::F(f64::from(score)),
        Source::I64(c) => c.first(doc).map_or(Key::Missing, Key::I),
        Source::F64(c) => c.first(doc).map_or(Key::Missing, Key::F),
        Source::Str(Some(c)) => c.term_ords(doc).next().map_or(Key::Missing, Key::Ord),
        Source::Str(None) | Source::None => Key::Missing,
    }
}

impl TopSegment {
    fn id(&self, doc: DocId) -> u128 {
        match (self.hi.first(doc), self.lo.first(doc)) {
            (Some(h), Some(l)) => u128::from(h) << 64 | u128::from(l),
            _ => 0,
        }
    }

    /// The full entry of a candidate: its other keys and id are read now if they were not.
    fn fill(&self, c: &mut Cand) {
        if c.rest.is_none() {
            let mut keys = Vec::with_capacity(self.sources.len());
            if !self.sources.is_empty() {
                keys.push(c.first.clone());
            }
            keys.extend(
                self.sources
                    .iter()
                    .skip(1)
                    .map(|s| read_key(s, c.doc, c.score)),
            );
            c.rest = Some(Box::new((keys, self.id(c.doc))));
        }
    }

    /// Keeps the best `keep` candidates. Candidates are ranked by their first key; only
    /// those tying with the boundary (the `keep`-th first key) have their other keys and id
    /// read to settle the order. Sets the bar to the worst one kept.
    fn prune(&mut self) {
        let keep = self.keep;
        if self.cands.len() <= keep || keep == 0 {
            return;
        }
        let desc = first_descending(&self.specs);
        let boundary = match integer_ranks(&self.cands, desc, &mut self.ranks) {
            // Integer first keys: the boundary is found among their ranks (small and cheap
            // to compare) rather than by moving the candidates.
            true => {
                let (_, &mut rank, _) = self.ranks.select_nth_unstable(keep - 1);
                key_of_rank(rank, desc)
            }
            false => {
                self.cands
                    .select_nth_unstable_by(keep - 1, |a, b| cmp_key(&a.first, &b.first, desc));
                self.cands[keep - 1].first.clone()
            }
        };
        // Candidates strictly better than the boundary stay as they are; the ones equal to it
        // (before or after position keep - 1) compete on their full entries.
        let mut better = Vec::with_capacity(keep);
        let mut ties = Vec::new();
        for c in self.cands.drain(..) {
            match cmp_key(&c.first, &boundary, desc) {
                Ordering::Less => better.push(c),
                Ordering::Equal => ties.push(c),
                Ordering::Greater => {}
            }
        }
        for c in &mut ties {
            self.fill(c);
        }
        let specs = &self.specs;
        ties.sort_by(|a, b| compare_filled(specs, a, b));
        ties.truncate(keep - better.len());
        self.bar = ties.last().and_then(|c| {
            c.rest.as_deref().map(|(keys, id)| Entry {
                keys: keys.clone(),
                id: *id,
            })
        });
        better.extend(ties);
        self.cands = better;
    }
}

impl TopSegment {
    /// Keeps the pending documents whose first key is among the `keep` best (ties at the
    /// boundary included), and drops any later document worse than that boundary. Hands
    /// them over to the candidates when ties keep too many.
    fn compact(&mut self) {
        let keep = self.keep;
        if self.pending.len() <= keep || keep == 0 {
            return;
        }
        let (_, &mut (boundary, _), _) = self.pending.select_nth_unstable(keep - 1);
        self.pending.retain(|(rank, _)| *rank <= boundary);
        self.bar_rank = Some(self.bar_rank.map_or(boundary, |bar| bar.min(boundary)));
        if self.pending.len() >= self.keep.max(256) {
            self.flush();
        }
    }

    /// Offers the pending documents as candidates.
    fn flush(&mut self) {
        let desc = first_descending(&self.specs);
        let mut pending = std::mem::take(&mut self.pending);
        for (rank, doc) in pending.drain(..) {
            self.offer(doc, 0.0, key_of_rank(rank, desc));
        }
        self.pending = pending;
    }
}

/// A first key (integer or missing) as a number in the order of the sort: better first,
/// missing last.
fn rank_of(key: &Key, desc: bool) -> u128 {
    match key {
        Key::I(v) => {
            let ordered = (*v as u64) ^ (1 << 63);
            u128::from(if desc { !ordered } else { ordered })
        }
        _ => u128::MAX,
    }
}

/// Fills `ranks` with the candidates' first keys as numbers in the order of the sort
/// (better first, missing last), if they all are integers or missing.
fn integer_ranks(cands: &[Cand], desc: bool, ranks: &mut Vec<u128>) -> bool {
    ranks.clear();
    for c in cands {
        ranks.push(match c.first {
            Key::I(_) | Key::Missing => rank_of(&c.first, desc),
            _ => return false,
        });
    }
    true
}

/// The first key a rank from [`integer_ranks`] stands for.
fn key_of_rank(rank: u128, desc: bool) -> Key {
    if rank == u128::MAX {
        return Key::Missing;
    }
    let ordered = rank as u64;
    let ordered = if desc { !ordered } else { ordered };
    Key::I((ordered ^ (1 << 63)) as i64)
}

/// A document that may enter the page: its first sort key, and its other keys and id once
/// they had to be read.
struct Cand {
    first: Key,
    doc: DocId,
    score: Score,
    rest: Option<Box<(Vec<Key>, u128)>>,
}

/// The order of two filled candidates.
fn compare_filled(specs: &[SortSpec], a: &Cand, b: &Cand) -> Ordering {
    match (a.rest.as_deref(), b.rest.as_deref()) {
        (Some((ka, ia)), Some((kb, ib))) => compare_keys(specs, ka, kb).then(ia.cmp(ib)),
        _ => cmp_key(&a.first, &b.first, first_descending(specs)),
    }
}

fn first_descending(specs: &[SortSpec]) -> bool {
    specs.first().is_some_and(|s| s.descending)
}

pub struct TopSegment {
    specs: Vec<SortSpec>,
    sources: Vec<Source>,
    hi: Column<u64>,
    lo: Column<u64>,
    keep: usize,
    count: usize,
    cands: Vec<Cand>,
    /// The worst entry kept after the last pruning: anything not better is dropped.
    bar: Option<Entry>,
    /// Buffers for a block's first keys.
    i64s: Vec<Option<i64>>,
    f64s: Vec<Option<f64>>,
    /// Buffer for pruning.
    ranks: Vec<u128>,
    /// Documents with an integer (or missing) first key, by its rank, before they become
    /// candidates.
    pending: Vec<(u128, DocId)>,
    /// Documents ranked after this are dropped: `keep` documents rank at or before it.
    bar_rank: Option<u128>,
}

impl Collector for TopCollector {
    type Fruit = (usize, Vec<Entry>);
    type Child = TopSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        let ff = segment.fast_fields();
        let mut sources = Vec::new();
        for spec in &self.specs {
            sources.push(match &spec.source {
                SortSource::Score => Source::Score,
                SortSource::I64 { field, .. } => Source::I64(ff.i64(field)?),
                SortSource::Name => Source::Str(ff.str("name_sort")?),
                SortSource::Custom(key) => {
                    let path = format!("custom_sort.{key}");
                    match ff.column_opt::<f64>(&path)? {
                        Some(col) => Source::F64(col),
                        None => match ff.str(&path)? {
                            Some(col) => Source::Str(Some(col)),
                            None => Source::None,
                        },
                    }
                }
            });
        }
        Ok(TopSegment {
            specs: self.specs.clone(),
            sources,
            hi: ff.u64("lead_hi")?,
            lo: ff.u64("lead_lo")?,
            keep: self.keep,
            count: 0,
            cands: Vec::new(),
            bar: None,
            i64s: Vec::new(),
            f64s: Vec::new(),
            ranks: Vec::new(),
            pending: Vec::new(),
            bar_rank: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.specs.iter().any(|s| s.source == SortSource::Score)
    }

    fn merge_fruits(&self, fruits: Vec<(usize, Vec<Entry>)>) -> tantivy::Result<Self::Fruit> {
        let mut total = 0;
        let mut all = Vec::new();
        for (count, entries) in fruits {
            total += count;
            all.extend(entries);
        }
        top(&self.specs, &mut all, self.keep);
        all.sort_by(|a, b| compare(&self.specs, a, b));
        Ok((total, all))
    }
}

impl TopSegment {
    /// Offers a document whose first sort key is `first`.
    fn offer(&mut self, doc: DocId, score: Score, first: Key) {
        let mut cand = Cand {
            first,
            doc,
            score,
            rest: None,
        };
        if let Some(bar) = &self.bar {
            let bar_first = bar.keys.first().unwrap_or(&Key::Missing);
            match cmp_key(&cand.first, bar_first, first_descending(&self.specs)) {
                Ordering::Greater => return,
                Ordering::Less => {}
                Ordering::Equal => {
                    self.fill(&mut cand);
                    if let (Some((keys, id)), Some(bar)) = (cand.rest.as_deref(), &self.bar)
                        && compare_keys(&self.specs, keys, &bar.keys).then(id.cmp(&bar.id))
                            != Ordering::Less
                    {
                        return;
                    }
                }
            }
        }
        self.cands.push(cand);
        if self.cands.len() >= 2 * self.keep.max(256) {
            self.prune();
        }
    }
}

impl SegmentCollector for TopSegment {
    type Fruit = (usize, Vec<Entry>);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        if self.keep == 0 {
            return;
        }
        // Only the first key is read up front: a document worse than the bar on it is
        // dropped, a better one is kept without reading more; a tie is settled in full.
        let first = self
            .sources
            .first()
            .map_or(Key::Missing, |s| read_key(s, doc, score));
        self.offer(doc, score, first);
    }

    /// Without scores: the block's first sort keys are read together.
    fn collect_block(&mut self, docs: &[DocId]) {
        self.count += docs.len();
        if self.keep == 0 {
            return;
        }
        match self.sources.first() {
            Some(Source::I64(col)) => {
                let mut values = std::mem::take(&mut self.i64s);
                values.clear();
                values.resize(docs.len(), None);
                col.first_vals(docs, &mut values);
                let desc = first_descending(&self.specs);
                for (doc, v) in docs.iter().zip(&values) {
                    let rank = rank_of(&v.map_or(Key::Missing, Key::I), desc);
                    // Worse than `keep` documents already seen: never on the page.
                    if self.bar_rank.is_some_and(|bar| rank > bar) {
                        continue;
                    }
                    self.pending.push((rank, *doc));
                    if self.pending.len() >= 2 * self.keep.max(256) {
                        self.compact();
                    }
                }
                self.i64s = values;
            }
            Some(Source::F64(col)) => {
                let mut values = std::mem::take(&mut self.f64s);
                values.clear();
                values.resize(docs.len(), None);
                col.first_vals(docs, &mut values);
                for (doc, v) in docs.iter().zip(&values) {
                    self.offer(*doc, 0.0, v.map_or(Key::Missing, Key::F));
                }
                self.f64s = values;
            }
            _ => {
                for doc in docs {
                    let key = self
                        .sources
                        .first()
                        .map_or(Key::Missing, |s| read_key(s, *doc, 0.0));
                    self.offer(*doc, 0.0, key);
                }
            }
        }
    }

    fn harvest(mut self) -> (usize, Vec<Entry>) {
        self.flush();
        self.prune();
        let mut cands = std::mem::take(&mut self.cands);
        for c in &mut cands {
            self.fill(c);
        }
        let mut buf = String::new();
        let mut entries = Vec::with_capacity(cands.len());
        for c in cands {
            let Some((mut keys, id)) = c.rest.map(|r| *r) else {
                continue;
            };
            for (key, source) in keys.iter_mut().zip(&self.sources) {
                if let (Key::Ord(ord), Source::Str(Some(col))) = (&*key, source) {
                    buf.clear();
                    *key = match col.ord_to_str(*ord, &mut buf) {
                        Ok(true) => Key::Str(buf.clone()),
                        _ => Key::Missing,
                    };
                }
            }
            entries.push(Entry { keys, id });
        }
        (self.count, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::SortSource;
    use tantivy::schema::{FAST, Schema, TextOptions};
    use tantivy::{Index, IndexWriter, TantivyDocument, doc};

    /// Many documents over several segments, with heavy ties and missing values: the lazy
    /// collector must keep exactly the page a full sort keeps.
    #[test]
    fn keeps_the_same_page_as_a_full_sort() {
        let mut b = Schema::builder();
        let hi = b.add_u64_field("lead_hi", FAST);
        let lo = b.add_u64_field("lead_lo", FAST);
        let k = b.add_i64_field("k", FAST);
        let name = b.add_text_field("name_sort", TextOptions::default().set_fast("raw"));
        let index = Index::create_in_ram(b.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let names = ["ada", "bob", "cy", "dee", "eve"];
        let mut rows = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..5_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = u128::from(x % 100_000) << 64 | u128::from(i);
            let key = (!x.is_multiple_of(11)).then_some((x >> 8) as i64 % 9);
            let n = names[(x >> 20) as usize % names.len()];
            let mut d: TantivyDocument = doc!(hi => (id >> 64) as u64, lo => id as u64, name => n);
            if let Some(v) = key {
                d.add_i64(k, v);
            }
            writer.add_document(d).unwrap();
            rows.push((key, n.to_owned(), id));
            if i % 1_700 == 1_699 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() > 1);
        let spec = |source: SortSource, descending: bool| SortSpec {
            label: String::new(),
            source,
            descending,
        };
        let by_key = || SortSource::I64 {
            field: "k",
            date: false,
        };
        for specs in [
            vec![spec(by_key(), true), spec(SortSource::Name, false)],
            vec![spec(by_key(), false)],
            vec![spec(SortSource::Name, true), spec(by_key(), false)],
        ] {
            for keep in [0, 1, 50, 600] {
                let collector = TopCollector {
                    specs: specs.clone(),
                    keep,
                };
                let (total, got) = searcher
                    .search(&tantivy::query::AllQuery, &collector)
                    .unwrap();
                assert_eq!(total, rows.len());
                let mut want: Vec<Entry> = rows
                    .iter()
                    .map(|(key, n, id)| Entry {
                        keys: specs
                            .iter()
                            .map(|s| match s.source {
                                SortSource::Name => Key::Str(n.clone()),
                                _ => key.map_or(Key::Missing, Key::I),
                            })
                            .collect(),
                        id: *id,
                    })
                    .collect();
                want.sort_by(|a, b| compare(&specs, a, b));
                want.truncate(keep);
                let ids = |v: &[Entry]| v.iter().map(|e| e.id).collect::<Vec<_>>();
                assert_eq!(ids(&got), ids(&want), "{specs:?} keep {keep}");
                let keys = |v: &[Entry]| v.iter().map(|e| e.keys.clone()).collect::<Vec<_>>();
                assert_eq!(keys(&got), keys(&want));
            }
        }
    }
}
