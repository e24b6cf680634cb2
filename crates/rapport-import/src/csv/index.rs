//! The lookup table an import matches rows against: normalised domain, company name, email and
//! phone → leads. Its keys are a function of the stored records only (`LeadKeys::of`): loaded
//! from the store in one paged pass, and after every committed chunk set to the keys of each
//! touched lead's final records. So the table a resumed import loads is the table the
//! uninterrupted import had at the same chunk boundary — which is what makes a resumed import
//! yield exactly what the uninterrupted one does. Inside a chunk, rows also find the leads
//! earlier rows of the chunk created or extended (logged, and replaced by the exact keys when
//! the chunk is settled).

use super::mapping::MatchKey;
use super::row::RowData;
use super::values::{self, FastMap, key};
use rapport_core::{Contact, Id, Lead};
use rapport_store::{Result, Store};

const DOMAIN: u8 = 1;
const NAME: u8 = 2;
const EMAIL: u8 = 3;
const PHONE: u8 = 4;
const PAGE: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    id: Id,
    /// Key of the lead's normalised name (0 when it has none).
    name: u64,
    /// The lead has a domain (a website, or without one a contact's work email).
    has_domain: bool,
    /// Created by this import (grouping applies even to keys not in `--match`).
    ours: bool,
    /// Deleted by someone else during the import: found by nothing.
    dead: bool,
}

/// The keys a lead is found by, computed from its records alone: its name; its website's
/// domain, or without a website the domains of its contacts' work emails; its contacts'
/// emails and phones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadKeys {
    name: u64,
    domains: Vec<u64>,
    emails: Vec<u64>,
    phones: Vec<u64>,
}

impl LeadKeys {
    /// `contacts`: each contact's emails (lower-case) and phones (E.164).
    fn from_parts<'a>(
        name: &str,
        url: Option<&str>,
        contacts: impl Iterator<Item = (Vec<&'a str>, Vec<&'a str>)>,
    ) -> LeadKeys {
        let n = values::name_norm(name);
        let mut k = LeadKeys {
            name: if n.is_empty() { 0 } else { key(NAME, &n) },
            ..Default::default()
        };
        let site = url.and_then(values::domain_of);
        if let Some(d) = &site {
            k.domains.push(key(DOMAIN, d));
        }
        for (emails, phones) in contacts {
            for e in emails {
                k.emails.push(key(EMAIL, e));
                if site.is_none()
                    && url.is_none()
                    && let Some(d) = values::work_domain(e)
                {
                    k.domains.push(key(DOMAIN, &d));
                }
            }
            k.phones.extend(phones.into_iter().map(|p| key(PHONE, p)));
        }
        for v in [&mut k.domains, &mut k.emails, &mut k.phones] {
            v.sort_unstable();
            v.dedup();
        }
        k
    }

    /// The keys of a lead with its live contacts.
    pub fn of(lead: &Lead, contacts: &[Contact]) -> LeadKeys {
        LeadKeys::from_parts(
            &lead.name,
            lead.url.as_deref(),
            contacts.iter().map(|c| {
                (
                    c.emails.iter().map(|e| e.email.as_str()).collect(),
                    c.phones.iter().map(|p| p.phone.as_str()).collect(),
                )
            }),
        )
    }

    /// The keys of a lead from its name, url and each contact's (emails, phones).
    pub fn from_strs(
        name: &str,
        url: Option<&str>,
        contacts: &[(Vec<String>, Vec<String>)],
    ) -> LeadKeys {
        LeadKeys::from_parts(
            name,
            url,
            contacts.iter().map(|(e, p)| {
                (
                    e.iter().map(String::as_str).collect(),
                    p.iter().map(String::as_str).collect(),
                )
            }),
        )
    }

    /// The domain, email and phone keys, each with its kind's name.
    pub fn tagged(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let tag = |t: &'static str| move |k: &u64| (t, *k);
        self.domains
            .iter()
            .map(tag("domain"))
            .chain(self.emails.iter().map(tag("email")))
            .chain(self.phones.iter().map(tag("phone")))
    }

    fn all(&self) -> impl Iterator<Item = u64> + '_ {
        self.domains
            .iter()
            .chain(&self.emails)
            .chain(&self.phones)
            .copied()
    }
}

/// Leads per key, lowest id first: the first in `one`, any others in `more`.
#[derive(Debug, Default)]
struct Postings {
    one: FastMap<u64, u32>,
    more: FastMap<u64, Vec<u32>>,
}

impl Postings {
    fn add(&mut self, k: u64, i: u32, leads: &[Entry]) {
        let Some(&first) = self.one.get(&k) else {
            self.one.insert(k, i);
            return;
        };
        if first == i {
            return;
        }
        let more = self.more.entry(k).or_default();
        if more.contains(&i) {
            return;
        }
        let (lo, hi) = if leads[i as usize].id < leads[first as usize].id {
            (i, first)
        } else {
            (first, i)
        };
        self.one.insert(k, lo);
        let at = more.partition_point(|&j| leads[j as usize].id < leads[hi as usize].id);
        more.insert(at, hi);
    }

    fn remove(&mut self, k: u64, i: u32) {
        match self.one.get(&k) {
            Some(&first) if first == i => match self.more.get_mut(&k) {
                Some(more) if !more.is_empty() => {
                    self.one.insert(k, more.remove(0));
                    if more.is_empty() {
                        self.more.remove(&k);
                    }
                }
                _ => {
                    self.one.remove(&k);
                }
            },
            Some(_) => {
                if let Some(more) = self.more.get_mut(&k) {
                    more.retain(|&j| j != i);
                    if more.is_empty() {
                        self.more.remove(&k);
                    }
                }
            }
            None => {}
        }
    }

    fn get(&self, k: u64) -> impl Iterator<Item = u32> + '_ {
        self.one
            .get(&k)
            .copied()
            .into_iter()
            .chain(self.more.get(&k).into_iter().flatten().copied())
    }
}

#[derive(Debug, Default)]
pub struct MatchIndex {
    domain: bool,
    email: bool,
    phone: bool,
    name: bool,
    leads: Vec<Entry>,
    by_id: FastMap<Id, u32>,
    keys: Postings,
    /// Keys rows of the open chunk added (undone when the chunk is settled).
    log: Vec<(u64, u32)>,
}

impl MatchIndex {
    pub fn new(on: &[MatchKey]) -> MatchIndex {
        MatchIndex {
            domain: on.contains(&MatchKey::Domain),
            email: on.contains(&MatchKey::Email),
            phone: on.contains(&MatchKey::Phone),
            name: on.contains(&MatchKey::Name),
            ..Default::default()
        }
    }

    /// Loads every live lead and contact key of the store, one page at a time. Leads whose id
    /// is at least `ours_since` (ms; a resumed import's start) count as this import's.
    pub async fn load(&mut self, store: &Store, ours_since: Option<u64>) -> Result<()> {
        let mut after = None;
        let mut urls: FastMap<u32, Option<String>> = FastMap::default();
        loop {
            let page = store.lead_keys(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for l in page {
                let ours = ours_since.is_some_and(|t| l.id.timestamp_ms() >= t);
                let keys = LeadKeys::from_parts(&l.name, l.url.as_deref(), std::iter::empty());
                let i = self.insert(l.id, ours, &keys);
                if l.url.is_some() {
                    urls.insert(i, l.url);
                }
            }
        }
        let mut after = None;
        loop {
            let page = store.contact_keys(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for c in page {
                let Some(&i) = self.by_id.get(&c.lead_id) else {
                    continue;
                };
                let url = urls.get(&i).and_then(|u| u.as_deref());
                let contact = (
                    c.emails.iter().map(String::as_str).collect(),
                    c.phones.iter().map(String::as_str).collect(),
                );
                let keys = LeadKeys::from_parts("", url, std::iter::once(contact));
                self.add_keys(i, &keys);
            }
        }
        Ok(())
    }

    fn insert(&mut self, id: Id, ours: bool, keys: &LeadKeys) -> u32 {
        let i = match self.by_id.get(&id) {
            Some(&i) => i,
            None => {
                self.leads.push(Entry {
                    id,
                    name: keys.name,
                    has_domain: false,
                    ours,
                    dead: false,
                });
                let i = (self.leads.len() - 1) as u32;
                self.by_id.insert(id, i);
                if keys.name != 0 {
                    self.keys.add(keys.name, i, &self.leads);
                }
                i
            }
        };
        self.add_keys(i, keys);
        i
    }

    fn add_keys(&mut self, i: u32, keys: &LeadKeys) {
        if !keys.domains.is_empty() {
            self.leads[i as usize].has_domain = true;
        }
        for k in keys.all() {
            self.keys.add(k, i, &self.leads);
        }
    }

    /// Registers a lead the open chunk creates from `row` (its first row).
    pub fn add_new(&mut self, id: Id, name: &str, row: &RowData) {
        let keys = LeadKeys::from_parts(name, None, std::iter::empty());
        self.insert(id, true, &keys);
        self.add_row(id, row);
    }

    /// Registers, for the rest of the open chunk, what a row adds to a lead: its domain (or
    /// its work email's) and its contact's emails and phones.
    pub fn add_row(&mut self, id: Id, row: &RowData) {
        let Some(&i) = self.by_id.get(&id) else {
            return;
        };
        let mut keys: Vec<u64> = Vec::new();
        if let Some(d) = row.lead.domain.as_ref().or(row.lead.email_domain.as_ref()) {
            keys.push(key(DOMAIN, d));
            self.leads[i as usize].has_domain = true;
        }
        if let Some(c) = &row.contact {
            keys.extend(c.emails.iter().map(|e| key(EMAIL, &e.email)));
            keys.extend(c.phones.iter().map(|p| key(PHONE, &p.phone)));
        }
        for k in keys {
            self.keys.add(k, i, &self.leads);
            self.log.push((k, i));
        }
    }

    /// Ends the open chunk: every lead it touched gets exactly the keys of its final records
    /// (`old`: the keys it had before the chunk, `None` for a lead the chunk created;
    /// `new`: `None` for a lead that is gone).
    pub fn settle(&mut self, changes: Vec<(Id, Option<LeadKeys>, Option<LeadKeys>)>) {
        for (k, i) in std::mem::take(&mut self.log) {
            self.keys.remove(k, i);
        }
        for (id, old, new) in changes {
            let Some(&i) = self.by_id.get(&id) else {
                continue;
            };
            for k in old.iter().flat_map(|o| o.all()) {
                self.keys.remove(k, i);
            }
            self.leads[i as usize].has_domain = false;
            match new {
                Some(keys) => self.add_keys(i, &keys),
                None => self.leads[i as usize].dead = true,
            }
        }
    }

    /// Ends the open chunk of a dry run (nothing was written): its keys stay as rows added them.
    pub fn keep_log(&mut self) {
        self.log.clear();
    }

    /// Whether this lead was created by the running import.
    pub fn is_ours(&self, id: Id) -> bool {
        self.by_id
            .get(&id)
            .is_some_and(|&i| self.leads[i as usize].ours)
    }

    /// The lead a row belongs to (the README's dedupe rules, in this order): the same website
    /// domain; the same work-email domain (a row without a website); a contact with one of
    /// its emails; a contact with one of its phones when the company names agree; the same
    /// company name. Never a lead whose domain differs from the row's. Among several leads
    /// with one key, the oldest that fits. Keys outside `--match` only find this import's
    /// leads.
    pub fn find(&self, row: &RowData) -> Option<Id> {
        let own = row
            .lead
            .domain
            .as_ref()
            .or(row.lead.email_domain.as_ref())
            .map(|d| key(DOMAIN, d));
        let compatible = |i: u32| {
            let e = &self.leads[i as usize];
            match own {
                None => true,
                Some(d) => !e.has_domain || self.keys.get(d).any(|j| j == i),
            }
        };
        let name = row
            .lead
            .company
            .as_deref()
            .map(values::name_norm)
            .filter(|n| !n.is_empty())
            .map(|n| key(NAME, &n));
        let names_agree = |i: u32| name.is_none_or(|n| self.leads[i as usize].name == n);
        let first = |k: u64, on: bool, fits: &dyn Fn(u32) -> bool| {
            self.keys
                .get(k)
                .find(|&i| {
                    let e = &self.leads[i as usize];
                    !e.dead && (e.ours || on) && fits(i)
                })
                .map(|i| self.leads[i as usize].id)
        };
        if let Some(d) = own
            && let Some(id) = first(d, self.domain, &|_| true)
        {
            return Some(id);
        }
        if let Some(c) = &row.contact {
            for e in &c.emails {
                if let Some(id) = first(key(EMAIL, &e.email), self.email, &compatible) {
                    return Some(id);
                }
            }
            for p in &c.phones {
                let fits = |i: u32| compatible(i) && names_agree(i);
                if let Some(id) = first(key(PHONE, &p.phone), self.phone, &fits) {
                    return Some(id);
                }
            }
        }
        first(name?, self.name, &compatible)
    }

    /// Every key with its leads and every lead's flags, in a canonical order (tests compare
    /// the table an import ends with against the one loaded from the store).
    #[cfg(test)]
    pub fn snapshot(&self) -> (Vec<(u64, Vec<Id>)>, Vec<Entry>) {
        let mut keys: Vec<(u64, Vec<Id>)> = self
            .keys
            .one
            .keys()
            .map(|&k| {
                let ids = self.keys.get(k).map(|i| self.leads[i as usize].id);
                (k, ids.collect())
            })
            .collect();
        keys.sort();
        let mut leads: Vec<Entry> = self.leads.iter().filter(|e| !e.dead).copied().collect();
        leads.sort_by_key(|e| e.id);
        (keys, leads)
    }
}
