//! The lexer: query text to tokens with byte spans. It never fails; an unterminated quote
//! becomes a diagnostic plus a token running to the end. Keywords are not decided here.

use std::ops::Range;

use crate::ast::CmpOp;
use crate::diag::{Diagnostic, ErrorCode};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A run of word characters (anything but whitespace and `( ) , : = < > "`).
    Word,
    /// A `"quoted string"`; `text` holds it unescaped.
    Quoted,
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
    /// The word as written, or the quoted string unescaped; empty for punctuation.
    pub text: String,
}

/// Characters that end a word.
pub(crate) fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ',' | ':' | '=' | '<' | '>' | '"')
}

/// Whether `text` reads back as exactly one word (so the formatter can leave it unquoted).
pub(crate) fn is_plain_word(text: &str) -> bool {
    let mut diags = Vec::new();
    matches!(&lex(text, &mut diags)[..], [token] if token.kind == TokenKind::Word && token.span == (0..text.len()))
}

/// Splits `src` into tokens; diagnostics (unterminated quotes) are pushed to `diags`.
pub(crate) fn lex(src: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let punct = |kind, len: usize| Token {
            kind,
            span: start..start + len,
            text: String::new(),
        };
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | ':' | '=' => {
                chars.next();
                let kind = match c {
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    ',' => TokenKind::Comma,
                    ':' => TokenKind::Op(CmpOp::Match),
                    _ => TokenKind::Op(CmpOp::Eq),
                };
                tokens.push(punct(kind, 1));
            }
            '<' | '>' => {
                chars.next();
                let or_equal = chars.next_if(|&(_, next)| next == '=').is_some();
                let op = match (c, or_equal) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                tokens.push(punct(TokenKind::Op(op), 1 + usize::from(or_equal)));
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\\' => match chars.next_if(|&(_, next)| next == '"' || next == '\\') {
                            Some((_, escaped)) => text.push(escaped),
                            None => text.push('\\'),
                        },
                        c => text.push(c),
                    }
                }
                let end = end.unwrap_or_else(|| {
                    diags.push(
                        Diagnostic::new(
                            ErrorCode::UnterminatedQuote,
                            start..src.len(),
                            "unterminated quote",
                        )
                        .with_hint("add a closing `\"`"),
                    );
                    src.len()
                });
                tokens.push(Token {
                    kind: TokenKind::Quoted,
                    span: start..end,
                    text,
                });
            }
            _ => {
                let end = word_end(src, start);
                while chars.next_if(|&(i, _)| i < end).is_some() {}
                tokens.push(Token {
                    kind: TokenKind::Word,
                    span: start..end,
                    text: src[start..end].to_owned(),
                });
            }
        }
    }
    tokens
}

/// The end of the word starting at `start`. A word normally stops at a delimiter, but two
/// shapes keep their colons so they read as one value: a date-time (`2024-01-31T09:30`) and a
/// URL scheme (`https://example.com`).
fn word_end(src: &str, start: usize) -> usize {
    let mut end = start;
    loop {
        end += src[end..].find(is_delimiter).unwrap_or(src.len() - end);
        let rest = &src[end..];
        let word = &src[start..end];
        let keeps_colon = (looks_like_date_hour(word)
            && rest.as_bytes().get(1).is_some_and(u8::is_ascii_digit))
            || (rest.starts_with("://") && !word.is_empty());
        if !rest.starts_with(':') || !keeps_colon {
            return end;
        }
        end += if rest.starts_with("://") { 3 } else { 1 };
    }
}

/// `YYYY-M-DTHH` (and longer, for `…T09:30:15`), the part of a date-time before a colon.
fn looks_like_date_hour(word: &str) -> bool {
    let Some((date, time)) = word.split_once(['T', 't']) else {
        return false;
    };
    let parts: Vec<&str> = date.split('-').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 3
        && parts.iter().all(|p| digits(p))
        && time.split(':').all(|p| digits(p) && p.len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_str(src: &str) -> String {
        let mut diags = Vec::new();
        let tokens = lex(src, &mut diags);
        let mut out: Vec<String> = tokens
            .iter()
            .map(|t| match t.kind {
                TokenKind::Word => format!("w:{}", t.text),
                TokenKind::Quoted => format!("q:{}", t.text),
                TokenKind::LParen => "(".to_owned(),
                TokenKind::RParen => ")".to_owned(),
                TokenKind::Comma => ",".to_owned(),
                TokenKind::Op(op) => op.as_str().to_owned(),
            })
            .collect();
        out.extend(diags.iter().map(|d| format!("!{}@{:?}", d.code, d.span)));
        out.join(" ")
    }

    #[test]
    fn lexes_punctuation_words_and_quotes() {
        assert_eq!(lex_str("a:b"), "w:a : w:b");
        assert_eq!(
            lex_str("x <= 3 y>=4 z<5 q>6"),
            "w:x <= w:3 w:y >= w:4 w:z < w:5 w:q > w:6"
        );
        assert_eq!(lex_str(r#"f in ("a b", c)"#), "w:f w:in ( q:a b , w:c )");
        assert_eq!(lex_str(r#""say \"hi\" \\ \x""#), r#"q:say "hi" \ \x"#);
        assert_eq!(
            lex_str("sort:-created,name"),
            "w:sort : w:-created , w:name"
        );
        assert_eq!(lex_str("épée  ü"), "w:épée w:ü");
    }

    #[test]
    fn keeps_colons_in_date_times_and_urls() {
        assert_eq!(
            lex_str("date:2024-01-31T09:30"),
            "w:date : w:2024-01-31T09:30"
        );
        assert_eq!(
            lex_str("date:2024-01-31T09:30:15"),
            "w:date : w:2024-01-31T09:30:15"
        );
        assert_eq!(lex_str("https://x.com/a"), "w:https://x.com/a");
        assert_eq!(lex_str("url:http://x.com"), "w:url : w:http://x.com");
        assert_eq!(lex_str("2024-01-31T09:"), "w:2024-01-31T09 :");
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        assert_eq!(lex_str(r#"a "abc"#), "w:a q:abc !unterminated_quote@2..6");
        assert_eq!(lex_str(r#""ab\"#), r#"q:ab\ !unterminated_quote@0..4"#);
    }
}
