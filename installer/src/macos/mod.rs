//! macOS: a LaunchDaemon (system) or LaunchAgent (`--user`) plist, a hidden `_seatbroker`
//! service account created with `dscl`, loaded with `launchctl bootstrap`.

mod plist;

pub(crate) use plist::Plist;

use crate::layout::{LAUNCHD_LABEL, Layout, MACOS_USER};
use crate::plan::{Action, Command, Contents, OnFailure, Scope};
use crate::request::{Facts, InstallRequest, PlanError};
use crate::steps;

/// The id given to `_seatbroker` when the host did not report a free one (only for plans
/// made off macOS, e.g. under `--root` on Linux).
pub(crate) const DEFAULT_SERVICE_ID: u32 = 293;

/// The launchd job for `layout`.
pub fn launchd_plist(layout: &Layout) -> String {
    let mut dict = vec![
        ("Label".to_owned(), Plist::string(LAUNCHD_LABEL)),
        (
            "ProgramArguments".to_owned(),
            Plist::Array(vec![
                Plist::string(layout.binary.to_string()),
                Plist::string("run"),
                Plist::string("--config"),
                Plist::string(layout.config_file.to_string()),
            ]),
        ),
    ];
    if layout.scope == Scope::System {
        dict.push(("UserName".to_owned(), Plist::string(MACOS_USER)));
        dict.push(("GroupName".to_owned(), Plist::string(MACOS_USER)));
    }
    dict.extend([
        ("RunAtLoad".to_owned(), Plist::Bool(true)),
        (
            "KeepAlive".to_owned(),
            Plist::Dict(vec![("SuccessfulExit".to_owned(), Plist::Bool(false))]),
        ),
        ("ThrottleInterval".to_owned(), Plist::Integer(10)),
        ("ExitTimeOut".to_owned(), Plist::Integer(30)),
        ("ProcessType".to_owned(), Plist::string("Background")),
        ("Umask".to_owned(), Plist::Integer(0o077)),
        (
            "StandardOutPath".to_owned(),
            Plist::string(layout.logs_dir.join("agent.out.log").to_string()),
        ),
        (
            "StandardErrorPath".to_owned(),
            Plist::string(layout.logs_dir.join("agent.err.log").to_string()),
        ),
        (
            "EnvironmentVariables".to_owned(),
            Plist::Dict(
                layout
                    .service_environment()
                    .into_iter()
                    .map(|(k, v)| (k, Plist::String(v)))
                    .collect(),
            ),
        ),
    ]);
    Plist::Dict(dict).to_document()
}

fn dscl(args: &[&str]) -> Command {
    let mut all = vec!["."];
    all.extend_from_slice(args);
    Command::new("dscl", &all)
}

/// The `dscl` commands creating the hidden `_seatbroker` group and user with id `id`.
pub(crate) fn create_user_commands(id: u32) -> Vec<Command> {
    let id = id.to_string();
    let group = format!("/Groups/{MACOS_USER}");
    let user = format!("/Users/{MACOS_USER}");
    vec![
        dscl(&["-create", &group]),
        dscl(&["-create", &group, "PrimaryGroupID", &id]),
        dscl(&["-create", &group, "RealName", "Seatbroker agent"]),
        dscl(&["-create", &group, "Password", "*"]),
        dscl(&["-create", &user]),
        dscl(&["-create", &user, "UniqueID", &id]),
        dscl(&["-create", &user, "PrimaryGroupID", &id]),
        dscl(&["-create", &user, "RealName", "Seatbroker agent"]),
        dscl(&["-create", &user, "UserShell", "/usr/bin/false"]),
        dscl(&["-create", &user, "NFSHomeDirectory", "/var/empty"]),
        dscl(&["-create", &user, "Password", "*"]),
        dscl(&["-create", &user, "IsHidden", "1"]),
        dscl(&["-append", &group, "GroupMembership", MACOS_USER]),
    ]
}

/// `system` for the daemon, `gui/<uid>` for a per-user agent.
pub(crate) fn domain(layout: &Layout) -> String {
    match (layout.scope, layout.uid) {
        (Scope::User, Some(uid)) => format!("gui/{uid}"),
        _ => "system".to_owned(),
    }
}

pub(crate) fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<(Vec<Action>, Vec<String>), PlanError> {
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let system = layout.scope == Scope::System;
    if system && !facts.service_user_exists {
        let id = facts.free_service_id.unwrap_or(DEFAULT_SERVICE_ID);
        for command in create_user_commands(id) {
            actions.push(Action::run(
                command,
                "create the hidden service account _seatbroker",
                OnFailure::Abort,
                "check `dscl . -list /Users UniqueID` for a clash, remove a half-made \
                 _seatbroker with `dscl . -delete /Users/_seatbroker`, and run the install again",
            ));
        }
    }
    let (files, more_notes) = steps::common_files(req, layout, facts)?;
    actions.extend(files);
    notes.extend(more_notes);
    actions.extend(steps::credential_files(req, layout));
    notes.extend(steps::kept_credential_notes(req, layout, facts));
    for dir in [&layout.state_dir, &layout.logs_dir] {
        actions.push(Action::CreateDir {
            path: dir.clone(),
            mode: Some(0o700),
            owner: layout.service_owner.clone(),
        });
    }
    let plist_path = layout
        .service_file
        .clone()
        .expect("launchd layouts have a plist");
    if let Some(parent) = plist_path.parent().filter(|_| !system) {
        actions.push(Action::CreateDir {
            path: parent,
            mode: Some(0o755),
            owner: layout.admin_owner.clone(),
        });
    }
    actions.push(Action::WriteFile {
        path: plist_path.clone(),
        mode: Some(0o644),
        owner: layout.admin_owner.clone(),
        contents: Contents::text(launchd_plist(layout), "launchd plist"),
    });
    let domain = domain(layout);
    let service = format!("{domain}/{LAUNCHD_LABEL}");
    if facts.installed {
        actions.push(Action::run(
            Command::new("launchctl", &["bootout", &service]),
            "unload the running version",
            OnFailure::Continue,
            "",
        ));
    }
    steps::enrollment(
        req,
        layout,
        facts,
        "enroll with the platform as the service account",
        || {
            // sudo resets the environment; `env` sets the folders for the agent after it.
            let (program, mut args): (&str, Vec<String>) = if system {
                (
                    "/usr/bin/sudo",
                    vec![
                        "-u".to_owned(),
                        MACOS_USER.to_owned(),
                        "/usr/bin/env".to_owned(),
                    ],
                )
            } else {
                ("/usr/bin/env", Vec::new())
            };
            args.extend(
                layout
                    .service_environment()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}")),
            );
            args.push(layout.binary.to_string());
            args.extend(steps::enroll_args(layout));
            Command {
                program: program.to_owned(),
                args,
                env: Vec::new(),
            }
        },
        &mut actions,
        &mut notes,
    );
    if req.start {
        let hint = format!(
            "see `launchctl print {service}` and the logs in {}; `plutil -lint {plist_path}` \
             checks the plist",
            layout.logs_dir
        );
        actions.push(Action::run(
            Command::new("launchctl", &["enable", &service]),
            "allow the job to load",
            OnFailure::Abort,
            &hint,
        ));
        actions.push(Action::run(
            Command::new("launchctl", &["bootstrap", &domain, plist_path.as_str()]),
            "load and start the job",
            OnFailure::Abort,
            &hint,
        ));
    } else {
        notes.push(format!(
            "not started: load it with `sudo launchctl bootstrap {domain} {plist_path}`"
        ));
    }
    Ok((actions, notes))
}

pub(crate) fn plan_uninstall(layout: &Layout, purge: bool) -> Vec<Action> {
    let plist_path = layout
        .service_file
        .clone()
        .expect("launchd layouts have a plist");
    let mut actions = vec![
        Action::run(
            Command::new(
                "launchctl",
                &["bootout", &format!("{}/{LAUNCHD_LABEL}", domain(layout))],
            ),
            "stop and unload the job",
            OnFailure::Continue,
            "",
        ),
        Action::RemoveFile { path: plist_path },
    ];
    if purge && layout.scope == Scope::System {
        for (path, why) in [
            (format!("/Users/{MACOS_USER}"), "delete the service account"),
            (format!("/Groups/{MACOS_USER}"), "delete the service group"),
        ] {
            actions.push(Action::run(
                dscl(&["-delete", &path]),
                why,
                OnFailure::Continue,
                "",
            ));
        }
    }
    actions
}
