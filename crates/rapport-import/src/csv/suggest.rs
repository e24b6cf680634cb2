//! Header names → targets: a flat table of the names people and CRMs use (Close, HubSpot,
//! Salesforce, Pipedrive exports), after normalising case, separators, camelCase and the
//! `Person - ` / `Organization - ` / `Billing ` style qualifiers.

use super::mapping::Target;

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Any,
    Lead,
    Contact,
}

/// `FirstName` → `first name`, `Person - Email - Work` → `person email work`.
fn normalise(h: &str) -> String {
    let mut spaced = String::with_capacity(h.len() + 4);
    let mut prev_lower = false;
    for c in h.chars() {
        if c.is_uppercase() && prev_lower {
            spaced.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        spaced.push(c);
    }
    let lower = spaced.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

const LEAD_PREFIXES: [&str; 9] = [
    "organization ",
    "organisation ",
    "org ",
    "company ",
    "account ",
    "billing ",
    "lead ",
    "business ",
    "shipping ",
];
const CONTACT_PREFIXES: [&str; 5] = [
    "primary contact ",
    "contact ",
    "person ",
    "mailing ",
    "people ",
];

/// Strips one qualifier and says which side it pointed to.
fn qualifier(n: &str) -> (Side, &str) {
    for p in CONTACT_PREFIXES {
        if let Some(rest) = n.strip_prefix(p) {
            return (Side::Contact, rest);
        }
    }
    for p in LEAD_PREFIXES {
        if let Some(rest) = n.strip_prefix(p) {
            return (Side::Lead, rest);
        }
    }
    (Side::Any, n)
}

fn phone(kind: &str) -> Option<Target> {
    Some(Target::ContactPhone(kind.into()))
}
fn email(kind: &str) -> Option<Target> {
    Some(Target::ContactEmail(kind.into()))
}

/// Names that mean the same whichever side they are qualified with.
fn common(rest: &str) -> Option<Target> {
    use Target::*;
    Some(match rest {
        "email" | "e mail" | "email address" | "emails" | "email work" | "work email"
        | "email office" | "business email" | "primary email" | "email 1" | "email1" => {
            return email("office");
        }
        "email home" | "home email" | "personal email" | "email personal" => return email("home"),
        "email other" | "other email" | "email 2" | "email2" | "secondary email" => {
            return email("other");
        }
        "phone" | "phone number" | "phones" | "telephone" | "tel" | "work phone" | "phone work"
        | "office phone" | "phone office" | "business phone" | "direct phone" | "direct dial"
        | "primary phone" | "phone 1" => {
            return phone("office");
        }
        "mobile"
        | "mobile phone"
        | "mobile phone number"
        | "cell"
        | "cell phone"
        | "cellphone"
        | "phone mobile"
        | "mobile number" => return phone("mobile"),
        "home phone" | "phone home" => return phone("home"),
        "fax" | "fax number" | "phone fax" => return phone("fax"),
        "other phone" | "phone other" | "phone 2" | "secondary phone" => return phone("other"),
        "street" | "street address" | "address" | "address 1" | "address1" | "address line 1"
        | "street 1" | "address street" | "street line 1" => Street,
        "address 2" | "address2" | "address line 2" | "street 2" | "street line 2" => Street2,
        "city" | "town" | "address city" | "locality" => City,
        "state" | "state region" | "province" | "region" | "state province" | "address state"
        | "county" => State,
        "zip"
        | "zip code"
        | "zipcode"
        | "postal code"
        | "postcode"
        | "post code"
        | "zip postal code"
        | "address zip"
        | "address postal code" => Zip,
        "country" | "country region" | "address country" | "country code" => Country,
        "owner" | "owner name" | "assigned to" | "sales rep" | "user" | "owner email"
        | "salesperson" => LeadOwner,
        "created" | "created date" | "create date" | "date created" | "created at"
        | "created on" | "creation date" | "add time" | "date added" | "added" | "created time" => {
            LeadCreated
        }
        "notes" | "note" | "comments" | "comment" | "remarks" => LeadNote,
        "id" | "record id" | "lead id" | "contact id" | "person id" | "organization id"
        | "account id" | "updated" | "date updated" | "last modified date" | "last modified"
        | "update time" | "modified" => Skip,
        _ => return None,
    })
}

/// The suggested target for one header, or `None` (an unknown column).
pub fn suggest_one(header: &str) -> Option<Target> {
    use Target::*;
    let raw = header.trim();
    if let Some(n) = raw.strip_prefix("contact.custom.") {
        return Some(ContactCustom(n.to_string()));
    }
    if let Some(n) = raw
        .strip_prefix("custom.")
        .or_else(|| raw.strip_prefix("lead.custom."))
    {
        return Some(LeadCustom(n.to_string()));
    }
    if let Some(t) = Target::parse(raw).filter(|_| raw.contains('.') || raw == "skip") {
        return Some(t);
    }
    let n = normalise(raw);
    // Whole names first: they carry their own side.
    let whole = match n.as_str() {
        "company" | "company name" | "organization" | "organisation" | "organization name"
        | "org" | "account" | "account name" | "business name" | "lead name" | "display name"
        | "customer" | "customer name" | "employer" => Some(LeadName),
        "contact"
        | "contact name"
        | "full name"
        | "person"
        | "person name"
        | "primary contact name"
        | "primary contact"
        | "people" => Some(ContactName),
        "first name" | "firstname" | "given name" | "forename" | "contact first name"
        | "person first name" => Some(ContactFirstName),
        "last name" | "lastname" | "surname" | "family name" | "contact last name"
        | "person last name" => Some(ContactLastName),
        "title" | "job title" | "position" | "role" | "contact title" | "person job title"
        | "job" => Some(ContactTitle),
        "url"
        | "website"
        | "web site"
        | "website url"
        | "web"
        | "domain"
        | "company domain name"
        | "homepage"
        | "site"
        | "company website"
        | "organization website"
        | "lead url"
        | "web address" => Some(LeadUrl),
        "linkedin" | "linkedin url" | "linked in" | "twitter" | "person url" | "contact url" => {
            Some(ContactUrl)
        }
        "status" | "lead status" | "status label" | "stage" | "lifecycle stage" | "lead stage"
        | "label" => Some(LeadStatus),
        "description"
        | "about"
        | "company description"
        | "account description"
        | "organization description"
        | "background"
        | "summary" => Some(LeadDescription),
        _ => None,
    };
    if whole.is_some() {
        return whole;
    }
    let (side, rest) = qualifier(&n);
    if side != Side::Any {
        match (side, rest) {
            (Side::Lead, "name") => return Some(LeadName),
            (Side::Contact, "name") => return Some(ContactName),
            (Side::Contact, "title" | "job title") => return Some(ContactTitle),
            (Side::Lead, "website" | "url" | "domain" | "domain name") => return Some(LeadUrl),
            (Side::Lead, "status" | "label" | "stage") => return Some(LeadStatus),
            (Side::Lead, "description") => return Some(LeadDescription),
            _ => {}
        }
    }
    if n == "name" {
        return Some(LeadName);
    }
    common(rest).or_else(|| common(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expected: &str) {
        let got = suggest_one(header)
            .map(|t| t.as_string())
            .unwrap_or_else(|| "?".into());
        assert_eq!(got, expected, "header `{header}`");
    }

    #[test]
    fn common_headers_and_crm_exports() {
        for (h, t) in [
            // Close
            ("Company", "lead.name"),
            ("Contact Name", "contact.name"),
            ("Contact Title", "contact.title"),
            ("Contact Email", "contact.email.office"),
            ("primary_contact_email", "contact.email.office"),
            ("status_label", "lead.status"),
            ("display_name", "lead.name"),
            ("Address 1", "address.street"),
            ("lead_id", "skip"),
            // HubSpot
            ("Company Name", "lead.name"),
            ("First Name", "contact.first_name"),
            ("Last Name", "contact.last_name"),
            ("Job Title", "contact.title"),
            ("Phone Number", "contact.phone.office"),
            ("Mobile Phone Number", "contact.phone.mobile"),
            ("Website URL", "lead.url"),
            ("Company Domain Name", "lead.url"),
            ("Street Address", "address.street"),
            ("State/Region", "address.state"),
            ("Postal Code", "address.zip"),
            ("Country/Region", "address.country"),
            ("Lead Status", "lead.status"),
            ("Contact owner", "lead.owner"),
            ("Create Date", "lead.created"),
            // Salesforce
            ("Account Name", "lead.name"),
            ("FirstName", "contact.first_name"),
            ("MobilePhone", "contact.phone.mobile"),
            ("Billing Street", "address.street"),
            ("Billing Zip/Postal Code", "address.zip"),
            ("Mailing City", "address.city"),
            ("Account Owner", "lead.owner"),
            ("CreatedDate", "lead.created"),
            // Pipedrive
            ("Organization - Name", "lead.name"),
            ("Person - Name", "contact.name"),
            ("Person - Email - Work", "contact.email.office"),
            ("Person - Phone - Mobile", "contact.phone.mobile"),
            ("Person - Phone - Home", "contact.phone.home"),
            ("Organization - Address - City", "address.city"),
            ("Organization - Owner", "lead.owner"),
            ("Organization - Label", "lead.status"),
            // Ours (export) and generic
            ("custom.Lead Source", "lead.custom.Lead Source"),
            ("contact.custom.Birthday", "contact.custom.Birthday"),
            ("Zip", "address.zip"),
            ("Notes", "lead.note"),
            ("Description", "lead.description"),
            ("Employees", "?"),
        ] {
            check(h, t);
        }
    }
}
