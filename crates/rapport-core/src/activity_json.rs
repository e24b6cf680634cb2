//! Reading an [`Activity`] from JSON in one pass. The JSON is what `Activity`'s derived
//! `Serialize` writes (the common fields, a `_type` tag and the kind's fields side by side);
//! serde's derived reader for that shape (a flattened, internally tagged enum) buffered
//! every field of every activity twice before decoding it, which was a twentieth of a
//! search index rebuild. This reads the fields of every kind into one struct, then keeps
//! the tagged kind's, with the same defaults and required fields as the kind structs (a
//! test checks it against the derived reader; the one difference: a null where a kind
//! wants a string with a default reads as that default instead of failing).

use serde::{Deserialize, Deserializer};

use crate::id::Id;
use crate::model::*;
use crate::time::{Timestamp, serde_opt_ts, serde_ts, serde_vec_ts};

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Tag {
    Note,
    Call,
    Email,
    Meeting,
    Link,
    StatusChange,
}

/// The fields of every kind (`note`, `title` and `direction` are shared by several).
#[derive(Deserialize)]
struct Wire {
    id: Id,
    lead_id: Id,
    #[serde(default)]
    contact_id: Option<Id>,
    #[serde(default)]
    user_id: Option<Id>,
    #[serde(with = "serde_ts")]
    activity_at: Timestamp,
    #[serde(with = "serde_ts")]
    date_created: Timestamp,
    #[serde(with = "serde_ts")]
    date_updated: Timestamp,
    #[serde(rename = "_type")]
    tag: Tag,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    disposition: Option<String>,
    #[serde(default)]
    remote_phone: Option<String>,
    #[serde(default)]
    local_phone: Option<String>,
    #[serde(default)]
    duration: u32,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body_text: String,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default, with = "serde_vec_ts")]
    opens: Vec<Timestamp>,
    #[serde(default, with = "serde_opt_ts")]
    starts_at: Option<Timestamp>,
    #[serde(default, with = "serde_opt_ts")]
    ends_at: Option<Timestamp>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    old_status_label: Option<String>,
    #[serde(default)]
    new_status_label: Option<String>,
}

fn required<T, E: serde::de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

impl<'de> Deserialize<'de> for Activity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Activity, D::Error> {
        let w = Wire::deserialize(d)?;
        let kind = match w.tag {
            Tag::Note => ActivityKind::Note(NoteFields {
                title: w.title,
                note: w.note.unwrap_or_default(),
                pinned: w.pinned,
            }),
            Tag::Call => ActivityKind::Call(CallFields {
                direction: required(w.direction, "direction")?,
                status: w.status.unwrap_or_else(|| "completed".into()),
                disposition: w.disposition.unwrap_or_else(|| "answered".into()),
                remote_phone: w.remote_phone,
                local_phone: w.local_phone,
                duration: w.duration,
                note: w.note,
            }),
            Tag::Email => ActivityKind::Email(EmailFields {
                direction: required(w.direction, "direction")?,
                subject: w.subject,
                body_text: w.body_text,
                sender: w.sender,
                to: w.to,
                opens: w.opens,
            }),
            Tag::Meeting => ActivityKind::Meeting(MeetingFields {
                title: required(w.title, "title")?,
                starts_at: required(w.starts_at, "starts_at")?,
                ends_at: w.ends_at,
                note: w.note,
            }),
            Tag::Link => ActivityKind::Link(LinkFields {
                title: w.title,
                url: required(w.url, "url")?,
            }),
            Tag::StatusChange => ActivityKind::StatusChange(StatusChangeFields {
                old_status_label: w.old_status_label,
                new_status_label: required(w.new_status_label, "new_status_label")?,
            }),
        };
        Ok(Activity {
            id: w.id,
            lead_id: w.lead_id,
            contact_id: w.contact_id,
            user_id: w.user_id,
            activity_at: w.activity_at,
            date_created: w.date_created,
            date_updated: w.date_updated,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;
    use serde_json::{Value, json};

    /// `Activity` as serde derives its reader: the shape the one-pass reader must match.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Derived {
        id: Id,
        lead_id: Id,
        #[serde(default)]
        contact_id: Option<Id>,
        #[serde(default)]
        user_id: Option<Id>,
        #[serde(with = "serde_ts")]
        activity_at: Timestamp,
        #[serde(with = "serde_ts")]
        date_created: Timestamp,
        #[serde(with = "serde_ts")]
        date_updated: Timestamp,
        #[serde(flatten)]
        kind: ActivityKind,
    }

    fn samples() -> Vec<Activity> {
        let at = time::parse("2024-03-01T10:00:00Z").unwrap();
        let kinds = vec![
            ActivityKind::Note(NoteFields {
                title: Some("Kickoff".into()),
                note: "**Agenda**".into(),
                pinned: true,
            }),
            ActivityKind::Call(CallFields {
                direction: Direction::Inbound,
                status: "busy".into(),
                disposition: "vm-left".into(),
                remote_phone: Some("+14155550123".into()),
                local_phone: Some("+14155550100".into()),
                duration: 61,
                note: Some("Call back".into()),
            }),
            ActivityKind::Email(EmailFields {
                direction: Direction::Outbound,
                subject: "Pricing".into(),
                body_text: "Hi".into(),
                sender: Some("me@x.com".into()),
                to: vec!["a@y.com".into(), "b@y.com".into()],
                opens: vec![at, at],
            }),
            ActivityKind::Meeting(MeetingFields {
                title: "Demo".into(),
                starts_at: at,
                ends_at: Some(at),
                note: Some("Bring slides".into()),
            }),
            ActivityKind::Link(LinkFields {
                title: Some("Deck".into()),
                url: "https://x.com/deck".into(),
            }),
            ActivityKind::StatusChange(StatusChangeFields {
                old_status_label: Some("Potential".into()),
                new_status_label: "Customer".into(),
            }),
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Activity {
                id: Id::at(at, i as u128 + 10),
                lead_id: Id::at(at, 1),
                contact_id: Some(Id::at(at, 2)),
                user_id: None,
                activity_at: at,
                date_created: at,
                date_updated: at,
                kind,
            })
            .collect()
    }

    fn both(v: &Value) -> (Option<Activity>, Option<Activity>) {
        let ours = serde_json::from_value::<Activity>(v.clone()).ok();
        let derived = serde_json::from_value::<Derived>(v.clone())
            .ok()
            .map(|d| Activity {
                id: d.id,
                lead_id: d.lead_id,
                contact_id: d.contact_id,
                user_id: d.user_id,
                activity_at: d.activity_at,
                date_created: d.date_created,
                date_updated: d.date_updated,
                kind: d.kind,
            });
        (ours, derived)
    }

    #[test]
    fn every_kind_reads_back_what_was_written() {
        for a in samples() {
            let text = serde_json::to_string(&a).unwrap();
            assert_eq!(
                serde_json::from_str::<Activity>(&text).unwrap(),
                a,
                "{text}"
            );
        }
    }

    /// Each field missing, null or of another kind's type, and fields of other kinds or
    /// unknown ones added: the one-pass reader accepts what the derived one accepts and
    /// reads the same activity, and refuses what it refuses.
    #[test]
    fn reads_like_the_derived_reader() {
        let mut cases = 0;
        for a in samples() {
            let Value::Object(full) = serde_json::to_value(&a).unwrap() else {
                panic!("an activity is an object");
            };
            let mut variants = vec![Value::Object(full.clone())];
            for key in full.keys() {
                let mut without = full.clone();
                without.remove(key);
                variants.push(Value::Object(without));
                let mut null = full.clone();
                null.insert(key.clone(), Value::Null);
                variants.push(Value::Object(null));
            }
            for (key, value) in [
                ("pinned", json!(true)),
                ("duration", json!(5)),
                ("url", json!("https://z.com")),
                ("subject", json!("Re")),
                ("unknown", json!({"x": 1})),
                ("_type", json!("fax")),
                ("_type", json!("call")),
                ("_type", json!("meeting")),
            ] {
                let mut more = full.clone();
                more.insert(key.into(), value);
                variants.push(Value::Object(more));
            }
            for v in variants {
                let (ours, derived) = both(&v);
                // The one-pass reader is laxer in one way only: a null where a kind
                // wants a string with a default (a note's text, a call's status or
                // disposition) reads as that default.
                let null_default = derived.is_none()
                    && ours.is_some()
                    && v.as_object().is_some_and(|o| {
                        ["note", "status", "disposition"]
                            .iter()
                            .any(|k| o.get(*k) == Some(&Value::Null))
                    });
                if !null_default {
                    assert_eq!(ours, derived, "{v}");
                }
                cases += 1;
            }
        }
        assert!(cases > 100);
    }
}
