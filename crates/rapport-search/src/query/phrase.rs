//! A phrase whose last word is a prefix, matching every word that prefix starts, however many
//! a segment holds: tantivy's `PhrasePrefixQuery` stops after `max_expansions` words (and
//! allocates that many up front), so the limit is set to the largest number of words the
//! prefix actually starts in any segment, counted in the term dictionary.

use tantivy::query::{EnableScoring, PhrasePrefixQuery, Query, Weight};
use tantivy::{Searcher, SegmentReader, Term};

use super::Q;

#[derive(Clone, Debug)]
pub(crate) struct PhrasePrefix {
    /// The phrase's words; the last one is the prefix. At least two.
    pub(crate) terms: Vec<Term>,
}

impl PhrasePrefix {
    fn with_limit(&self, max_expansions: u32) -> PhrasePrefixQuery {
        let mut q = PhrasePrefixQuery::new(self.terms.clone());
        q.set_max_expansions(max_expansions);
        q
    }

    /// How many words of its field `reader`'s segment holds that start with the prefix.
    fn words_in(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        let Some(last) = self.terms.last() else {
            return Ok(0);
        };
        let start = last.serialized_value_bytes();
        let mut end = start.to_vec();
        while end.last() == Some(&u8::MAX) {
            end.pop();
        }
        if let Some(b) = end.last_mut() {
            *b += 1;
        }
        let inverted = reader.inverted_index(last.field())?;
        let mut range = inverted.terms().range().ge(start);
        if !end.is_empty() {
            range = range.lt(&end);
        }
        let mut stream = range.into_stream()?;
        let mut n = 0u32;
        while stream.advance() {
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    fn most_words(&self, searcher: &Searcher) -> tantivy::Result<u32> {
        let mut most = 0;
        for reader in searcher.segment_readers() {
            most = most.max(self.words_in(reader)?);
        }
        Ok(most)
    }
}

impl Query for PhrasePrefix {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        match scoring.searcher() {
            Some(searcher) => self.with_limit(self.most_words(searcher)?).weight(scoring),
            // No segments known up front: each segment counts its own words.
            None => Ok(Box::new(PerSegment {
                query: self.clone(),
            })),
        }
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for t in &self.terms[..self.terms.len().saturating_sub(1)] {
            visitor(t, true);
        }
    }
}

/// The unscored form without a searcher: the limit is found per segment.
struct PerSegment {
    query: PhrasePrefix,
}

impl Weight for PerSegment {
    fn scorer(
        &self,
        reader: &SegmentReader,
        boost: tantivy::Score,
    ) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        self.query
            .with_limit(self.query.words_in(reader)?)
            .weight(EnableScoring::disabled_from_schema(reader.schema()))?
            .scorer(reader, boost)
    }

    fn explain(
        &self,
        reader: &SegmentReader,
        doc: tantivy::DocId,
    ) -> tantivy::Result<tantivy::query::Explanation> {
        self.query
            .with_limit(self.query.words_in(reader)?)
            .weight(EnableScoring::disabled_from_schema(reader.schema()))?
            .explain(reader, doc)
    }
}

/// The query for `terms` (two or more words, the last a prefix).
pub(crate) fn phrase_prefix(terms: Vec<Term>) -> Q {
    Box::new(PhrasePrefix { terms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::Count;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{DocSet, Index, TERMINATED, doc};

    /// Both forms (with the searcher's segments known up front, and counted per segment)
    /// match all 3,000 words a prefix starts in one segment, and only after the phrase's
    /// first word.
    #[test]
    fn every_word_of_the_prefix_matches_in_both_forms() {
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut w = index.writer(20_000_000).unwrap();
        for n in 0..3_000u32 {
            w.add_document(doc!(text => format!("acme q{n:05}")))
                .unwrap();
            w.add_document(doc!(text => format!("other q{n:05}")))
                .unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let q = PhrasePrefix {
            terms: vec![
                Term::from_field_text(text, "acme"),
                Term::from_field_text(text, "q"),
            ],
        };
        assert_eq!(searcher.search(&q, &Count).unwrap(), 3_000);
        let weight = q
            .weight(EnableScoring::disabled_from_schema(searcher.schema()))
            .unwrap();
        let mut scorer = weight.scorer(&searcher.segment_readers()[0], 1.0).unwrap();
        let mut n = 0;
        while scorer.doc() != TERMINATED {
            n += 1;
            scorer.advance();
        }
        assert_eq!(n, 3_000);
    }
}
