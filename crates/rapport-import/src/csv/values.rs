//! Cell values: dates in the usual spreadsheet spellings, numbers with thousands separators,
//! lists of emails and phones in one cell, and the normalised keys leads are matched by.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rapport_core::time::Timestamp;
use std::hash::Hasher;

const DATE_TIME: [&str; 8] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
];
const DATE: [&str; 6] = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
];

/// Parses a date or date-time: ISO and RFC 3339, `2024/01/31`, `Jan 31, 2024`, and
/// `a/b/yyyy` (`dd.mm.yyyy`) as month/day unless `day_first`, with an optional time
/// (`13:45`, `1:45 PM`). Times without a zone are UTC.
pub fn parse_date(s: &str, day_first: bool) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(t) = plain_date_time(s) {
        return Some(t);
    }
    if let Some(t) = rapport_core::time::parse(s) {
        return Some(t);
    }
    for f in DATE_TIME {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    for f in DATE {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return midnight(d);
        }
    }
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split(['/', '.', '-']).collect();
    let [a, b, y] = parts[..] else { return None };
    let (a, b, mut y): (u32, u32, i32) = (a.parse().ok()?, b.parse().ok()?, y.parse().ok()?);
    if y < 100 {
        y += if y < 70 { 2000 } else { 1900 };
    }
    let (m, d) = if day_first || date.contains('.') {
        (b, a)
    } else {
        (a, b)
    };
    let day = NaiveDate::from_ymd_opt(y, m, d)?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(t) => ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M%p"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(t, f).ok())?,
    };
    Some(Utc.from_utc_datetime(&day.and_time(time)))
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), the spelling of most exports, without going through
/// the format parsers (which read their format string on every call). Anything else — and
/// a leap second — is left to them; the result is the same as theirs.
fn plain_date_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32)
        })
    };
    let day = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(Utc.from_utc_datetime(&day.and_time(time)))
}

fn midnight(d: NaiveDate) -> Option<Timestamp> {
    Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?))
}

/// Whether `a/b/yyyy` dates in these values must be day-first (some first part > 12).
pub fn sniff_day_first<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let mut day_first = false;
    for v in values {
        let date = v.trim().split(' ').next().unwrap_or("");
        let parts: Vec<&str> = date.split('/').collect();
        if let [a, b, _] = parts[..] {
            match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), _) if a > 12 && a <= 31 => day_first = true,
                (_, Ok(b)) if b > 12 && b <= 31 => return false,
                _ => {}
            }
        }
    }
    day_first
}

/// A number, allowing `1,234,567.5` and `1 234`.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let grouped = t.contains(',')
        && t.split('.').next().is_some_and(|int| {
            let groups: Vec<&str> = int.trim_start_matches('-').split(',').collect();
            groups.len() > 1 && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3)
        });
    let clean: String = if grouped {
        t.replace(',', "")
    } else {
        t.replace(' ', "")
    };
    clean.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `-12`, `+3.5`, `+14155550123`: an optional sign, digits, an optional decimal part.
pub fn is_plain_number(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = t.split_once('.').unwrap_or((t, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A cell the export neutralised (`'` before `=` `+` `-` `@` tab or CR) as it was; spreadsheets
/// hide that `'` too.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// A number as JSON (integers stay integers).
pub fn number_json(f: f64) -> serde_json::Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        serde_json::Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or_default()
    }
}

/// Several emails in one cell: separated by `,` `;` or whitespace.
pub fn split_emails(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

/// Several phones in one cell: separated by `;` `,` `/` or a line break.
pub fn split_phones(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';', '/', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

/// The host of a URL without `www.`, lower-case.
pub fn domain_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next()?.split('@').next_back()?;
    let host = host
        .split(':')
        .next()?
        .trim()
        .trim_end_matches('.')
        .to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    (host.contains('.')).then_some(host)
}

const FREEMAIL: [&str; 30] = [
    "gmail",
    "googlemail",
    "yahoo",
    "ymail",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "aol",
    "icloud",
    "me",
    "mac",
    "gmx",
    "web",
    "proton",
    "protonmail",
    "pm",
    "yandex",
    "mail",
    "qq",
    "163",
    "126",
    "comcast",
    "att",
    "verizon",
    "orange",
    "free",
    "t-online",
    "zoho",
    "fastmail",
];

/// The domain of a work email (`ann@acme.com` → `acme.com`); `None` for webmail providers.
pub fn work_domain(email: &str) -> Option<String> {
    let domain = email.rsplit_once('@')?.1.trim().to_lowercase();
    let first = domain.split('.').next()?;
    (!FREEMAIL.contains(&first) && domain.contains('.')).then_some(domain)
}

/// Company names compare by letters and digits only, case-insensitively.
pub fn name_norm(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for w in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

/// A 64-bit key for the lookup tables: FNV-1a, then a SplitMix finaliser. Not keyed (the
/// table lives for one import); a collision could only join two leads' keys, never lose data.
pub fn key(kind: u8, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ kind as u64;
    for b in s.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// Hashes keys that are already well mixed (`key()` values, ULIDs) by passing them through.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassHasher(u64);

impl Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u128(&mut self, n: u128) {
        // A ULID's low 64 bits are random.
        self.0 ^= n as u64;
    }
}

pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<PassHasher>>;

/// A header cell that is clearly a value: an email, a URL, a number or a date.
pub fn looks_like_data(h: &str) -> bool {
    let h = h.trim();
    (h.contains('@') && h.contains('.') && !h.contains(' '))
        || h.starts_with("http://")
        || h.starts_with("https://")
        || parse_number(h).is_some()
        || parse_date(h, false).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str, day_first: bool) -> Option<String> {
        parse_date(s, day_first).map(|t| rapport_core::time::fmt(&t))
    }

    #[test]
    fn dates_in_common_spellings() {
        let jan31 = Some("2024-01-31T00:00:00.000Z".to_string());
        for s in [
            "2024-01-31",
            "2024/01/31",
            "01/31/2024",
            "1/31/2024",
            "Jan 31, 2024",
            "31.01.2024",
        ] {
            assert_eq!(d(s, false), jan31, "{s}");
        }
        assert_eq!(d("31/01/2024", true), jan31);
        assert_eq!(d("31/01/2024", false), None);
        assert_eq!(
            d("2024-01-31 13:45", false).unwrap(),
            "2024-01-31T13:45:00.000Z"
        );
        assert_eq!(
            d("1/31/2024 1:45 PM", false).unwrap(),
            "2024-01-31T13:45:00.000Z"
        );
        assert_eq!(
            d("2024-01-31T13:45:00+01:00", false).unwrap(),
            "2024-01-31T12:45:00.000Z"
        );
        assert_eq!(d("soon", false), None);
        assert_eq!(d("2024-02-30", false), None);
        assert!(sniff_day_first(["31/01/2024", "02/01/2024"].into_iter()));
        assert!(!sniff_day_first(["01/31/2024", "02/01/2024"].into_iter()));
    }

    #[test]
    fn the_plain_date_time_shortcut_agrees_with_the_format_parsers() {
        let slow = |s: &str| {
            DATE_TIME[..4]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| Utc.from_utc_datetime(&t))
        };
        for s in [
            "2024-06-05 13:54:14",
            "2024-06-05T00:00:00",
            "1999-12-31 23:59:59",
            "2024-02-29 12:00:00",
            "2023-02-29 12:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 23:60:00",
            "2024-01-01 23:59:60",
            "2024-01-01x23:59:59",
            "2024-01-0a 23:59:59",
            "+024-01-01 23:59:59",
        ] {
            let fast = plain_date_time(s);
            assert!(fast.is_none() || fast == slow(s), "{s}");
        }
        for s in [
            "2024-06-05 13:54:14",
            "2024-06-05T00:00:00",
            "1999-12-31 23:59:59",
        ] {
            assert!(plain_date_time(s).is_some(), "{s}");
            assert_eq!(parse_date(s, false), slow(s), "{s}");
        }
    }

    #[test]
    fn numbers_keys_and_domains() {
        assert_eq!(parse_number("1,234,567.5"), Some(1234567.5));
        assert_eq!(parse_number(" 42 "), Some(42.0));
        assert_eq!(parse_number("1,5"), None);
        assert_eq!(parse_number("n/a"), None);
        assert_eq!(number_json(3.0), serde_json::json!(3));
        assert_eq!(name_norm("  ACME,  Inc. "), "acme inc");
        assert_eq!(
            domain_of("https://www.Acme.com/about").as_deref(),
            Some("acme.com")
        );
        assert_eq!(domain_of("acme.io").as_deref(), Some("acme.io"));
        assert_eq!(domain_of("localhost"), None);
        assert_eq!(work_domain("Ann@Acme.com").as_deref(), Some("acme.com"));
        assert_eq!(work_domain("ann@gmail.com"), None);
        assert!(looks_like_data("ann@acme.com") && looks_like_data("2024-01-01"));
        assert!(!looks_like_data("Email") && !looks_like_data("Created Date"));
        let emails: Vec<&str> = split_emails("a@x.com; b@y.com,c@z.com").collect();
        assert_eq!(emails, ["a@x.com", "b@y.com", "c@z.com"]);
    }
}
