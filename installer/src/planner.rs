//! `plan_install` and `plan_uninstall`: the target OS's module, then the shared closing
//! steps. The only module that knows all three OSes.

use crate::layout::Layout;
use crate::plan::{Action, InstallPlan, TargetOs, TargetPath};
use crate::request::{Facts, InstallRequest, PlanError};
use crate::{linux, macos, steps, windows};

/// The plan for `install` (fresh or upgrade).
pub fn plan_install(
    req: &InstallRequest,
    layout: &Layout,
    facts: &Facts,
) -> Result<InstallPlan, PlanError> {
    let (actions, notes) = match layout.target {
        TargetOs::Linux => linux::plan_install(req, layout, facts)?,
        TargetOs::Macos => macos::plan_install(req, layout, facts)?,
        TargetOs::Windows => windows::plan_install(req, layout, facts)?,
    };
    let plan = InstallPlan {
        target: layout.target,
        scope: layout.scope,
        actions,
        notes,
    };
    Ok(steps::finish(plan, layout, facts))
}

/// The plan for `uninstall`: stop and remove the service and binary; with `purge` also the
/// config, credentials, state and logs.
pub fn plan_uninstall(layout: &Layout, purge: bool) -> InstallPlan {
    let actions = match layout.target {
        TargetOs::Linux => linux::plan_uninstall(layout),
        TargetOs::Macos => macos::plan_uninstall(layout, purge),
        TargetOs::Windows => windows::plan_uninstall(),
    };
    let mut plan = InstallPlan {
        target: layout.target,
        scope: layout.scope,
        actions,
        notes: Vec::new(),
    };
    plan.actions.push(Action::RemoveFile {
        path: layout.binary.clone(),
    });
    plan.actions.push(Action::RemoveFile {
        path: layout.receipt.clone(),
    });
    if purge {
        let mut removed: Vec<&TargetPath> = Vec::new();
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
