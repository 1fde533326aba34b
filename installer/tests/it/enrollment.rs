//! The enrollment step, the same on every OS: with a token, one `enroll` run as the service
//! would (its folders in the environment) and one hint; without one, a note on a fresh
//! install and nothing on an upgrade.

use seatbroker_installer::{Action, Facts, InstallPlan, OnFailure, Scope, TargetOs, plan_install};

use crate::{layout, request, upgrade_facts};

const TARGETS: [(TargetOs, Scope); 5] = [
    (TargetOs::Linux, Scope::System),
    (TargetOs::Linux, Scope::User),
    (TargetOs::Macos, Scope::System),
    (TargetOs::Macos, Scope::User),
    (TargetOs::Windows, Scope::System),
];

fn enroll_runs(plan: &InstallPlan) -> Vec<(Vec<String>, OnFailure, String)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Run {
                command,
                on_failure,
                hint,
                ..
            } if command.args.iter().any(|arg| arg == "enroll") => {
                Some((command.args.clone(), *on_failure, hint.clone()))
            }
            _ => None,
        })
        .collect()
}

fn not_enrolled(plan: &InstallPlan) -> bool {
    plan.notes.iter().any(|n| n.starts_with("not enrolled:"))
}

#[test]
fn every_os_enrolls_once_with_one_hint() {
    for (target, scope) in TARGETS {
        let what = format!("{target:?} {scope:?}");
        let layout = layout(target, scope);
        let check =
            |req: &seatbroker_installer::InstallRequest, facts: &Facts, runs: usize, note: bool| {
                let plan = plan_install(req, &layout, facts).unwrap();
                let enrolls = enroll_runs(&plan);
                assert_eq!(enrolls.len(), runs, "{what}: {:?}", plan.actions);
                for (args, on_failure, hint) in &enrolls {
                    assert_eq!(*on_failure, OnFailure::Abort, "{what}");
                    let tail = ["enroll", "--config", layout.config_file.as_str()];
                    assert!(args.ends_with(&tail.map(str::to_owned)), "{what}: {args:?}");
                    assert_eq!(
                        hint,
                        &format!(
                            "check the enrollment token ({}) and the platform URL in {}, then run \
                         `seatbroker-install install` again (config and tokens are kept)",
                            layout.credential("enrollment-token"),
                            layout.config_file
                        ),
                        "{what}"
                    );
                }
                assert_eq!(not_enrolled(&plan), note, "{what}: {:?}", plan.notes);
            };
        let mut no_token = request();
        no_token.enrollment_token = None;
        check(&request(), &Facts::default(), 1, false);
        check(&no_token, &Facts::default(), 0, true);
        check(&no_token, &upgrade_facts(), 0, false);
        check(&request(), &upgrade_facts(), 1, false);
    }
}
