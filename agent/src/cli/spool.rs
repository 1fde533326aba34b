//! `spool list` and `spool purge`. Neither needs a valid configuration: without one the
//! spool's default size limit applies.

use std::io::Write;

use crate::config::Config;
use crate::paths::Paths;
use crate::spool::Spool;
use crate::state;

use super::error::CliError;
use super::{Cli, SpoolCommand, human_bytes, stderr_logging};

pub(super) fn spool(
    cli: &Cli,
    paths: &Paths,
    command: &SpoolCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let config = Config::load(&paths.config_file).ok();
    let _log = stderr_logging(cli, config.as_ref());
    let max_bytes = config.map(|c| c.spool).unwrap_or_default().max_bytes.0;
    let spool = Spool::open(&state::spool_dir(&paths.state_dir), max_bytes)?;
    match command {
        SpoolCommand::List => list(&spool, out),
        SpoolCommand::Purge { source } => {
            let count = spool.purge(source)?;
            writeln!(
                out,
                "Deleted {count} spooled snapshot(s) of source {source}; they will not be uploaded."
            )?;
            Ok(())
        }
    }
}

fn list(spool: &Spool, out: &mut dyn Write) -> Result<(), CliError> {
    let entries = spool.entries()?;
    if entries.is_empty() {
        writeln!(
            out,
            "The spool is empty: every snapshot has been uploaded (or none was collected yet)."
        )?;
    } else {
        writeln!(
            out,
            "{:<20} {:>8}  {:<32}  {:<20}  {:>10}",
            "SOURCE", "SEQUENCE", "SNAPSHOT", "COLLECTED (UTC)", "SIZE"
        )?;
        for e in &entries {
            writeln!(
                out,
                "{:<20} {:>8}  {:<32}  {:<20}  {:>10}",
                e.source,
                e.sequence,
                e.snapshot_id,
                e.collected_at.format("%Y-%m-%d %H:%M:%S"),
                human_bytes(e.bytes)
            )?;
        }
        let total: u64 = entries.iter().map(|e| e.bytes).sum();
        writeln!(
            out,
            "{} snapshot(s), {} of {} allowed.",
            entries.len(),
            human_bytes(total),
            human_bytes(spool.max_bytes())
        )?;
    }
    let quarantined = spool.quarantined().unwrap_or_default();
    if !quarantined.is_empty() {
        writeln!(
            out,
            "{} file(s) set aside in {}.",
            quarantined.len(),
            spool.quarantine_dir().display()
        )?;
    }
    Ok(())
}
