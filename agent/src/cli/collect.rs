//! `collect`: one collection of each source (or `--source`) into the spool, for the running
//! agent to upload; with `--dry-run`, one collection printed and nothing kept, dispatched to
//! the source kind's dry run.

use std::io::Write;

use crate::collector::HumaansCollector;
use crate::config::{Config, SourceConfig, SourceKindConfig};
use crate::dryrun::{self, DryRunArgs};
use crate::humaans;
use crate::paths::Paths;
use crate::service::{Service, ServiceOptions};

use super::error::CliError;
use super::{Cli, CollectArgs, load_config, open_state, stderr_logging};

/// `collect`: every failed source is reported as it fails; the others are still collected.
pub(super) async fn collect(
    cli: &Cli,
    paths: &Paths,
    args: &CollectArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let config = load_config(paths)?;
    let _log = stderr_logging(cli, Some(&config));
    let sources: Vec<SourceConfig> = match &args.source {
        Some(name) => vec![named_source(&config, name, paths)?.clone()],
        None => config.sources.clone(),
    };
    let store = open_state(paths)?;
    let service = Service::new(
        config,
        store,
        HumaansCollector::default(),
        ServiceOptions::default(),
    )?;
    let mut failed = Vec::new();
    for source in &sources {
        match service.collect_once(source).await {
            Ok(sequence) => writeln!(
                out,
                "Collected source {} into the spool as snapshot #{sequence}; the running agent uploads it once the source is approved.",
                source.name
            )?,
            Err(error) => {
                let error = CliError::from(error);
                error.report();
                failed.push(error);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Reported(failed))
    }
}

/// `collect --dry-run`. The configuration is optional: flags win, the configuration fills
/// the gaps, and without one the source is read as Humaans.
pub(super) async fn dry_run(
    cli: &Cli,
    paths: &Paths,
    args: &CollectArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let _log = stderr_logging(cli, None);
    let config = if args.token_file.is_some() {
        Config::load(&paths.config_file).ok()
    } else {
        let config = load_config(paths).map_err(|error| {
            error.hint(
                "without a configuration file, pass --token-file FILE (and --humaans-url URL)",
            )
        })?;
        Some(config)
    };
    let source = match (&config, &args.source) {
        (Some(config), Some(name)) => Some(named_source(config, name, paths)?),
        (Some(config), None) => config.sources.first(),
        (None, _) => None,
    };
    match source.map_or(SourceKindConfig::Humaans, |s| s.kind) {
        SourceKindConfig::Humaans => dry_run_humaans(args, source, out).await,
        SourceKindConfig::EntraId | SourceKindConfig::SeatList => {
            // `source` is an app source here: the default (no configuration) is Humaans.
            let source = source.ok_or(CliError::NoTokenFile)?;
            let run = crate::appsource::dry_run(source, args.as_of).await?;
            Ok(crate::appsource::write_dry_run(
                source, &run, args.json, out,
            )?)
        }
    }
}

/// `collect --dry-run` of a Humaans source (`source`, when the configuration has one).
async fn dry_run_humaans(
    args: &CollectArgs,
    source: Option<&SourceConfig>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let token_file = args
        .token_file
        .clone()
        .or(source.and_then(|s| s.token_file.clone()))
        .ok_or(CliError::NoTokenFile)?;
    let dry = DryRunArgs {
        humaans_url: args
            .humaans_url
            .clone()
            .or(source.map(|s| s.base_url.clone()))
            .unwrap_or_else(|| humaans::DEFAULT_BASE_URL.to_owned()),
        token_file,
        as_of: args.as_of,
        json: args.json,
        csv: args.csv.clone(),
        concurrency: args
            .concurrency
            .or(source.map(|s| s.concurrency))
            .unwrap_or(humaans::DEFAULT_CONCURRENCY),
        allow_insecure_http: args.allow_insecure_http,
    };
    Ok(dryrun::run(&dry, out).await?)
}

/// The source `--source NAME` names.
fn named_source<'a>(
    config: &'a Config,
    name: &str,
    paths: &Paths,
) -> Result<&'a SourceConfig, CliError> {
    config.source(name).ok_or_else(|| CliError::NoSuchSource {
        name: name.to_owned(),
        file: paths.config_file.clone(),
    })
}
