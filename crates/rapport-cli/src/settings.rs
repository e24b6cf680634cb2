//! Commands on settings: statuses, custom fields, Smart Views, region, store info.

use crate::Out;
use crate::cli::*;
use anyhow::Result;
use rapport_app::App;
use rapport_core::{FieldTarget, FieldType};

pub async fn status(app: &App, cmd: StatusCmd, out: Out) -> Result<()> {
    match cmd {
        StatusCmd::List => {
            let list = app.statuses().await?;
            out.print(&list, || {
                list.iter()
                    .map(|s| s.label.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        StatusCmd::Add { label } => {
            let s = app.add_status(&label).await?;
            out.print(&s, || format!("added status {}", s.label));
        }
    }
    Ok(())
}

pub async fn field(app: &App, cmd: FieldCmd, out: Out) -> Result<()> {
    match cmd {
        FieldCmd::Add {
            name,
            kind,
            target,
            choice,
        } => {
            let kind = match kind {
                FieldKind::Text => FieldType::Text,
                FieldKind::Number => FieldType::Number,
                FieldKind::Date => FieldType::Date,
                FieldKind::Choice => FieldType::Choice,
            };
            let target = match target {
                FieldFor::Lead => FieldTarget::Lead,
                FieldFor::Contact => FieldTarget::Contact,
            };
            let f = app.add_field(&name, kind, target, choice).await?;
            out.print(&f, || {
                format!("added custom field {} ({:?})", f.name, f.kind)
            });
        }
        FieldCmd::List => {
            let list = app.fields().await?;
            out.print(&list, || {
                list.iter()
                    .map(|f| format!("{:<30} {:?} on {:?}", f.name, f.kind, f.applies_to))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

pub async fn view(app: &App, cmd: ViewCmd, out: Out) -> Result<()> {
    match cmd {
        ViewCmd::Add {
            name,
            query,
            shared,
        } => {
            let v = app.add_view(&name, &query, shared).await?;
            out.print(&v, || format!("added Smart View {}", v.name));
        }
        ViewCmd::List => {
            let list = app.views().await?;
            out.print(&list, || {
                list.iter()
                    .map(|v| format!("{:<30} {}", v.name, v.query))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ViewCmd::Show { name } => {
            let v = app
                .views()
                .await?
                .into_iter()
                .find(|v| v.name.eq_ignore_ascii_case(name.trim()) || v.id.to_string() == name)
                .ok_or_else(|| anyhow::anyhow!("no Smart View named `{name}`"))?;
            out.print(&v, || format!("{}\n  {}", v.name, v.query));
        }
        ViewCmd::Run(args) => crate::search::view_run(app, args, out).await?,
        ViewCmd::Delete { name } => {
            app.delete_view(&name).await?;
            out.print(&serde_json::json!({ "deleted": name }), || {
                format!("deleted Smart View {name}")
            });
        }
    }
    Ok(())
}

pub async fn config(app: &App, cmd: ConfigCmd, out: Out) -> Result<()> {
    match cmd {
        ConfigCmd::Region { code } => {
            app.set_region(&code).await?;
            out.print(
                &serde_json::json!({ "region": code.to_uppercase() }),
                || format!("default region set to {}", code.to_uppercase()),
            );
        }
    }
    Ok(())
}

pub async fn info(app: &App, out: Out) -> Result<()> {
    let info = app.info().await?;
    let stats = app.store().stats().await?;
    out.print(&serde_json::json!({ "info": info, "stats": stats }), || {
        format!(
            "store: {}\nuser: {}\nregion: {}\nleads: {}  contacts: {}  activities: {}  tasks: {}  opportunities: {}  outbox: {}",
            info.db_path,
            info.user.name,
            info.default_region,
            stats.leads,
            stats.contacts,
            stats.activities,
            stats.tasks,
            stats.opportunities,
            stats.outbox
        )
    });
    Ok(())
}
