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

/// Serde adapter for `Timestamp` in the canonical fixed-width form.
pub mod serde_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt(t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 timestamp")))
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
            Some(s) => parse(&s).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("`{s}` is not an RFC 3339 timestamp"))
            }),
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
            .map(|s| {
                parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("`{s}` is not an RFC 3339 timestamp"))
                })
            })
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
}
