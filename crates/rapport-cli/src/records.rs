//! Commands on records: leads, contacts, timeline activities, tasks and opportunities.

use crate::Out;
use crate::cli::*;
use anyhow::{Context, Result, anyhow, bail};
use rapport_app::{App, LeadPageView};
use rapport_core::ops::*;
use rapport_core::time::{self, Timestamp};
use rapport_core::*;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

pub fn parse_time(field: &str, s: &str) -> Result<Timestamp> {
    time::parse(s).ok_or_else(|| {
        anyhow!(
            "--{field}: `{s}` is not a time (use RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)"
        )
    })
}

fn parse_date(field: &str, s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow!("--{field}: `{s}` is not a date (YYYY-MM-DD)"))
}

pub fn parse_id(what: &str, s: &str) -> Result<Id> {
    s.parse::<Id>()
        .map_err(|_| anyhow!("`{s}` is not a {what} id (a 26-character ULID)"))
}

fn custom(pairs: &[String]) -> Result<Custom> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| anyhow!("--custom `{p}`: expected NAME=VALUE"))?;
            let value = match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && !v.trim().is_empty() => serde_json::json!(
                    v.trim()
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::from(n))
                ),
                _ => Value::String(v.to_string()),
            };
            Ok((k.trim().to_string(), value))
        })
        .collect()
}

fn address(a: AddressArgs) -> Option<Address> {
    let addr = Address {
        label: Some("business".into()),
        address_1: a.street,
        address_2: None,
        city: a.city,
        state: a.state,
        zipcode: a.zip,
        country: a.country,
    };
    (addr.address_1.is_some()
        || addr.city.is_some()
        || addr.state.is_some()
        || addr.zipcode.is_some()
        || addr.country.is_some())
    .then_some(addr)
}

fn typed(s: &str) -> (Option<String>, String) {
    match s.split_once(':') {
        Some((t, v))
            if !t.is_empty()
                && !t.contains(['@', '+', ' '])
                && !t.chars().all(|c| c.is_ascii_digit()) =>
        {
            (Some(t.to_string()), v.to_string())
        }
        _ => (None, s.to_string()),
    }
}

fn emails(list: &[String]) -> Vec<EmailInput> {
    list.iter()
        .map(|e| typed(e))
        .map(|(kind, email)| EmailInput { email, kind })
        .collect()
}

fn phones(list: &[String]) -> Vec<PhoneInput> {
    list.iter()
        .map(|p| typed(p))
        .map(|(kind, phone)| PhoneInput { phone, kind })
        .collect()
}

pub async fn lead(app: &App, cmd: LeadCmd, out: Out) -> Result<()> {
    match cmd {
        LeadCmd::Add(f) => {
            let input = NewLead {
                name: f.name,
                description: f.description,
                url: f.url,
                status_label: f.status,
                owner_id: None,
                addresses: address(f.address).into_iter().collect(),
                custom: custom(&f.custom)?,
            };
            let lead = app.create_lead(input).await?;
            out.print(&lead, || format!("created lead {} {}", lead.id, lead.name));
        }
        LeadCmd::Show { lead } => {
            let l = app.find_lead(&lead).await?;
            let page = app.lead_page(l.id).await?;
            out.print(&page, || show_page(&page));
        }
        LeadCmd::List { limit, offset } => {
            let list = app.list_leads(offset, limit).await?;
            out.print(&list, || {
                let mut s = format!("{} leads\n", list.total);
                for r in &list.rows {
                    s += &format!(
                        "{}  {:<40} {:<10} {}\n",
                        r.id,
                        r.name,
                        r.status_label,
                        r.primary_contact.as_deref().unwrap_or("")
                    );
                }
                s.trim_end().to_string()
            });
        }
        LeadCmd::Edit { lead, fields } => {
            let l = app.find_lead(&lead).await?;
            let patch = LeadPatch {
                name: fields.name,
                description: fields.description,
                url: fields.url,
                status_label: fields.status,
                owner_id: None,
                addresses: address(fields.address).map(|a| vec![a]),
                custom: if fields.custom.is_empty() {
                    None
                } else {
                    Some(custom(&fields.custom)?)
                },
            };
            let updated = app.update_lead(l.id, patch).await?;
            out.print(&updated, || {
                format!("updated lead {} {}", updated.id, updated.name)
            });
        }
        LeadCmd::Delete { lead } => {
            let l = app.find_lead(&lead).await?;
            app.delete_lead(l.id).await?;
            out.print(&serde_json::json!({ "deleted": l.id }), || {
                format!("deleted lead {} {}", l.id, l.name)
            });
        }
        LeadCmd::Undelete { id } => {
            let l = app.undelete_lead(parse_id("lead", &id)?).await?;
            out.print(&l, || format!("restored lead {} {}", l.id, l.name));
        }
        LeadCmd::Merge(args) => crate::power::merge(app, args, out).await?,
        LeadCmd::Duplicates { limit } => crate::power::duplicates(app, limit, out).await?,
    }
    Ok(())
}

fn show_page(p: &LeadPageView) -> String {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut o = format!(
        "{}  [{}]  {}\n",
        s(&p.lead, "name"),
        s(&p.lead, "status_label"),
        s(&p.lead, "id")
    );
    if let Some(u) = p.lead.get("url").and_then(Value::as_str) {
        o += &format!("  {u}\n");
    }
    if !p.contacts.is_empty() {
        o += "Contacts:\n";
        for c in &p.contacts {
            let mails: Vec<String> = c["emails"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["email"].as_str().map(String::from))
                .collect();
            let tels: Vec<String> = c["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["phone_formatted"].as_str().map(String::from))
                .collect();
            o += &format!(
                "  {} {} {} {}\n",
                s(c, "name"),
                s(c, "title"),
                mails.join(", "),
                tels.join(", ")
            );
        }
    }
    if !p.tasks.is_empty() {
        o += "Open tasks:\n";
        for t in &p.tasks {
            o += &format!(
                "  [ ] {} {}  ({})\n",
                t.text,
                t.date.map(|d| d.to_string()).unwrap_or_default(),
                t.id
            );
        }
    }
    for op in &p.opportunities {
        o += &format!(
            "Opportunity: {} {:.2} {:?}\n",
            op.status_label,
            op.value as f64 / 100.0,
            op.value_period
        );
    }
    if !p.timeline.is_empty() {
        o += "Timeline:\n";
        for a in &p.timeline {
            let at = s(a, "activity_at");
            let summary = match s(a, "_type").as_str() {
                "note" => s(a, "note").lines().next().unwrap_or("").to_string(),
                "call" => format!(
                    "{} call, {}, {}s",
                    s(a, "direction"),
                    s(a, "disposition"),
                    a["duration"]
                ),
                "email" => format!("{} email: {}", s(a, "direction"), s(a, "subject")),
                "meeting" => format!("meeting: {}", s(a, "title")),
                "link" => format!("link: {}", s(a, "url")),
                "status_change" => format!(
                    "status: {} → {}",
                    s(a, "old_status_label"),
                    s(a, "new_status_label")
                ),
                other => other.to_string(),
            };
            o += &format!(
                "  {}  {:<13} {}\n",
                &at[..at.len().min(16)],
                s(a, "_type"),
                summary
            );
        }
    }
    o.trim_end().to_string()
}

pub async fn contact(app: &App, cmd: ContactCmd, out: Out) -> Result<()> {
    match cmd {
        ContactCmd::Add {
            lead,
            name,
            title,
            email,
            phone,
        } => {
            let l = app.find_lead(&lead).await?;
            let input = NewContact {
                name,
                title,
                emails: emails(&email),
                phones: phones(&phone),
                ..Default::default()
            };
            let c = app.add_contact(l.id, input).await?;
            out.print(&c, || {
                format!("added contact {} {} to {}", c.id, c.name, l.name)
            });
        }
        ContactCmd::Edit {
            id,
            name,
            title,
            email,
            phone,
        } => {
            let patch = ContactPatch {
                name,
                title,
                emails: (!email.is_empty()).then(|| emails(&email)),
                phones: (!phone.is_empty()).then(|| phones(&phone)),
                ..Default::default()
            };
            let c = app.update_contact(parse_id("contact", &id)?, patch).await?;
            out.print(&c, || format!("updated contact {} {}", c.id, c.name));
        }
        ContactCmd::Delete { id } => {
            let id = parse_id("contact", &id)?;
            app.delete_contact(id).await?;
            out.print(&serde_json::json!({ "deleted": id }), || {
                format!("deleted contact {id}")
            });
        }
    }
    Ok(())
}

async fn add_activity(
    app: &App,
    lead: &str,
    when: When,
    kind: ActivityKind,
    out: Out,
) -> Result<()> {
    let l = app.find_lead(lead).await?;
    let input = NewActivity {
        contact_id: when
            .contact
            .as_deref()
            .map(|c| parse_id("contact", c))
            .transpose()?,
        activity_at: when
            .at
            .as_deref()
            .map(|t| parse_time("at", t))
            .transpose()?,
        kind,
    };
    let a = app.add_activity(l.id, input).await?;
    out.print(&a, || {
        format!("added {} {} to {}", a.kind.type_name(), a.id, l.name)
    });
    Ok(())
}

/// A note body from an argument, a file or standard input (`-` or nothing).
fn body_text(body: Option<String>, file: Option<PathBuf>) -> Result<String> {
    Ok(match (body, file) {
        (_, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (Some(b), None) if b != "-" => b,
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the note from standard input")?;
            s
        }
    })
}

pub async fn note(app: &App, cmd: NoteCmd, out: Out) -> Result<()> {
    let (lead, body, file, title, when) = match cmd {
        NoteCmd::Add {
            lead,
            body,
            file,
            title,
            when,
        } => (lead, body, file, title, when),
        NoteCmd::Conflicts => {
            let list = app.note_conflicts(None).await?;
            out.print(&list, || {
                if list.is_empty() {
                    return "no note conflicts".into();
                }
                list.iter()
                    .map(|c| {
                        format!(
                            "{}  note {}  lead {}\n{}",
                            c.id, c.note_id, c.lead_id, c.body
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n")
            });
            return Ok(());
        }
        NoteCmd::Resolve {
            conflict,
            keep,
            theirs,
            body,
            file,
        } => {
            let id = parse_id("conflict", &conflict)?;
            let c = app
                .note_conflicts(None)
                .await?
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| anyhow!("no open note conflict {id}"))?;
            let text = if keep {
                match app.store().activity(c.note_id).await?.kind {
                    ActivityKind::Note(n) => n.note,
                    _ => bail!("{} is not a note", c.note_id),
                }
            } else if theirs {
                c.body.clone()
            } else {
                body_text(body, file)?
            };
            let view = app.resolve_note_conflict(id, text).await?;
            out.print(&view, || format!("conflict {id} resolved"));
            return Ok(());
        }
        NoteCmd::Edit { id, body, file } => {
            let text = body_text(body, file)?;
            let view = app
                .update_note(
                    parse_id("note", &id)?,
                    NotePatch {
                        note: Some(text),
                        ..Default::default()
                    },
                )
                .await?;
            out.print(&view, || format!("note {id} saved"));
            return Ok(());
        }
    };
    let text = match (body, file) {
        (_, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (Some(b), None) if b != "-" => b,
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the note from standard input")?;
            s
        }
    };
    if text.trim().is_empty() {
        bail!("the note is empty");
    }
    add_activity(
        app,
        &lead,
        when,
        ActivityKind::Note(NoteFields {
            title,
            note: text,
            pinned: false,
        }),
        out,
    )
    .await
}

pub async fn link(app: &App, cmd: LinkCmd, out: Out) -> Result<()> {
    let LinkCmd::Add {
        lead,
        url,
        title,
        when,
    } = cmd;
    add_activity(
        app,
        &lead,
        when,
        ActivityKind::Link(LinkFields { title, url }),
        out,
    )
    .await
}

fn direction(d: Dir) -> Direction {
    match d {
        Dir::Inbound => Direction::Inbound,
        Dir::Outbound => Direction::Outbound,
    }
}

pub async fn call(app: &App, cmd: CallCmd, out: Out) -> Result<()> {
    let CallCmd::Log {
        lead,
        direction: d,
        disposition,
        duration,
        phone,
        note,
        when,
    } = cmd;
    let kind = ActivityKind::Call(CallFields {
        direction: direction(d),
        status: "completed".into(),
        disposition,
        remote_phone: phone,
        local_phone: None,
        duration,
        note,
    });
    add_activity(app, &lead, when, kind, out).await
}

pub async fn email(app: &App, cmd: EmailCmd, out: Out) -> Result<()> {
    let EmailCmd::Log {
        lead,
        subject,
        body,
        direction: d,
        from,
        to,
        opened,
        when,
    } = cmd;
    let opens = opened
        .iter()
        .map(|o| parse_time("opened", o))
        .collect::<Result<Vec<_>>>()?;
    let kind = ActivityKind::Email(EmailFields {
        direction: direction(d),
        subject,
        body_text: body,
        sender: from,
        to,
        opens,
    });
    add_activity(app, &lead, when, kind, out).await
}

pub async fn meeting(app: &App, cmd: MeetingCmd, out: Out) -> Result<()> {
    let MeetingCmd::Log {
        lead,
        title,
        start,
        end,
        note,
        contact,
    } = cmd;
    let starts_at = parse_time("start", &start)?;
    let ends_at = end.as_deref().map(|e| parse_time("end", e)).transpose()?;
    let kind = ActivityKind::Meeting(MeetingFields {
        title,
        starts_at,
        ends_at,
        note,
    });
    add_activity(
        app,
        &lead,
        When {
            at: Some(start),
            contact,
        },
        kind,
        out,
    )
    .await
}

pub async fn task(app: &App, cmd: TaskCmd, out: Out) -> Result<()> {
    match cmd {
        TaskCmd::Add { lead, text, due } => {
            let l = app.find_lead(&lead).await?;
            let date = due.as_deref().map(|d| parse_date("due", d)).transpose()?;
            let t = app
                .add_task(
                    l.id,
                    NewTask {
                        text,
                        date,
                        assigned_to: None,
                    },
                )
                .await?;
            out.print(&t, || format!("added task {} to {}", t.id, l.name));
        }
        TaskCmd::Done { id, undo } => {
            let t = app.set_task_done(parse_id("task", &id)?, !undo).await?;
            out.print(&t, || {
                format!(
                    "task {} {}",
                    t.id,
                    if t.is_complete { "done" } else { "reopened" }
                )
            });
        }
        TaskCmd::List { all } => {
            let tasks = app.tasks(all).await?;
            out.print(&tasks, || {
                tasks
                    .iter()
                    .map(|t| {
                        let due = t
                            .date
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "          ".into());
                        format!(
                            "{} [{}] {} {}",
                            t.id,
                            if t.is_complete { "x" } else { " " },
                            due,
                            t.text
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

fn cents(v: &str) -> Result<i64> {
    let clean: String = v
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | '€' | '£' | ' '))
        .collect();
    let f: f64 = clean
        .parse()
        .map_err(|_| anyhow!("--value: `{v}` is not an amount"))?;
    if !(0.0..=9e13).contains(&f) {
        bail!("--value: `{v}` is out of range");
    }
    Ok((f * 100.0).round() as i64)
}

fn period(p: &str) -> Result<ValuePeriod> {
    match p.trim().to_lowercase().replace('-', "_").as_str() {
        "one_time" | "once" => Ok(ValuePeriod::OneTime),
        "monthly" => Ok(ValuePeriod::Monthly),
        "annual" | "yearly" => Ok(ValuePeriod::Annual),
        _ => bail!("--period: `{p}` must be one_time, monthly or annual"),
    }
}

pub async fn opportunity(app: &App, cmd: OppCmd, out: Out) -> Result<()> {
    match cmd {
        OppCmd::Add { lead, fields: f } => {
            let l = app.find_lead(&lead).await?;
            let input = NewOpportunity {
                contact_id: f
                    .contact
                    .as_deref()
                    .map(|c| parse_id("contact", c))
                    .transpose()?,
                status_label: f.status,
                value: f.value.as_deref().map(cents).transpose()?.unwrap_or(0),
                value_period: f.period.as_deref().map(period).transpose()?,
                confidence: f.confidence,
                user_id: None,
                date_won: f
                    .close
                    .as_deref()
                    .map(|d| parse_date("close", d))
                    .transpose()?,
                note: f.note,
            };
            let o = app.add_opportunity(l.id, input).await?;
            out.print(&o, || format!("added opportunity {} to {}", o.id, l.name));
        }
        OppCmd::Edit { id, fields: f } => {
            let patch = OpportunityPatch {
                status_label: f.status,
                value: f.value.as_deref().map(cents).transpose()?,
                value_period: f.period.as_deref().map(period).transpose()?,
                confidence: f.confidence,
                date_won: f
                    .close
                    .as_deref()
                    .map(|d| parse_date("close", d))
                    .transpose()?,
                note: f.note,
            };
            let o = app
                .update_opportunity(parse_id("opportunity", &id)?, patch)
                .await?;
            out.print(&o, || format!("updated opportunity {}", o.id));
        }
    }
    Ok(())
}
