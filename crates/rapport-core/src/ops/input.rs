//! The inputs of the operations: what shells deserialize (CLI flags, IPC, JSON).

use crate::id::Id;
use crate::model::*;
use crate::time::{Timestamp, serde_opt_ts};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLead {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status_label: Option<String>,
    #[serde(default)]
    pub owner_id: Option<Id>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub custom: Custom,
}

/// A partial update: `None` leaves a field alone; an empty string clears an optional one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status_label: Option<String>,
    #[serde(default)]
    pub owner_id: Option<Id>,
    #[serde(default)]
    pub addresses: Option<Vec<Address>>,
    /// Merged into the existing values; a `null` value removes the key.
    #[serde(default)]
    pub custom: Option<Custom>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub email: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    pub phone: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub emails: Vec<EmailInput>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    #[serde(default)]
    pub urls: Vec<ContactUrl>,
    #[serde(default)]
    pub custom: Custom,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<EmailInput>>,
    #[serde(default)]
    pub phones: Option<Vec<PhoneInput>>,
    #[serde(default)]
    pub urls: Option<Vec<ContactUrl>>,
    #[serde(default)]
    pub custom: Option<Custom>,
}

/// A new timeline activity: `_type` plus that type's fields, optionally backdated.
#[derive(Debug, Clone, Deserialize)]
pub struct NewActivity {
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default, with = "serde_opt_ts")]
    pub activity_at: Option<Timestamp>,
    #[serde(flatten)]
    pub kind: ActivityKind,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotePatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub pinned: Option<bool>,
}

/// A change to a logged call: the softphone fills in the outcome at hang-up, and the call
/// bar's notes box autosaves `note` while (and after) the call runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallPatch {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub disposition: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub text: String,
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub assigned_to: Option<Id>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub is_complete: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOpportunity {
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub status_label: Option<String>,
    #[serde(default)]
    pub value: i64,
    #[serde(default)]
    pub value_period: Option<ValuePeriod>,
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub user_id: Option<Id>,
    #[serde(default)]
    pub date_won: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpportunityPatch {
    #[serde(default)]
    pub status_label: Option<String>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub value_period: Option<ValuePeriod>,
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub date_won: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Opportunity status labels and their types (configurable labels come with settings).
pub const OPPORTUNITY_STATUSES: [(&str, OpportunityStatusType); 3] = [
    ("Active", OpportunityStatusType::Active),
    ("Won", OpportunityStatusType::Won),
    ("Lost", OpportunityStatusType::Lost),
];
