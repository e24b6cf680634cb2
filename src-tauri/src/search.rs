//! The search commands: run a query page by page (the lead list is virtualized), the field
//! catalogue for the syntax-help panel, and Smart Views with their live counts. Each is a few
//! lines over the facade; never parses or evaluates a query itself.

use rapport_app::{App, AppError, SearchOptions, SearchResult};
use rapport_core::SmartView;
use serde::Serialize;
use tauri::State;

type R<T> = Result<T, AppError>;

/// One row of the syntax-help panel.
#[derive(Debug, Serialize)]
pub struct FieldHelp {
    /// `lead`, or the sub-query object (`call`, `contact`, …) the field belongs to.
    scope: String,
    name: &'static str,
    aliases: &'static [&'static str],
    /// What the values are ("a date") and examples of them.
    kind: &'static str,
    examples: &'static str,
    help: &'static str,
}

/// A Smart View and how many leads it matches now (`error` when its query no longer runs).
#[derive(Debug, Serialize)]
pub struct ViewCount {
    name: String,
    query: String,
    count: Option<u64>,
    error: Option<String>,
}

fn page(offset: usize, limit: usize) -> SearchOptions {
    SearchOptions {
        offset,
        limit,
        ..SearchOptions::default()
    }
}

#[tauri::command]
pub async fn search(
    app: State<'_, App>,
    query: String,
    offset: usize,
    limit: usize,
) -> R<SearchResult> {
    app.search(&query, page(offset, limit.min(1000))).await
}

#[tauri::command]
pub fn query_fields() -> Vec<FieldHelp> {
    rapport_query::fields()
        .iter()
        .map(|f| FieldHelp {
            scope: match f.scope {
                rapport_query::Scope::Lead => "lead".into(),
                rapport_query::Scope::Sub(object) => object.name().into(),
            },
            name: f.name,
            aliases: f.aliases,
            kind: f.ty.describe(),
            examples: f.ty.examples(),
            help: f.help,
        })
        .collect()
}

#[tauri::command]
pub async fn list_views(app: State<'_, App>) -> R<Vec<SmartView>> {
    app.views().await
}

/// A view's count via a zero-row search: cheap, and the same evaluation as opening it.
async fn count(app: &App, view: SmartView) -> ViewCount {
    let (count, error) = match app.search(&view.query, page(0, 0)).await {
        Ok(r) => (Some(r.total), None),
        Err(e) => (None, Some(e.message)),
    };
    ViewCount {
        name: view.name,
        query: view.query,
        count,
        error,
    }
}

#[tauri::command]
pub async fn view_counts(app: State<'_, App>) -> R<Vec<ViewCount>> {
    let mut out = vec![];
    for view in app.views().await? {
        out.push(count(&app, view).await);
    }
    Ok(out)
}

#[tauri::command]
pub async fn add_view(app: State<'_, App>, name: String, query: String) -> R<SmartView> {
    app.add_view(&name, &query, false).await
}

#[tauri::command]
pub async fn delete_view(app: State<'_, App>, name: String) -> R<()> {
    app.delete_view(&name).await
}
