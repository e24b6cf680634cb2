//! The `rapport` binary: parses arguments, calls the app facade, prints text or `--json`,
//! and maps every failure to a one-line message and a non-zero exit. Never panics on input.

mod cli;
mod phone;
mod power;
mod records;
mod search;
mod settings;
mod sync;
mod transfer;

use clap::Parser;
use cli::{CallLog, Cli, Command};
use rapport_app::App;
use std::process::ExitCode;

/// mimalloc: a CSV import allocates millions of small values on its reader thread and frees
/// them on another; glibc's allocator spent a third of the import's CPU time on that.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Output mode shared by every command.
#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `text()` for people.
    pub fn print<T: serde::Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            let t = text();
            if !t.is_empty() {
                println!("{t}");
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = match e.downcast_ref::<rapport_app::AppError>() {
                Some(a) => match &a.field {
                    Some(f) => format!("{} (field `{f}`)", a.message),
                    None => a.message.clone(),
                },
                None => format!("{e:#}"),
            };
            eprintln!("error: {}", msg.replace('\n', " "));
            ExitCode::from(rapport_phone::cli::exit_code(&e).clamp(1, 255) as u8)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Out { json: cli.json };
    let path = cli.db.clone().unwrap_or_else(App::default_db_path);
    // The softphone reads its settings beside the store but opens no store.
    let command = match cli.command {
        Command::Phone(c) => return phone::phone(&path, c).await,
        Command::Call { args } if args.first().map(String::as_str) != Some("log") => {
            let dial = rapport_phone::cli::CallArgs::try_parse_from(
                std::iter::once("rapport call".to_string()).chain(args),
            )
            .unwrap_or_else(|e| e.exit());
            return phone::call(&path, dial).await;
        }
        other => other,
    };
    let app = App::open(&path).await?;
    match command {
        Command::Lead(c) => records::lead(&app, c, out).await,
        Command::Contact(c) => records::contact(&app, c, out).await,
        Command::Note(c) => records::note(&app, c, out).await,
        Command::Link(c) => records::link(&app, c, out).await,
        Command::Call { args } => {
            let log =
                CallLog::try_parse_from(std::iter::once("rapport call".to_string()).chain(args))
                    .unwrap_or_else(|e| e.exit());
            records::call(&app, log.cmd, out).await
        }
        Command::Email(c) => records::email(&app, c, out).await,
        Command::Meeting(c) => records::meeting(&app, c, out).await,
        Command::Task(c) => records::task(&app, c, out).await,
        Command::Opportunity(c) => records::opportunity(&app, c, out).await,
        Command::Status(c) => settings::status(&app, c, out).await,
        Command::Field(c) => settings::field(&app, c, out).await,
        Command::View(c) => settings::view(&app, c, out).await,
        Command::Config(c) => settings::config(&app, c, out).await,
        Command::Info => settings::info(&app, out).await,
        Command::Search(c) => search::search(&app, c, out).await,
        Command::Reindex => search::reindex(&app, out).await,
        Command::Bulk(c) => power::bulk(&app, c, out).await,
        Command::Undo => power::undo(&app, out).await,
        Command::Report(c) => power::report(&app, c, out).await,
        Command::Demo(c) => transfer::demo(&app, c, out).await,
        Command::Export(c) => transfer::export(&app, c, out).await,
        Command::Import(c) => transfer::import(&app, c, out).await,
        Command::Sync(c) => sync::sync(&app, c, out).await,
        Command::Phone(_) => Ok(()),
    }
}
