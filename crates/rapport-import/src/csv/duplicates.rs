//! Possible duplicate leads: leads that share a key an import would match them by (the
//! same website domain, or without one a contact's work-email domain; a contact email; a
//! contact phone) or whose names are near-identical (the same letters and digits once
//! company suffixes such as "Inc" or "LLC" are dropped). The keys are `LeadKeys::of`'s, so
//! this view and the CSV dedupe agree on what "the same" means.

use super::index::LeadKeys;
use super::values::{self, key};
use rapport_core::Id;
use rapport_store::{Result, Store};
use serde::Serialize;
use std::collections::HashMap;

const PAGE: i64 = 20_000;
/// A contact's emails and phones.
type ContactStrs = (Vec<String>, Vec<String>);
/// The near-identical name key's kind (beside the index's 1–4).
const LOOSE_NAME: u8 = 9;
/// Words dropped at the end of a name for the near-identical comparison.
const SUFFIXES: [&str; 14] = [
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "plc",
    "sa",
    "ag",
    "group",
];

/// A set of leads that may be one company, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// `domain`, `email`, `phone` or `name`.
    pub reason: &'static str,
    /// Oldest first.
    pub leads: Vec<Id>,
}

/// A name without punctuation, case and trailing company suffixes.
pub fn loose_name(name: &str) -> String {
    let norm = values::name_norm(name);
    let mut words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    while words.len() > 1 && words.last().is_some_and(|w| SUFFIXES.contains(w)) {
        words.pop();
    }
    words.concat()
}

/// Every group of at least two live leads sharing a key, at most `limit` groups, the group
/// with the newest lead first (what was just imported or created). A set of leads is listed
/// once, under its strongest reason (domain, email, phone, name).
pub async fn possible_duplicates(store: &Store, limit: usize) -> Result<Vec<DuplicateGroup>> {
    let mut leads: Vec<(Id, String, Option<String>)> = Vec::new();
    let mut after = None;
    loop {
        let page = store.lead_keys(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        leads.extend(page.into_iter().map(|k| (k.id, k.name, k.url)));
    }
    let mut contacts: HashMap<Id, Vec<ContactStrs>> = HashMap::new();
    let mut after = None;
    loop {
        let page = store.contact_keys(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for c in page {
            contacts
                .entry(c.lead_id)
                .or_default()
                .push((c.emails, c.phones));
        }
    }
    let mut groups: HashMap<(&'static str, u64), Vec<Id>> = HashMap::new();
    for (id, name, url) in &leads {
        let cs = contacts.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let keys = LeadKeys::from_strs(name, url.as_deref(), cs);
        for (reason, k) in keys.tagged() {
            groups.entry((reason, k)).or_default().push(*id);
        }
        let loose = loose_name(name);
        if !loose.is_empty() {
            groups
                .entry(("name", key(LOOSE_NAME, &loose)))
                .or_default()
                .push(*id);
        }
    }
    let order = |r: &str| {
        ["domain", "email", "phone", "name"]
            .iter()
            .position(|x| *x == r)
    };
    let mut list: Vec<DuplicateGroup> = groups
        .into_iter()
        .filter_map(|((reason, _), mut ids)| {
            ids.sort();
            ids.dedup();
            (ids.len() > 1).then_some(DuplicateGroup { reason, leads: ids })
        })
        .collect();
    list.sort_by(|a, b| {
        a.leads
            .cmp(&b.leads)
            .then(order(a.reason).cmp(&order(b.reason)))
    });
    list.dedup_by(|b, a| a.leads == b.leads);
    list.sort_by(|a, b| (b.leads.last().cmp(&a.leads.last())).then(a.leads.cmp(&b.leads)));
    list.truncate(limit);
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_punctuation_do_not_matter() {
        assert_eq!(loose_name("Acme, Inc."), loose_name("ACME"));
        assert_eq!(loose_name("Acme Corp LLC"), "acme");
        assert_ne!(loose_name("Acme Labs"), loose_name("Acme"));
        assert_eq!(loose_name("Inc"), "inc");
    }
}
