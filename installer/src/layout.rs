//! Where everything goes, per target OS and scope. The single source of truth for paths:
//! plans, the service files and the receipt all take their paths from a [`Layout`].

use crate::plan::{Owner, Scope, TargetOs, TargetPath};

/// Name of the systemd unit.
pub(crate) const SYSTEMD_UNIT: &str = "seatbroker-agent.service";
/// launchd label of the daemon (and of the per-user agent).
pub(crate) const LAUNCHD_LABEL: &str = "io.seatbroker.agent";
/// Windows service name; its virtual account is `NT SERVICE\SeatbrokerAgent`.
pub(crate) const WINDOWS_SERVICE: &str = "SeatbrokerAgent";
/// macOS service account (and its group).
pub(crate) const MACOS_USER: &str = "_seatbroker";
/// Credential (file) name of the first source's Humaans token.
pub(crate) const HUMAANS_TOKEN: &str = "humaans-token";
/// Credential (file) name of the enrollment token.
pub(crate) const ENROLLMENT_TOKEN: &str = "enrollment-token";

/// What the layout needs from the environment: the user for `--user`, and the Windows
/// folders (`%ProgramData%`, `%ProgramFiles%`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEnv {
    /// Name, numeric id and home directory of the user a `--user` install is for.
    pub user: Option<UserIdentity>,
    pub program_data: String,
    pub program_files: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    pub name: String,
    pub uid: u32,
    pub home: String,
}

impl Default for LayoutEnv {
    fn default() -> Self {
        Self {
            user: None,
            program_data: r"C:\ProgramData".to_owned(),
            program_files: r"C:\Program Files".to_owned(),
        }
    }
}

impl LayoutEnv {
    /// Reads `%ProgramData%`/`%ProgramFiles%` (falling back to the defaults) and the current
    /// user (`$USER`/`$HOME`, uid from `id -u`) for `--user`.
    pub fn from_process(user: Option<UserIdentity>) -> Self {
        let mut env = Self {
            user,
            ..Self::default()
        };
        if let Ok(v) = std::env::var("ProgramData") {
            env.program_data = v;
        }
        if let Ok(v) = std::env::var("ProgramFiles") {
            env.program_files = v;
        }
        env
    }
}

/// Every path an install creates, and who owns what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub target: TargetOs,
    pub scope: Scope,
    /// The installed agent binary.
    pub binary: TargetPath,
    /// Folder holding the config file (root-owned; the service only reads it).
    pub config_dir: TargetPath,
    pub config_file: TargetPath,
    /// Folder holding the token files (`humaans-token`, `enrollment-token`).
    pub credentials_dir: TargetPath,
    /// The agent's state (identity, agent credential, spool).
    pub state_dir: TargetPath,
    pub logs_dir: TargetPath,
    /// The systemd unit or launchd plist; `None` on Windows (the service lives in the SCM).
    pub service_file: Option<TargetPath>,
    /// JSON record of what the installer wrote, read by `status`.
    pub receipt: TargetPath,
    /// Extra folders `--purge` removes (systemd's `private/` twins of DynamicUser dirs).
    pub purge_extra: Vec<TargetPath>,
    /// The user's numeric id for a `--user` install (launchd's `gui/<uid>` domain).
    pub uid: Option<u32>,
    /// Owner of the files only the administrator may change.
    pub admin_owner: Owner,
    /// Owner of what the service itself writes (macOS/Windows; systemd manages its own).
    pub service_owner: Owner,
}

/// Why no layout exists for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "per-user services are not supported on Windows: run `seatbroker-install install` from \
         an elevated (Administrator) prompt without --user"
    )]
    NoUserScopeOnWindows,
    #[error(
        "--user needs to know the current user: set $HOME and $USER (or run without --user as \
         root for a system service)"
    )]
    UnknownUser,
}

impl Layout {
    /// The environment the agent finds its folders in: the variables systemd sets, which
    /// macOS (plist, `env`) and Windows (the service's registry key) set too, so the agent
    /// has one way to find them on every OS.
    pub(crate) fn service_environment(&self) -> Vec<(String, String)> {
        vec![
            ("STATE_DIRECTORY".to_owned(), self.state_dir.to_string()),
            ("LOGS_DIRECTORY".to_owned(), self.logs_dir.to_string()),
            (
                "CONFIGURATION_DIRECTORY".to_owned(),
                self.config_dir.to_string(),
            ),
            (
                "CREDENTIALS_DIRECTORY".to_owned(),
                self.credentials_dir.to_string(),
            ),
        ]
    }

    /// The command that shows the installed agent's approval state and collections. It names
    /// the state and log folders, because run by hand (outside the service manager) the agent
    /// would otherwise look in the invoking user's folders.
    pub(crate) fn agent_status_command(&self) -> String {
        format!(
            "{} status --config {} --state-dir {} --log-dir {}",
            self.binary, self.config_file, self.state_dir, self.logs_dir
        )
    }

    pub fn new(target: TargetOs, scope: Scope, env: &LayoutEnv) -> Result<Self, LayoutError> {
        let p = TargetPath::new;
        match (target, scope) {
            (TargetOs::Linux, Scope::System) => Ok(Self {
                target,
                scope,
                binary: p("/usr/local/bin/seatbroker-agent"),
                config_dir: p("/etc/seatbroker"),
                config_file: p("/etc/seatbroker/config.yaml"),
                credentials_dir: p("/etc/seatbroker/credentials"),
                state_dir: p("/var/lib/seatbroker"),
                logs_dir: p("/var/log/seatbroker"),
                service_file: Some(p("/etc/systemd/system/seatbroker-agent.service")),
                receipt: p("/etc/seatbroker/install-receipt.json"),
                purge_extra: vec![
                    p("/var/lib/private/seatbroker"),
                    p("/var/log/private/seatbroker"),
                ],
                uid: None,
                admin_owner: Owner::new("root", "root"),
                // DynamicUser: systemd creates and owns the state and logs folders.
                service_owner: Owner::new("root", "root"),
            }),
            (TargetOs::Linux, Scope::User) => {
                let user = env.user.as_ref().ok_or(LayoutError::UnknownUser)?;
                let home = TargetPath::new(user.home.clone());
                let owner = Owner::new(&user.name, &user.name);
                Ok(Self {
                    target,
                    scope,
                    binary: home.join(".local/bin/seatbroker-agent"),
                    config_dir: home.join(".config/seatbroker"),
                    config_file: home.join(".config/seatbroker/config.yaml"),
                    credentials_dir: home.join(".config/seatbroker/credentials"),
                    state_dir: home.join(".local/state/seatbroker"),
                    logs_dir: home.join(".local/state/log/seatbroker"),
                    service_file: Some(home.join(".config/systemd/user/seatbroker-agent.service")),
                    receipt: home.join(".config/seatbroker/install-receipt.json"),
                    purge_extra: Vec::new(),
                    uid: Some(user.uid),
                    admin_owner: owner.clone(),
                    service_owner: owner,
                })
            }
            (TargetOs::Macos, Scope::System) => {
                let base = p("/Library/Application Support/Seatbroker");
                Ok(Self {
                    target,
                    scope,
                    binary: p("/usr/local/bin/seatbroker-agent"),
                    config_dir: base.clone(),
                    config_file: base.join("config.yaml"),
                    credentials_dir: base.join("secrets"),
                    state_dir: base.join("state"),
                    logs_dir: p("/Library/Logs/Seatbroker"),
                    service_file: Some(p("/Library/LaunchDaemons/io.seatbroker.agent.plist")),
                    receipt: base.join("install-receipt.json"),
                    purge_extra: Vec::new(),
                    uid: None,
                    admin_owner: Owner::new("root", "wheel"),
                    service_owner: Owner::new(MACOS_USER, MACOS_USER),
                })
            }
            (TargetOs::Macos, Scope::User) => {
                let user = env.user.as_ref().ok_or(LayoutError::UnknownUser)?;
                let home = TargetPath::new(user.home.clone());
                let base = home.join("Library/Application Support/Seatbroker");
                let owner = Owner::new(&user.name, "staff");
                Ok(Self {
                    target,
                    scope,
                    binary: base.join("bin/seatbroker-agent"),
                    config_dir: base.clone(),
                    config_file: base.join("config.yaml"),
                    credentials_dir: base.join("secrets"),
                    state_dir: base.join("state"),
                    logs_dir: home.join("Library/Logs/Seatbroker"),
                    service_file: Some(home.join("Library/LaunchAgents/io.seatbroker.agent.plist")),
                    receipt: base.join("install-receipt.json"),
                    purge_extra: Vec::new(),
                    uid: Some(user.uid),
                    admin_owner: owner.clone(),
                    service_owner: owner,
                })
            }
            (TargetOs::Windows, Scope::System) => {
                let data = p(env.program_data.as_str()).join("Seatbroker");
                let files = p(env.program_files.as_str()).join("Seatbroker");
                Ok(Self {
                    target,
                    scope,
                    binary: files.join("seatbroker-agent.exe"),
                    config_dir: data.clone(),
                    config_file: data.join("config.yaml"),
                    credentials_dir: data.join("secrets"),
                    state_dir: data.join("state"),
                    logs_dir: data.join("logs"),
                    service_file: None,
                    receipt: data.join("install-receipt.json"),
                    purge_extra: Vec::new(),
                    uid: None,
                    admin_owner: Owner::new("BUILTIN\\Administrators", "BUILTIN\\Administrators"),
                    service_owner: Owner::new(
                        "NT SERVICE\\SeatbrokerAgent",
                        "NT SERVICE\\SeatbrokerAgent",
                    ),
                })
            }
            (TargetOs::Windows, Scope::User) => Err(LayoutError::NoUserScopeOnWindows),
        }
    }

    /// Path of a credential file.
    pub fn credential(&self, name: &str) -> TargetPath {
        self.credentials_dir.join(name)
    }

    /// File modes only exist on Unix targets; Windows uses ACLs set by `icacls`.
    pub(crate) fn mode(&self, mode: u32) -> Option<u32> {
        match self.target {
            TargetOs::Windows => None,
            _ => Some(mode),
        }
    }
}
