//! Record framing on the decoded text, before the CSV parser sees it, following the CSV
//! quoting rules: every line end (`\r\n`, `\r`, `\n`) becomes `\n`, in values too (so CRLF
//! and CR files count lines as LF files do, and imported text has one kind of line break), a record longer than the cap is cut at the cap and marked (its line is
//! rejected, the rest of the file imports; memory stays bounded for a 2 GB line), and a quote
//! still open at the end of the file is closed and marked with the line it opened on.

use std::collections::VecDeque;
use std::io::{self, Read};

/// Put in a field cut at the length cap.
pub const TOO_LONG: char = '\u{FDD0}';
/// Put (twice, around the line number the quote opened on) in a field whose quote is never
/// closed.
pub const OPEN_QUOTE: char = '\u{FDD1}';

#[derive(Clone, Copy, PartialEq)]
enum Q {
    Start,
    Plain,
    Quoted,
    QuoteInQuoted,
}

pub struct Framed<R> {
    inner: R,
    delimiter: u8,
    cap: usize,
    /// Bytes of the current record so far.
    run: usize,
    state: Q,
    /// Lines (`\n`) passed so far.
    line: u64,
    /// Line where the open quote started.
    quote_line: u64,
    /// The previous byte was a `\r` (a `\n` after it is the same line end).
    after_cr: bool,
    /// The current record went past the cap: its bytes are dropped up to its end.
    skipping: bool,
    /// `skipping` began inside quotes: the quote is closed before the record's end.
    close_quote: bool,
    eof: bool,
    inbuf: Vec<u8>,
    out: VecDeque<u8>,
}

impl<R: Read> Framed<R> {
    pub fn new(inner: R, delimiter: u8, cap: usize) -> Framed<R> {
        Framed {
            inner,
            delimiter,
            cap,
            run: 0,
            state: Q::Start,
            line: 1,
            quote_line: 1,
            after_cr: false,
            skipping: false,
            close_quote: false,
            eof: false,
            inbuf: vec![0; 64 * 1024],
            out: VecDeque::with_capacity(64 * 1024),
        }
    }

    fn push_char(&mut self, c: char) {
        let mut b = [0; 4];
        self.out.extend(c.encode_utf8(&mut b).as_bytes());
    }

    fn end_record(&mut self) {
        if self.skipping && self.close_quote {
            self.out.push_back(b'"');
        }
        self.out.push_back(b'\n');
        self.state = Q::Start;
        self.run = 0;
        self.skipping = false;
        self.close_quote = false;
    }

    fn byte(&mut self, b: u8) {
        let quoted = self.state == Q::Quoted;
        let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
        if after_cr && b == b'\n' {
            return; // the `\n` of a `\r\n`, already passed on as `\n`
        }
        // A line end is `\n`, `\r\n` or `\r`, inside quotes too; all become `\n`.
        let b = if b == b'\r' { b'\n' } else { b };
        if b == b'\n' {
            self.line += 1;
            if !quoted {
                self.end_record();
                return;
            }
        }
        self.state = match (self.state, b) {
            (Q::Start, b'"') => {
                self.quote_line = self.line;
                Q::Quoted
            }
            (Q::Quoted, b'"') => Q::QuoteInQuoted,
            (Q::QuoteInQuoted, b'"') => Q::Quoted,
            (Q::Quoted, _) => Q::Quoted,
            (_, d) if d == self.delimiter => Q::Start,
            _ => Q::Plain,
        };
        if self.skipping {
            return;
        }
        self.run += 1;
        if self.run > self.cap && b & 0xC0 != 0x80 {
            // Cut here: at a character's first byte, never inside one.
            self.skipping = true;
            self.close_quote = self.state == Q::Quoted;
            self.push_char(TOO_LONG);
            return;
        }
        self.out.push_back(b);
    }

    fn finish(&mut self) {
        if self.state == Q::Quoted {
            let line = self.quote_line;
            self.push_char(OPEN_QUOTE);
            self.out.extend(line.to_string().as_bytes());
            self.push_char(OPEN_QUOTE);
            self.out.push_back(b'"');
        }
    }
}

impl<R: Read> Read for Framed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out.is_empty() && !self.eof {
            let k = self.inner.read(&mut self.inbuf)?;
            if k == 0 {
                self.eof = true;
                self.finish();
                break;
            }
            let mut inbuf = std::mem::take(&mut self.inbuf);
            for &b in &inbuf[..k] {
                self.byte(b);
            }
            std::mem::swap(&mut self.inbuf, &mut inbuf);
        }
        let n = buf.len().min(self.out.len());
        for (dst, src) in buf.iter_mut().zip(self.out.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

/// What a field's markers say about its record, if anything.
pub fn problem(fields: &[&str], cap: usize) -> Option<String> {
    for f in fields {
        if let Some(i) = f.find(OPEN_QUOTE) {
            let rest = &f[i + OPEN_QUOTE.len_utf8()..];
            let line = rest.split(OPEN_QUOTE).next().unwrap_or("?");
            return Some(format!(
                "unterminated quote opened on line {line}: every line after it up to the end of the file is inside it; close the quote (or double the quote characters inside a quoted value)"
            ));
        }
    }
    fields.iter().any(|f| f.contains(TOO_LONG)).then(|| {
        format!(
            "the record is longer than {} KiB (the limit); it was not imported",
            cap / 1024
        )
    })
}

/// A record without the markers (what the error file shows).
pub fn clean(field: &str) -> String {
    match field.find([TOO_LONG, OPEN_QUOTE]) {
        Some(i) => field[..i].to_string(),
        None => field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(input: &str, cap: usize) -> String {
        let mut out = String::new();
        Framed::new(input.as_bytes(), b',', cap)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn line_ends_cuts_and_open_quotes() {
        assert_eq!(framed("a,b\r\nc,d\r\n", 100), "a,b\nc,d\n");
        assert_eq!(framed("a,b\rc,d\r", 100), "a,b\nc,d\n");
        assert_eq!(framed("a,\"x\r\ny\rz\"\r\nc\n", 100), "a,\"x\ny\nz\"\nc\n");
        assert_eq!(framed("ab,cdefgh\nok\n", 5), "ab,cd\u{FDD0}\nok\n");
        assert_eq!(
            framed("a,\"long\nquoted\"\nok\n", 6),
            "a,\"lon\u{FDD0}\"\nok\n"
        );
        assert_eq!(
            framed("h\nok\n\"open\nmore\n", 100),
            "h\nok\n\"open\nmore\n\u{FDD1}3\u{FDD1}\""
        );
        let p = problem(&["x", "\"open\u{FDD1}3\u{FDD1}"], 1024).unwrap();
        assert!(p.starts_with("unterminated quote opened on line 3"), "{p}");
        let p = problem(&["ab\u{FDD0}"], 2048).unwrap();
        assert!(p.contains("longer than 2 KiB"), "{p}");
        assert_eq!(clean("ab\u{FDD0}"), "ab");
    }
}
