//! "Before you dial" (Close's Sally-and-Joe rule): the newest call, email or meeting a
//! coworker logged on a lead within the last N minutes, said in one line ("Joe called 12 min
//! ago — answered, 3 min"). Derived on read from the lead's timeline, never stored.

use rapport_core::time::Timestamp;
use rapport_core::{Activity, ActivityKind, Id, User};
use serde::Serialize;

/// The meta key of the window, in minutes (a local setting, default [`DEFAULT_MINUTES`]).
pub const MINUTES_KEY: &str = "recent_touch_minutes";
pub const DEFAULT_MINUTES: i64 = 30;
/// The largest window the setting accepts (a day).
pub const MAX_MINUTES: i64 = 24 * 60;
/// How far ahead of this machine's clock a coworker's activity may be and still count.
pub const SKEW_MIN: i64 = 5;

/// A coworker's recent touch of a lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentTouch {
    pub activity_id: String,
    pub user_name: String,
    /// `call`, `email` or `meeting`.
    pub kind: &'static str,
    pub at: String,
    pub minutes_ago: i64,
    /// The line the lead page and the call button show.
    pub summary: String,
}

/// The newest call, email or meeting on `timeline` by a user other than `me` whose time lies
/// within `window_min` minutes before `now`. A time up to [`SKEW_MIN`] ahead of `now` (a
/// coworker's fast clock) counts as now; later ones (a meeting scheduled for tomorrow) do not.
pub fn recent_touch(
    timeline: &[Activity],
    users: &[User],
    me: Id,
    now: Timestamp,
    window_min: i64,
) -> Option<RecentTouch> {
    let from = now - chrono::Duration::minutes(window_min);
    let to = now + chrono::Duration::minutes(SKEW_MIN);
    timeline
        .iter()
        .filter(|a| a.user_id.is_some_and(|u| u != me))
        .filter(|a| a.activity_at >= from && a.activity_at <= to)
        .filter(|a| {
            matches!(
                a.kind,
                ActivityKind::Call(_) | ActivityKind::Email(_) | ActivityKind::Meeting(_)
            )
        })
        .max_by_key(|a| (a.activity_at, a.id))
        .map(|a| {
            let who = a
                .user_id
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map(|u| u.name.clone())
                .unwrap_or_else(|| "A coworker".into());
            let minutes = (now - a.activity_at).num_minutes().max(0);
            let ago = if minutes == 0 {
                "just now".to_string()
            } else {
                format!("{minutes} min ago")
            };
            let (kind, what) = match &a.kind {
                ActivityKind::Call(c) => {
                    let mut s = format!("{who} called {ago} — {}", c.disposition.replace('-', " "));
                    if c.duration > 0 {
                        s.push_str(&format!(", {}", duration(c.duration)));
                    }
                    ("call", s)
                }
                ActivityKind::Email(e) => {
                    let subject = e.subject.trim();
                    let mut s = format!("{who} emailed {ago}");
                    if !subject.is_empty() {
                        s.push_str(&format!(" — “{subject}”"));
                    }
                    ("email", s)
                }
                ActivityKind::Meeting(m) => {
                    let title = m.title.trim();
                    let mut s = format!("{who} had a meeting {ago}");
                    if !title.is_empty() {
                        s.push_str(&format!(" — {title}"));
                    }
                    ("meeting", s)
                }
                _ => unreachable!("filtered above"),
            };
            RecentTouch {
                activity_id: a.id.to_string(),
                user_name: who,
                kind,
                at: a.activity_at.to_rfc3339(),
                minutes_ago: minutes,
                summary: what,
            }
        })
}

/// "45 s", "3 min", "1 h 5 min".
fn duration(secs: u32) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", (secs + 30) / 60),
        _ => {
            let m = (secs + 30) / 60;
            if m.is_multiple_of(60) {
                format!("{} h", m / 60)
            } else {
                format!("{} h {} min", m / 60, m % 60)
            }
        }
    }
}

/// Parses the window setting: whole minutes, 1 ..= a day.
pub fn parse_minutes(s: &str) -> Option<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (1..=MAX_MINUTES).contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_core::{CallFields, Direction, EmailFields, MeetingFields, NoteFields};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn id() -> Id {
        static N: AtomicU64 = AtomicU64::new(1);
        Id::at(at(0), N.fetch_add(1, Ordering::Relaxed) as u128)
    }

    fn at(min_ago: i64) -> Timestamp {
        "2026-12-02T12:00:00Z".parse::<Timestamp>().unwrap() - chrono::Duration::minutes(min_ago)
    }

    fn act(user: Id, min_ago: i64, kind: ActivityKind) -> Activity {
        Activity {
            id: id(),
            lead_id: id(),
            contact_id: None,
            user_id: Some(user),
            activity_at: at(min_ago),
            date_created: at(min_ago),
            date_updated: at(min_ago),
            kind,
        }
    }

    fn call(disposition: &str, duration: u32) -> ActivityKind {
        ActivityKind::Call(CallFields {
            direction: Direction::Outbound,
            status: "completed".into(),
            disposition: disposition.into(),
            remote_phone: None,
            local_phone: None,
            duration,
            note: None,
        })
    }

    #[test]
    fn a_coworkers_call_within_the_window_is_said_in_one_line() {
        let (me, joe) = (id(), id());
        let users = [User {
            id: joe,
            name: "Joe".into(),
            email: None,
        }];
        let tl = [
            act(joe, 40, call("answered", 60)),
            act(joe, 12, call("answered", 185)),
            act(me, 2, call("no-answer", 0)),
        ];
        let t = recent_touch(&tl, &users, me, at(0), 30).expect("Joe's call");
        assert_eq!(t.summary, "Joe called 12 min ago — answered, 3 min");
        assert_eq!(
            (t.kind, t.minutes_ago, t.user_name.as_str()),
            ("call", 12, "Joe")
        );
        // My own calls never warn me; outside the window nothing does.
        assert_eq!(recent_touch(&tl[2..], &users, me, at(0), 30), None);
        assert_eq!(recent_touch(&tl[..1], &users, me, at(0), 30), None);
        assert!(recent_touch(&tl[..1], &users, me, at(0), 45).is_some());
    }

    #[test]
    fn emails_and_meetings_count_notes_and_future_meetings_do_not() {
        let (me, ann) = (id(), id());
        let users = [User {
            id: ann,
            name: "Ann".into(),
            email: None,
        }];
        let email = ActivityKind::Email(EmailFields {
            direction: Direction::Outbound,
            subject: " Pricing ".into(),
            body_text: String::new(),
            sender: None,
            to: vec![],
            opens: vec![],
        });
        let t = recent_touch(&[act(ann, 0, email)], &users, me, at(0), 30).unwrap();
        assert_eq!(t.summary, "Ann emailed just now — “Pricing”");
        let meeting = |title: &str| {
            ActivityKind::Meeting(MeetingFields {
                title: title.into(),
                starts_at: at(0),
                ends_at: None,
                note: None,
            })
        };
        let t = recent_touch(&[act(ann, 5, meeting("Demo"))], &users, me, at(0), 30).unwrap();
        assert_eq!(t.summary, "Ann had a meeting 5 min ago — Demo");
        // Tomorrow's meeting is not a touch; a note is not a touch; a stranger is "A coworker".
        assert_eq!(
            recent_touch(
                &[act(ann, -24 * 60, meeting("Later"))],
                &users,
                me,
                at(0),
                30
            ),
            None
        );
        let note = ActivityKind::Note(NoteFields {
            title: None,
            note: "Called them".into(),
            pinned: false,
        });
        assert_eq!(
            recent_touch(&[act(ann, 1, note)], &users, me, at(0), 30),
            None
        );
        let t = recent_touch(&[act(id(), 1, call("no-answer", 0))], &users, me, at(0), 30);
        assert_eq!(
            t.unwrap().summary,
            "A coworker called 1 min ago — no answer"
        );
    }

    #[test]
    fn durations_and_the_window_setting() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(3900), "1 h 5 min");
        assert_eq!(parse_minutes(" 15 "), Some(15));
        for bad in ["0", "-3", "abc", "1441", ""] {
            assert_eq!(parse_minutes(bad), None, "{bad}");
        }
    }
}
