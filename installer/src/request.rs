//! What a person asked for ([`InstallRequest`]), what is already on the system ([`Facts`]),
//! and the pure functions that turn them into an [`InstallPlan`].

use std::path::PathBuf;

use seatbroker_protocol::Secret;

use crate::layout::{ENROLLMENT_TOKEN, HUMAANS_TOKEN, Layout};
use crate::plan::{Action, Contents, InstallPlan, Owner, Scope, TargetOs};
use crate::receipt::Receipt;
use crate::{linux, macos, skeleton, windows};

/// A config file given with `--config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedConfig {
    pub text: String,
    pub from: PathBuf,
}

/// Everything `install` was asked to do, with files already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRequest {
    /// The `seatbroker-agent` binary to install.
    pub agent_binary: PathBuf,
    pub config: Option<ProvidedConfig>,
    /// Fills the skeleton config when no `--config` is given.
    pub platform_url: Option<String>,
    pub humaans_token: Option<Secret>,
    pub enrollment_token: Option<Secret>,
    /// Start (or restart) the service at the end.
    pub start: bool,
}

/// What is already installed, probed (read-only) from the target or `--root`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub config_exists: bool,
    /// Credential files already present (`humaans-token`, `enrollment-token`).
    pub credentials: Vec<String>,
    /// A service file or receipt from an earlier install exists: this is an upgrade.
    pub installed: bool,
    /// macOS: the `_seatbroker` account exists already.
    pub service_user_exists: bool,
    /// macOS: a free id (< 500) for the `_seatbroker` user and group.
    pub free_service_id: Option<u32>,
}

impl Facts {
    pub fn has_credential(&self, name: &str) -> bool {
        self.credentials.iter().any(|c| c == name)
    }
}

/// Why a plan cannot be made. Every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "no configuration: pass --config FILE, or --platform-url URL to write a commented \
         skeleton config at {path}"
    )]
    NoConfig { path: String },
    #[error(
        "--platform-url `{url}` is not usable: {why}; pass the console's address, e.g. \
         --platform-url https://seatbroker.example.com"
    )]
    BadPlatformUrl { url: String, why: &'static str },
    #[error(
        "no Humaans token: pass --humaans-token-file FILE (a file holding a token with the \
         scopes public:read and private:read), or --no-start to install without starting, then \
         put the token in {path} and start the service"
    )]
    NoHumaansToken { path: String },
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
}

/// Checks a platform URL enough to write it into YAML safely; the agent checks the rest.
pub fn check_platform_url(url: &str) -> Result<(), PlanError> {
    let bad = |why| {
        Err(PlanError::BadPlatformUrl {
            url: url.to_owned(),
            why,
        })
    };
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return bad("it must start with https:// (or http:// for a local test platform)");
    };
    if rest.is_empty() || rest.starts_with('/') {
        return bad("it has no host name");
    }
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\\')
    {
        return bad("it contains spaces, quotes, backslashes or control characters");
    }
    Ok(())
}

/// The credentials the service will have after this install (new or kept).
pub(crate) fn credentials_after(req: &InstallRequest, facts: &Facts) -> Vec<&'static str> {
    let mut names = Vec::new();
    if req.humaans_token.is_some() || facts.has_credential(HUMAANS_TOKEN) {
        names.push(HUMAANS_TOKEN);
    }
    if req.enrollment_token.is_some() || facts.has_credential(ENROLLMENT_TOKEN) {
        names.push(ENROLLMENT_TOKEN);
    }
    names
}

/// Owner and mode of the credential folder and files per target.
fn credential_perms(layout: &Layout) -> ((Option<u32>, Owner), (Option<u32>, Owner)) {
    match (layout.target, layout.scope) {
        // macOS: only root may replace a secret; only the service account may read it.
        (TargetOs::Macos, Scope::System) => (
            (Some(0o750), Owner::new("root", &layout.service_owner.group)),
            (Some(0o400), layout.service_owner.clone()),
        ),
        _ => (
            (layout.mode(0o700), layout.admin_owner.clone()),
            (layout.mode(0o600), layout.admin_owner.clone()),
        ),
    }
}

/// Config folder and file, the binary: the part of every plan that is the same everywhere.
pub(crate) fn common_files(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<(Vec<Action>, Vec<String>), PlanError> {
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let admin = layout.admin_owner.clone();
    actions.push(Action::CreateDir {
        path: layout.config_dir.clone(),
        mode: layout.mode(0o755),
        owner: admin.clone(),
    });
    match (&req.config, &req.platform_url) {
        (Some(config), _) => {
            if facts.config_exists {
                notes.push(format!(
                    "replaced {} with {}",
                    layout.config_file,
                    config.from.display()
                ));
            }
            actions.push(Action::WriteFile {
                path: layout.config_file.clone(),
                mode: layout.mode(0o644),
                owner: admin.clone(),
                contents: Contents::text(
                    config.text.clone(),
                    format!("config from {}", config.from.display()),
                ),
            });
        }
        (None, _) if facts.config_exists => {
            notes.push(format!("kept the existing config {}", layout.config_file));
        }
        (None, Some(url)) => {
            check_platform_url(url)?;
            actions.push(Action::WriteFile {
                path: layout.config_file.clone(),
                mode: layout.mode(0o644),
                owner: admin.clone(),
                contents: Contents::text(skeleton::skeleton_config(layout, url), "skeleton config"),
            });
            notes.push(format!(
                "wrote a skeleton config to {}: review it, then restart the service",
                layout.config_file
            ));
        }
        (None, None) => {
            return Err(PlanError::NoConfig {
                path: layout.config_file.to_string(),
            });
        }
    }
    if req.humaans_token.is_none() && !facts.has_credential(HUMAANS_TOKEN) && req.config.is_none() {
        if req.start {
            return Err(PlanError::NoHumaansToken {
                path: layout.credential(HUMAANS_TOKEN).to_string(),
            });
        }
        notes.push(format!(
            "no Humaans token stored yet: put it in {} (mode 0600) before starting",
            layout.credential(HUMAANS_TOKEN)
        ));
    }
    actions.push(Action::Copy {
        from: req.agent_binary.clone(),
        to: layout.binary.clone(),
        mode: layout.mode(0o755),
        owner: admin,
    });
    Ok((actions, notes))
}

/// The credential folder and the token files given on this run.
pub(crate) fn credential_files(req: &InstallRequest, layout: &Layout) -> Vec<Action> {
    let ((dir_mode, dir_owner), (file_mode, file_owner)) = credential_perms(layout);
    let mut actions = vec![Action::CreateDir {
        path: layout.credentials_dir.clone(),
        mode: dir_mode,
        owner: dir_owner,
    }];
    for (name, token, what) in [
        (HUMAANS_TOKEN, &req.humaans_token, "Humaans API token"),
        (ENROLLMENT_TOKEN, &req.enrollment_token, "enrollment token"),
    ] {
        // A token not given on this run is kept from an earlier install (or absent).
        if let Some(value) = token {
            actions.push(Action::WriteFile {
                path: layout.credential(name),
                mode: file_mode,
                owner: file_owner.clone(),
                contents: Contents::Secret {
                    value: value.clone(),
                    what: what.to_owned(),
                },
            });
        }
    }
    actions
}

/// Notes about credentials kept from an earlier install.
pub(crate) fn kept_credential_notes(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, token) in [
        (HUMAANS_TOKEN, &req.humaans_token),
        (ENROLLMENT_TOKEN, &req.enrollment_token),
    ] {
        if token.is_none() && facts.has_credential(name) {
            notes.push(format!(
                "kept the existing credential {}",
                layout.credential(name)
            ));
        }
    }
    notes
}

/// Appends the receipt as the plan's last write: every path this plan writes, plus the
/// config and credentials an earlier install left and this one keeps.
pub(crate) fn finish(mut plan: InstallPlan, layout: &Layout, facts: &Facts) -> InstallPlan {
    let mut kept = Vec::new();
    let written =
        |path: &crate::plan::TargetPath| plan.actions.iter().any(|a| a.path() == Some(path));
    if facts.config_exists && !written(&layout.config_file) {
        kept.push(Action::WriteFile {
            path: layout.config_file.clone(),
            mode: layout.mode(0o644),
            owner: layout.admin_owner.clone(),
            contents: Contents::text("", "kept"),
        });
    }
    let (_, (file_mode, file_owner)) = credential_perms(layout);
    for name in &facts.credentials {
        let path = layout.credential(name);
        if !written(&path) {
            kept.push(Action::WriteFile {
                path,
                mode: file_mode,
                owner: file_owner.clone(),
                contents: Contents::text("", "kept"),
            });
        }
    }
    let receipt = Receipt::from_actions(plan.actions.iter().chain(&kept), layout);
    plan.actions.push(Action::WriteFile {
        path: layout.receipt.clone(),
        mode: layout.mode(0o644),
        owner: layout.admin_owner.clone(),
        contents: Contents::text(receipt.to_json(), "install receipt"),
    });
    plan
}

/// The plan for `install` (fresh or upgrade).
pub fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<InstallPlan, PlanError> {
    let plan = match layout.target {
        TargetOs::Linux => linux::plan_install(req, layout, facts)?,
        TargetOs::Macos => macos::plan_install(req, layout, facts)?,
        TargetOs::Windows => windows::plan_install(req, layout, facts)?,
    };
    Ok(finish(plan, layout, facts))
}

/// The plan for `uninstall`: stop and remove the service and binary; with `purge` also the
/// config, credentials, state and logs.
pub fn plan_uninstall(layout: &Layout, purge: bool) -> InstallPlan {
    let mut plan = match layout.target {
        TargetOs::Linux => linux::plan_uninstall(layout),
        TargetOs::Macos => macos::plan_uninstall(layout, purge),
        TargetOs::Windows => windows::plan_uninstall(layout),
    };
    plan.actions.push(Action::RemoveFile {
        path: layout.binary.clone(),
    });
    plan.actions.push(Action::RemoveFile {
        path: layout.receipt.clone(),
    });
    if purge {
        let mut removed: Vec<&crate::plan::TargetPath> = Vec::new();
        for dir in [
            &layout.config_dir,
            &layout.credentials_dir,
            &layout.state_dir,
            &layout.logs_dir,
        ]
        .into_iter()
        .chain(&layout.purge_extra)
        {
            // A folder inside one already removed goes with it.
            if removed.iter().any(|r| dir.is_inside(r)) {
                continue;
            }
            removed.push(dir);
            plan.actions.push(Action::RemoveTree { path: dir.clone() });
        }
    } else {
        plan.notes.push(format!(
            "kept the config {}, the credentials in {}, the state in {} and the logs in {}; \
             remove them with `seatbroker-install uninstall --purge`",
            layout.config_file, layout.credentials_dir, layout.state_dir, layout.logs_dir
        ));
    }
    plan
}
