//! The operations: every change to the data is one of these pure functions, which validate
//! the request against the current records and return a `Plan`. The desktop app, the CLI and
//! (later) the server's API all go through them.

use crate::error::{Error, ErrorCode, Result};
use crate::id::Id;
use crate::model::*;
use crate::plan::{Plan, Record, Write};
use crate::time::{Timestamp, serde_opt_ts};
use crate::validate;
use serde::Deserialize;

/// Everything an operation may consult besides the records it changes. The shell supplies
/// `now` and the randomness, so operations stay deterministic and testable.
pub struct Ctx {
    pub now: Timestamp,
    pub user: Option<Id>,
    /// Default region for phone numbers without a country code (ISO 3166 alpha-2).
    pub region: String,
    pub statuses: Vec<String>,
    pub fields: Vec<CustomFieldDef>,
    pub rng: Rng,
}

impl Ctx {
    /// A fresh id carrying `at` (or now).
    pub fn id_at(&mut self, at: Option<Timestamp>) -> Id {
        Id::at(at.unwrap_or(self.now), self.rng.next_u128())
    }

    fn custom(&self, target: FieldTarget, custom: &Custom) -> Result<Custom> {
        let mut out = Custom::new();
        for (name, value) in custom {
            let def = self
                .fields
                .iter()
                .find(|d| d.applies_to == target && d.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::invalid(
                        format!("custom.{name}"),
                        format!("no custom field `{name}` is defined for {target:?}s; add it with `rapport field add`"),
                    )
                })?;
            let v = validate::custom_value(def, value)?;
            if !v.is_null() {
                out.insert(def.name.clone(), v);
            }
        }
        Ok(out)
    }
}

/// SplitMix64: a tiny, stable pseudo-random generator (ids, demo data). Its sequence never
/// changes between versions, which keeps seeded data sets reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// 80 random bits for a ULID.
    pub fn next_u128(&mut self) -> u128 {
        (((self.next_u64() as u128) << 64) | self.next_u64() as u128) & ((1u128 << 80) - 1)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs. These are what shells deserialize (CLI flags, IPC, JSON); every field is validated.

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

// ---------------------------------------------------------------------------------------------
// Leads

pub fn create_lead(input: NewLead, ctx: &mut Ctx) -> Result<(Lead, Plan)> {
    let name = validate::required("name", &input.name, 500)?;
    let status_label = match input.status_label.as_deref() {
        Some(s) => validate::status("status_label", s, &ctx.statuses)?,
        None => ctx
            .statuses
            .first()
            .cloned()
            .ok_or_else(|| Error::bad_input("no lead statuses are configured"))?,
    };
    let url = optional_url("url", input.url.as_deref())?;
    let custom = ctx.custom(FieldTarget::Lead, &input.custom)?;
    let lead = Lead {
        id: ctx.id_at(None),
        name,
        description: validate::optional(input.description.as_deref()),
        url,
        status_label,
        owner_id: input.owner_id.or(ctx.user),
        addresses: clean_addresses(input.addresses),
        custom,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Lead(lead.clone())));
    Ok((lead, plan))
}

pub fn update_lead(current: &Lead, patch: LeadPatch, ctx: &mut Ctx) -> Result<(Lead, Plan)> {
    let mut lead = current.clone();
    if let Some(n) = patch.name {
        lead.name = validate::required("name", &n, 500)?;
    }
    if let Some(d) = patch.description {
        lead.description = validate::optional(Some(&d));
    }
    if let Some(u) = patch.url {
        lead.url = optional_url("url", Some(&u))?;
    }
    if let Some(s) = patch.status_label {
        lead.status_label = validate::status("status_label", &s, &ctx.statuses)?;
    }
    if let Some(o) = patch.owner_id {
        lead.owner_id = Some(o);
    }
    if let Some(a) = patch.addresses {
        lead.addresses = clean_addresses(a);
    }
    if let Some(c) = patch.custom {
        let (set, unset): (Custom, Custom) = c.into_iter().partition(|(_, v)| !v.is_null());
        for k in unset.keys() {
            lead.custom.retain(|name, _| !name.eq_ignore_ascii_case(k));
        }
        lead.custom.extend(ctx.custom(FieldTarget::Lead, &set)?);
    }
    lead.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Lead(current.clone()),
        Record::Lead(lead.clone()),
    ));
    if plan.is_empty() {
        return Ok((current.clone(), plan));
    }
    if lead.status_label != current.status_label {
        let change = Activity {
            id: ctx.id_at(None),
            lead_id: lead.id,
            contact_id: None,
            user_id: ctx.user,
            activity_at: ctx.now,
            date_created: ctx.now,
            date_updated: ctx.now,
            kind: ActivityKind::StatusChange(StatusChangeFields {
                old_status_label: Some(current.status_label.clone()),
                new_status_label: lead.status_label.clone(),
            }),
        };
        plan.push(Write::create(Record::Activity(change)));
    }
    Ok((lead, plan))
}

pub fn delete_lead(current: &Lead) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Lead(current.clone())));
    plan
}

fn optional_url(field: &str, v: Option<&str>) -> Result<Option<String>> {
    match validate::optional(v) {
        Some(u) => Ok(Some(validate::url(field, &u)?)),
        None => Ok(None),
    }
}

fn clean_addresses(list: Vec<Address>) -> Vec<Address> {
    let t = |v: Option<String>| validate::optional(v.as_deref());
    list.into_iter()
        .map(|a| Address {
            label: t(a.label),
            address_1: t(a.address_1),
            address_2: t(a.address_2),
            city: t(a.city),
            state: t(a.state),
            zipcode: t(a.zipcode),
            country: t(a.country),
        })
        .filter(|a| a != &Address::default())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Contacts

fn emails(list: Vec<EmailInput>) -> Result<Vec<ContactEmail>> {
    list.into_iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(ContactEmail {
                email: validate::email(&format!("emails[{i}].email"), &e.email)?,
                kind: e.kind.unwrap_or_else(|| "office".into()),
            })
        })
        .collect()
}

fn phones(list: Vec<PhoneInput>, region: &str) -> Result<Vec<ContactPhone>> {
    list.into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(ContactPhone {
                phone: validate::phone(&format!("phones[{i}].phone"), &p.phone, region)?,
                kind: p.kind.unwrap_or_else(|| "office".into()),
            })
        })
        .collect()
}

fn urls(list: Vec<ContactUrl>) -> Result<Vec<ContactUrl>> {
    list.into_iter()
        .enumerate()
        .map(|(i, u)| {
            Ok(ContactUrl {
                url: validate::url(&format!("urls[{i}].url"), &u.url)?,
                kind: u.kind,
            })
        })
        .collect()
}

pub fn add_contact(lead: &Lead, input: NewContact, ctx: &mut Ctx) -> Result<(Contact, Plan)> {
    let contact = Contact {
        id: ctx.id_at(None),
        lead_id: lead.id,
        name: validate::required("name", &input.name, 300)?,
        title: validate::optional(input.title.as_deref()),
        emails: emails(input.emails)?,
        phones: phones(input.phones, &ctx.region)?,
        urls: urls(input.urls)?,
        custom: ctx.custom(FieldTarget::Contact, &input.custom)?,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Contact(contact.clone())));
    Ok((contact, plan))
}

pub fn update_contact(
    current: &Contact,
    patch: ContactPatch,
    ctx: &mut Ctx,
) -> Result<(Contact, Plan)> {
    let mut c = current.clone();
    if let Some(n) = patch.name {
        c.name = validate::required("name", &n, 300)?;
    }
    if let Some(t) = patch.title {
        c.title = validate::optional(Some(&t));
    }
    if let Some(e) = patch.emails {
        c.emails = emails(e)?;
    }
    if let Some(p) = patch.phones {
        c.phones = phones(p, &ctx.region)?;
    }
    if let Some(u) = patch.urls {
        c.urls = urls(u)?;
    }
    if let Some(cu) = patch.custom {
        let (set, unset): (Custom, Custom) = cu.into_iter().partition(|(_, v)| !v.is_null());
        for k in unset.keys() {
            c.custom.retain(|name, _| !name.eq_ignore_ascii_case(k));
        }
        c.custom.extend(ctx.custom(FieldTarget::Contact, &set)?);
    }
    c.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Contact(current.clone()),
        Record::Contact(c.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { c }, plan))
}

pub fn delete_contact(current: &Contact) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Contact(current.clone())));
    plan
}

// ---------------------------------------------------------------------------------------------
// Activities

pub fn add_activity(
    lead: &Lead,
    contacts: &[Contact],
    input: NewActivity,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    if let Some(cid) = input.contact_id
        && !contacts.iter().any(|c| c.id == cid)
    {
        return Err(Error::invalid(
            "contact_id",
            format!("contact {cid} does not belong to lead {}", lead.id),
        ));
    }
    let kind = match input.kind {
        ActivityKind::Note(n) => ActivityKind::Note(NoteFields {
            title: validate::optional(n.title.as_deref()),
            ..n
        }),
        ActivityKind::Call(c) => ActivityKind::Call(CallFields {
            remote_phone: optional_phone("remote_phone", c.remote_phone, &ctx.region)?,
            local_phone: optional_phone("local_phone", c.local_phone, &ctx.region)?,
            note: validate::optional(c.note.as_deref()),
            ..c
        }),
        ActivityKind::Email(e) => {
            if let Some(s) = &e.sender {
                validate::email("sender", s)?;
            }
            let to =
                e.to.iter()
                    .enumerate()
                    .map(|(i, t)| validate::email(&format!("to[{i}]"), t))
                    .collect::<Result<Vec<_>>>()?;
            let mut opens = e.opens;
            opens.sort();
            ActivityKind::Email(EmailFields { to, opens, ..e })
        }
        ActivityKind::Meeting(m) => {
            validate::required("title", &m.title, 500)?;
            if m.ends_at.is_some_and(|end| end < m.starts_at) {
                return Err(Error::invalid(
                    "ends_at",
                    "a meeting cannot end before it starts",
                ));
            }
            ActivityKind::Meeting(m)
        }
        ActivityKind::Link(l) => ActivityKind::Link(LinkFields {
            title: validate::optional(l.title.as_deref()),
            url: validate::url("url", &l.url)?,
        }),
        ActivityKind::StatusChange(_) => {
            return Err(Error {
                code: ErrorCode::BadInput,
                message: "status changes are written automatically when a lead's status changes"
                    .into(),
                field: Some("_type".into()),
            });
        }
    };
    let at = input.activity_at.unwrap_or(match &kind {
        ActivityKind::Meeting(m) => m.starts_at,
        _ => ctx.now,
    });
    let activity = Activity {
        id: ctx.id_at(Some(at)),
        lead_id: lead.id,
        contact_id: input.contact_id,
        user_id: ctx.user,
        activity_at: at,
        date_created: ctx.now,
        date_updated: ctx.now,
        kind,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Activity(activity.clone())));
    Ok((activity, plan))
}

fn optional_phone(field: &str, v: Option<String>, region: &str) -> Result<Option<String>> {
    match validate::optional(v.as_deref()) {
        Some(p) => Ok(Some(validate::phone(field, &p, region)?)),
        None => Ok(None),
    }
}

pub fn update_note(
    current: &Activity,
    patch: NotePatch,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    let ActivityKind::Note(fields) = &current.kind else {
        return Err(Error::invalid(
            "id",
            format!(
                "activity {} is a {}, not a note",
                current.id,
                current.kind.type_name()
            ),
        ));
    };
    let mut f = fields.clone();
    if let Some(t) = patch.title {
        f.title = validate::optional(Some(&t));
    }
    if let Some(n) = patch.note {
        f.note = n;
    }
    if let Some(p) = patch.pinned {
        f.pinned = p;
    }
    let mut a = current.clone();
    a.kind = ActivityKind::Note(f);
    a.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Activity(current.clone()),
        Record::Activity(a.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { a }, plan))
}

pub fn update_call(
    current: &Activity,
    patch: CallPatch,
    ctx: &mut Ctx,
) -> Result<(Activity, Plan)> {
    let ActivityKind::Call(fields) = &current.kind else {
        return Err(Error::invalid(
            "id",
            format!(
                "activity {} is a {}, not a call",
                current.id,
                current.kind.type_name()
            ),
        ));
    };
    let mut f = fields.clone();
    if let Some(s) = patch.status {
        f.status = validate::required("status", &s, 50)?;
    }
    if let Some(d) = patch.disposition {
        f.disposition = validate::required("disposition", &d, 50)?;
    }
    if let Some(d) = patch.duration {
        f.duration = d;
    }
    if let Some(n) = patch.note {
        f.note = validate::optional(Some(&n)).map(|_| n);
    }
    let mut a = current.clone();
    a.kind = ActivityKind::Call(f);
    a.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Activity(current.clone()),
        Record::Activity(a.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { a }, plan))
}

pub fn delete_activity(current: &Activity) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::Activity(current.clone())));
    plan
}

// ---------------------------------------------------------------------------------------------
// Tasks and opportunities

pub fn add_task(lead: &Lead, input: NewTask, ctx: &mut Ctx) -> Result<(Task, Plan)> {
    let task = Task {
        id: ctx.id_at(None),
        lead_id: lead.id,
        assigned_to: input.assigned_to.or(ctx.user),
        text: validate::required("text", &input.text, 2000)?,
        date: input.date,
        is_complete: false,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Task(task.clone())));
    Ok((task, plan))
}

pub fn update_task(current: &Task, patch: TaskPatch, ctx: &mut Ctx) -> Result<(Task, Plan)> {
    let mut t = current.clone();
    if let Some(text) = patch.text {
        t.text = validate::required("text", &text, 2000)?;
    }
    if patch.date.is_some() {
        t.date = patch.date;
    }
    if let Some(done) = patch.is_complete {
        t.is_complete = done;
    }
    t.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Task(current.clone()),
        Record::Task(t.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { t }, plan))
}

fn opportunity_status(label: Option<&str>) -> Result<(String, OpportunityStatusType)> {
    let Some(label) = label else {
        return Ok(("Active".into(), OpportunityStatusType::Active));
    };
    let key = validate::status_key(label);
    OPPORTUNITY_STATUSES
        .iter()
        .find(|(l, _)| validate::status_key(l) == key)
        .map(|(l, t)| (l.to_string(), *t))
        .ok_or_else(|| Error {
            code: ErrorCode::UnknownStatus,
            message: format!("unknown opportunity status `{label}`; use Active, Won or Lost"),
            field: Some("status_label".into()),
        })
}

fn confidence(c: Option<u8>) -> Result<Option<u8>> {
    match c {
        Some(c) if c > 100 => Err(Error::invalid(
            "confidence",
            format!("confidence is a percentage (0–100), got {c}"),
        )),
        c => Ok(c),
    }
}

pub fn add_opportunity(
    lead: &Lead,
    contacts: &[Contact],
    input: NewOpportunity,
    ctx: &mut Ctx,
) -> Result<(Opportunity, Plan)> {
    if let Some(cid) = input.contact_id
        && !contacts.iter().any(|c| c.id == cid)
    {
        return Err(Error::invalid(
            "contact_id",
            format!("contact {cid} does not belong to lead {}", lead.id),
        ));
    }
    if input.value < 0 {
        return Err(Error::invalid(
            "value",
            "an opportunity's value cannot be negative",
        ));
    }
    let (status_label, status_type) = opportunity_status(input.status_label.as_deref())?;
    let opp = Opportunity {
        id: ctx.id_at(None),
        lead_id: lead.id,
        contact_id: input.contact_id,
        status_label,
        status_type,
        value: input.value,
        value_period: input.value_period.unwrap_or(ValuePeriod::OneTime),
        confidence: confidence(input.confidence)?,
        user_id: input.user_id.or(ctx.user),
        date_won: input.date_won,
        note: validate::optional(input.note.as_deref()),
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::Opportunity(opp.clone())));
    Ok((opp, plan))
}

pub fn update_opportunity(
    current: &Opportunity,
    patch: OpportunityPatch,
    ctx: &mut Ctx,
) -> Result<(Opportunity, Plan)> {
    let mut o = current.clone();
    if let Some(s) = patch.status_label {
        (o.status_label, o.status_type) = opportunity_status(Some(&s))?;
    }
    if let Some(v) = patch.value {
        if v < 0 {
            return Err(Error::invalid(
                "value",
                "an opportunity's value cannot be negative",
            ));
        }
        o.value = v;
    }
    if let Some(p) = patch.value_period {
        o.value_period = p;
    }
    if patch.confidence.is_some() {
        o.confidence = confidence(patch.confidence)?;
    }
    if patch.date_won.is_some() {
        o.date_won = patch.date_won;
    }
    if let Some(n) = patch.note {
        o.note = validate::optional(Some(&n));
    }
    o.date_updated = ctx.now;
    let mut plan = Plan::default();
    plan.push_opt(Write::update(
        &Record::Opportunity(current.clone()),
        Record::Opportunity(o.clone()),
    ));
    Ok((if plan.is_empty() { current.clone() } else { o }, plan))
}

// ---------------------------------------------------------------------------------------------
// Settings: statuses, custom fields, Smart Views, users

pub fn add_status(
    label: &str,
    existing: &[LeadStatus],
    ctx: &mut Ctx,
) -> Result<(LeadStatus, Plan)> {
    let label = validate::required("label", label, 100)?;
    if existing
        .iter()
        .any(|s| validate::status_key(&s.label) == validate::status_key(&label))
    {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("status `{label}` already exists"),
            field: Some("label".into()),
        });
    }
    let status = LeadStatus {
        id: ctx.id_at(None),
        label,
        position: existing.iter().map(|s| s.position).max().unwrap_or(-1) + 1,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::LeadStatus(status.clone())));
    Ok((status, plan))
}

pub fn add_field(
    name: &str,
    kind: FieldType,
    applies_to: FieldTarget,
    choices: Vec<String>,
    ctx: &mut Ctx,
) -> Result<(CustomFieldDef, Plan)> {
    let name = validate::required("name", name, 100)?;
    if name.contains(['"', '\n']) {
        return Err(Error::invalid(
            "name",
            "a field name cannot contain quotes or line breaks",
        ));
    }
    if ctx
        .fields
        .iter()
        .any(|f| f.applies_to == applies_to && f.name.eq_ignore_ascii_case(&name))
    {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("custom field `{name}` already exists"),
            field: Some("name".into()),
        });
    }
    if kind == FieldType::Choice && choices.is_empty() {
        return Err(Error::invalid(
            "choices",
            "a choice field needs at least one choice",
        ));
    }
    let def = CustomFieldDef {
        id: ctx.id_at(None),
        name,
        kind,
        applies_to,
        choices,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::CustomField(def.clone())));
    Ok((def, plan))
}

pub fn add_view(
    name: &str,
    query: &str,
    shared: bool,
    existing: &[SmartView],
    ctx: &mut Ctx,
) -> Result<(SmartView, Plan)> {
    let name = validate::required("name", name, 200)?;
    if existing.iter().any(|v| v.name.eq_ignore_ascii_case(&name)) {
        return Err(Error {
            code: ErrorCode::Duplicate,
            message: format!("a Smart View named `{name}` already exists"),
            field: Some("name".into()),
        });
    }
    let view = SmartView {
        id: ctx.id_at(None),
        name,
        query: query.trim().to_string(),
        shared,
        date_created: ctx.now,
        date_updated: ctx.now,
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::SmartView(view.clone())));
    Ok((view, plan))
}

pub fn create_user(name: &str, email: Option<&str>, ctx: &mut Ctx) -> Result<(User, Plan)> {
    let user = User {
        id: ctx.id_at(None),
        name: validate::required("name", name, 200)?,
        email: match validate::optional(email) {
            Some(e) => Some(validate::email("email", &e)?),
            None => None,
        },
    };
    let mut plan = Plan::default();
    plan.push(Write::create(Record::User(user.clone())));
    Ok((user, plan))
}

pub fn delete_view(current: &SmartView) -> Plan {
    let mut plan = Plan::default();
    plan.push(Write::delete(Record::SmartView(current.clone())));
    plan
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
