//! Dial plan: turns what the user typed (a SIP URI, `user@host` or an E.164-style number) into a request URI, refusing invalid input before anything is sent.

use serde::{Deserialize, Serialize};

use crate::error::PhoneError;

/// How numbers are rewritten before dialling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialPlan {
    /// Replace a leading `+` with `international_prefix`.
    pub strip_plus: bool,
    /// What a stripped `+` becomes (e.g. `00`); empty drops it.
    pub international_prefix: String,
    /// Prepended to every number (e.g. an outside-line `9`).
    pub prefix: String,
}

/// Longest number we accept (E.164 allows 15 digits; leave room for prefixes).
const MAX_DIGITS: usize = 20;

impl DialPlan {
    /// Resolve `input` to a SIP URI. Numbers need `domain` (the account's domain).
    pub fn resolve(&self, input: &str, domain: Option<&str>) -> Result<String, PhoneError> {
        let invalid = |reason| PhoneError::InvalidTarget {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        if text
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == '"')
        {
            return Err(invalid("contains forbidden characters"));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            return check_uri(text).map_err(invalid);
        }
        if let Some((user, host)) = text.split_once('@') {
            if user.is_empty() || host.is_empty() || text.contains(char::is_whitespace) {
                return Err(invalid("expected user@host"));
            }
            return check_uri(&format!("sip:{text}")).map_err(invalid);
        }
        let number = self.normalise_number(text).map_err(invalid)?;
        let domain = domain.ok_or_else(|| invalid("a number needs an account to dial through"))?;
        check_uri(&format!("sip:{number}@{domain}")).map_err(invalid)
    }

    /// Apply the plan to a number: drop separators, handle `+`, add the prefix.
    pub fn normalise_number(&self, text: &str) -> Result<String, &'static str> {
        let mut digits = String::new();
        for (i, c) in text.chars().enumerate() {
            match c {
                '0'..='9' | '*' | '#' => digits.push(c),
                '+' if i == 0 => digits.push('+'),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err("not a phone number"),
            }
        }
        let count = digits.chars().filter(char::is_ascii_digit).count();
        if count == 0 {
            return Err("no digits");
        }
        if count > MAX_DIGITS {
            return Err("too many digits");
        }
        if let Some(rest) = digits.strip_prefix('+') {
            if rest.is_empty() || rest.starts_with('0') {
                return Err("an international number cannot start with 0");
            }
            if self.strip_plus {
                digits = format!("{}{rest}", self.international_prefix);
            }
        }
        Ok(format!("{}{digits}", self.prefix))
    }
}

fn check_uri(text: &str) -> Result<String, &'static str> {
    let uri = rsipstack::sip::Uri::try_from(text).map_err(|_| "not a valid SIP URI")?;
    if uri.host_with_port.to_string().is_empty() {
        return Err("SIP URI without a host");
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(plan: &DialPlan, input: &str, expect: Result<&str, &str>) {
        let got = plan.resolve(input, Some("example.org"));
        match (got, expect) {
            (Ok(uri), Ok(want)) => assert_eq!(uri, want, "{input}"),
            (Err(PhoneError::InvalidTarget { reason, .. }), Err(want)) => {
                assert_eq!(reason, want, "{input}")
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn resolves_targets() {
        let plain = DialPlan::default();
        check(
            &plain,
            "sip:bob@127.0.0.1:5070",
            Ok("sip:bob@127.0.0.1:5070"),
        );
        check(&plain, "bob@example.com", Ok("sip:bob@example.com"));
        check(
            &plain,
            "+44 20 7946-0000",
            Ok("sip:+442079460000@example.org"),
        );
        check(&plain, "1234", Ok("sip:1234@example.org"));
        let strip = DialPlan {
            strip_plus: true,
            international_prefix: "00".into(),
            prefix: "9".into(),
        };
        check(&strip, "+4915123", Ok("sip:9004915123@example.org"));
        check(&plain, "", Err("empty"));
        check(&plain, "12ab", Err("not a phone number"));
        check(&plain, "1+2", Err("not a phone number"));
        check(&plain, "+", Err("no digits"));
        check(
            &plain,
            "+0123",
            Err("an international number cannot start with 0"),
        );
        check(&plain, "123456789012345678901", Err("too many digits"));
        check(
            &plain,
            "sip:bob@host>evil",
            Err("contains forbidden characters"),
        );
        check(&plain, "@host", Err("expected user@host"));
        assert!(matches!(
            plain.resolve("123", None),
            Err(PhoneError::InvalidTarget { .. })
        ));
    }
}
