//! `enroll`: enroll with the platform using the configured enrollment token.

use std::io::Write;

use crate::collector::HumaansCollector;
use crate::paths::Paths;
use crate::service;
use crate::uplink::Uplink;

use super::error::CliError;
use super::{Cli, load_config, open_state, stderr_logging};

pub(super) async fn enroll(cli: &Cli, paths: &Paths, out: &mut dyn Write) -> Result<(), CliError> {
    let config = load_config(paths)?;
    let _log = stderr_logging(cli, Some(&config));
    let store = open_state(paths)?;
    let uplink = Uplink::new(&config.platform)?;
    let previous = store.load().unwrap_or_default();
    let response = service::enroll(&config, &store, &uplink, &HumaansCollector::default()).await?;
    writeln!(
        out,
        "Enrolled with {} as agent {}.",
        uplink.base_url(),
        response.agent_id
    )?;
    if let Some(previous) = &previous.agent_id {
        writeln!(
            out,
            "This replaces the earlier enrollment (agent {previous}); spooled snapshots are kept and will be uploaded once the new agent is approved."
        )?;
    }
    writeln!(
        out,
        "Next: an administrator approves the agent and each source in the console (Pending approvals). Until then the agent collects and keeps the snapshots."
    )?;
    for source in &response.sources {
        writeln!(out, "  source {}: {}", source.local_name, source.state)?;
    }
    Ok(())
}
