//! Linux: a systemd unit (system: DynamicUser and a strict sandbox; `--user`: a user unit).

mod unit;

pub use unit::systemd_unit;

use crate::layout::{ENROLLMENT_TOKEN, Layout, SYSTEMD_UNIT};
use crate::plan::{Action, Command, Contents, InstallPlan, OnFailure, Scope};
use crate::request::{self, Facts, InstallRequest, PlanError};

fn systemctl(layout: &Layout, args: &[&str]) -> Command {
    let mut all: Vec<&str> = Vec::new();
    if layout.scope == Scope::User {
        all.push("--user");
    }
    all.extend_from_slice(args);
    Command::new("systemctl", &all)
}

fn run(command: Command, why: &str, on_failure: OnFailure, hint: &str) -> Action {
    Action::Run {
        command,
        why: why.to_owned(),
        on_failure,
        hint: hint.to_owned(),
    }
}

/// The one-off enrollment: the agent's `enroll` with the service's identity, folders and
/// credentials, so the files it writes belong to the service.
pub(crate) fn enroll_command(layout: &Layout, credentials: &[&str]) -> Command {
    let config = layout.config_file.to_string();
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
            args.extend([binary, "enroll".to_owned(), "--config".to_owned(), config]);
            Command {
                program: "systemd-run".to_owned(),
                args,
                env: Vec::new(),
            }
        }
        Scope::User => Command {
            program: binary,
            args: vec!["enroll".to_owned(), "--config".to_owned(), config],
            env: vec![
                ("STATE_DIRECTORY".to_owned(), layout.state_dir.to_string()),
                ("LOGS_DIRECTORY".to_owned(), layout.logs_dir.to_string()),
                (
                    "CONFIGURATION_DIRECTORY".to_owned(),
                    layout.config_dir.to_string(),
                ),
                (
                    "CREDENTIALS_DIRECTORY".to_owned(),
                    layout.credentials_dir.to_string(),
                ),
            ],
        },
    }
}

pub(crate) fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<InstallPlan, PlanError> {
    let (mut actions, mut notes) = request::common_files(req, layout, facts)?;
    actions.extend(request::credential_files(req, layout));
    notes.extend(request::kept_credential_notes(req, layout, facts));
    let credentials = request::credentials_after(req, facts);
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
    actions.push(run(
        systemctl(layout, &["daemon-reload"]),
        "load the new unit",
        OnFailure::Abort,
        "is systemd running? on a host without systemd, install with --root DIR and register \
         the unit by hand",
    ));
    if req.enrollment_token.is_some() {
        actions.push(run(
            enroll_command(layout, &credentials),
            "enroll with the platform",
            OnFailure::Abort,
            &format!(
                "check the enrollment token ({}) and the platform URL in {}, then run \
                 `seatbroker-install install` again (config and tokens are kept)",
                layout.credential(ENROLLMENT_TOKEN),
                layout.config_file
            ),
        ));
    } else if !facts.installed {
        notes.push(
            "not enrolled: pass --enrollment-token-file FILE, or run `seatbroker-agent enroll` \
             later"
                .to_owned(),
        );
    }
    actions.push(run(
        systemctl(layout, &["enable", SYSTEMD_UNIT]),
        "start at boot",
        OnFailure::Abort,
        &status_hint,
    ));
    if req.start {
        actions.push(run(
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
    Ok(InstallPlan {
        target: layout.target,
        scope: layout.scope,
        actions,
        notes,
    })
}

pub(crate) fn plan_uninstall(layout: &Layout) -> InstallPlan {
    let unit_path = layout
        .service_file
        .clone()
        .expect("systemd layouts have a unit file");
    let actions = vec![
        run(
            systemctl(layout, &["disable", "--now", SYSTEMD_UNIT]),
            "stop the service and remove it from boot",
            OnFailure::Continue,
            "",
        ),
        Action::RemoveFile { path: unit_path },
        run(
            systemctl(layout, &["daemon-reload"]),
            "forget the unit",
            OnFailure::Continue,
            "",
        ),
        run(
            systemctl(layout, &["reset-failed", SYSTEMD_UNIT]),
            "clear a failed state",
            OnFailure::Continue,
            "",
        ),
    ];
    InstallPlan {
        target: layout.target,
        scope: layout.scope,
        actions,
        notes: Vec::new(),
    }
}
