//! Validation and normalisation of user input: emails, URLs, phone numbers (to E.164),
//! names, status labels and custom field values. Every error names its field.

use crate::error::{Error, ErrorCode, Result};
use crate::model::{CustomFieldDef, FieldType};

/// Trims and rejects empty/oversized required text.
pub fn required(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Trims optional text; empty becomes `None`.
pub fn optional(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Lower-cases and checks an email address (one `@`, a dotted domain, no spaces).
pub fn email(field: &str, value: &str) -> Result<String> {
    let v = value.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            field,
            format!("`{}` is not a valid email address", value.trim()),
        )
    };
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && v.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !v.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if ok { Ok(v) } else { Err(bad()) }
}

/// Normalises a web address: adds `https://` when no scheme is given; http(s) only.
pub fn url(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let bad = |why: &str| Error::invalid(field, format!("`{v}` is not a valid URL: {why}"));
    if v.is_empty() {
        return Err(bad("it is empty"));
    }
    let with_scheme = if v.contains("://") {
        v.to_string()
    } else {
        format!("https://{v}")
    };
    let parsed = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https addresses are allowed"));
    }
    match parsed.host_str() {
        Some(h) if h.contains('.') || h == "localhost" => {}
        _ => return Err(bad("it has no domain")),
    }
    Ok(parsed.to_string())
}

/// Parses a phone number in `region` (ISO 3166 alpha-2, e.g. `US`) and returns it in E.164.
pub fn phone(field: &str, value: &str, region: &str) -> Result<String> {
    let v = value.trim();
    let bad = || {
        Error::invalid(
            field,
            format!(
                "`{v}` is not a valid phone number (write it as +<country code><number>, or a {region} number)"
            ),
        )
    };
    let id = region.parse::<phonenumber::country::Id>().ok();
    let n = phonenumber::parse(id, v).map_err(|_| bad())?;
    if !phonenumber::is_valid(&n) {
        return Err(bad());
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// Formats an E.164 number for display: national form in `region`, international otherwise.
pub fn phone_display(e164: &str, region: &str) -> String {
    let Ok(n) = phonenumber::parse(None, e164) else {
        return e164.to_string();
    };
    let same_region = n
        .country()
        .id()
        .map(|c| format!("{c:?}") == region)
        .unwrap_or(false);
    let mode = if same_region {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    n.format().mode(mode).to_string()
}

/// The national significant number (digits only) of an E.164 number, for digit-prefix search.
pub fn phone_national_digits(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    Some(n.national().value().to_string())
}

/// Status labels compare case-insensitively with `_` ≡ space.
pub fn status_key(label: &str) -> String {
    label.trim().replace('_', " ").to_lowercase()
}

/// Resolves a label against the configured ones, returning the configured spelling.
pub fn status(field: &str, value: &str, configured: &[String]) -> Result<String> {
    let key = status_key(value);
    configured
        .iter()
        .find(|l| status_key(l) == key)
        .cloned()
        .ok_or_else(|| Error {
            code: ErrorCode::UnknownStatus,
            message: format!(
                "unknown status `{}`; configured statuses: {}",
                value.trim(),
                configured.join(", ")
            ),
            field: Some(field.to_string()),
        })
}

/// Checks (and normalises) a custom value against its definition.
pub fn custom_value(def: &CustomFieldDef, value: &serde_json::Value) -> Result<serde_json::Value> {
    use serde_json::Value;
    let field = format!("custom.{}", def.name);
    let bad = |why: String| Error::invalid(field.clone(), why);
    if value.is_null() {
        return Ok(Value::Null);
    }
    match def.kind {
        FieldType::Text => match value {
            Value::String(s) => Ok(Value::String(s.trim().to_string())),
            other => Ok(Value::String(other.to_string())),
        },
        FieldType::Number => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| {
                    if n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    {
                        Value::from(n.as_f64().unwrap_or_default() as i64)
                    } else {
                        Value::Number(n)
                    }
                })
                .ok_or_else(|| bad(format!("`{s}` is not a number"))),
            other => Err(bad(format!("{other} is not a number"))),
        },
        FieldType::Date => match value {
            Value::String(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| bad(format!("`{s}` is not a date (YYYY-MM-DD)"))),
            other => Err(bad(format!("{other} is not a date (YYYY-MM-DD)"))),
        },
        FieldType::Choice => {
            let s = value.as_str().unwrap_or_default().trim();
            def.choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(s))
                .map(|c| Value::String(c.clone()))
                .ok_or_else(|| bad(format!("`{s}` is not one of: {}", def.choices.join(", "))))
        }
    }
}

/// Whether `region` is an ISO 3166 alpha-2 code the phone library knows.
pub fn region_known(region: &str) -> bool {
    region.len() == 2 && region.parse::<phonenumber::country::Id>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("e", " Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a b@x.com",
            "a@x..com",
            "a@@x.com",
        ] {
            let e = email("emails[0].email", bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("emails[0].email"), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(url("url", "acme.com").unwrap(), "https://acme.com/");
        assert_eq!(
            url("url", "http://acme.com/x?y=1").unwrap(),
            "http://acme.com/x?y=1"
        );
        assert!(url("url", "javascript:alert(1)").is_err());
        assert!(url("url", "not a url").is_err());
        assert!(url("url", "ftp://acme.com").is_err());
    }

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(phone("p", "(415) 555-0123", "US").unwrap(), "+14155550123");
        assert_eq!(
            phone("p", "+44 20 7946 0958", "US").unwrap(),
            "+442079460958"
        );
        assert_eq!(phone("p", "030 901820", "DE").unwrap(), "+4930901820");
        assert!(phone("p", "12", "US").is_err());
        assert!(phone("p", "call me", "US").is_err());
        assert_eq!(phone_display("+14155550123", "US"), "(415) 555-0123");
        assert_eq!(phone_display("+442079460958", "US"), "+44 20 7946 0958");
        assert_eq!(
            phone_national_digits("+14155550123").as_deref(),
            Some("4155550123")
        );
    }

    #[test]
    fn statuses_match_loosely() {
        let conf: Vec<String> = crate::model::DEFAULT_STATUSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(status("s", "bad_fit", &conf).unwrap(), "Bad Fit");
        assert_eq!(status("s", "QUALIFIED", &conf).unwrap(), "Qualified");
        let e = status("status_label", "Hot", &conf).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownStatus);
        assert!(e.message.contains("Potential"));
    }
}
