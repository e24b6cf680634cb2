//! The words of a text as the index and the query planner see them: split on anything that
//! is not a letter or digit, words of [`MAX_WORD`] bytes or more dropped, lower-cased and
//! accent-folded — what tantivy's `SimpleTokenizer`, `RemoveLongFilter`, `LowerCaser` and
//! `AsciiFoldingFilter` make of it, in one pass with a fast path for ASCII (a test checks
//! the two agree). Kept words are numbered consecutively: a dropped word leaves no gap, so a
//! phrase and the normalized value ([`crate::schema::norm`]) see the same words.
//!
//! The marked variant ([`Words::marked`]) puts a [`MARK`] token before and after the words
//! of each value: `field = "a b"` is then the phrase `MARK a b MARK`, which only a whole
//! value matches, so exact values need no index terms of their own (a term per value was a
//! fifth of a rebuild's time). Every value marked this way has tokens, so the field's norms
//! also say whether it has a value at all.

use std::cell::RefCell;

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Words this long (in bytes) or longer are not indexed.
pub const MAX_WORD: usize = 64;

/// The token around each value of a marked field: not a word (words are letters and
/// digits), so no query word or prefix ever matches it.
pub const MARK: &str = "\u{2}";

/// The tokenizer: plain (words) or marked (each value's words between two [`MARK`]s).
#[derive(Clone, Default)]
pub struct Words {
    marked: bool,
    token: Token,
}

impl Words {
    pub fn plain() -> Words {
        Words::default()
    }

    pub fn marked() -> Words {
        Words {
            marked: true,
            token: Token::default(),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Open,
    Words,
    Done,
}

pub struct WordStream<'a> {
    text: &'a str,
    /// Where the scan goes on.
    at: usize,
    token: &'a mut Token,
    /// The next token's position.
    position: usize,
    marked: bool,
    state: State,
}

impl Tokenizer for Words {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            at: 0,
            token: &mut self.token,
            position: 0,
            marked: self.marked,
            state: if self.marked {
                State::Open
            } else {
                State::Words
            },
        }
    }
}

/// The char at byte `i` of `text` and whether it is a letter or digit.
fn word_char(text: &str, i: usize) -> (bool, usize) {
    let b = text.as_bytes()[i];
    if b.is_ascii() {
        return (b.is_ascii_alphanumeric(), 1);
    }
    match text[i..].chars().next() {
        Some(c) => (c.is_alphanumeric(), c.len_utf8()),
        None => (false, 1),
    }
}

/// Lower-cases and folds a word with non-ASCII letters the way tantivy's filters do.
fn fold_into(raw: &str, out: &mut String) {
    thread_local! {
        static FOLD: RefCell<TextAnalyzer> = RefCell::new(
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        );
    }
    FOLD.with(|f| {
        let mut f = f.borrow_mut();
        let mut stream = f.token_stream(raw);
        if stream.advance() {
            out.push_str(&stream.token().text);
        }
    });
}

impl WordStream<'_> {
    fn emit(&mut self, text: &str, from: usize, to: usize) {
        self.token.text.clear();
        self.token.text.push_str(text);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.position;
        self.position += 1;
    }

    fn next_word(&mut self) -> bool {
        let len = self.text.len();
        loop {
            let mut start = self.at;
            while start < len {
                let (word, width) = word_char(self.text, start);
                if word {
                    break;
                }
                start += width;
            }
            if start >= len {
                self.at = len;
                return false;
            }
            let mut end = start;
            while end < len {
                let (word, width) = word_char(self.text, end);
                if !word {
                    break;
                }
                end += width;
            }
            self.at = end;
            if end - start >= MAX_WORD {
                continue;
            }
            let raw = &self.text[start..end];
            self.token.text.clear();
            if raw.is_ascii() {
                self.token.text.push_str(raw);
                self.token.text.make_ascii_lowercase();
            } else {
                fold_into(raw, &mut self.token.text);
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = self.position;
            self.position += 1;
            return true;
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        match self.state {
            State::Open => {
                self.emit(MARK, 0, 0);
                self.state = State::Words;
                true
            }
            State::Words => {
                if self.next_word() {
                    return true;
                }
                self.state = State::Done;
                if self.marked {
                    let end = self.text.len();
                    self.emit(MARK, end, end);
                    return true;
                }
                false
            }
            State::Done => false,
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Calls `each` with every word of `text` (plain tokenizer, one per thread).
pub fn for_each_word(text: &str, mut each: impl FnMut(&str)) {
    thread_local! {
        static WORDS: RefCell<Words> = RefCell::new(Words::plain());
    }
    WORDS.with(|w| {
        let mut w = w.borrow_mut();
        let mut stream = w.token_stream(text);
        while stream.advance() {
            each(&stream.token().text);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::tokenizer::{RemoveLongFilter, SimpleTokenizer};

    fn tantivy_words(text: &str) -> Vec<String> {
        let mut a = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_WORD))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    fn ours(words: &mut Words, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut stream = words.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        out
    }

    #[test]
    fn words_are_split_lowered_and_folded() {
        let got: Vec<String> = ours(&mut Words::plain(), "Crème brûlée, ACME-Online 2.0")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(got, ["creme", "brulee", "acme", "online", "2", "0"]);
    }

    #[test]
    fn a_dropped_word_leaves_no_gap() {
        let long = "x".repeat(MAX_WORD);
        let got = ours(&mut Words::plain(), &format!("a {long} b"));
        let positions: Vec<usize> = got.iter().map(|t| t.1).collect();
        assert_eq!(positions, [0, 1]);
        assert_eq!(got[1].0, "b");
        assert_eq!(got[1].2, MAX_WORD + 3);
    }

    #[test]
    fn marked_values_open_and_close_with_the_mark() {
        let got = ours(&mut Words::marked(), "Acme Inc");
        let texts: Vec<&str> = got.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(texts, [MARK, "acme", "inc", MARK]);
        let positions: Vec<usize> = got.iter().map(|t| t.1).collect();
        assert_eq!(positions, [0, 1, 2, 3]);
        // A value without words is still two marks.
        let texts: Vec<String> = ours(&mut Words::marked(), " — ")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(texts, [MARK, MARK]);
    }

    fn text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            "[a-zA-Z0-9]{1,8}",
            "[ ,.@+/_-]{1,3}",
            Just("Ærøskøbing".to_owned()),
            Just("İstanbul".to_owned()),
            Just("ΣΟΦΟΣ".to_owned()),
            Just("straße".to_owned()),
            Just("東京".to_owned()),
            Just("٣٤".to_owned()),
            Just("①".to_owned()),
            Just("😀".to_owned()),
            Just("ﬁne".to_owned()),
            Just("x".repeat(MAX_WORD - 1)),
            Just("é".repeat(MAX_WORD / 2)),
            "\\PC{1,4}",
        ];
        prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_one_pass_tokenizer_agrees_with_tantivys_chain(s in text()) {
            let got = ours(&mut Words::plain(), &s);
            let texts: Vec<String> = got.iter().map(|t| t.0.clone()).collect();
            prop_assert_eq!(&texts, &tantivy_words(&s));
            for (i, t) in got.iter().enumerate() {
                prop_assert_eq!(t.1, i);
            }
            let marked = ours(&mut Words::marked(), &s);
            prop_assert_eq!(marked.len(), texts.len() + 2);
        }
    }
}
