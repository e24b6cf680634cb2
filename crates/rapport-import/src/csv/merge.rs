//! Rows → leads. A new lead is built in memory from its rows (written later through the bulk
//! path); rows for a lead already in the store become the core's operations (update lead, add
//! or update contact, add note) inside the chunk's transaction. In both, a value in the file
//! wins over an empty one, a contact with a known email is merged, never duplicated.

use super::row::{ContactPart, LeadPart, RowData};
use rapport_core::ops::{
    self, ContactPatch, EmailInput, LeadPatch, NewActivity, NewContact, PhoneInput,
};
use rapport_core::time::Timestamp;
use rapport_core::*;
use rapport_store::{MergeTarget, Result, Writer};

/// Counts for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub leads_created: u64,
    pub leads_updated: u64,
    /// Matched an existing lead and changed nothing.
    pub leads_unchanged: u64,
    pub contacts_created: u64,
    pub contacts_updated: u64,
    /// Same contact (email or name) already there with nothing new.
    pub contacts_skipped: u64,
    pub notes_created: u64,
}

/// Ids for new records. Leads and contacts carry the import's time (they are created in this
/// store now; `date_created` keeps the file's date), so ids rise in file order and the
/// bulk insert appends to the B-trees instead of splitting pages all over them.
#[derive(Debug)]
pub struct IdSeq(pub u128);

impl IdSeq {
    pub fn next(&mut self, at: Timestamp) -> Id {
        self.0 = (self.0 + 1) & ((1u128 << 80) - 1);
        Id::at(at, self.0)
    }
}

/// A new lead from its first row.
pub fn new_lead(
    row: &RowData,
    now: Timestamp,
    default_status: &str,
    user: Option<Id>,
    ids: &mut IdSeq,
) -> LeadBundle {
    let created = row.lead.created.unwrap_or(now).min(now);
    let lead = Lead {
        id: ids.next(now),
        name: row.lead_name.clone(),
        description: None,
        url: None,
        status_label: default_status.to_string(),
        owner_id: user,
        addresses: vec![],
        custom: Custom::new(),
        date_created: created,
        date_updated: now,
        merged_into: None,
    };
    LeadBundle {
        lead,
        contacts: vec![],
        activities: vec![],
        tasks: vec![],
        opportunities: vec![],
    }
}

/// `www.acme.com` and `https://acme.com/` are the same website: keep the first spelling.
fn same_domain(url: Option<&str>, domain: Option<&str>) -> bool {
    url.and_then(super::values::domain_of)
        .is_some_and(|d| Some(d.as_str()) == domain)
}

fn same_contact(a: &Contact, c: &ContactPart) -> bool {
    if c.emails
        .iter()
        .any(|e| a.emails.iter().any(|x| x.email == e.email))
    {
        return true;
    }
    (c.emails.is_empty() || a.emails.is_empty()) && a.name.eq_ignore_ascii_case(&c.name)
}

/// The name stays as the first row gave it; other values in the file win over empty ones.
fn apply_lead(l: &mut Lead, p: &LeadPart) {
    let set = |dst: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            dst.clone_from(v);
        }
    };
    set(&mut l.description, &p.description);
    if !same_domain(l.url.as_deref(), p.domain.as_deref()) {
        set(&mut l.url, &p.url);
    }
    if let Some(s) = &p.status {
        l.status_label = s.clone();
    }
    if let Some(o) = p.owner {
        l.owner_id = Some(o);
    }
    if let Some(a) = &p.address {
        match l.addresses.first_mut() {
            Some(first) => *first = a.clone(),
            None => l.addresses.push(a.clone()),
        }
    }
    l.custom.extend(p.custom.clone());
}

/// Merges a contact part into an existing contact; says whether anything changed.
fn apply_contact(c: &mut Contact, p: &ContactPart) -> bool {
    let before = c.clone();
    if p.title.is_some() {
        c.title.clone_from(&p.title);
    }
    for e in &p.emails {
        if !c.emails.iter().any(|x| x.email == e.email) {
            c.emails.push(e.clone());
        }
    }
    for ph in &p.phones {
        if !c.phones.iter().any(|x| x.phone == ph.phone) {
            c.phones.push(ph.clone());
        }
    }
    for u in &p.urls {
        if !c.urls.iter().any(|x| x.url == u.url) {
            c.urls.push(u.clone());
        }
    }
    c.custom.extend(p.custom.clone());
    *c != before
}

/// Adds a row to a lead being created in this chunk.
pub fn apply_row(
    b: &mut LeadBundle,
    row: &RowData,
    now: Timestamp,
    user: Option<Id>,
    ids: &mut IdSeq,
    n: &mut Counts,
) {
    apply_lead(&mut b.lead, &row.lead);
    let lead_id = b.lead.id;
    if let Some(p) = &row.contact {
        match b.contacts.iter_mut().find(|c| same_contact(c, p)) {
            Some(c) => {
                if apply_contact(c, p) {
                    // Still being created: counts once, as created.
                } else {
                    n.contacts_skipped += 1;
                }
            }
            None => {
                b.contacts.push(Contact {
                    id: ids.next(now),
                    lead_id,
                    name: p.name.clone(),
                    title: p.title.clone(),
                    emails: p.emails.clone(),
                    phones: p.phones.clone(),
                    urls: p.urls.clone(),
                    custom: p.custom.clone(),
                    date_created: now,
                    date_updated: now,
                });
                n.contacts_created += 1;
            }
        }
    }
    if let Some(text) = &row.lead.note {
        let dup = b
            .activities
            .iter()
            .any(|a| matches!(&a.kind, ActivityKind::Note(f) if f.note == *text));
        if !dup {
            let at = b.lead.date_created;
            b.activities.push(Activity {
                id: ids.next(at),
                lead_id,
                contact_id: None,
                user_id: user,
                activity_at: at,
                date_created: now,
                date_updated: now,
                kind: ActivityKind::Note(NoteFields {
                    title: None,
                    note: text.clone(),
                    pinned: false,
                }),
            });
            n.notes_created += 1;
        }
    }
}

fn inputs(c: &Contact) -> (Vec<EmailInput>, Vec<PhoneInput>) {
    (
        c.emails
            .iter()
            .map(|e| EmailInput {
                email: e.email.clone(),
                kind: Some(e.kind.clone()),
            })
            .collect(),
        c.phones
            .iter()
            .map(|p| PhoneInput {
                phone: p.phone.clone(),
                kind: Some(p.kind.clone()),
            })
            .collect(),
    )
}

/// Applies rows to a lead that is already in the store, through the operations, inside `w`.
/// The rows are folded first (the last value in the file wins), then each record gets one
/// operation, so a file that repeats a lead with conflicting values changes it once — and
/// importing the same file again changes nothing.
/// `ours`: the lead was created earlier by this import (its changes count as created).
/// Returns the lead and its live contacts as they are now, or `None` when the lead is gone
/// (deleted meanwhile).
pub async fn update_existing(
    w: &mut Writer,
    target: Option<MergeTarget>,
    rows: &[RowData],
    ours: bool,
    n: &mut Counts,
) -> Result<Option<(Lead, Vec<Contact>)>> {
    let Some((lead, stored, stored_notes)) = target else {
        return Ok(None);
    };
    let id = lead.id;
    let mut notes: Vec<String> = stored_notes
        .into_iter()
        .filter_map(|a| match a.kind {
            ActivityKind::Note(f) => Some(f.note),
            _ => None,
        })
        .collect();
    // Fold the rows: the lead, the contacts (stored ones by index, then new ones), the notes.
    let mut target = lead.clone();
    let mut contacts: Vec<(Option<usize>, Contact)> = stored
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| (Some(i), c))
        .collect();
    let mut new_notes = Vec::new();
    for row in rows {
        let url_before = target.url.clone();
        apply_lead(&mut target, &row.lead);
        if same_domain(url_before.as_deref(), row.lead.domain.as_deref()) {
            target.url = url_before;
        }
        if let Some(p) = &row.contact {
            match contacts.iter_mut().find(|(_, c)| same_contact(c, p)) {
                Some((_, c)) => {
                    if !apply_contact(c, p) {
                        n.contacts_skipped += 1;
                    }
                }
                None => {
                    let mut c = stored.first().cloned().unwrap_or_else(|| blank_contact(id));
                    c.name = p.name.clone();
                    c.title = p.title.clone();
                    c.emails = p.emails.clone();
                    c.phones = p.phones.clone();
                    c.urls = p.urls.clone();
                    c.custom = p.custom.clone();
                    contacts.push((None, c));
                }
            }
        }
        if let Some(text) = &row.lead.note
            && !notes.contains(text)
        {
            notes.push(text.clone());
            new_notes.push(text.clone());
        }
    }
    let mut changed = false;
    let patch = LeadPatch {
        name: None,
        description: (target.description != lead.description)
            .then(|| target.description.clone().unwrap_or_default()),
        url: (target.url != lead.url).then(|| target.url.clone().unwrap_or_default()),
        status_label: (target.status_label != lead.status_label)
            .then(|| target.status_label.clone()),
        owner_id: target.owner_id.filter(|o| Some(*o) != lead.owner_id),
        addresses: (target.addresses != lead.addresses).then(|| target.addresses.clone()),
        custom: (target.custom != lead.custom).then(|| target.custom.clone()),
    };
    let (lead, plan) = ops::update_lead(&lead, patch, &mut w.ctx)?;
    changed |= !plan.is_empty();
    w.apply(plan).await?;
    let mut live = stored.clone();
    for (orig, c) in contacts {
        let (emails, phones) = inputs(&c);
        match orig {
            Some(i) if c != stored[i] => {
                let patch = ContactPatch {
                    title: c.title.clone(),
                    emails: Some(emails),
                    phones: Some(phones),
                    urls: Some(c.urls.clone()),
                    custom: (c.custom != stored[i].custom).then(|| c.custom.clone()),
                    ..Default::default()
                };
                let (updated, plan) = ops::update_contact(&stored[i], patch, &mut w.ctx)?;
                if !plan.is_empty() && !ours {
                    n.contacts_updated += 1;
                    changed = true;
                }
                w.apply(plan).await?;
                live[i] = updated;
            }
            Some(_) => {}
            None => {
                let input = NewContact {
                    name: c.name.clone(),
                    title: c.title.clone(),
                    emails,
                    phones,
                    urls: c.urls.clone(),
                    custom: c.custom.clone(),
                };
                let (c, plan) = ops::add_contact(&lead, input, &mut w.ctx)?;
                w.apply(plan).await?;
                live.push(c);
                n.contacts_created += 1;
                changed = true;
            }
        }
    }
    for text in new_notes {
        let input = NewActivity {
            contact_id: None,
            activity_at: None,
            kind: ActivityKind::Note(NoteFields {
                title: None,
                note: text,
                pinned: false,
            }),
        };
        let (_, plan) = ops::add_activity(&lead, &live, input, &mut w.ctx)?;
        w.apply(plan).await?;
        n.notes_created += 1;
        changed = true;
    }
    if !ours {
        if changed {
            n.leads_updated += 1;
        } else {
            n.leads_unchanged += 1;
        }
    }
    Ok(Some((lead, live)))
}

fn blank_contact(lead_id: Id) -> Contact {
    let epoch = Timestamp::default();
    Contact {
        id: Id::at(epoch, 0),
        lead_id,
        name: String::new(),
        title: None,
        emails: vec![],
        phones: vec![],
        urls: vec![],
        custom: Custom::new(),
        date_created: epoch,
        date_updated: epoch,
    }
}
