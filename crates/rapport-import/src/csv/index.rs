//! The lookup table an import matches rows against: normalised domain, company name, email and
//! phone → lead, loaded from the store in one paged pass and extended with every lead the
//! import creates (which is what makes grouping safe across chunk boundaries and resumes).

use super::mapping::MatchKey;
use super::row::RowData;
use super::values::{self, FastMap, key};
use rapport_core::Id;
use rapport_store::{Result, Store};

const DOMAIN: u8 = 1;
const NAME: u8 = 2;
const EMAIL: u8 = 3;
const PHONE: u8 = 4;
const PAGE: i64 = 20_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: Id,
    /// Key of the lead's domain, 0 when it has none.
    domain: u64,
    /// Created by this import (grouping applies even to keys not in `--match`).
    ours: bool,
}

#[derive(Debug, Default)]
pub struct MatchIndex {
    domain: bool,
    email: bool,
    phone: bool,
    name: bool,
    leads: Vec<Entry>,
    by_id: FastMap<Id, u32>,
    keys: FastMap<u64, u32>,
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
        loop {
            let page = store.lead_keys(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for l in page {
                let domain = l.url.as_deref().and_then(values::domain_of);
                let ours = ours_since.is_some_and(|t| l.id.timestamp_ms() >= t);
                self.add_lead(l.id, &l.name, domain.as_deref(), ours);
            }
        }
        if !(self.email || self.phone) {
            return Ok(());
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
                if self.email {
                    for e in &c.emails {
                        self.keys.entry(key(EMAIL, &e.to_lowercase())).or_insert(i);
                    }
                }
                if self.phone {
                    for p in &c.phones {
                        self.keys.entry(key(PHONE, p)).or_insert(i);
                    }
                }
            }
        }
        Ok(())
    }

    /// Registers a lead (its id, name and domain). A later lead with the same name takes the
    /// name key over; a domain keeps its first lead.
    pub fn add_lead(&mut self, id: Id, name: &str, domain: Option<&str>, ours: bool) -> u32 {
        let domain_key = domain.map(|d| key(DOMAIN, d)).unwrap_or(0);
        let i = match self.by_id.get(&id) {
            Some(&i) => i,
            None => {
                self.leads.push(Entry {
                    id,
                    domain: domain_key,
                    ours,
                });
                let i = (self.leads.len() - 1) as u32;
                self.by_id.insert(id, i);
                i
            }
        };
        if domain_key != 0 {
            if self.leads[i as usize].domain == 0 {
                self.leads[i as usize].domain = domain_key;
            }
            self.keys.entry(domain_key).or_insert(i);
        }
        let n = values::name_norm(name);
        if !n.is_empty() {
            self.keys.insert(key(NAME, &n), i);
        }
        i
    }

    /// Registers what a row adds to a lead: its domain, and its contact's emails and phones.
    pub fn add_row(&mut self, id: Id, row: &RowData) {
        let ours = self
            .by_id
            .get(&id)
            .map(|&i| self.leads[i as usize].ours)
            .unwrap_or(true);
        let i = self.add_lead(id, "", row.lead.domain.as_deref(), ours);
        if let Some(d) = &row.lead.email_domain {
            let k = key(DOMAIN, d);
            self.keys.entry(k).or_insert(i);
            if self.leads[i as usize].domain == 0 {
                self.leads[i as usize].domain = k;
            }
        }
        if let Some(c) = &row.contact {
            if self.email {
                for e in &c.emails {
                    self.keys.entry(key(EMAIL, &e.email)).or_insert(i);
                }
            }
            if self.phone {
                for p in &c.phones {
                    self.keys.entry(key(PHONE, &p.phone)).or_insert(i);
                }
            }
        }
    }

    /// Whether this lead was created by the running import.
    pub fn is_ours(&self, id: Id) -> bool {
        self.by_id
            .get(&id)
            .is_some_and(|&i| self.leads[i as usize].ours)
    }

    /// The lead a row belongs to: same website domain, then the domain of a work email, then a
    /// contact's email or phone, then the same company name (when the domains do not
    /// disagree). Keys outside `--match` only find leads this import created.
    pub fn find(&self, row: &RowData) -> Option<Id> {
        let domain = row
            .lead
            .domain
            .as_deref()
            .map(|d| key(DOMAIN, d))
            .unwrap_or(0);
        // The row's domain: its website's, else its work email's. A lead with another domain
        // is another company, whatever name, email or phone they share (a switchboard number,
        // two "Acme Inc"s).
        let own = row
            .lead
            .email_domain
            .as_deref()
            .map(|d| key(DOMAIN, d))
            .unwrap_or(domain);
        let compatible = |e: &Entry| own == 0 || e.domain == 0 || e.domain == own;
        let get = |k: u64| self.keys.get(&k).map(|&i| self.leads[i as usize]);
        if domain != 0
            && let Some(e) = get(domain).filter(|e| e.ours || self.domain)
        {
            return Some(e.id);
        }
        if let Some(d) = &row.lead.email_domain
            && let Some(e) = get(key(DOMAIN, d)).filter(|e| e.ours || self.domain)
        {
            return Some(e.id);
        }
        if let Some(c) = &row.contact {
            let by_email = c
                .emails
                .iter()
                .filter(|_| self.email)
                .map(|e| key(EMAIL, &e.email));
            let by_phone = c
                .phones
                .iter()
                .filter(|_| self.phone)
                .map(|p| key(PHONE, &p.phone));
            if let Some(e) = by_email
                .chain(by_phone)
                .filter_map(get)
                .find(|e| compatible(e))
            {
                return Some(e.id);
            }
        }
        let n = values::name_norm(row.lead.company.as_deref()?);
        get(key(NAME, &n))
            .filter(|e| (e.ours || self.name) && compatible(e))
            .map(|e| e.id)
    }
}
