//! Pure helpers of call logging: how a call's end becomes the logged status and disposition,
//! and how an inbound caller's SIP URI becomes a number to match against contacts.

use rapport_phone::{CallState, EndReason};

/// `(status, disposition)` logged for a call that ended with `reason`.
pub fn outcome(reason: EndReason, answered: bool, outbound: bool) -> (&'static str, &'static str) {
    if answered {
        return ("completed", "answered");
    }
    match reason {
        EndReason::Busy => ("busy", "busy"),
        EndReason::Declined if outbound => ("declined", "busy"),
        EndReason::Declined => ("declined", "no-answer"),
        EndReason::Cancelled if outbound => ("cancelled", "cancelled"),
        EndReason::Cancelled | EndReason::Timeout | EndReason::RemoteHangup if !outbound => {
            ("missed", "no-answer")
        }
        EndReason::Timeout | EndReason::Unavailable => ("no-answer", "no-answer"),
        EndReason::NotFound
        | EndReason::AuthFailed
        | EndReason::NotAcceptable
        | EndReason::NetworkError
        | EndReason::Failed(_)
        | EndReason::Cancelled
        | EndReason::RemoteHangup
        | EndReason::LocalHangup => ("failed", "failed"),
    }
}

/// The state name the UI branches on.
pub fn state_name(state: CallState) -> &'static str {
    match state {
        CallState::Idle => "idle",
        CallState::Dialing => "dialing",
        CallState::Ringing => "ringing",
        CallState::EarlyMedia => "early_media",
        CallState::Connected => "connected",
        CallState::OnHold => "on_hold",
        CallState::HeldByRemote => "held_by_remote",
        CallState::Ended(_) => "ended",
    }
}

/// The user part of a From header value or URI (`"Ann" <sip:+1415…@host>;tag=x` → `+1415…`).
pub fn caller_user(from: &str) -> Option<&str> {
    if let Some(i) = from.find("tel:") {
        let rest = &from[i + 4..];
        let end = rest.find([';', '>']).unwrap_or(rest.len());
        return Some(rest[..end].trim()).filter(|u| !u.is_empty());
    }
    let i = from
        .find("sips:")
        .map(|i| i + 5)
        .or_else(|| from.find("sip:").map(|i| i + 4))?;
    let rest = &from[i..];
    let end = rest.find(['@', ';', '>', '?'])?;
    rest[end..]
        .starts_with('@')
        .then(|| rest[..end].trim())
        .filter(|u| !u.is_empty())
}

/// The caller's display name from a From header value (`"Ann Lee" <sip:…>` → `Ann Lee`),
/// when it sent one.
pub fn caller_name(from: &str) -> Option<&str> {
    let before = &from[..from.find('<')?];
    let name = before.trim().trim_matches('"').trim();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_reasons_become_status_and_disposition() {
        let check = |reason, answered, outbound, want: (&str, &str)| {
            assert_eq!(
                outcome(reason, answered, outbound),
                want,
                "{reason:?} {answered} {outbound}"
            )
        };
        check(
            EndReason::LocalHangup,
            true,
            true,
            ("completed", "answered"),
        );
        check(
            EndReason::RemoteHangup,
            true,
            false,
            ("completed", "answered"),
        );
        check(EndReason::Busy, false, true, ("busy", "busy"));
        check(EndReason::Timeout, false, true, ("no-answer", "no-answer"));
        check(
            EndReason::Unavailable,
            false,
            true,
            ("no-answer", "no-answer"),
        );
        check(
            EndReason::Cancelled,
            false,
            true,
            ("cancelled", "cancelled"),
        );
        check(EndReason::Cancelled, false, false, ("missed", "no-answer"));
        check(EndReason::Declined, false, true, ("declined", "busy"));
        check(EndReason::Declined, false, false, ("declined", "no-answer"));
        check(EndReason::NotFound, false, true, ("failed", "failed"));
        check(EndReason::Failed(500), false, true, ("failed", "failed"));
        check(EndReason::NetworkError, false, true, ("failed", "failed"));
    }

    #[test]
    fn callers_display_name() {
        assert_eq!(
            caller_name("\"Ann Lee\" <sip:+14155550123@10.0.0.1>;tag=1"),
            Some("Ann Lee")
        );
        assert_eq!(caller_name("Bob <sip:bob@example.org>"), Some("Bob"));
        assert_eq!(caller_name("<sip:bob@example.org>"), None);
        assert_eq!(caller_name("\"\" <sip:bob@example.org>"), None);
        assert_eq!(caller_name("sip:bob@example.org"), None);
    }

    #[test]
    fn callers_user_part() {
        assert_eq!(
            caller_user("\"Ann\" <sip:+14155550123@10.0.0.1:5060>;tag=1"),
            Some("+14155550123")
        );
        assert_eq!(
            caller_user("sip:4155550123@example.org"),
            Some("4155550123")
        );
        assert_eq!(
            caller_user("<sips:bob@example.org;transport=tls>"),
            Some("bob")
        );
        assert_eq!(caller_user("tel:+14155550123"), Some("+14155550123"));
        assert_eq!(caller_user("sip:example.org"), None);
        assert_eq!(caller_user("garbage"), None);
    }
}
