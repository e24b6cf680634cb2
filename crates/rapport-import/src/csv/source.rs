//! Opening a CSV file as a stream: encoding (BOM, UTF-8, UTF-16, Windows-1252), binary
//! detection, delimiter sniffing, the header row, record framing (`framing`: line ends, the
//! length cap, unterminated quotes), file identity for resume, and the preview.

use super::CsvError;
use super::mapping::{self, Mapping, UnknownColumns};
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest record accepted (1 MiB of decoded text); a longer one is rejected with its line.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
const SAMPLE: usize = 64 * 1024;
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How the file is written.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub encoding: &'static Encoding,
    pub delimiter: u8,
}

impl Dialect {
    pub fn delimiter_name(&self) -> String {
        match self.delimiter {
            b'\t' => "tab".into(),
            d => (d as char).to_string(),
        }
    }
}

pub type CsvReader = ::csv::Reader<Box<dyn Read + Send>>;

fn read_sample(path: &Path) -> Result<Vec<u8>, CsvError> {
    let f =
        File::open(path).map_err(|e| CsvError::io(format!("cannot open {}", path.display()), e))?;
    let mut buf = Vec::with_capacity(SAMPLE);
    f.take(SAMPLE as u64)
        .read_to_end(&mut buf)
        .map_err(|e| CsvError::io(format!("cannot read {}", path.display()), e))?;
    Ok(buf)
}

fn guess_encoding(raw: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(raw) {
        return enc;
    }
    match std::str::from_utf8(raw) {
        Ok(_) => return UTF_8,
        // A sample cut in the middle of a character is still UTF-8.
        Err(e) if e.error_len().is_none() => return UTF_8,
        Err(_) => {}
    }
    let zeros = |parity: usize| {
        raw.iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let half = raw.len() / 2;
    if half > 8 && zeros(1) > half * 3 / 10 && zeros(0) == 0 {
        UTF_16LE
    } else if half > 8 && zeros(0) > half * 3 / 10 && zeros(1) == 0 {
        UTF_16BE
    } else {
        // Latin-1 is a subset of Windows-1252 (WHATWG treats them as one).
        WINDOWS_1252
    }
}

/// Sniffs encoding and delimiter from the first 64 KiB and rejects empty and binary files.
pub fn sniff(path: &Path) -> Result<(Dialect, String), CsvError> {
    let raw = read_sample(path)?;
    let name = path.display();
    for (magic, what) in [
        (
            &b"PK\x03\x04"[..],
            "a ZIP archive (an .xlsx workbook?); save it as CSV first",
        ),
        (
            &b"\xD0\xCF\x11\xE0"[..],
            "an Excel .xls workbook; save it as CSV first",
        ),
        (&b"%PDF"[..], "a PDF document"),
        (&b"SQLite format 3"[..], "an SQLite database"),
    ] {
        if raw.starts_with(magic) {
            return Err(CsvError::input(
                "csv_binary",
                format!("{name} is {what}, not a CSV file"),
            ));
        }
    }
    let encoding = guess_encoding(&raw);
    let (text, _, _) = encoding.decode(&raw);
    let text = text.trim_start_matches('\u{feff}').to_string();
    if text.trim().is_empty() {
        return Err(CsvError::input("csv_empty", format!("{name} is empty")));
    }
    let chars = text.chars().count().max(1);
    let control = text
        .chars()
        .filter(|c| (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || *c == '\u{fffd}')
        .count();
    if text.contains('\0') || control * 100 > chars {
        return Err(CsvError::input(
            "csv_binary",
            format!(
                "{name} looks like a binary file, not CSV text ({control} control characters in the first {chars})"
            ),
        ));
    }
    let delimiter = sniff_delimiter(&text);
    Ok((
        Dialect {
            encoding,
            delimiter,
        },
        text,
    ))
}

/// Counts each candidate per record (outside quotes) over the first records and picks the one
/// that is present and consistent, preferring more columns.
fn sniff_delimiter(text: &str) -> u8 {
    let mut lines: Vec<[usize; 4]> = Vec::new();
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                lines.push(counts);
                counts = [0; 4];
                if lines.len() >= 20 {
                    break;
                }
            }
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    if counts.iter().any(|c| *c > 0) && lines.len() < 20 {
        lines.push(counts);
    }
    let Some(first) = lines.first().copied() else {
        return b',';
    };
    let score = |i: usize| {
        let consistent = lines.iter().filter(|l| l[i] == first[i]).count();
        (first[i] > 0, consistent, first[i])
    };
    let best = (0..4).max_by_key(|i| score(*i)).unwrap_or(0);
    if first[best] == 0 {
        b','
    } else {
        DELIMITERS[best]
    }
}

/// Counts raw bytes read (progress).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Maps a csv/io error to ours.
pub fn read_error(e: ::csv::Error, path: &Path) -> CsvError {
    CsvError::io(format!("cannot read {}", path.display()), e)
}

/// Opens the file as a decoded, capped CSV record stream. The counter gets raw bytes read.
pub fn open(path: &Path, d: Dialect, cap: usize) -> Result<(CsvReader, Arc<AtomicU64>), CsvError> {
    let f =
        File::open(path).map_err(|e| CsvError::io(format!("cannot open {}", path.display()), e))?;
    let n = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: BufReader::with_capacity(256 * 1024, f),
        n: n.clone(),
    };
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(d.encoding))
        .bom_override(true)
        .build(counting);
    let capped = super::framing::Framed::new(decoded, d.delimiter, cap);
    let rdr = ::csv::ReaderBuilder::new()
        .delimiter(d.delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(128 * 1024)
        .from_reader(Box::new(capped) as Box<dyn Read + Send>);
    Ok((rdr, n))
}

/// Reads the header row: trimmed names, `Column N` for blanks, duplicates refused.
pub fn header(rdr: &mut CsvReader, path: &Path) -> Result<Vec<String>, CsvError> {
    let mut rec = ::csv::StringRecord::new();
    if !rdr.read_record(&mut rec).map_err(|e| read_error(e, path))? {
        return Err(CsvError::input(
            "csv_empty",
            format!("{} is empty", path.display()),
        ));
    }
    let fields: Vec<&str> = rec.iter().collect();
    if let Some(p) = super::framing::problem(&fields, super::MAX_RECORD_BYTES) {
        return Err(CsvError::input(
            "csv_header",
            format!("{}: the header row: {p}", path.display()),
        ));
    }
    let names: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.trim().trim_start_matches('\u{feff}').trim();
            if h.is_empty() {
                format!("Column {}", i + 1)
            } else {
                h.to_string()
            }
        })
        .collect();
    for (i, a) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|b| b.eq_ignore_ascii_case(a)) {
            return Err(CsvError::input(
                "csv_header",
                format!(
                    "{}: the header names column `{a}` twice (columns {} and {}); rename one",
                    path.display(),
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    if let Some(h) = names.iter().find(|h| super::values::looks_like_data(h)) {
        return Err(CsvError::input(
            "csv_header",
            format!(
                "{}: the first row looks like data (`{h}`), not a header; add a header row naming the columns",
                path.display()
            ),
        ));
    }
    Ok(names)
}

/// Path + size + SHA-256 of the first MiB: how a resumed import knows it is the same file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileIdentity {
    pub path: String,
    pub size: u64,
    pub head_hash: String,
}

pub fn identity(path: &Path) -> Result<FileIdentity, CsvError> {
    let canon = std::fs::canonicalize(path)
        .map_err(|e| CsvError::io(format!("cannot open {}", path.display()), e))?;
    let f = File::open(&canon)
        .map_err(|e| CsvError::io(format!("cannot open {}", path.display()), e))?;
    let size = f
        .metadata()
        .map_err(|e| CsvError::io(path.display(), e))?
        .len();
    let mut head = Vec::with_capacity(1 << 20);
    f.take(1 << 20)
        .read_to_end(&mut head)
        .map_err(|e| CsvError::io(path.display(), e))?;
    let hash = Sha256::digest(&head);
    Ok(FileIdentity {
        path: canon.display().to_string(),
        size,
        head_hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// What the import wizard shows before importing.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub encoding: String,
    /// `,` `;` `|` or `tab`.
    pub delimiter: String,
    pub headers: Vec<String>,
    /// The first rows, as read.
    pub rows: Vec<Vec<String>>,
    /// Suggested mapping (unknown columns become custom fields; switch them to `skip`).
    pub mapping: Mapping,
    pub size_bytes: u64,
}

/// Reads the first rows and suggests a mapping. `sample_rows` rows are returned; up to 1000
/// are read to type custom fields and detect day-first dates.
pub fn preview_csv(path: &Path, sample_rows: usize) -> Result<Preview, CsvError> {
    let (d, _) = sniff(path)?;
    let (mut rdr, _) = open(path, d, MAX_RECORD_BYTES)?;
    let headers = header(&mut rdr, path)?;
    let sample = read_rows(&mut rdr, 1000, path)?;
    if sample.is_empty() {
        return Err(CsvError::input(
            "csv_no_rows",
            format!("{} has a header but no rows", path.display()),
        ));
    }
    let mapping = mapping::suggest(&headers, &sample, UnknownColumns::Custom);
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(Preview {
        encoding: d.encoding.name().to_string(),
        delimiter: d.delimiter_name(),
        headers,
        rows: sample.into_iter().take(sample_rows).collect(),
        mapping,
        size_bytes,
    })
}

/// Up to `n` records as strings.
pub fn read_rows(rdr: &mut CsvReader, n: usize, path: &Path) -> Result<Vec<Vec<String>>, CsvError> {
    let mut out = Vec::new();
    let mut rec = ::csv::StringRecord::new();
    while out.len() < n && rdr.read_record(&mut rec).map_err(|e| read_error(e, path))? {
        out.push(rec.iter().map(str::to_string).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1,5;2;3\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n\"x,y\"\tz\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3"), b'|');
        assert_eq!(sniff_delimiter("name\nAcme\n"), b',');
        assert_eq!(sniff_delimiter("\"a;b\",c\n\"x;y\",z\n"), b',');
    }

    #[test]
    fn encodings_are_guessed() {
        assert_eq!(guess_encoding(b"\xEF\xBB\xBFa,b"), UTF_8);
        assert_eq!(guess_encoding(b"\xFF\xFEa\0,\0b\0"), UTF_16LE);
        assert_eq!(guess_encoding(b"\xFE\xFF\0a\0,\0b"), UTF_16BE);
        assert_eq!(guess_encoding("Zoë,José".as_bytes()), UTF_8);
        assert_eq!(guess_encoding(b"Zo\xEB,Jos\xE9"), WINDOWS_1252);
    }
}
