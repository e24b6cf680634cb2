//! The records: leads (the partition), contacts, timeline activities, tasks, opportunities,
//! statuses, custom field definitions, Smart Views and users. Field names follow Close's API.

use crate::id::Id;
use crate::time::{Timestamp, serde_opt_ts, serde_ts, serde_vec_ts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Custom field values keyed by field name.
pub type Custom = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Address {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub address_1: Option<String>,
    #[serde(default)]
    pub address_2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub zipcode: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

/// A lead: a company or account. Everything else belongs to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub id: Id,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    pub status_label: String,
    #[serde(default)]
    pub owner_id: Option<Id>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub custom: Custom,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
    /// Set on a lead merged into another (then tombstoned): its id is an alias of that lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactEmail {
    pub email: String,
    #[serde(rename = "type", default = "default_office")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactPhone {
    /// E.164, e.g. `+14155550123`.
    pub phone: String,
    #[serde(rename = "type", default = "default_office")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactUrl {
    pub url: String,
    #[serde(rename = "type", default = "default_url_type")]
    pub kind: String,
}

fn default_office() -> String {
    "office".into()
}
fn default_url_type() -> String {
    "url".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Id,
    pub lead_id: Id,
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub emails: Vec<ContactEmail>,
    #[serde(default)]
    pub phones: Vec<ContactPhone>,
    #[serde(default)]
    pub urls: Vec<ContactUrl>,
    #[serde(default)]
    pub custom: Custom,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// One timeline item. `activity_at` is when it happened (and what its id carries).
/// Read from JSON by `activity_json` (in one pass; the same shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub id: Id,
    pub lead_id: Id,
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub user_id: Option<Id>,
    #[serde(with = "serde_ts")]
    pub activity_at: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
    #[serde(flatten)]
    pub kind: ActivityKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "_type", rename_all = "snake_case")]
pub enum ActivityKind {
    Note(NoteFields),
    Call(CallFields),
    Email(EmailFields),
    Meeting(MeetingFields),
    Link(LinkFields),
    StatusChange(StatusChangeFields),
}

impl ActivityKind {
    /// The `_type` tag: note, call, email, meeting, link, status_change.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActivityKind::Note(_) => "note",
            ActivityKind::Call(_) => "call",
            ActivityKind::Email(_) => "email",
            ActivityKind::Meeting(_) => "meeting",
            ActivityKind::Link(_) => "link",
            ActivityKind::StatusChange(_) => "status_change",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteFields {
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown source.
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallFields {
    pub direction: Direction,
    /// completed, no-answer, busy, failed, cancelled…
    #[serde(default = "default_completed")]
    pub status: String,
    /// answered, no-answer, busy, failed, vm-left…
    #[serde(default = "default_answered")]
    pub disposition: String,
    #[serde(default)]
    pub remote_phone: Option<String>,
    #[serde(default)]
    pub local_phone: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: u32,
    #[serde(default)]
    pub note: Option<String>,
}

fn default_completed() -> String {
    "completed".into()
}
fn default_answered() -> String {
    "answered".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailFields {
    pub direction: Direction,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body_text: String,
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default, with = "serde_vec_ts")]
    pub opens: Vec<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingFields {
    pub title: String,
    #[serde(with = "serde_ts")]
    pub starts_at: Timestamp,
    #[serde(default, with = "serde_opt_ts")]
    pub ends_at: Option<Timestamp>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkFields {
    #[serde(default)]
    pub title: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChangeFields {
    #[serde(default)]
    pub old_status_label: Option<String>,
    pub new_status_label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: Id,
    pub lead_id: Id,
    #[serde(default)]
    pub assigned_to: Option<Id>,
    pub text: String,
    /// Due date, `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub is_complete: bool,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityStatusType {
    Active,
    Won,
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuePeriod {
    OneTime,
    Monthly,
    Annual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    pub id: Id,
    pub lead_id: Id,
    #[serde(default)]
    pub contact_id: Option<Id>,
    pub status_label: String,
    pub status_type: OpportunityStatusType,
    /// Cents.
    #[serde(default)]
    pub value: i64,
    pub value_period: ValuePeriod,
    /// Percent, 0–100.
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub user_id: Option<Id>,
    /// Expected (or actual) close date.
    #[serde(default)]
    pub date_won: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
}

/// A configured lead status label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadStatus {
    pub id: Id,
    pub label: String,
    pub position: i64,
}

impl LeadStatus {
    /// The fixed id of a default status: the same on every store, so the defaults of stores
    /// that join one org are one set of records, not one per device. Time part zero; the
    /// random part a hash of the label (FNV-1a).
    pub fn seed_id(label: &str) -> Id {
        let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        for b in label.bytes() {
            h ^= b as u128;
            h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
        Id(ulid::Ulid::from_parts(0, h & ((1u128 << 80) - 1)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Choice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldTarget {
    Lead,
    Contact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldDef {
    pub id: Id,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub applies_to: FieldTarget,
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartView {
    pub id: Id,
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub shared: bool,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// A note body that lost a concurrent edit (SYNC.md §1.3): the server kept the other text as
/// the note's body and keeps this one here, so no word is lost; the user resolves it by keeping
/// one, the other or an edited merge. Written by the server, synced like any record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteConflict {
    pub id: Id,
    pub lead_id: Id,
    pub note_id: Id,
    /// The body revision (server `seq`) both edits were typed over.
    #[serde(default)]
    pub base_rev: Option<i64>,
    /// The text that did not become the body.
    pub body: String,
    /// Who typed it.
    #[serde(default)]
    pub user_id: Option<Id>,
    #[serde(default)]
    pub resolved: bool,
    #[serde(with = "serde_ts")]
    pub date_created: Timestamp,
    #[serde(with = "serde_ts")]
    pub date_updated: Timestamp,
}

/// The statuses a new store starts with (DESIGN §4).
pub const DEFAULT_STATUSES: [&str; 5] = ["Potential", "Qualified", "Customer", "Bad Fit", "Cold"];

/// One lead with everything that belongs to it: the canonical JSON shape (one JSONL line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadBundle {
    #[serde(flatten)]
    pub lead: Lead,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub activities: Vec<Activity>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub opportunities: Vec<Opportunity>,
}
