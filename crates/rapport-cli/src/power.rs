//! `rapport bulk`, `rapport undo`, `rapport lead merge|duplicates` and `rapport report`:
//! argument types and printing over the app's power use cases.

use crate::Out;
use crate::search::{QueryFlags, options};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use rapport_app::App;
use rapport_core::ops::BulkAction;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Args)]
pub struct BulkArgs {
    /// The search whose every result is changed (`''` for every lead).
    pub query: String,
    /// `status=LABEL`, `owner=USER_ID` or `custom.NAME=VALUE` (empty VALUE clears it).
    #[arg(long)]
    pub set: Option<String>,
    /// Add a task with this text to each lead.
    #[arg(long)]
    pub add_task: Option<String>,
    /// The added task's due date (YYYY-MM-DD).
    #[arg(long, requires = "add_task")]
    pub due: Option<chrono::NaiveDate>,
    /// Delete every matching lead (undo brings them back).
    #[arg(long)]
    pub delete: bool,
    /// Count the leads, check the action, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub flags: QueryFlags,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The lead that stays (id or exact name).
    pub survivor: String,
    /// The lead merged into it (its id stays an alias of the survivor).
    pub merged: String,
    /// A conflicting field to take from the merged lead (repeatable): name, url, …, custom.NAME.
    #[arg(long)]
    pub take: Vec<String>,
    /// Show what would move and what conflicts; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Opportunity value by status and expected close month (weighted by confidence).
    Pipeline(ReportArgs),
    /// Calls per day and per user, answered and not.
    Calls {
        #[command(flatten)]
        args: ReportArgs,
        /// Only calls on or after this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
    },
    /// Leads per status now and status changes per month.
    Funnel(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// Only leads matching this search.
    #[arg(long)]
    pub query: Option<String>,
    #[command(flatten)]
    pub flags: QueryFlags,
}

fn action(args: &BulkArgs) -> Result<BulkAction> {
    let given = [args.set.is_some(), args.add_task.is_some(), args.delete];
    if given.iter().filter(|g| **g).count() != 1 {
        bail!("give exactly one of --set KEY=VALUE, --add-task TEXT, --delete");
    }
    Ok(match (&args.set, &args.add_task) {
        (Some(s), _) => BulkAction::parse_set(s)?,
        (_, Some(t)) => BulkAction::AddTask {
            text: t.clone(),
            date: args.due,
        },
        _ => BulkAction::Delete,
    })
}

pub async fn bulk(app: &App, args: BulkArgs, out: Out) -> Result<()> {
    let action = action(&args)?;
    let opts = options(&args.flags)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let r = app
        .bulk(
            &args.query,
            &action,
            &opts,
            args.dry_run,
            |done, total| {
                if !out.json && total > rapport_app::BULK_CHUNK {
                    eprint!("\r{done}/{total} leads");
                }
            },
            cancel,
        )
        .await?;
    out.print(&r, || match r.dry_run {
        true => format!("would change {} leads ({})", r.matched, r.label),
        false => format!("changed {} leads ({} records)", r.changed, r.records),
    });
    Ok(())
}

pub async fn undo(app: &App, out: Out) -> Result<()> {
    let r = app.undo().await?;
    out.print(&r, || match &r {
        Some(r) => format!(
            "undid “{}” ({} records written back)",
            r.action.label, r.reverted
        ),
        None => "nothing to undo".into(),
    });
    Ok(())
}

pub async fn merge(app: &App, args: MergeArgs, out: Out) -> Result<()> {
    let s = app.find_lead(&args.survivor).await?;
    let m = app.find_lead(&args.merged).await?;
    let preview = app.merge_preview(s.id, m.id).await?;
    if args.dry_run {
        out.print(&preview, || {
            let [c, a, t, o] = preview.moves;
            let mut text = format!(
                "merging {} into {} moves {c} contacts, {a} activities, {t} open tasks, {o} opportunities",
                m.name, s.name
            );
            for c in &preview.conflicts {
                text += &format!("\n  conflict {}: {} | {}", c.field, c.survivor, c.merged);
            }
            text
        });
        return Ok(());
    }
    let lead = app.merge_leads(s.id, m.id, &args.take).await?;
    out.print(&lead, || {
        format!(
            "merged {} ({}) into {} ({})",
            m.name, m.id, lead.name, lead.id
        )
    });
    Ok(())
}

pub async fn duplicates(app: &App, limit: usize, out: Out) -> Result<()> {
    let groups = app.duplicates(limit).await?;
    out.print(&groups, || {
        let mut s = format!("{} possible duplicate groups", groups.len());
        for g in &groups {
            s += &format!("\n[{}]", g.reason);
            for (id, name) in &g.leads {
                s += &format!("\n  {id}  {name}");
            }
        }
        s
    });
    Ok(())
}

fn money(cents: i64) -> String {
    format!("{:.2}", cents as f64 / 100.0)
}

pub async fn report(app: &App, cmd: ReportCmd, out: Out) -> Result<()> {
    match cmd {
        ReportCmd::Pipeline(a) => {
            let r = app
                .report_pipeline(a.query.as_deref(), &options(&a.flags)?)
                .await?;
            out.print(&r, || {
                let mut s = format!(
                    "{} opportunities, value {}, weighted {}",
                    r.count,
                    money(r.value),
                    money(r.weighted)
                );
                for row in r.by_status.iter().chain(&r.by_month) {
                    s += &format!(
                        "\n  {:<10} {:>6} {:>14} {:>14}",
                        row.key,
                        row.count,
                        money(row.value),
                        money(row.weighted)
                    );
                }
                s
            });
        }
        ReportCmd::Calls { args, since } => {
            let opts = options(&args.flags)?;
            let r = app
                .report_calls(args.query.as_deref(), since.as_deref(), &opts)
                .await?;
            out.print(&r, || {
                let mut s = format!("{} calls, {} answered", r.total, r.answered);
                for row in r.by_user.iter().chain(&r.by_day) {
                    s += &format!(
                        "\n  {:<26} {:>6} answered {:>6} other",
                        row.key, row.answered, row.other
                    );
                }
                s
            });
        }
        ReportCmd::Funnel(a) => {
            let r = app
                .report_funnel(a.query.as_deref(), &options(&a.flags)?)
                .await?;
            out.print(&r, || {
                r.current
                    .iter()
                    .map(|f| format!("{:<12} {:>8}", f.status, f.leads))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
