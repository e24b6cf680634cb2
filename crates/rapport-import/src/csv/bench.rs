//! The benchmark's input: a CSV of `leads` companies built from the demo data set, with the mess
//! real files have — mixed case, stray spaces, phone spellings, `www.`-less websites, repeated
//! rows, a few invalid emails — and ~2.5 contacts (rows) per lead. Deterministic by seed.

use rapport_core::demo;
use rapport_core::ops::Rng;
use std::io::BufWriter;
use std::path::Path;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BenchCsv {
    pub leads: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Rows with an invalid email (they land in the error CSV).
    pub bad_rows: u64,
    /// Exact repeats of the previous row.
    pub duplicate_rows: u64,
}

const HEADER: [&str; 19] = [
    "Company",
    "Website",
    "Status",
    "Description",
    "Street Address",
    "City",
    "State",
    "Zip",
    "Country",
    "Contact Name",
    "Title",
    "Email",
    "Phone",
    "Mobile Phone",
    "Lead Source",
    "Employees",
    "Renewal Date",
    "Created Date",
    "Notes",
];

fn messy_phone(r: &mut Rng, e164: &str) -> String {
    let d = &e164[2..];
    if d.len() != 10 {
        return e164.to_string();
    }
    match r.below(4) {
        0 => e164.to_string(),
        1 => format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
        2 => format!("{}.{}.{}", &d[..3], &d[3..6], &d[6..]),
        _ => format!("+1 {} {} {}", &d[..3], &d[3..6], &d[6..]),
    }
}

/// Writes the bench CSV to `path`.
pub fn generate_bench_csv(path: &Path, leads: u64, seed: u64) -> std::io::Result<BenchCsv> {
    let now = rapport_core::time::parse("2026-01-01T00:00:00Z").unwrap_or_default();
    let statuses: Vec<String> = rapport_core::DEFAULT_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let f = std::fs::File::create(path)?;
    let mut w = ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, f));
    w.write_record(HEADER)?;
    let mut r = Rng(seed ^ 0xC5F);
    let mut out = BenchCsv {
        leads,
        ..Default::default()
    };
    for n in 0..leads {
        let b = demo::lead(seed, n, now, &statuses, None);
        let l = &b.lead;
        let a = l.addresses.first().cloned().unwrap_or_default();
        let url = l.url.clone().unwrap_or_default();
        let host = url
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string();
        let custom = |k: &str| match l.custom.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let rows = 1 + r.below(4);
        for k in 0..rows {
            let c = &b.contacts[(k as usize) % b.contacts.len()];
            let (mut name, mut email) = (c.name.clone(), c.emails[0].email.clone());
            if k as usize >= b.contacts.len() {
                name.push_str(" Jr");
                email = email.replacen('@', ".jr@", 1);
            }
            let company = match r.below(20) {
                0 => l.name.to_uppercase(),
                1 => format!("  {} ", l.name),
                _ => l.name.clone(),
            };
            let website = match (k, r.below(100)) {
                (0, _) => url.clone(),
                (_, 0) => String::new(),
                (_, x) if x < 50 => host.clone(),
                (_, x) if x < 80 => format!("www.{host}"),
                _ => url.clone(),
            };
            if r.chance(10) {
                email = email.to_uppercase();
            }
            if r.below(200) == 0 {
                email = email.replace('@', "(at)");
                out.bad_rows += 1;
            }
            let phone = |kind: &str, r: &mut Rng| {
                c.phones
                    .iter()
                    .filter(|p| p.kind == kind)
                    .map(|p| messy_phone(r, &p.phone))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let (office, mobile) = (phone("office", &mut r), phone("mobile", &mut r));
            let status = if r.chance(10) {
                l.status_label.to_lowercase()
            } else {
                l.status_label.clone()
            };
            let employees = match custom("Employees") {
                e if e.len() > 3 && r.chance(30) => {
                    format!("{},{}", &e[..e.len() - 3], &e[e.len() - 3..])
                }
                e => e,
            };
            let row = vec![
                company,
                website,
                status,
                l.description.clone().unwrap_or_default(),
                a.address_1.clone().unwrap_or_default(),
                a.city.clone().unwrap_or_default(),
                a.state.clone().unwrap_or_default(),
                a.zipcode.clone().unwrap_or_default(),
                a.country.clone().unwrap_or_default(),
                format!(" {name}"),
                c.title.clone().unwrap_or_default(),
                email,
                office,
                mobile,
                custom("Lead Source"),
                employees,
                custom("Renewal Date"),
                l.date_created.format("%Y-%m-%d %H:%M:%S").to_string(),
                if r.chance(10) {
                    format!("Imported note for {}.\nSecond line, \"quoted\".", l.name)
                } else {
                    String::new()
                },
            ];
            w.write_record(&row)?;
            out.rows += 1;
            if r.chance(2) {
                w.write_record(&row)?;
                out.rows += 1;
                out.duplicate_rows += 1;
            }
        }
    }
    w.flush()?;
    drop(w);
    out.bytes = std::fs::metadata(path)?.len();
    Ok(out)
}
