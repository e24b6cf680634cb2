//! `rapport search`, `rapport view run` and `rapport reindex`: argument types and printing.
//! A bad query prints the query with a caret line under the problem, the message and the
//! hint, and exits non-zero.

use crate::Out;
use anyhow::{Result, anyhow};
use clap::Args;
use rapport_app::{App, AppError, SearchOptions, SearchResult};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// When and where a query is evaluated, and which page.
#[derive(Args, Clone)]
pub struct QueryFlags {
    /// Evaluate relative dates against this time (RFC 3339); default now.
    #[arg(long)]
    pub now: Option<String>,
    /// Time zone for `today`, `yesterday` and dates (IANA name); default the system's.
    #[arg(long)]
    pub tz: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

#[derive(Args)]
pub struct SearchArgs {
    /// The query, e.g. `status:customer last_called < "30 days ago" sort:-created`.
    pub query: String,
    #[command(flatten)]
    pub flags: QueryFlags,
}

#[derive(Args)]
pub struct ViewRunArgs {
    /// The Smart View's name or id.
    pub name: String,
    #[command(flatten)]
    pub flags: QueryFlags,
}

pub fn options(flags: &QueryFlags) -> Result<SearchOptions> {
    let now = match &flags.now {
        Some(text) => Some(
            rapport_core::time::parse(text)
                .ok_or_else(|| anyhow!("`--now {text}` is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    Ok(SearchOptions {
        now,
        tz: flags.tz.clone(),
        limit: flags.limit,
        offset: flags.offset,
    })
}

pub async fn search(app: &App, args: SearchArgs, out: Out) -> Result<()> {
    let result = app.search(&args.query, options(&args.flags)?).await;
    print_result(result, &args.query, out)
}

pub async fn view_run(app: &App, args: ViewRunArgs, out: Out) -> Result<()> {
    let opts = options(&args.flags)?;
    let query = app
        .views()
        .await?
        .into_iter()
        .find(|v| v.name.eq_ignore_ascii_case(args.name.trim()) || v.id.to_string() == args.name)
        .map(|v| v.query)
        .unwrap_or_default();
    let result = app.run_view(&args.name, opts).await;
    print_result(result, &query, out)
}

pub async fn reindex(app: &App, out: Out) -> Result<()> {
    let report = app
        .reindex(|_, _| {}, Arc::new(AtomicBool::new(false)))
        .await?;
    out.print(&report, || {
        format!(
            "reindexed {} leads ({} documents) in {} ms",
            report.leads, report.documents, report.millis
        )
    });
    Ok(())
}

/// The query, a caret line under `span`, the message and the hint.
pub fn caret_report(query: &str, e: &AppError) -> String {
    let mut text = format!("error: {}\n", e.message);
    if let Some([start, end]) = e.span
        && query.is_char_boundary(start.min(query.len()))
        && query.is_char_boundary(end.min(query.len()))
    {
        let (start, end) = (start.min(query.len()), end.min(query.len()));
        let pad = query[..start].chars().count();
        let width = query[start..end].chars().count().max(1);
        text.push_str(&format!(
            "  {query}\n  {}{}\n",
            " ".repeat(pad),
            "^".repeat(width)
        ));
    }
    if let Some(hint) = &e.hint {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}

fn print_result(result: rapport_app::Result<SearchResult>, query: &str, out: Out) -> Result<()> {
    let result = match result {
        Ok(r) => r,
        Err(e) if e.code == "bad_query" => {
            if out.json {
                eprintln!("{}", serde_json::to_string(&e).unwrap_or_default());
            } else {
                eprint!("{}", caret_report(query, &e));
            }
            return Err(anyhow!("the query has an error"));
        }
        Err(e) => return Err(e.into()),
    };
    let rows: Vec<serde_json::Value> = result
        .rows
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            o.insert("id".into(), r.lead.id.clone().into());
            o.insert("name".into(), r.lead.name.clone().into());
            o.insert("status".into(), r.lead.status_label.clone().into());
            for (k, v) in &r.sort_values {
                o.insert(k.clone(), v.clone());
            }
            serde_json::Value::Object(o)
        })
        .collect();
    let json = serde_json::json!({
        "total": result.total,
        "sort": result.sort,
        "stale": result.stale,
        "rows": rows,
    });
    out.print(&json, || {
        let mut lines = vec![format!(
            "{} lead{} (sort: {}){}",
            result.total,
            if result.total == 1 { "" } else { "s" },
            result.sort.join(", "),
            if result.stale {
                " — index still catching up"
            } else {
                ""
            }
        )];
        for r in &result.rows {
            let values: Vec<String> = result
                .sort
                .iter()
                .filter_map(|k| r.sort_values.get(k))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "—".into(),
                    other => other.to_string(),
                })
                .collect();
            lines.push(format!(
                "{:<40} {:<12} {}",
                r.lead.name,
                r.lead.status_label,
                values.join("  ")
            ));
        }
        lines.join("\n")
    });
    Ok(())
}
