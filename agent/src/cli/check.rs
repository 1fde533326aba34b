//! `check`: the configuration, every secret, and (unless `--offline`) each source's token
//! and the platform, one line each. A failed check is written as a `FAIL` line and kept;
//! the command ends with all of them, so the most serious decides the exit code.

use std::io::Write;
use std::path::PathBuf;

use crate::collector::{CollectError, HumaansCollector};
use crate::config::{Config, SourceConfig, SourceKindConfig};
use crate::paths::Paths;
use crate::state::StateStore;
use crate::uplink::{Timeouts, Uplink};

use super::error::CliError;
use super::{CheckArgs, Cli, load_config, stderr_logging};

pub(super) async fn check(
    cli: &Cli,
    paths: &Paths,
    args: &CheckArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let offline = args.offline;
    let config = load_config(paths)?;
    let _log = stderr_logging(cli, Some(&config));
    let mut failed: Vec<CliError> = Vec::new();
    writeln!(out, "ok    configuration {}", paths.config_file.display())?;
    match config.platform.enrollment_token() {
        Some(token) => match token.resolve() {
            Ok(_) => writeln!(out, "ok    enrollment token ({})", token.describe())?,
            // Offline (before a service start) the token may be absent on purpose: it is
            // needed only to enroll, and the installer passes it only when it has one.
            Err(error) if offline => writeln!(
                out,
                "WARN  enrollment token: {error} (needed only to enroll)"
            )?,
            Err(error) => {
                writeln!(out, "FAIL  enrollment token: {error}")?;
                failed.push(error.into());
            }
        },
        None => writeln!(
            out,
            "note  no enrollment token configured (needed only to enroll)"
        )?,
    }
    match StateStore::open(&paths.state_dir).and_then(|s| s.install_id().map(|_| s)) {
        Ok(_) => writeln!(out, "ok    state directory {}", paths.state_dir.display())?,
        Err(error) => {
            writeln!(out, "FAIL  state directory: {error}")?;
            failed.push(error.into());
        }
    }
    for file in secret_files(&config) {
        if let Some(mode) = crate::config::loose_permissions(&file) {
            let warning = format!(
                "{} can be read by other users (mode {mode:o}); restrict it with `chmod 600 {}`",
                file.display(),
                file.display()
            );
            writeln!(out, "WARN  {warning}")?;
            if !offline {
                failed.push(CliError::Warning(warning));
            }
        }
    }
    if offline {
        for source in &config.sources {
            if source.kind.is_app() {
                check_app_source(source, offline, out, &mut failed).await?;
                continue;
            }
            match source.token() {
                Some(token) => match token.resolve() {
                    Ok(_) => writeln!(
                        out,
                        "ok    source {}: Humaans token ({})",
                        source.name,
                        token.describe()
                    )?,
                    Err(error) => {
                        writeln!(
                            out,
                            "FAIL  source {}: Humaans token ({}): {error}",
                            source.name,
                            token.describe()
                        )?;
                        failed.push(error.into());
                    }
                },
                None => {
                    let error = CliError::NoSourceToken(source.name.clone());
                    writeln!(out, "FAIL  {error}")?;
                    failed.push(error);
                }
            }
        }
        if failed.is_empty() {
            writeln!(
                out,
                "Offline checks passed (Humaans and the platform not contacted)."
            )?;
        }
    } else {
        for source in &config.sources {
            if source.kind.is_app() {
                check_app_source(source, offline, out, &mut failed).await?;
                continue;
            }
            match check_source(source).await {
                Ok(Some(warning)) => {
                    writeln!(
                        out,
                        "WARN  source {}: the token works, but {warning}",
                        source.name
                    )?;
                    failed.push(CliError::Warning(warning.to_owned()));
                }
                Ok(None) => writeln!(
                    out,
                    "ok    source {}: the Humaans token can read public and private data",
                    source.name
                )?,
                Err(error) => {
                    writeln!(out, "FAIL  {error}")?;
                    failed.push(error.into());
                }
            }
        }
        match check_platform(&config).await {
            Ok(code) => writeln!(
                out,
                "ok    platform {} answers (HTTP {code})",
                config.platform.url
            )?,
            Err(error) => {
                writeln!(out, "FAIL  {error}")?;
                failed.push(error);
            }
        }
        if failed.is_empty() {
            writeln!(out, "All checks passed.")?;
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Reported(failed))
    }
}

/// The files holding secrets, whose permissions are checked.
fn secret_files(config: &Config) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = config
        .platform
        .enrollment_token_file
        .iter()
        .cloned()
        .collect();
    files.extend(config.sources.iter().filter_map(|s| s.token_file.clone()));
    files.extend(
        config
            .sources
            .iter()
            .filter_map(|s| s.pseudonymize.as_ref().map(|p| p.key_file.clone())),
    );
    files.extend(
        config
            .sources
            .iter()
            .filter_map(|s| s.client_secret_file.clone()),
    );
    files
}

/// `check` of an `entra_id` or `seat_list` source: its lines are written by
/// `appsource::check`; a warning fails an online check (the figures would be incomplete)
/// and passes an offline one.
async fn check_app_source(
    source: &SourceConfig,
    offline: bool,
    out: &mut dyn Write,
    failed: &mut Vec<CliError>,
) -> Result<(), CliError> {
    match crate::appsource::check(source, offline, out).await? {
        crate::appsource::CheckOutcome::Ok => {}
        crate::appsource::CheckOutcome::Warning if offline => {}
        crate::appsource::CheckOutcome::Warning => failed.push(CliError::Warning(format!(
            "source {}: the figures will be incomplete",
            source.name
        ))),
        crate::appsource::CheckOutcome::Failed(error) => failed.push(error.into()),
    }
    Ok(())
}

/// What the source's token may read: `Some(warning)` when it works with a limit a person
/// must know about.
async fn check_source(source: &SourceConfig) -> Result<Option<&'static str>, CollectError> {
    match source.kind {
        SourceKindConfig::Humaans => {
            let access = HumaansCollector::default().check_access(source).await?;
            Ok(access.warning())
        }
        // Checked by `check_app_source` before this is reached.
        SourceKindConfig::EntraId | SourceKindConfig::SeatList => Ok(None),
    }
}

/// Whether the platform answers, with the HTTP status it answered.
async fn check_platform(config: &Config) -> Result<u16, CliError> {
    let uplink = Uplink::with_timeouts(&config.platform, Timeouts::INTERACTIVE)?;
    let code = uplink.probe().await?;
    if code < 500 {
        Ok(code)
    } else {
        Err(CliError::PlatformFailing {
            url: config.platform.url.clone(),
            code,
        })
    }
}
