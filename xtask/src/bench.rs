//! `cargo xtask bench`: builds release binaries and runs the benchmark harness, which prints
//! one table and writes `target/bench/bench.json`. Every figure sits beside a baseline from
//! the same run.

use crate::sh::{cmd, root, target_dir};
use anyhow::Result;

pub fn bench(args: &[String]) -> Result<()> {
    crate::deps::ensure(crate::deps::Need::All)?;
    crate::build_ui()?;
    cmd(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "rapport-cli",
            "-p",
            "rapport-desktop",
            "-p",
            "rapport-bench",
            "-p",
            "rapport-server",
        ],
    )
    .run()?;
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    let bin = target_dir().join("release/rapport-bench");
    let mut a: Vec<&str> = vec!["--out", out.to_str().unwrap_or("target/bench")];
    a.extend(args.iter().map(String::as_str));
    cmd(bin.to_str().unwrap_or("rapport-bench"), &a)
        .env("RAPPORT_BIN_DIR", target_dir().join("release"))
        .run()
}
