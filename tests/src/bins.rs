//! Finding the Seatbroker binaries of the current build.
//!
//! The demo finds them next to its own executable (`target/release/`). The end-to-end tests
//! run from `target/<profile>/deps/`, so they look one level up; when a binary is missing
//! (or `SEATBROKER_E2E_REBUILD=1`), they build the three packages once per test process
//! with the `cargo` that runs the tests (`$CARGO`). `cargo test --workspace` builds every
//! binary before running tests, so there the binaries are always those of the same build.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The packages whose binaries the demo and the tests run, with the binary names.
pub const PACKAGES: &[(&str, &str)] = &[
    ("seatbroker-platform", PLATFORM),
    ("humaans-sim", SIM),
    ("seatbroker-agent", AGENT),
];
pub const PLATFORM: &str = "seatbroker-platform";
pub const SIM: &str = "humaans-sim";
pub const AGENT: &str = "seatbroker-agent";

/// Paths of the three binaries.
#[derive(Debug, Clone)]
pub struct Bins {
    pub platform: PathBuf,
    pub sim: PathBuf,
    pub agent: PathBuf,
}

impl Bins {
    /// The binaries in `dir`; fails naming the missing ones and how to build them.
    pub fn in_dir(dir: &Path) -> anyhow::Result<Self> {
        let bins = Self {
            platform: exe(dir, PLATFORM),
            sim: exe(dir, SIM),
            agent: exe(dir, AGENT),
        };
        let missing: Vec<String> = [&bins.platform, &bins.sim, &bins.agent]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "missing binaries: {}; build them with `cargo build --release --locked --bins` (scripts/demo does)",
                missing.join(", ")
            );
        }
        Ok(bins)
    }

    /// The binaries next to the running executable (the demo).
    pub fn next_to_current_exe() -> anyhow::Result<Self> {
        let me = std::env::current_exe().context("cannot find the demo's own executable")?;
        let dir = me.parent().context("the demo's executable has no folder")?;
        Self::in_dir(dir)
    }

    /// The binaries of the build the running test belongs to; built (once per process)
    /// when one is missing or `SEATBROKER_E2E_REBUILD=1`.
    pub fn for_tests() -> anyhow::Result<Self> {
        static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
        let dir = BUILT
            .get_or_init(|| build_for_tests().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)?;
        Self::in_dir(&dir)
    }
}

/// `dir/name` with the platform's executable suffix.
pub fn exe(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The profile folder of the running test (`target/<profile>`), after `cargo build --bins`
/// of the three packages in that profile if needed.
fn build_for_tests() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the test executable")?;
    // target/<profile>/deps/e2e-<hash>
    let deps = me.parent().context("test executable has no folder")?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()
            .context("deps folder has no parent")?
            .to_owned()
    } else {
        deps.to_owned()
    };
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let rebuild = std::env::var_os("SEATBROKER_E2E_REBUILD").is_some_and(|v| v == "1");
    if !rebuild && Bins::in_dir(&dir).is_ok() {
        return Ok(dir);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.arg("build").arg("--bins").arg("--quiet");
    if profile == "release" {
        command.arg("--release");
    } else if profile != "debug" {
        command.arg("--profile").arg(&profile);
    }
    for (package, _) in PACKAGES {
        command.arg("-p").arg(package);
    }
    // The target dir of this build: target/<profile>/.. .
    if let Some(target) = dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    eprintln!("e2e: building the binaries: {command:?}");
    let status = command
        .status()
        .context("cannot run cargo to build the binaries")?;
    if !status.success() {
        bail!(
            "`cargo build --bins` of {PACKAGES:?} failed ({status}); fix the build and run the tests again"
        );
    }
    Ok(dir)
}
