//! The softphone commands of the binary (`rapport call TARGET`, `rapport phone register|listen`):
//! their settings are `phone.toml` beside the store, or `$RAPPORT_PHONE_CONFIG`, or `--config`,
//! read by the app's one parser of that file (so the CLI and the desktop app agree on it);
//! flags win over the file. Needs no store otherwise.

use anyhow::{Context, bail};
use rapport_app::PhoneSettings;
use rapport_phone::PhoneConfig;
use rapport_phone::cli::{AccountArgs, CallArgs, PhoneCommand};
use std::path::Path;

/// `rapport call TARGET …`.
pub async fn call(db: &Path, args: CallArgs) -> anyhow::Result<()> {
    let file = settings(db, &args.account)?;
    rapport_phone::cli::run_call_with(args, file).await
}

/// `rapport phone …`.
pub async fn phone(db: &Path, command: PhoneCommand) -> anyhow::Result<()> {
    let file = settings(db, command.account())?;
    rapport_phone::cli::run_phone_with(command, file).await
}

/// The phone's settings for the store at `db`: `--config FILE` (which must exist), else
/// `$RAPPORT_PHONE_CONFIG` or `phone.toml` beside the store (the defaults when absent).
fn settings(db: &Path, account: &AccountArgs) -> anyhow::Result<PhoneConfig> {
    let path = match &account.config {
        Some(p) => p.clone(),
        None => PhoneSettings::path_for(db),
    };
    match PhoneSettings::load(&path).context("reading the phone settings")? {
        Some(settings) => Ok(settings.config),
        None if account.config.is_some() => bail!("{}: no such file", path.display()),
        None => Ok(PhoneConfig::default()),
    }
}
