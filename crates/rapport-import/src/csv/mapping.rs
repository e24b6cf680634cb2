//! The column mapping: a JSON document (saved and reused with `--mapping`) that says where each
//! column goes, suggested from header names — including the export layouts of Close, HubSpot,
//! Salesforce and Pipedrive — with unknown columns typed as custom fields or skipped.

use super::CsvError;
use super::values;
use rapport_core::FieldType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Where one column goes. Written in a mapping as a string: `lead.name`,
/// `contact.phone.mobile`, `lead.custom.Lead Source`, `skip`…
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Skip,
    LeadName,
    LeadDescription,
    LeadUrl,
    LeadStatus,
    LeadOwner,
    LeadCreated,
    /// A note on the lead's timeline.
    LeadNote,
    Street,
    Street2,
    City,
    State,
    Zip,
    Country,
    LeadCustom(String),
    ContactName,
    ContactFirstName,
    ContactLastName,
    ContactTitle,
    /// With the email type (`office`, `home`, `other`).
    ContactEmail(String),
    /// With the phone type (`office`, `mobile`, `home`, `fax`, `other`).
    ContactPhone(String),
    ContactUrl,
    ContactCustom(String),
}

const SIMPLE: [(&str, Target); 20] = [
    ("skip", Target::Skip),
    ("lead.name", Target::LeadName),
    ("lead.description", Target::LeadDescription),
    ("lead.url", Target::LeadUrl),
    ("lead.status", Target::LeadStatus),
    ("lead.owner", Target::LeadOwner),
    ("lead.created", Target::LeadCreated),
    ("lead.note", Target::LeadNote),
    ("address.street", Target::Street),
    ("address.street2", Target::Street2),
    ("address.city", Target::City),
    ("address.state", Target::State),
    ("address.zip", Target::Zip),
    ("address.country", Target::Country),
    ("contact.name", Target::ContactName),
    ("contact.first_name", Target::ContactFirstName),
    ("contact.last_name", Target::ContactLastName),
    ("contact.title", Target::ContactTitle),
    ("contact.url", Target::ContactUrl),
    ("contact.email", Target::ContactEmail(String::new())),
];

impl Target {
    pub fn as_string(&self) -> String {
        match self {
            Target::LeadCustom(n) => format!("lead.custom.{n}"),
            Target::ContactCustom(n) => format!("contact.custom.{n}"),
            Target::ContactEmail(k) => format!("contact.email.{k}"),
            Target::ContactPhone(k) => format!("contact.phone.{k}"),
            t => SIMPLE
                .iter()
                .find(|(_, x)| x == t)
                .map(|(s, _)| s.to_string())
                .unwrap_or_default(),
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        let s = s.trim();
        if let Some(n) = s
            .strip_prefix("lead.custom.")
            .filter(|n| !n.trim().is_empty())
        {
            return Some(Target::LeadCustom(n.trim().to_string()));
        }
        if let Some(n) = s
            .strip_prefix("contact.custom.")
            .filter(|n| !n.trim().is_empty())
        {
            return Some(Target::ContactCustom(n.trim().to_string()));
        }
        if let Some(k) = s.strip_prefix("contact.email") {
            let k = k.trim_start_matches('.');
            return Some(Target::ContactEmail(
                if k.is_empty() { "office" } else { k }.to_string(),
            ));
        }
        if let Some(k) = s.strip_prefix("contact.phone") {
            let k = k.trim_start_matches('.');
            return Some(Target::ContactPhone(
                if k.is_empty() { "office" } else { k }.to_string(),
            ));
        }
        SIMPLE.iter().find(|(n, _)| *n == s).map(|(_, t)| t.clone())
    }

    /// Targets a row holds one value for (a second column mapped there is refused).
    fn single(&self) -> bool {
        !matches!(
            self,
            Target::Skip | Target::ContactEmail(_) | Target::ContactPhone(_) | Target::LeadNote
        )
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let s = String::deserialize(d)?;
        Target::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown target `{s}`; use skip, lead.name, lead.description, lead.url, lead.status, lead.owner, lead.created, lead.note, address.street|street2|city|state|zip|country, lead.custom.NAME, contact.name|first_name|last_name|title|url, contact.email[.TYPE], contact.phone[.TYPE] or contact.custom.NAME"
            ))
        })
    }
}

/// What happens to columns the mapping does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownColumns {
    /// Each becomes a lead custom field (created, typed by its values).
    #[default]
    Custom,
    Skip,
}

/// What an imported row is matched against existing leads by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    Domain,
    Email,
    Phone,
    Name,
}

impl MatchKey {
    pub const ALL: [MatchKey; 4] = [
        MatchKey::Domain,
        MatchKey::Email,
        MatchKey::Phone,
        MatchKey::Name,
    ];

    /// Parses `domain,email,phone,name` (or `none`).
    pub fn parse_list(s: &str) -> Result<Vec<MatchKey>, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(vec![]);
        }
        s.split(',')
            .map(|k| match k.trim().to_lowercase().as_str() {
                "domain" | "url" => Ok(MatchKey::Domain),
                "email" => Ok(MatchKey::Email),
                "phone" => Ok(MatchKey::Phone),
                "name" | "company" => Ok(MatchKey::Name),
                other => Err(format!(
                    "unknown match key `{other}`; use domain, email, phone, name or none"
                )),
            })
            .collect()
    }
}

fn default_version() -> u32 {
    1
}
fn default_match() -> Vec<MatchKey> {
    MatchKey::ALL.to_vec()
}
fn yes() -> bool {
    true
}

/// A saved mapping. Columns are keyed by header name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default = "default_version")]
    pub version: u32,
    pub columns: BTreeMap<String, Target>,
    #[serde(default)]
    pub unknown_columns: UnknownColumns,
    /// Types of the custom fields the import creates (sniffed from the values).
    #[serde(default)]
    pub custom_types: BTreeMap<String, FieldType>,
    /// `a/b/yyyy` dates are day/month/year.
    #[serde(default)]
    pub day_first: bool,
    #[serde(default = "default_match", rename = "match")]
    pub match_on: Vec<MatchKey>,
    /// Create lead statuses the file uses but the store lacks (else those lines fail).
    #[serde(default = "yes")]
    pub create_statuses: bool,
}

impl Mapping {
    pub fn from_json(text: &str) -> Result<Mapping, CsvError> {
        serde_json::from_str(text)
            .map_err(|e| CsvError::input("csv_mapping", format!("the mapping is not valid: {e}")))
    }

    /// Turns the columns a suggestion made custom fields only because they were unknown
    /// (`lead.custom.<the header>`, no known meaning) into `skip`: the wizard's
    /// "skip unknown columns" applied to a suggested mapping.
    pub fn skip_unknown(&mut self) {
        for (col, t) in self.columns.iter_mut() {
            if *t == Target::LeadCustom(col.clone()) && super::suggest::suggest_one(col).is_none() {
                *t = Target::Skip;
            }
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The target of each column, in header order. Refuses a mapping that names a missing
    /// column, maps two columns to one single-valued field, or imports nothing useful.
    /// Columns it does not name follow `unknown_columns`; new custom fields get their type
    /// from `sample`.
    pub fn resolve(
        &mut self,
        headers: &[String],
        sample: &[Vec<String>],
    ) -> Result<Vec<Target>, CsvError> {
        let missing: Vec<&String> = self
            .columns
            .keys()
            .filter(|c| !headers.iter().any(|h| h.eq_ignore_ascii_case(c)))
            .collect();
        if !missing.is_empty() {
            return Err(CsvError::input(
                "csv_mapping",
                format!(
                    "the mapping names column{} {} that the file does not have; the file's columns are: {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    headers.join(", ")
                ),
            ));
        }
        let mut targets = Vec::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            let t = match self.columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(h)) {
                Some((_, t)) => t.clone(),
                None => match self.unknown_columns {
                    UnknownColumns::Skip => Target::Skip,
                    UnknownColumns::Custom => Target::LeadCustom(h.clone()),
                },
            };
            if t.single()
                && let Some(j) = targets.iter().position(|x| *x == t)
            {
                return Err(CsvError::input(
                    "csv_mapping",
                    format!(
                        "columns `{}` and `{h}` are both mapped to {}; map one of them elsewhere or to skip",
                        headers[j],
                        t.as_string()
                    ),
                ));
            }
            if let Target::LeadCustom(n) | Target::ContactCustom(n) = &t
                && !self.custom_types.contains_key(n)
            {
                self.custom_types.insert(
                    n.clone(),
                    sniff_type(sample.iter().filter_map(|r| r.get(i).map(String::as_str))),
                );
            }
            targets.push(t);
        }
        let useful = targets.iter().any(|t| {
            matches!(
                t,
                Target::LeadName
                    | Target::ContactName
                    | Target::ContactFirstName
                    | Target::ContactLastName
                    | Target::ContactEmail(_)
                    | Target::ContactPhone(_)
                    | Target::LeadUrl
            )
        });
        if !useful {
            return Err(CsvError::input(
                "csv_mapping",
                "no column is mapped to a company (lead.name), contact name, email, phone or url, so rows cannot become leads",
            ));
        }
        Ok(targets)
    }
}

/// Number if every non-blank value is a number, date if every one is a date, else text.
pub fn sniff_type<'a>(values: impl Iterator<Item = &'a str>) -> FieldType {
    let vals: Vec<&str> = values.map(str::trim).filter(|v| !v.is_empty()).collect();
    let day_first = values::sniff_day_first(vals.iter().copied());
    if vals.is_empty() {
        FieldType::Text
    } else if vals.iter().all(|v| values::parse_number(v).is_some()) {
        FieldType::Number
    } else if vals
        .iter()
        .all(|v| values::parse_date(v, day_first).is_some())
    {
        FieldType::Date
    } else {
        FieldType::Text
    }
}

/// Suggests a mapping for these headers (see `suggest_one`); a second column that would go to
/// a single-valued field becomes a custom field (or is skipped) instead.
pub fn suggest(headers: &[String], sample: &[Vec<String>], unknown: UnknownColumns) -> Mapping {
    let mut columns = BTreeMap::new();
    let mut taken: Vec<Target> = Vec::new();
    let leftover = |h: &String| match unknown {
        UnknownColumns::Custom => Target::LeadCustom(h.clone()),
        UnknownColumns::Skip => Target::Skip,
    };
    for h in headers {
        let t = match super::suggest::suggest_one(h) {
            Some(t) if t.single() && taken.contains(&t) => leftover(h),
            Some(t) => t,
            None => leftover(h),
        };
        taken.push(t.clone());
        columns.insert(h.clone(), t);
    }
    let dates = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| matches!(columns.get(*h), Some(Target::LeadCreated)))
        .flat_map(|(i, _)| {
            sample
                .iter()
                .filter_map(move |r| r.get(i).map(String::as_str))
        });
    let day_first = values::sniff_day_first(dates);
    let mut m = Mapping {
        version: 1,
        columns,
        unknown_columns: unknown,
        custom_types: BTreeMap::new(),
        day_first,
        match_on: default_match(),
        create_statuses: true,
    };
    for (i, h) in headers.iter().enumerate() {
        if let Some(Target::LeadCustom(n) | Target::ContactCustom(n)) = m.columns.get(h) {
            let t = sniff_type(sample.iter().filter_map(|r| r.get(i).map(String::as_str)));
            m.custom_types.insert(n.clone(), t);
        }
    }
    m
}
