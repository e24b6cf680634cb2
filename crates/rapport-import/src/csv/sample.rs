//! Inputs and oracles for the import's tests (unit and end to end): a Windows-1252,
//! `;`-separated file of companies where company *c* and *c* + n/2 share a switchboard number
//! (different names and domains), and the export comparison a resumed import is held to.

use rapport_core::time::Timestamp;
use std::io::Write;
use std::path::Path;

/// What `generate_switchboard_csv` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchboardCsv {
    pub companies: u64,
    pub rows: u64,
}

/// Writes `companies` companies (an even number), two rows (contacts) each except the last
/// (one): `Company;Contact Name;Email;Phone;Website;City;Created Date;Notes` in
/// Windows-1252. Companies *c* and *c* + n/2 share their phone number. Every third company
/// has a website; a second contact of an even company has no email (it is found by its
/// phone and company name); every seventh company's second row comes at the end of the file.
pub fn generate_switchboard_csv(path: &Path, companies: u64) -> std::io::Result<SwitchboardCsv> {
    let half = (companies / 2).max(1);
    let mut text =
        String::from("Company;Contact Name;Email;Phone;Website;City;Created Date;Notes\r\n");
    let mut late = String::new();
    let mut rows = 0;
    for c in 0..companies {
        let (name, slug) = if c < half {
            (format!("Café Müller Nº{c}"), format!("cafe-muller-{c}"))
        } else {
            (format!("Brasserie Zoë {c}"), format!("brasserie-zoe-{c}"))
        };
        let domain = format!("{slug}.fr");
        let n = c % half;
        let phone = format!("+1 415 {} {:04}", 200 + n / 10_000, n % 10_000);
        let site = if c % 3 == 0 {
            format!("www.{domain}")
        } else {
            String::new()
        };
        let created = format!("2023-{:02}-{:02}", 1 + c % 12, 1 + c % 28);
        text += &format!(
            "{name};Jérôme Dupont {c};jerome.{c}@{domain};{phone};{site};Besançon;{created};\"Rückruf erwünscht – 5 €\"\r\n"
        );
        rows += 1;
        if c + 1 == companies {
            break;
        }
        let email = if c % 2 == 0 {
            String::new()
        } else {
            format!("amelie.{c}@{domain}")
        };
        let second = format!(
            "{name};Amélie Martin {c};{email};{phone};;Besançon;{created};Devis envoyé\r\n"
        );
        if c % 7 == 0 {
            late += &second;
        } else {
            text += &second;
        }
        rows += 1;
    }
    text += &late;
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    debug_assert!(!unmappable);
    let mut f = std::fs::File::create(path)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    Ok(SwitchboardCsv { companies, rows })
}

/// A JSONL export with what legitimately differs between two imports of one file into two
/// stores taken out: record ids (they carry the import's clock and random bits) and user ids
/// (each store has its own user) are dropped, every timestamp from `import_start` on (the
/// import's clock: `date_updated`, and `date_created` of records the file gives no date) reads
/// `IMPORT_TIME`, and a lead's records are sorted (their order is their ids'). Definition
/// lines are left out. Everything else — which leads exist, in which order, and every value
/// of every lead and record — must be equal.
pub fn comparable_export(jsonl: &str, import_start: Timestamp) -> Vec<String> {
    let start = rapport_core::time::fmt(&import_start);
    fn walk(v: &mut serde_json::Value, start: &str) {
        match v {
            serde_json::Value::Object(m) => {
                for k in ["id", "lead_id", "contact_id"] {
                    m.remove(k);
                }
                for k in ["owner_id", "user_id", "assigned_to"] {
                    if let Some(x) = m.get_mut(k)
                        && !x.is_null()
                    {
                        *x = "USER".into();
                    }
                }
                for x in m.values_mut() {
                    walk(x, start);
                }
            }
            serde_json::Value::Array(a) => {
                for x in a.iter_mut() {
                    walk(x, start);
                }
                if a.iter().all(|x| x.is_object()) {
                    a.sort_by_cached_key(|x| x.to_string());
                }
            }
            serde_json::Value::String(s)
                if s.len() == 24
                    && rapport_core::time::parse(s).is_some()
                    && s.as_str() >= start =>
            {
                *s = "IMPORT_TIME".into();
            }
            _ => {}
        }
    }
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("_record").is_none())
        .map(|mut v| {
            walk(&mut v, &start);
            v.to_string()
        })
        .collect()
}
