//! Windows: a service in the Service Control Manager under the virtual account
//! `NT SERVICE\SeatbrokerAgent`, created with `sc.exe`, folders locked down with `icacls`.
//! Everything here is data (commands as argument lists), generated and tested on every OS;
//! the executor only runs it on Windows.

use crate::layout::{Layout, WINDOWS_SERVICE};
use crate::plan::{Action, Command, OnFailure};
use crate::request::{Facts, InstallRequest, PlanError};
use crate::steps;

/// The service's virtual account.
pub(crate) const SERVICE_ACCOUNT: &str = r"NT SERVICE\SeatbrokerAgent";
/// Well-known SIDs (names are localised; SIDs are not).
const SYSTEM_SID: &str = "*S-1-5-18";
const ADMINISTRATORS_SID: &str = "*S-1-5-32-544";

/// The service's command line as the SCM stores it (`binPath=`): paths quoted, because
/// `C:\Program Files` has a space (an unquoted path with spaces is a privilege-escalation
/// hole).
pub fn service_command_line(layout: &Layout) -> String {
    format!(
        "\"{}\" run --config \"{}\"",
        layout.binary, layout.config_file
    )
}

/// `sc.exe create` (fresh install) or `sc.exe config` (upgrade) with the full service spec.
pub fn sc_create(layout: &Layout, upgrade: bool) -> Command {
    let bin_path = service_command_line(layout);
    Command::new(
        "sc.exe",
        &[
            if upgrade { "config" } else { "create" },
            WINDOWS_SERVICE,
            "binPath=",
            &bin_path,
            "start=",
            "delayed-auto",
            "obj=",
            SERVICE_ACCOUNT,
            "DisplayName=",
            "Seatbroker agent",
        ],
    )
}

/// Restart after 5 s, 10 s, then 60 s; the failure count resets after a day.
pub fn sc_failure() -> Command {
    Command::new(
        "sc.exe",
        &[
            "failure",
            WINDOWS_SERVICE,
            "reset=",
            "86400",
            "actions=",
            "restart/5000/restart/10000/restart/60000",
        ],
    )
}

/// The remaining service settings, in order.
pub(crate) fn sc_settings() -> Vec<(Command, &'static str)> {
    vec![
        (
            Command::new(
                "sc.exe",
                &[
                    "description",
                    WINDOWS_SERVICE,
                    "Seatbroker agent: reads Humaans, works out seat usage and uploads it to the Seatbroker platform.",
                ],
            ),
            "describe the service",
        ),
        (
            sc_failure(),
            "restart on failure: 5 s, 10 s, 60 s; reset after a day",
        ),
        (
            Command::new("sc.exe", &["failureflag", WINDOWS_SERVICE, "1"]),
            "apply the restart actions when the agent exits with an error, not only on a crash",
        ),
        (
            Command::new("sc.exe", &["sidtype", WINDOWS_SERVICE, "unrestricted"]),
            "give the service its own SID (needed by the virtual account)",
        ),
    ]
}

/// The folder environment as a `REG_MULTI_SZ` value in the service's registry key, so the
/// agent finds its folders the same way as under systemd. The separator is `|` (`/s |`),
/// which no Windows path can contain, unlike reg.exe's default `\0`.
pub fn environment_command(layout: &Layout) -> Command {
    let value = layout
        .service_environment()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("|");
    let key = format!(r"HKLM\SYSTEM\CurrentControlSet\Services\{WINDOWS_SERVICE}");
    Command::new(
        "reg.exe",
        &[
            "add",
            &key,
            "/v",
            "Environment",
            "/t",
            "REG_MULTI_SZ",
            "/s",
            "|",
            "/d",
            &value,
            "/f",
        ],
    )
}

/// `icacls` commands: inheritance cut, then SYSTEM and Administrators full control and the
/// service account only what it needs (read config and secrets, modify state and logs).
pub fn acl_commands(layout: &Layout) -> Vec<(Command, String)> {
    let service = |rights: &str| format!("{SERVICE_ACCOUNT}:(OI)(CI){rights}");
    let admins = [
        format!("{SYSTEM_SID}:(OI)(CI)F"),
        format!("{ADMINISTRATORS_SID}:(OI)(CI)F"),
    ];
    let mut out = Vec::new();
    for (dir, rights, what) in [
        (
            &layout.config_dir,
            "RX",
            "the config folder: the service reads",
        ),
        (
            &layout.credentials_dir,
            "R",
            "the secrets folder: only the service and admins read",
        ),
        (
            &layout.state_dir,
            "M",
            "the state folder: the service writes",
        ),
        (&layout.logs_dir, "M", "the logs folder: the service writes"),
    ] {
        let mut args = vec![
            dir.to_string(),
            "/inheritance:r".to_owned(),
            "/grant:r".to_owned(),
        ];
        args.extend(admins.iter().cloned());
        args.push(service(rights));
        out.push((
            Command {
                program: "icacls".to_owned(),
                args,
                env: Vec::new(),
            },
            format!("lock down {what}"),
        ));
    }
    out
}

pub(crate) fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<(Vec<Action>, Vec<String>), PlanError> {
    let hint_sc = "run from an elevated prompt; `sc.exe query SeatbrokerAgent` shows the service";
    let mut actions = Vec::new();
    if facts.installed {
        // A running .exe cannot be replaced on Windows.
        actions.push(Action::run(
            Command::new("sc.exe", &["stop", WINDOWS_SERVICE]),
            "stop the running version",
            OnFailure::Continue,
            "",
        ));
    }
    let (files, mut notes) = steps::common_files(req, layout, facts)?;
    // Folders and the binary first; the config and secrets are written after the ACLs so
    // they inherit the locked-down permissions from the start.
    let (dirs_and_binary, config_writes): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|a| !matches!(a, Action::WriteFile { .. }));
    actions.extend(dirs_and_binary);
    let credentials = steps::credential_files(req, layout);
    let (cred_dir, cred_writes): (Vec<_>, Vec<_>) = credentials
        .into_iter()
        .partition(|a| matches!(a, Action::CreateDir { .. }));
    actions.extend(cred_dir);
    for dir in [&layout.state_dir, &layout.logs_dir] {
        actions.push(Action::CreateDir {
            path: dir.clone(),
            mode: None,
            owner: layout.admin_owner.clone(),
        });
    }
    actions.push(Action::run(
        sc_create(layout, facts.installed),
        "register the service",
        OnFailure::Abort,
        hint_sc,
    ));
    for (command, why) in sc_settings() {
        actions.push(Action::run(command, why, OnFailure::Abort, hint_sc));
    }
    for (command, why) in acl_commands(layout) {
        actions.push(Action::run(
            command,
            &why,
            OnFailure::Abort,
            "run from an elevated prompt",
        ));
    }
    actions.extend(config_writes);
    actions.extend(cred_writes);
    notes.extend(steps::kept_credential_notes(req, layout, facts));
    actions.push(Action::run(
        environment_command(layout),
        "tell the agent where its folders are",
        OnFailure::Abort,
        hint_sc,
    ));
    steps::enrollment(
        req,
        layout,
        facts,
        "enroll with the platform",
        || Command {
            program: layout.binary.to_string(),
            args: steps::enroll_args(layout),
            env: layout.service_environment(),
        },
        &mut actions,
        &mut notes,
    );
    if req.start {
        actions.push(Action::run(
            Command::new("sc.exe", &["start", WINDOWS_SERVICE]),
            "start now",
            OnFailure::Abort,
            "see `sc.exe query SeatbrokerAgent` and the logs in %ProgramData%\\Seatbroker\\logs",
        ));
    }
    Ok((actions, notes))
}

pub(crate) fn plan_uninstall() -> Vec<Action> {
    vec![
        Action::run(
            Command::new("sc.exe", &["stop", WINDOWS_SERVICE]),
            "stop the service",
            OnFailure::Continue,
            "",
        ),
        Action::run(
            Command::new("sc.exe", &["delete", WINDOWS_SERVICE]),
            "remove the service",
            OnFailure::Continue,
            "",
        ),
    ]
}
