//! The result collector: counts every matching lead and keeps the first `keep` in `sort:`
//! order (several keys, each ascending or descending, missing values last, ties broken by
//! lead id), reading sort values from fast fields. Pure tantivy; no store.

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
    for (i, spec) in specs.iter().enumerate() {
        let o = cmp_key(&a.keys[i], &b.keys[i], spec.descending);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
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

pub struct TopSegment {
    specs: Vec<SortSpec>,
    sources: Vec<Source>,
    hi: Column<u64>,
    lo: Column<u64>,
    keep: usize,
    count: usize,
    entries: Vec<Entry>,
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
            entries: Vec::new(),
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

impl SegmentCollector for TopSegment {
    type Fruit = (usize, Vec<Entry>);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        if self.keep == 0 {
            return;
        }
        let keys = self
            .sources
            .iter()
            .map(|s| match s {
                Source::Score => Key::F(f64::from(score)),
                Source::I64(c) => c.first(doc).map_or(Key::Missing, Key::I),
                Source::F64(c) => c.first(doc).map_or(Key::Missing, Key::F),
                Source::Str(Some(c)) => c.term_ords(doc).next().map_or(Key::Missing, Key::Ord),
                Source::Str(None) | Source::None => Key::Missing,
            })
            .collect();
        let id = match (self.hi.first(doc), self.lo.first(doc)) {
            (Some(h), Some(l)) => u128::from(h) << 64 | u128::from(l),
            _ => 0,
        };
        self.entries.push(Entry { keys, id });
        if self.entries.len() >= 2 * self.keep.max(512) {
            top(&self.specs, &mut self.entries, self.keep);
        }
    }

    fn harvest(mut self) -> (usize, Vec<Entry>) {
        top(&self.specs, &mut self.entries, self.keep);
        let mut buf = String::new();
        for entry in &mut self.entries {
            for (key, source) in entry.keys.iter_mut().zip(&self.sources) {
                if let (Key::Ord(ord), Source::Str(Some(col))) = (&*key, source) {
                    buf.clear();
                    *key = match col.ord_to_str(*ord, &mut buf) {
                        Ok(true) => Key::Str(buf.clone()),
                        _ => Key::Missing,
                    };
                }
            }
        }
        (self.count, self.entries)
    }
}
