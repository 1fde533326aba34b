//! `status`: what the receipt says was installed, whether those files are still there, and
//! (on the real system) what the service manager says.

use std::fmt;
use std::path::Path;

use crate::error::InstallError;
use crate::layout::{LAUNCHD_LABEL, Layout, SYSTEMD_UNIT, WINDOWS_SERVICE};
use crate::plan::{Scope, TargetOs};
use crate::receipt::Receipt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub receipt: Receipt,
    /// Paths the receipt lists that are gone.
    pub missing: Vec<String>,
    /// The service manager's own words (`active`, `state = running`...), when asked.
    pub service_state: Option<String>,
    pub config_file: String,
    pub binary: String,
    /// The agent command that shows approval state and collections.
    pub agent_status_command: String,
}

pub(crate) fn read(layout: &Layout, root: Option<&Path>) -> Result<Status, InstallError> {
    let path = layout.receipt.on_host(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InstallError::NotInstalled {
                receipt: layout.receipt.to_string(),
            });
        }
        Err(e) => {
            return Err(InstallError::BadReceipt {
                path,
                why: e.to_string(),
            });
        }
    };
    let receipt = Receipt::from_json(&text).map_err(|e| InstallError::BadReceipt {
        path,
        why: e.to_string(),
    })?;
    let missing = receipt
        .entries
        .iter()
        .filter(|e| {
            !crate::plan::TargetPath::new(e.path.clone())
                .on_host(root)
                .exists()
        })
        .map(|e| e.path.clone())
        .collect();
    let service_state = if root.is_none() && layout.target == TargetOs::host() {
        query_service(layout)
    } else {
        None
    };
    Ok(Status {
        receipt,
        missing,
        service_state,
        config_file: layout.config_file.to_string(),
        binary: layout.binary.to_string(),
        agent_status_command: layout.agent_status_command(),
    })
}

fn query_service(layout: &Layout) -> Option<String> {
    let (program, args): (&str, Vec<String>) = match layout.target {
        TargetOs::Linux => {
            let mut args = vec!["is-active".to_owned(), SYSTEMD_UNIT.to_owned()];
            if layout.scope == Scope::User {
                args.insert(0, "--user".to_owned());
            }
            ("systemctl", args)
        }
        TargetOs::Macos => (
            "launchctl",
            vec![
                "print".to_owned(),
                format!("{}/{LAUNCHD_LABEL}", crate::macos::domain(layout)),
            ],
        ),
        TargetOs::Windows => (
            "sc.exe",
            vec!["query".to_owned(), WINDOWS_SERVICE.to_owned()],
        ),
    };
    let out = std::process::Command::new(program)
        .args(&args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let state = match layout.target {
        TargetOs::Linux => text.trim().to_owned(),
        TargetOs::Macos | TargetOs::Windows => text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("state") || l.starts_with("STATE"))
            .unwrap_or(if out.status.success() {
                "loaded"
            } else {
                "not loaded"
            })
            .to_owned(),
    };
    Some(state)
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.receipt;
        writeln!(
            f,
            "installed: seatbroker-install {} ({}, {:?} service)",
            r.installer_version, r.target, r.scope
        )?;
        writeln!(f, "service:   {}", r.service)?;
        writeln!(f, "binary:    {}", r.binary)?;
        writeln!(f, "config:    {}", r.config)?;
        if let Some(state) = &self.service_state {
            writeln!(f, "state:     {state}")?;
        }
        if self.missing.is_empty() {
            writeln!(f, "files:     all {} present", r.entries.len())?;
        } else {
            writeln!(
                f,
                "files:     {} missing: {} (run `seatbroker-install install` again to repair)",
                self.missing.len(),
                self.missing.join(", ")
            )?;
        }
        writeln!(
            f,
            "approval and collections: `{}`",
            self.agent_status_command
        )
    }
}
