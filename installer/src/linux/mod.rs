//! Linux: a systemd unit (system: DynamicUser and a strict sandbox; `--user`: a user unit).

mod package;
mod unit;

pub use package::{package_files, package_layout};
pub use unit::systemd_unit;

use crate::layout::{Layout, SYSTEMD_UNIT};
use crate::plan::{Action, Command, Contents, OnFailure, Scope};
use crate::request::{Facts, InstallRequest, PlanError};
use crate::steps;

fn systemctl(layout: &Layout, args: &[&str]) -> Command {
    let mut all: Vec<&str> = Vec::new();
    if layout.scope == Scope::User {
        all.push("--user");
    }
    all.extend_from_slice(args);
    Command::new("systemctl", &all)
}

/// The one-off enrollment: the agent's `enroll` with the service's identity, folders and
/// credentials, so the files it writes belong to the service.
pub(crate) fn enroll_command(layout: &Layout, credentials: &[&str]) -> Command {
    let binary = layout.binary.to_string();
    match layout.scope {
        Scope::System => {
            let mut args: Vec<String> = [
                "--wait",
                "--pipe",
                "--collect",
                "--quiet",
                "--service-type=exec",
                "--unit=seatbroker-agent-enroll",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect();
            for prop in unit::sandbox_properties(layout, credentials) {
                args.push(format!("--property={prop}"));
            }
            args.push(binary);
            args.extend(steps::enroll_args(layout));
            Command {
                program: "systemd-run".to_owned(),
                args,
                env: Vec::new(),
            }
        }
        Scope::User => Command {
            program: binary,
            args: steps::enroll_args(layout),
            env: layout.service_environment(),
        },
    }
}

pub(crate) fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<(Vec<Action>, Vec<String>), PlanError> {
    let (mut actions, mut notes) = steps::common_files(req, layout, facts)?;
    actions.extend(steps::credential_files(req, layout));
    notes.extend(steps::kept_credential_notes(req, layout, facts));
    let credentials = steps::credentials_after(req, facts);
    let unit_path = layout
        .service_file
        .clone()
        .expect("systemd layouts have a unit file");
    if let Some(parent) = unit_path.parent().filter(|_| layout.scope == Scope::User) {
        actions.push(Action::CreateDir {
            path: parent,
            mode: Some(0o755),
            owner: layout.admin_owner.clone(),
        });
    }
    if layout.scope == Scope::User {
        for dir in [&layout.state_dir, &layout.logs_dir] {
            actions.push(Action::CreateDir {
                path: dir.clone(),
                mode: Some(0o700),
                owner: layout.admin_owner.clone(),
            });
        }
    }
    actions.push(Action::WriteFile {
        path: unit_path,
        mode: Some(0o644),
        owner: layout.admin_owner.clone(),
        contents: Contents::text(systemd_unit(layout, &credentials), "systemd unit"),
    });
    let status_hint = format!(
        "see `{}` and `journalctl{} -u seatbroker-agent`",
        systemctl(layout, &["status", "seatbroker-agent"]).display(),
        if layout.scope == Scope::User {
            " --user"
        } else {
            ""
        }
    );
    actions.push(Action::run(
        systemctl(layout, &["daemon-reload"]),
        "load the new unit",
        OnFailure::Abort,
        "is systemd running? on a host without systemd, install with --root DIR and register \
         the unit by hand",
    ));
    steps::enrollment(
        req,
        layout,
        facts,
        "enroll with the platform",
        || enroll_command(layout, &credentials),
        &mut actions,
        &mut notes,
    );
    actions.push(Action::run(
        systemctl(layout, &["enable", SYSTEMD_UNIT]),
        "start at boot",
        OnFailure::Abort,
        &status_hint,
    ));
    if req.start {
        actions.push(Action::run(
            systemctl(layout, &["restart", SYSTEMD_UNIT]),
            if facts.installed {
                "restart with the new binary"
            } else {
                "start now"
            },
            OnFailure::Abort,
            &status_hint,
        ));
    }
    Ok((actions, notes))
}

pub(crate) fn plan_uninstall(layout: &Layout) -> Vec<Action> {
    let unit_path = layout
        .service_file
        .clone()
        .expect("systemd layouts have a unit file");
    vec![
        Action::run(
            systemctl(layout, &["disable", "--now", SYSTEMD_UNIT]),
            "stop the service and remove it from boot",
            OnFailure::Continue,
            "",
        ),
        Action::RemoveFile { path: unit_path },
        Action::run(
            systemctl(layout, &["daemon-reload"]),
            "forget the unit",
            OnFailure::Continue,
            "",
        ),
        Action::run(
            systemctl(layout, &["reset-failed", SYSTEMD_UNIT]),
            "clear a failed state",
            OnFailure::Continue,
            "",
        ),
    ]
}
