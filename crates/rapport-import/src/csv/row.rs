//! One CSV record → the lead and contact parts it describes, every value validated with the
//! core's rules (emails, E.164 phones, URLs, statuses, dates, typed custom values). A bad value
//! rejects the line with its column and reason; nothing here touches the store.

use super::Problem;
use super::framing;
use super::mapping::Target;
use super::values;
use rapport_core::time::Timestamp;
use rapport_core::{
    Address, ContactEmail, ContactPhone, ContactUrl, Custom, FieldType, Id, User, validate,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The lead side of a row (every field optional: later rows fill in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadPart {
    pub company: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    /// The url's domain.
    pub domain: Option<String>,
    /// The domain of the contact's work email, when the row has no url (weaker: it finds a
    /// lead but does not veto a name match).
    pub email_domain: Option<String>,
    pub status: Option<String>,
    pub owner: Option<Id>,
    /// An owner no user matches (the lead keeps the importing user).
    pub unmatched_owner: Option<String>,
    pub created: Option<Timestamp>,
    pub address: Option<Address>,
    pub custom: Custom,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPart {
    pub name: String,
    pub title: Option<String>,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub urls: Vec<ContactUrl>,
    pub custom: Custom,
}

/// A valid row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowData {
    pub line: u64,
    pub lead: LeadPart,
    pub contact: Option<ContactPart>,
    /// The name a new lead gets: the company, else the contact's name or email.
    pub lead_name: String,
}

/// What one record turned into.
#[derive(Debug, Clone)]
pub enum Parsed {
    Row(Box<RowData>),
    Bad {
        record: Vec<String>,
        problem: Problem,
    },
    Blank,
}

/// Everything a row is checked against, owned by the reader thread.
#[derive(Debug, Clone)]
pub struct RowRules {
    pub headers: Vec<String>,
    pub targets: Vec<Target>,
    pub custom_types: BTreeMap<String, FieldType>,
    /// Choices of existing choice fields, by lower-case name.
    pub choices: BTreeMap<String, Vec<String>>,
    pub statuses: Vec<String>,
    pub create_statuses: bool,
    pub users: Vec<User>,
    pub region: String,
    pub day_first: bool,
    /// The record length cap (for the message about a record cut at it).
    pub max_record_bytes: usize,
    /// Phone numbers already checked (files repeat switchboard numbers; parsing one with
    /// `phonenumber` is the costliest check of a row).
    pub phone_memo: PhoneMemo,
}

/// Phone value → its E.164 form or the error message, keyed by a 64-bit hash of the value
/// (the value is kept and compared, so a collision only costs a re-parse). Bounded.
#[derive(Debug, Clone, Default)]
pub struct PhoneMemo(RefCell<values::FastMap<u64, (Box<str>, PhoneCheck)>>);

/// A phone number in E.164, or why it is not one.
type PhoneCheck = Result<String, String>;

/// Entries kept before the memo starts over.
const PHONE_MEMO_MAX: usize = 50_000;

impl PhoneMemo {
    fn get(&self, v: &str, region: &str) -> Result<String, String> {
        let k = values::key(0, v);
        if let Some((seen, r)) = self.0.borrow().get(&k)
            && **seen == *v
        {
            return r.clone();
        }
        let r = validate::phone("phone", v, region).map_err(|e| e.message);
        let mut m = self.0.borrow_mut();
        if m.len() >= PHONE_MEMO_MAX {
            m.clear();
        }
        m.entry(k).or_insert_with(|| (v.into(), r.clone()));
        r
    }
}

struct Bad(Option<String>, String);

impl RowRules {
    pub fn parse(&self, line: u64, rec: &::csv::StringRecord) -> Parsed {
        let bad = |col: Option<String>, reason: String| Parsed::Bad {
            record: rec.iter().map(framing::clean).collect(),
            problem: Problem {
                line,
                column: col,
                reason,
            },
        };
        let fields: Vec<&str> = rec.iter().collect();
        if let Some(reason) = framing::problem(&fields, self.max_record_bytes) {
            return bad(None, reason);
        }
        if rec.iter().all(|c| c.trim().is_empty()) {
            return Parsed::Blank;
        }
        let n = self.headers.len();
        let extra_blank = rec.iter().skip(n).all(|c| c.trim().is_empty());
        if rec.len() < n || !extra_blank {
            let mut reason = format!("the line has {} columns, the header has {n}", rec.len());
            // A quoted value over several lines is the usual cause: say where it opened.
            let mut at = line;
            for f in &fields {
                let breaks = f.matches('\n').count() as u64;
                if breaks > 0 {
                    reason += &format!(
                        "; a quoted value runs from line {at} to line {}: is its quote left open?",
                        at + breaks
                    );
                    break;
                }
                at += breaks;
            }
            return bad(None, reason);
        }
        match self.fields(line, rec) {
            Ok(row) => Parsed::Row(Box::new(row)),
            Err(Bad(col, reason)) => bad(col, reason),
        }
    }

    fn fields(&self, line: u64, rec: &::csv::StringRecord) -> Result<RowData, Bad> {
        let mut lead = LeadPart::default();
        let mut c = ContactPart::default();
        let (mut first, mut last) = (None, None);
        let mut addr = Address::default();
        for (i, t) in self.targets.iter().enumerate() {
            let v = values::unneutralise(rec.get(i).unwrap_or("").trim()).trim();
            if v.is_empty() || *t == Target::Skip {
                continue;
            }
            let col = &self.headers[i];
            let err = |m: String| Bad(Some(col.clone()), m);
            let text = || Some(v.to_string());
            match t {
                Target::Skip => {}
                Target::LeadName => lead.company = text(),
                Target::LeadDescription => lead.description = text(),
                Target::LeadUrl => {
                    let u = validate::url("url", v).map_err(|e| err(e.message))?;
                    lead.domain = values::domain_of(&u);
                    lead.url = Some(u);
                }
                Target::LeadStatus => lead.status = Some(self.status(v).map_err(err)?),
                Target::LeadOwner => {
                    lead.owner = self.owner(v);
                    if lead.owner.is_none() {
                        lead.unmatched_owner = text();
                    }
                }
                Target::LeadCreated => {
                    lead.created = Some(values::parse_date(v, self.day_first).ok_or_else(|| {
                        err(format!("`{v}` is not a date (e.g. 2024-01-31, 01/31/2024 or 2024-01-31T09:30:00Z)"))
                    })?)
                }
                Target::LeadNote => {
                    let note = lead.note.get_or_insert_with(String::new);
                    if !note.is_empty() {
                        note.push_str("\n\n");
                    }
                    note.push_str(v);
                }
                Target::Street => addr.address_1 = text(),
                Target::Street2 => addr.address_2 = text(),
                Target::City => addr.city = text(),
                Target::State => addr.state = text(),
                Target::Zip => addr.zipcode = text(),
                Target::Country => addr.country = text(),
                Target::LeadCustom(name) => {
                    lead.custom.insert(name.clone(), self.custom(name, v).map_err(err)?);
                }
                Target::ContactCustom(name) => {
                    c.custom.insert(name.clone(), self.custom(name, v).map_err(err)?);
                }
                Target::ContactName => c.name = v.to_string(),
                Target::ContactFirstName => first = Some(v),
                Target::ContactLastName => last = Some(v),
                Target::ContactTitle => c.title = text(),
                Target::ContactEmail(kind) => {
                    for e in values::split_emails(v) {
                        let email = validate::email("email", e).map_err(|e| err(e.message))?;
                        if !c.emails.iter().any(|x| x.email == email) {
                            c.emails.push(ContactEmail { email, kind: kind.clone() });
                        }
                    }
                }
                Target::ContactPhone(kind) => {
                    for p in values::split_phones(v) {
                        let phone = self.phone_memo.get(p, &self.region).map_err(err)?;
                        if !c.phones.iter().any(|x| x.phone == phone) {
                            c.phones.push(ContactPhone { phone, kind: kind.clone() });
                        }
                    }
                }
                Target::ContactUrl => {
                    let url = validate::url("url", v).map_err(|e| err(e.message))?;
                    c.urls.push(ContactUrl { url, kind: "url".into() });
                }
            }
        }
        if addr != Address::default() {
            addr.label = Some("business".into());
            lead.address = Some(addr);
        }
        if c.name.is_empty() {
            c.name = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
        }
        if lead.domain.is_none() {
            lead.email_domain = c.emails.iter().find_map(|e| values::work_domain(&e.email));
        }
        let has_contact = !c.name.is_empty() || !c.emails.is_empty() || !c.phones.is_empty();
        if c.name.is_empty() {
            c.name = c
                .emails
                .first()
                .map(|e| e.email.clone())
                .or_else(|| c.phones.first().map(|p| p.phone.clone()))
                .unwrap_or_default();
        }
        if c.name.chars().count() > 300 {
            return Err(Bad(
                None,
                "the contact name is longer than 300 characters".into(),
            ));
        }
        let lead_name = lead
            .company
            .clone()
            .or_else(|| has_contact.then(|| c.name.clone()))
            .or_else(|| lead.domain.clone())
            .ok_or_else(|| {
                Bad(
                    None,
                    "the line has no company, contact name, email, phone or url".into(),
                )
            })?;
        if lead_name.chars().count() > 500 {
            return Err(Bad(
                None,
                "the company name is longer than 500 characters".into(),
            ));
        }
        Ok(RowData {
            line,
            lead,
            contact: has_contact.then_some(c),
            lead_name,
        })
    }

    fn status(&self, v: &str) -> Result<String, String> {
        match validate::status("status", v, &self.statuses) {
            Ok(s) => Ok(s),
            Err(_) if self.create_statuses && v.chars().count() <= 100 => Ok(v.to_string()),
            Err(e) => Err(e.message),
        }
    }

    fn owner(&self, v: &str) -> Option<Id> {
        self.users
            .iter()
            .find(|u| {
                u.name.eq_ignore_ascii_case(v)
                    || u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(v))
            })
            .map(|u| u.id)
    }

    fn custom(&self, name: &str, v: &str) -> Result<serde_json::Value, String> {
        let kind = self
            .custom_types
            .get(name)
            .copied()
            .unwrap_or(FieldType::Text);
        match kind {
            FieldType::Text => Ok(serde_json::Value::String(v.to_string())),
            FieldType::Number => values::parse_number(v)
                .map(values::number_json)
                .ok_or_else(|| format!("`{v}` is not a number (custom field `{name}`)")),
            FieldType::Date => values::parse_date(v, self.day_first)
                .map(|t| serde_json::Value::String(t.date_naive().to_string()))
                .ok_or_else(|| format!("`{v}` is not a date (custom field `{name}`)")),
            FieldType::Choice => {
                let choices = self
                    .choices
                    .get(&name.to_lowercase())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(v))
                    .map(|c| serde_json::Value::String(c.clone()))
                    .ok_or_else(|| {
                        format!(
                            "`{v}` is not one of: {} (custom field `{name}`)",
                            choices.join(", ")
                        )
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_phone_gets_the_same_answer_from_the_memo() {
        let rules = RowRules {
            headers: vec!["Company".into(), "Phone".into()],
            targets: vec![Target::LeadName, Target::ContactPhone("office".into())],
            custom_types: BTreeMap::new(),
            choices: BTreeMap::new(),
            statuses: vec!["Potential".into()],
            create_statuses: false,
            users: vec![],
            region: "US".into(),
            day_first: false,
            max_record_bytes: 1 << 20,
            phone_memo: PhoneMemo::default(),
        };
        let rec = |phone: &str| ::csv::StringRecord::from(vec!["Acme", phone]);
        let phones = |p: Parsed| match p {
            Parsed::Row(r) => Ok(r.contact.unwrap().phones),
            Parsed::Bad { problem, .. } => Err(problem.reason),
            Parsed::Blank => Err("blank".into()),
        };
        for _ in 0..3 {
            let ok = phones(rules.parse(2, &rec("(650) 555-0141 / +1 305 555 0132"))).unwrap();
            let e164: Vec<&str> = ok.iter().map(|p| p.phone.as_str()).collect();
            assert_eq!(e164, ["+16505550141", "+13055550132"]);
            let bad = phones(rules.parse(3, &rec("555"))).unwrap_err();
            assert!(bad.contains("`555` is not a valid phone number"), "{bad}");
        }
        assert_eq!(rules.phone_memo.0.borrow().len(), 3);
    }
}
