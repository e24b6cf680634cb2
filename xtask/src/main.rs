//! `cargo xtask run | test | bench`: the project's two commands (plus benchmarks). Each first
//! installs what is missing on a Debian/Ubuntu machine, then builds and runs. No shell scripts.

mod bench;
mod deps;
mod sh;

use anyhow::{Result, bail};
use sh::{cmd, root};

const USAGE: &str = "usage: cargo xtask <run [-- APP ARGS] | test | bench [--quick]>
  run    install what is missing, build the UI and the desktop app, launch it on its default store
  test   everything CI checks: fmt, clippy -D warnings, Rust tests (unit, integration, end-to-end), UI checks and tests
  bench  benchmarks: prints a table and writes target/bench/bench.json
  sim    the sync simulation over more seeds: sim [--seeds N] [--from SEED]";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run_app(&args[1..]),
        Some("test") => test(),
        Some("bench") => bench::bench(&args[1..]),
        Some("sim") => sim(&args[1..]),
        Some("deps") => deps::ensure(deps::Need::All),
        _ => bail!("{USAGE}"),
    }
}

/// Builds the UI bundle (`ui/dist`), installing npm packages when the lock file changed.
pub fn build_ui() -> Result<()> {
    deps::npm_install()?;
    cmd("npm", &["run", "build", "--silent"])
        .dir(root().join("ui"))
        .run()
}

fn run_app(extra: &[String]) -> Result<()> {
    deps::ensure(deps::Need::App)?;
    build_ui()?;
    cmd(
        "cargo",
        &["build", "-p", "rapport-desktop", "-p", "rapport-cli"],
    )
    .run()?;
    let bin = sh::target_dir().join("debug/rapport-desktop");
    let extra: Vec<&str> = extra
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--")
        .collect();
    let mut c = cmd(bin.to_str().unwrap_or("rapport-desktop"), &extra);
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("xtask: no display found; starting the app under Xvfb (xvfb-run)");
        let mut a = vec![
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            bin.to_str().unwrap_or(""),
        ];
        a.extend(extra.iter().copied());
        c = cmd("xvfb-run", &a);
    }
    c.run()
}

/// `cargo xtask sim --seeds N --from S`: the deterministic sync simulation over seeds
/// S..S+N (CI runs 200 from 0); a failure names its seed, and `--from SEED --seeds 1` replays it
/// (`RAPPORT_SIM_TRACE=1` prints every step).
fn sim(args: &[String]) -> Result<()> {
    let (mut seeds, mut from) = ("1000".to_string(), "0".to_string());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => seeds = it.next().cloned().unwrap_or_default(),
            "--from" => from = it.next().cloned().unwrap_or_default(),
            "--" => {}
            other => bail!("unknown argument `{other}` (sim [--seeds N] [--from SEED])"),
        }
    }
    for (name, v) in [("--seeds", &seeds), ("--from", &from)] {
        if v.parse::<u64>().is_err() {
            bail!("{name} needs a number, not `{v}`");
        }
    }
    cmd(
        "cargo",
        &[
            "test",
            "--release",
            "-p",
            "rapport-sim",
            "--test",
            "sim",
            "--",
            "--nocapture",
        ],
    )
    .env("RAPPORT_SIM_SEEDS", &seeds)
    .env("RAPPORT_SIM_FROM", &from)
    .run()
}

fn test() -> Result<()> {
    deps::ensure(deps::Need::All)?;
    let ui = root().join("ui");
    build_ui()?;
    cmd("npm", &["run", "check", "--silent"]).dir(&ui).run()?;
    cmd("npm", &["test", "--silent"]).dir(&ui).run()?;
    cmd("cargo", &["fmt", "--all", "--", "--check"]).run()?;
    cmd(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )
    .run()?;
    // The end-to-end tests drive these binaries.
    cmd(
        "cargo",
        &[
            "build",
            "--locked",
            "-p",
            "rapport-desktop",
            "-p",
            "rapport-cli",
            "-p",
            "rapport-server",
        ],
    )
    .run()?;
    cmd(
        "cargo",
        &["test", "--workspace", "--locked", "--no-fail-fast"],
    )
    .env("RAPPORT_ARTIFACTS", root().join("target/e2e-artifacts"))
    .run()?;
    println!("xtask: all checks passed");
    Ok(())
}
