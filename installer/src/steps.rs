//! The steps every OS's plan shares: config, binary and credential files, the notes about
//! kept credentials, the enrollment step, and the receipt that closes every plan. Pure.

use crate::layout::{ENROLLMENT_TOKEN, HUMAANS_TOKEN, Layout};
use crate::plan::{Action, Command, Contents, InstallPlan, OnFailure, Owner, Scope, TargetOs};
use crate::receipt::Receipt;
use crate::request::{Facts, InstallRequest, PlanError, check_platform_url};
use crate::skeleton;

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

/// The enrollment step, the same on every OS. With an enrollment token: run `enroll` (the
/// OS's way to run `seatbroker-agent enroll --config FILE` as the service would), aborting
/// with one hint on failure. Without one, a fresh install notes how to enroll later; an
/// upgrade never enrolls again.
pub(crate) fn enrollment(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
    why: &str,
    enroll: impl FnOnce() -> Command,
    actions: &mut Vec<Action>,
    notes: &mut Vec<String>,
) {
    if req.enrollment_token.is_some() {
        actions.push(Action::run(
            enroll(),
            why,
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
}

/// The agent's `enroll` arguments: `enroll --config FILE`.
pub(crate) fn enroll_args(layout: &Layout) -> Vec<String> {
    vec![
        "enroll".to_owned(),
        "--config".to_owned(),
        layout.config_file.to_string(),
    ]
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
