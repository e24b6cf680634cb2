//! Timestamps: RFC 3339 UTC with fixed millisecond precision, so text order is time order.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

pub type Timestamp = DateTime<Utc>;

/// Formats a timestamp as `2024-01-31T09:30:00.000Z` (fixed width; sorts as text).
pub fn fmt(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339, a bare date (midnight UTC) or `YYYY-MM-DDTHH:MM` (UTC).
pub fn parse(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    for f in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// Parses an RFC 3339 timestamp only (date, time and offset; converted to UTC): what a
/// record's timestamps are in JSON. A bare date or a time without an offset is refused.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn not_rfc3339<E: serde::de::Error>(s: &str) -> E {
    E::custom(format!(
        "`{s}` is not an RFC 3339 timestamp (e.g. 2024-01-31T09:30:00Z)"
    ))
}

/// Serde adapter for `Timestamp` in the canonical fixed-width form (reads RFC 3339 only).
pub mod serde_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt(t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).ok_or_else(|| not_rfc3339(&s))
    }
}

/// Serde adapter for `Option<Timestamp>`.
pub mod serde_opt_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&fmt(t)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_rfc3339(&s).map(Some).ok_or_else(|| not_rfc3339(&s)),
        }
    }
}

/// Serde adapter for `Vec<Timestamp>`.
pub mod serde_vec_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &[Timestamp], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for t in v {
            seq.serialize_element(&fmt(t))?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Timestamp>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| parse_rfc3339(&s).ok_or_else(|| not_rfc3339(&s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_sorts_as_text() {
        let a = parse("2024-01-31T09:30:00Z").unwrap();
        let b = parse("2024-01-31T09:30:00.5Z").unwrap();
        assert_eq!(fmt(&a), "2024-01-31T09:30:00.000Z");
        assert!(fmt(&a) < fmt(&b));
        assert_eq!(
            fmt(&parse("2024-02-01").unwrap()),
            "2024-02-01T00:00:00.000Z"
        );
        assert_eq!(
            fmt(&parse("2024-02-01T10:15").unwrap()),
            "2024-02-01T10:15:00.000Z"
        );
        assert!(parse("2024-02-30").is_none());
        assert!(parse("yesterday").is_none());
    }

    /// Fails on the old code: a record's `date_created` of `2024-01-31` was read as midnight.
    #[test]
    fn records_read_rfc3339_timestamps_only() {
        #[derive(serde::Deserialize)]
        struct R {
            #[serde(with = "serde_ts")]
            _t: Timestamp,
        }
        let read = |s: &str| serde_json::from_str::<R>(&format!("{{\"_t\":\"{s}\"}}"));
        assert!(read("2024-01-31T09:30:00Z").is_ok());
        assert!(read("2024-01-31T10:30:00+01:00").is_ok());
        for bad in ["2024-01-31", "2024-01-31T09:30", "2024-01-31 09:30:00"] {
            let e = read(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("is not an RFC 3339 timestamp"), "{bad}: {e}");
        }
    }
}
